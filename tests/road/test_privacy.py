"""Payload test on real frames with people and cars: every crop is blurred before it is encoded; nothing else
the road pipeline sends carries image data; no crop without the privacy model."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from edge.pipelines.road import RoadConfig
from edge.pipelines.road.analyzer import CROP_MAX_PX, crop_window, evidence_crop
from edge.pipelines.road.pipeline import open_privacy
from edge.vision.redact import open_redactor, redaction_regions
from protocol.privacy import image_like_reasons
from protocol.streams.road import DamageCrop, DamageObservation, RoadCoverage
from tests.support import shared_path


def _frame(video: Path, index: int) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok, f"cannot read frame {index} of {video}"
    return frame


def _sharpness(img: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


@pytest.fixture(scope="module")
def redactor():
    model = shared_path("models", "yolov8n_int8.tflite")
    return open_redactor(str(model))


@pytest.mark.parametrize(("video", "index", "reason"), [
    ("pedestrian-crossing-360p.mp4", 100, "person"),
    ("pedestrian-crossing-360p.mp4", 400, "person"),
    ("city-traffic-1080p.mp4", 100, "plate"),
    ("intel-car-detection.mp4", 100, "plate"),
])
def test_every_person_and_plate_in_a_crop_is_blurred(redactor, video: str, index: int, reason: str) -> None:
    import cv2

    frame = _frame(shared_path("media", video), index)
    # an independent look at the raw frame: where are people and vehicles?
    regions = [r for r in redaction_regions(redactor.detector(frame), frame.shape[:2]) if r.reason == reason]
    assert regions, f"the test frame should show a {reason}"
    target = max(regions, key=lambda r: (r.x2 - r.x1) * (r.y2 - r.y1))
    # pretend the damage lies right where that person / vehicle is: the worst case for privacy
    box = (float(target.x1), float(target.y1), float(target.x2), float(target.y2))
    crop = evidence_crop(frame, box, redactor, "obs-1", "D40")
    assert crop is not None and crop.blurred_regions >= 1
    payload = crop.model_dump_json().encode()
    assert len(payload) <= DamageCrop.MAX_BYTES
    jpeg = np.frombuffer(base64.b64decode(crop.jpeg_b64), np.uint8)
    sent = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    cx1, cy1, cx2, cy2 = crop_window(box, frame.shape[:2])
    raw = frame[cy1:cy2, cx1:cx2]
    scale = min(1.0, CROP_MAX_PX / max(raw.shape[:2]))
    raw = cv2.resize(raw, (sent.shape[1], sent.shape[0]), interpolation=cv2.INTER_AREA) if scale < 1 else raw
    assert sent.shape == raw.shape
    # inside the region the detail is gone (the blur removes >80 % of the Laplacian energy)
    rx1, ry1 = int((max(target.x1, cx1) - cx1) * scale), int((max(target.y1, cy1) - cy1) * scale)
    rx2, ry2 = int((min(target.x2, cx2) - cx1) * scale), int((min(target.y2, cy2) - cy1) * scale)
    inset = 8  # one JPEG block: ringing from the sharp surroundings reaches this far in
    rx1, ry1, rx2, ry2 = rx1 + inset, ry1 + inset, rx2 - inset, ry2 - inset
    assert rx2 > rx1 and ry2 > ry1
    before, after = _sharpness(raw[ry1:ry2, rx1:rx2]), _sharpness(sent[ry1:ry2, rx1:rx2])
    assert after < 0.2 * before, f"{reason} region not blurred: sharpness {before:.0f} → {after:.0f}"


def test_no_crop_without_the_privacy_model() -> None:
    assert open_privacy(RoadConfig(privacy_model="no-such-model")) is None
    assert open_privacy(RoadConfig(crops=False)) is None


def test_observation_and_coverage_carry_no_image_data() -> None:
    obs = DamageObservation(
        observation_id="drive-1-00001", drive_id="drive-1", rdd_class="D40", severity="high", lat=55.39, lon=10.38,
        position_sigma_m=1.1, width_m=0.9, length_m=0.7, area_m2=0.49, confidence=0.8, frames=6, distance_min_m=4.0,
        first_ts=1, passed_ts=2, heading_deg=90.0, has_crop=True,
    )
    cov = RoadCoverage(drive_id="drive-1", start_ts=1, end_ts=2, metres_driven=500, metres_inspected=450,
                       frames_total=150, frames_good=140, frames_dark=0, frames_blurred=5, frames_stationary=5,
                       frames_no_fix=0, view_near_m=3, view_far_m=20, view_half_width_m=3.5,
                       points=[[55.39 + i * 1e-5, 10.38, float(i)] for i in range(400)])
    for body in (obs, cov):
        payload = body.model_dump_json().encode()
        assert image_like_reasons(payload) == [] and len(payload) <= body.MAX_BYTES
