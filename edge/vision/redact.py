"""Blur people and licence plates before any image leaves memory: conservative boxes from a COCO detector.

Persons are blurred whole (face, body and anything they carry); vehicles lose their lower part, where
plates sit, front or rear. Boxes are grown by a margin so a loose detection still covers the face/plate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.vision.lean_yolo import Boxes, YoloDetector

PERSON_CLASSES = frozenset({0})
VEHICLE_CLASSES = frozenset({2, 3, 5, 7})  # car, motorcycle, bus, truck
BICYCLE_CLASSES = frozenset({1})  # a rider may be missed as a person: blur the upper part too


@dataclass(frozen=True)
class RedactionRegion:
    x1: int
    y1: int
    x2: int
    y2: int
    reason: str

    def intersects(self, box: tuple[int, int, int, int]) -> bool:
        return self.x1 < box[2] and box[0] < self.x2 and self.y1 < box[3] and box[1] < self.y2


def redaction_regions(boxes: Boxes, shape: tuple[int, int], margin: float = 0.15) -> list[RedactionRegion]:
    """Pixel regions to blur for the given COCO detections (pure, testable)."""
    h, w = shape
    out = []
    for (x1, y1, x2, y2), cls in zip(boxes.xyxy, boxes.classes, strict=True):
        bw, bh = x2 - x1, y2 - y1
        if int(cls) in PERSON_CLASSES:
            region, reason = (x1, y1, x2, y2), "person"
        elif int(cls) in VEHICLE_CLASSES:
            region, reason = (x1, y1 + 0.4 * bh, x2, y2), "plate"
        elif int(cls) in BICYCLE_CLASSES:
            region, reason = (x1, y1 - 1.2 * bh, x2, y2), "rider"
        else:
            continue
        rx1, ry1, rx2, ry2 = region
        mx, my = margin * bw, margin * bh
        out.append(
            RedactionRegion(
                max(0, int(rx1 - mx)),
                max(0, int(ry1 - my)),
                min(w, int(rx2 + mx + 1)),
                min(h, int(ry2 + my + 1)),
                reason,
            )
        )
    return out


def blur_regions(frame: np.ndarray, regions: list[RedactionRegion]) -> np.ndarray:
    """A copy of ``frame`` with each region pixelated and blurred beyond recognition."""
    import cv2

    out = frame.copy()
    for r in regions:
        patch = out[r.y1 : r.y2, r.x1 : r.x2]
        if patch.size == 0:
            continue
        ph, pw = patch.shape[:2]
        small = cv2.resize(patch, (max(1, pw // 16), max(1, ph // 16)), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, (pw, ph), interpolation=cv2.INTER_NEAREST)
        k = max(3, min(31, min(pw, ph)) | 1)  # about two pixel cells: no cell edges left to read
        out[r.y1 : r.y2, r.x1 : r.x2] = cv2.GaussianBlur(coarse, (k, k), 0)
    return out


class Redactor:
    """Finds persons and vehicles with a COCO detector and blurs them; fails closed without a detector."""

    def __init__(self, detector: YoloDetector, model_name: str) -> None:
        self.detector = detector
        self.model_name = model_name

    def redact(self, frame: np.ndarray) -> tuple[np.ndarray, list[RedactionRegion]]:
        boxes = self.detector(frame)
        regions = redaction_regions(boxes, frame.shape[:2])
        return blur_regions(frame, regions), regions


def open_redactor(model_path: str, model_name: str = "yolov8n-int8-tflite", threads: int = 2) -> Redactor:
    """The COCO TFLite detector at a low threshold (privacy errs towards blurring too much)."""
    from edge.vision.lean_yolo import LeanYolo

    detector = LeanYolo(
        model_path,
        imgsz=640,
        names={0: "person", 1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"},
        conf=0.15,
        iou=0.5,
        classes=set(PERSON_CLASSES | VEHICLE_CLASSES | BICYCLE_CLASSES),
        threads=threads,
    )
    return Redactor(detector, model_name)
