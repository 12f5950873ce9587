"""COCO object detector back ends: ultralytics (PyTorch) and a lean TFLite runtime with its own
letterbox pre-processing and YOLOv8 post-processing (no PyTorch needed on a Raspberry Pi).

Both take BGR frames and return :class:`Detections` in frame pixels. Several frames (or regions of
interest) can share one inference by packing them into the model's square input (a mosaic), which
is how a 640 px model reads a wide road region at a third of the cost per frame.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from edge.vision.yolo_common import nms

log = logging.getLogger(__name__)

PAD_VALUE = 114  # ultralytics' letterbox grey
MAX_WH = 7680  # per-class coordinate offset for class-aware NMS, as ultralytics does
Backend = Literal["tflite", "ultralytics"]


@dataclass(frozen=True)
class Detections:
    """Boxes ``xyxy`` (N×4, frame pixels), confidences ``conf`` (N) and COCO class ids ``cls`` (N)."""

    xyxy: np.ndarray
    conf: np.ndarray
    cls: np.ndarray

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.conf)

    def select(self, mask: np.ndarray) -> Detections:
        return Detections(self.xyxy[mask], self.conf[mask], self.cls[mask])

    def shifted(self, dx: float, dy: float) -> Detections:
        return Detections(self.xyxy + np.array([dx, dy, dx, dy], np.float32), self.conf, self.cls)


@dataclass(frozen=True)
class Placement:
    """Where one image sits on the square model input: ``input = image * gain + (pad_x, pad_y)``."""

    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int
    cell: tuple[int, int, int, int]  # x0, y0, x1, y1 of the image's cell on the input
    shape: tuple[int, int]  # the image's height, width


def _fit(shape: tuple[int, int], cell_w: int, cell_h: int) -> tuple[int, int, float]:
    h, w = shape
    r = min(cell_h / h, cell_w / w)
    return max(round(w * r), 1), max(round(h * r), 1), r


def mosaic_layout(shape: tuple[int, int], count: int, size: int) -> tuple[int, int]:
    """Rows × columns of cells for ``count`` images of ``shape`` on a ``size`` square, largest scale first."""
    best = (1, count)
    best_gain = -1.0
    for rows in range(1, count + 1):
        cols = -(-count // rows)
        gain = _fit(shape, size // cols, size // rows)[2]
        if gain > best_gain + 1e-9:
            best, best_gain = (rows, cols), gain
    return best


def pack(
    images: list[np.ndarray], size: int, layout: tuple[int, int] | None = None
) -> tuple[np.ndarray, list[Placement]]:
    """Letterbox ``images`` (BGR, same shape) into cells of one ``size``² canvas (grey padded).

    With one image this is exactly ultralytics' centred letterbox (same rounding, same padding).
    """
    import cv2

    rows, cols = layout or mosaic_layout(images[0].shape[:2], len(images), size)
    cell_w, cell_h = size // cols, size // rows
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    placements = []
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        new_w, new_h, _ = _fit((h, w), cell_w, cell_h)
        x0, y0 = (i % cols) * cell_w, (i // cols) * cell_h
        if len(images) == 1:  # the exact ultralytics letterbox on the whole square
            cell_w_, cell_h_, x0, y0 = size, size, 0, 0
        else:
            cell_w_, cell_h_ = cell_w, cell_h
        dw, dh = (cell_w_ - new_w) / 2, (cell_h_ - new_h) / 2
        left, top = round(dw - 0.1), round(dh - 0.1)
        resized = image
        if (new_w, new_h) != (w, h):
            resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        canvas[y0 + top : y0 + top + new_h, x0 + left : x0 + left + new_w] = resized
        placements.append(
            Placement(new_w / w, new_h / h, x0 + left, y0 + top, (x0, y0, x0 + cell_w_, y0 + cell_h_), (h, w))
        )
    return canvas, placements


def unpack(dets: Detections, placements: list[Placement]) -> list[Detections]:
    """Split canvas detections by the cell holding each box centre and map them back to image pixels."""
    if len(placements) == 1:
        return [_to_image(dets, placements[0])]
    cx = (dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2
    cy = (dets.xyxy[:, 1] + dets.xyxy[:, 3]) / 2
    out = []
    for p in placements:
        x0, y0, x1, y1 = p.cell
        mine = dets.select((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1))
        clipped = np.clip(mine.xyxy, [x0, y0, x0, y0], [x1, y1, x1, y1]).astype(np.float32)
        out.append(_to_image(Detections(clipped, mine.conf, mine.cls), p))
    return out


def _to_image(dets: Detections, p: Placement) -> Detections:
    h, w = p.shape
    xyxy = dets.xyxy.astype(np.float32).copy()
    xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] - p.pad_x) / p.gain_x
    xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] - p.pad_y) / p.gain_y
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    return Detections(xyxy, dets.conf, dets.cls)


def yolov8_decode(
    raw: np.ndarray,
    conf_threshold: float,
    iou_threshold: float,
    classes: tuple[int, ...] | None = None,
    max_det: int = 300,
    agnostic: bool = False,
) -> Detections:
    """YOLOv8 head output ``(4 + nc, anchors)`` in input pixels (cx, cy, w, h, class scores) → NMS'd boxes."""
    pred = raw.T
    scores = pred[:, 4:]
    cls = scores.argmax(1)
    conf = scores[np.arange(len(cls)), cls]
    keep = conf > conf_threshold
    if classes is not None:
        keep &= np.isin(cls, classes)
    pred, cls, conf = pred[keep], cls[keep], conf[keep]
    if not len(conf):
        return Detections.empty()
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2] / 2, pred[:, 3] / 2
    xyxy = np.stack([cx - w, cy - h, cx + w, cy + h], 1).astype(np.float32)
    offset = 0 if agnostic else MAX_WH  # agnostic: one box per object even when two classes fire on it
    kept = nms(xyxy + (cls[:, None] * offset).astype(np.float32), conf, iou_threshold)[:max_det]
    return Detections(xyxy[kept], conf[kept].astype(np.float32), cls[kept].astype(np.int64))


