"""Detector back ends: our letterbox/NMS against ultralytics' on the same model and real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.vision.detect import Detections, DetectorSettings, TFLiteDetector, mosaic_layout, nms, pack, unpack
from tests.traffic.conftest import read_frames


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter + 1e-9)


def assert_same_detections(a: Detections, b: Detections) -> None:
    assert len(a) == len(b) > 0
    iou = box_iou(a.xyxy, b.xyxy)
    match = iou.argmax(1)
    assert len(set(match.tolist())) == len(a), "two boxes matched the same reference box"
    assert iou.max(1).min() > 0.99
    assert (a.cls == b.cls[match]).all()
    assert np.abs(a.conf - b.conf[match]).max() < 1e-3


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.7], np.float32), 0.5).tolist() == [1, 2]


def test_letterbox_matches_ultralytics_geometry() -> None:
    image = np.zeros((1080, 1920, 3), np.uint8)
    canvas, [p] = pack([image], 640)
    assert canvas.shape == (640, 640, 3)
    assert (p.pad_x, p.pad_y) == (0, 140) and p.gain_x == pytest.approx(1 / 3)
    assert (canvas[:140] == 114).all() and (canvas[140:500] == 0).all()


def test_mosaic_round_trip_puts_boxes_back_in_each_frame() -> None:
    frames = [np.zeros((300, 1200, 3), np.uint8) for _ in range(3)]
    assert mosaic_layout((300, 1200), 3, 640) == (3, 1)
    _, placements = pack(frames, 640)
    in_frame = np.array([[100, 50, 300, 250]], np.float32)
    canvas_boxes = []
    for p in placements:
        b = in_frame.copy()
        b[:, [0, 2]] = b[:, [0, 2]] * p.gain_x + p.pad_x
        b[:, [1, 3]] = b[:, [1, 3]] * p.gain_y + p.pad_y
        canvas_boxes.append(b)
    dets = Detections(np.concatenate(canvas_boxes), np.array([0.9, 0.8, 0.7], np.float32), np.array([2, 2, 0]))
    per_frame = unpack(dets, placements)
    assert [len(d) for d in per_frame] == [1, 1, 1]
    for d in per_frame:
        assert np.allclose(d.xyxy, in_frame, atol=2)


def test_lean_detector_finds_vehicles_on_a_real_frame(coco_tflite: Path) -> None:
    [frame] = read_frames("city-traffic-1080p.mp4", [100])
    dets = TFLiteDetector(coco_tflite, DetectorSettings(threads=2)).detect(frame)
    cars = dets.select(dets.cls == 2)
    assert len(cars) >= 8
    assert (dets.xyxy[:, 2] <= 1920).all() and (dets.xyxy[:, 3] <= 1080).all()


@pytest.mark.torch
def test_lean_and_ultralytics_back_ends_give_the_same_detections(coco_tflite: Path) -> None:
    pytest.importorskip("ultralytics")
    from edge.vision.detect import UltralyticsDetector

    frames = read_frames("city-traffic-1080p.mp4", [0, 150]) + read_frames("parking-lot-person-bicycle-car.mp4", [380])
    lean = TFLiteDetector(coco_tflite)
    reference = UltralyticsDetector(coco_tflite)
    for frame in frames:
        assert_same_detections(lean.detect(frame), reference.detect(frame))


def test_agnostic_decoding_keeps_one_box_per_object() -> None:
    from edge.vision.detect import yolov8_decode

    raw = np.zeros((84, 3), np.float32)
    raw[:4, 0] = [100, 100, 80, 60]  # the same object scored as bus (5) ...
    raw[4 + 5, 0] = 0.8
    raw[:4, 1] = [101, 100, 80, 60]  # ... and as car (2)
    raw[4 + 2, 1] = 0.6
    raw[:4, 2] = [300, 100, 20, 50]  # a person elsewhere
    raw[4 + 0, 2] = 0.7
    assert sorted(yolov8_decode(raw, 0.25, 0.7).cls.tolist()) == [0, 2, 5]
    assert sorted(yolov8_decode(raw, 0.25, 0.7, agnostic=True).cls.tolist()) == [0, 5]
