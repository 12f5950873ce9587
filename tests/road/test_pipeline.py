"""The road pipeline end to end on a recorded drive (video file + NMEA track built from real pothole photos),
the lean detector against ultralytics, and a short drive simulation through the real hub service."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from edge.eval.road_drive_sim import PHOTO_CAMERA, SimConfig, run_simulation, val_photos, write_drive
from edge.pipelines.base import PipelineContext
from edge.pipelines.road import CameraMountConfig, RoadConfig
from edge.pipelines.road.pipeline import RoadPipeline, open_damage_detector, open_privacy
from edge.pipelines.road.vehicle import distance_m
from edge.sources.video import VideoSourceConfig
from models.registry import ModelNotFound, data_dir, load_registry, resolve_model
from protocol import Body
from protocol.privacy import image_like_reasons
from protocol.streams.road import DamageCrop, DamageObservation
from tests.support import missing, shared_path

START = datetime(2026, 11, 20, 7, 41, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    shared_path("road", "potholes-web", "images")
    return val_photos(3)


def _road_model() -> None:
    try:
        resolve_model("road-damage-yolo11n-onnx")
    except (KeyError, ModelNotFound) as exc:
        missing(str(exc))


def sim_camera() -> CameraMountConfig:
    return CameraMountConfig(focal_px=PHOTO_CAMERA.focal_px, height_m=PHOTO_CAMERA.height_m, pitch_deg=0.0,
                             cx_frac=0.5, cy_frac=0.0)


def test_recorded_drive_through_the_pipeline(tmp_path: Path, photos: list[Path]) -> None:
    _road_model()
    shared_path("models", "yolov8n_int8.tflite")
    truth = write_drive(photos, tmp_path / "drive.mp4", tmp_path / "drive.nmea", START.timestamp())
    cfg = RoadConfig(
        video=VideoSourceConfig(kind="file", uri=str(tmp_path / "drive.mp4"), replay_start=START),
        gps=str(tmp_path / "drive.nmea"), camera=sim_camera(), process_fps=5.0, coverage_interval_s=10,
    )
    sent: list[tuple[Body, int]] = []
    ctx = PipelineContext("vehicle-test", "odense", lambda body, ts=None, priority=0: sent.append((body, ts)) or 0,
                          threading.Event(), tmp_path)
    pipeline = RoadPipeline(cfg, ctx)
    pipeline.run()  # returns at the end of the file
    streams = [b.STREAM for b, _ in sent]
    assert "road/coverage" in streams and "road/observation" in streams
    for body, _ in sent:
        payload = body.model_dump_json().encode()
        assert len(payload) <= body.MAX_BYTES
        if not isinstance(body, DamageCrop):
            assert image_like_reasons(payload) == [], body.STREAM
    observations = [b for b, _ in sent if isinstance(b, DamageObservation)]
    near = [o for o in observations if min(distance_m(o.lat, o.lon, la, lo) for la, lo in truth) < 8.0]
    assert near, "no observation near a true damage"
    crops = {b.observation_id for b, _ in sent if isinstance(b, DamageCrop)}
    assert crops and crops <= {o.observation_id for o in observations if o.has_crop}
    metrics = pipeline.metrics()
    assert metrics["frames"] > 50 and metrics["observations"] == len(observations)


def test_short_drive_simulation_one_order_per_damage(tmp_path: Path, photos: list[Path]) -> None:
    _road_model()
    cfg = RoadConfig()
    detector, rdd_of = open_damage_detector(cfg)
    result = run_simulation(SimConfig(photos[:2], drives=2, outage=(1, 0.3, 40.0), crops=False), detector, rdd_of,
                            None, state_dir=tmp_path)
    assert result["damages"] >= 2
    # with two drives and 5 m GNSS noise every damage should end in one order (a loose bound: few damages)
    assert result["share_exactly_one"] >= 0.6
    assert result["max_dispatch_latency_s"] is not None and result["max_dispatch_latency_s"] <= 60


@pytest.mark.torch
def test_lean_onnx_matches_ultralytics(photos: list[Path]) -> None:
    _road_model()
    import cv2

    from edge.vision.lean_yolo import open_yolo
    from models.eval_road import iou_matrix

    names = {0: "D00", 1: "D10", 2: "D20", 3: "D40"}
    size = load_registry()["road-damage-yolo11n-onnx"].input_size
    lean = open_yolo("onnx", resolve_model("road-damage-yolo11n-onnx"), imgsz=size, names=names, conf=0.25)
    ref = open_yolo("ultralytics", resolve_model("road-damage-yolo11n"), imgsz=size, names=names, conf=0.25)
    for p in photos:
        img = cv2.imread(str(p))
        a, b = lean(img), ref(img)
        assert abs(len(a) - len(b)) <= 1
        if len(a) and len(b):
            best = iou_matrix(a.xyxy, b.xyxy).max(axis=1)
            assert float(np.median(best)) > 0.9


def test_privacy_model_present_for_crops() -> None:
    if not (data_dir() / "models" / "yolov8n_int8.tflite").exists():
        missing("yolov8n_int8.tflite")
    assert open_privacy(RoadConfig()) is not None