class Detector(Protocol):
    """Detects COCO objects on BGR frames. ``last_ms``: duration of the latest inference."""

    last_ms: float

    def detect(self, image: np.ndarray) -> Detections: ...

    def detect_many(self, images: list[np.ndarray]) -> list[Detections]: ...


@dataclass
class DetectorSettings:
    """What both back ends share: thresholds, the classes kept, the model's square input size."""

    conf: float = 0.25
    iou: float = 0.7
    classes: tuple[int, ...] | None = (0, 1, 2, 3, 5, 7)
    imgsz: int = 640
    max_det: int = 300
    threads: int = 2
    agnostic: bool = False


class TFLiteDetector:
    """Lean back end: LiteRT (``ai-edge-litert``) with our own letterbox and YOLOv8 decoding/NMS."""

    def __init__(self, model_path: Path | str, settings: DetectorSettings | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.settings = settings or DetectorSettings()
        self.interpreter = Interpreter(model_path=str(model_path), num_threads=self.settings.threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        size = int(self._input["shape"][1])
        if size != self.settings.imgsz:
            log.info("model input size overrides imgsz", extra={"imgsz": size})
            self.settings.imgsz = size
        self.last_ms = 0.0

    def infer(self, canvas: np.ndarray) -> Detections:
        """Run the model on a square BGR canvas of the input size; boxes in canvas pixels."""
        size = self.settings.imgsz
        x = (canvas[..., ::-1].astype(np.float32) / 255.0)[None]
        if self._input["dtype"] in (np.int8, np.uint8):
            scale, zero = self._input["quantization"]
            x = (x / scale + zero).round().clip(*_limits(self._input["dtype"])).astype(self._input["dtype"])
        start = time.perf_counter()
        self.interpreter.set_tensor(self._input["index"], x)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._output["index"])[0]
        self.last_ms = (time.perf_counter() - start) * 1000
        if self._output["dtype"] in (np.int8, np.int16):
            scale, zero = self._output["quantization"]
            raw = (raw.astype(np.float32) - zero) * scale
        raw = raw.astype(np.float32, copy=True)
        if raw[:4].max() <= 2.0:  # normalised export: boxes as fractions of the input
            raw[:4] *= size
        s = self.settings
        return yolov8_decode(raw, s.conf, s.iou, s.classes, s.max_det, s.agnostic)

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_many([image])[0]

    def detect_many(self, images: list[np.ndarray]) -> list[Detections]:
        canvas, placements = pack(images, self.settings.imgsz)
        return unpack(self.infer(canvas), placements)


def _limits(dtype: type) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


class UltralyticsDetector:
    """Reference back end: ``ultralytics.YOLO`` (needs PyTorch); takes .pt, .onnx or .tflite files."""

    def __init__(self, model_path: Path | str, settings: DetectorSettings | None = None) -> None:
        from ultralytics import YOLO

        self.settings = settings or DetectorSettings()
        self.model = YOLO(str(model_path), task="detect")
        self.last_ms = 0.0

    def _predict(self, image: np.ndarray) -> Detections:
        s = self.settings
        start = time.perf_counter()
        result = self.model.predict(
            image,
            imgsz=s.imgsz,
            conf=s.conf,
            iou=s.iou,
            classes=list(s.classes) if s.classes else None,
            max_det=s.max_det,
            agnostic_nms=s.agnostic,
            verbose=False,
        )[0]
        self.last_ms = (time.perf_counter() - start) * 1000
        boxes = result.boxes
        return Detections(
            boxes.xyxy.cpu().numpy().astype(np.float32),
            boxes.conf.cpu().numpy().astype(np.float32),
            boxes.cls.cpu().numpy().astype(np.int64),
        )

    def detect(self, image: np.ndarray) -> Detections:
        return self._predict(image)  # ultralytics' own letterbox and NMS

    def detect_many(self, images: list[np.ndarray]) -> list[Detections]:
        if len(images) == 1:
            return [self._predict(images[0])]
        canvas, placements = pack(images, self.settings.imgsz)
        return unpack(self._predict(canvas), placements)


def make_detector(backend: Backend, model_path: Path | str, settings: DetectorSettings | None = None) -> Detector:
    """The configured back end; ``tflite`` needs only ``ai-edge-litert`` and numpy/OpenCV."""
    if backend == "tflite":
        return TFLiteDetector(model_path, settings)
    if backend == "ultralytics":
        return UltralyticsDetector(model_path, settings)
    raise ValueError(f"unknown detector back end {backend!r}; use 'tflite' or 'ultralytics'")
