"""YOLO detection without PyTorch: letterbox, ONNX Runtime or TFLite inference, box decoding and NMS.

Serves the road-damage model (ONNX) and the COCO model used for privacy blurring (TFLite), and an
ultralytics back end with the same output, so the two can be compared frame by frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from edge.vision.yolo_common import Letterbox, letterbox, nms

log = logging.getLogger(__name__)
Backend = Literal["onnx", "tflite", "ultralytics"]


@dataclass
class Boxes:
    """Detections in frame pixels: ``xyxy`` (n, 4), ``scores`` (n,), ``classes`` (n,) int."""

    xyxy: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    @staticmethod
    def empty() -> Boxes:
        return Boxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, mask: np.ndarray) -> Boxes:
        return Boxes(self.xyxy[mask], self.scores[mask], self.classes[mask])


def decode_yolo(
    output: np.ndarray,
    box: Letterbox,
    size: int,
    conf: float,
    iou: float,
    classes: set[int] | None = None,
    max_det: int = 100,
) -> Boxes:
    """Decode a YOLOv8/11 head output ``(1, 4 + nc, anchors)`` (xywh + class scores) to frame boxes."""
    pred = output[0].T if output.shape[1] < output.shape[2] else output[0]
    xywh, cls_scores = pred[:, :4].astype(np.float32), pred[:, 4:]
    if float(np.abs(xywh).max(initial=0)) <= 2.0:  # TFLite exports give coordinates normalised to 0..1
        xywh = xywh * size
    cls_ids = cls_scores.argmax(1)
    scores = cls_scores[np.arange(len(cls_ids)), cls_ids]
    mask = scores >= conf
    if classes is not None:
        mask &= np.isin(cls_ids, list(classes))
    if not mask.any():
        return Boxes.empty()
    xywh, scores, cls_ids = xywh[mask], scores[mask], cls_ids[mask]
    xyxy = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
    keep = nms(xyxy, scores, iou)[:max_det]
    xyxy = (xyxy[keep] - [box.pad_x, box.pad_y, box.pad_x, box.pad_y]) / box.scale
    return Boxes(xyxy.astype(np.float32), scores[keep].astype(np.float32), cls_ids[keep].astype(np.int64))


class YoloDetector(Protocol):
    names: dict[int, str]

    def __call__(self, frame: np.ndarray) -> Boxes: ...


class LeanYolo:
    """ONNX Runtime or TFLite (ai-edge-litert) YOLO detector with our own pre/post-processing.

    Frames are BGR (OpenCV); the models take RGB float 0..1."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        imgsz: int,
        names: dict[int, str],
        conf: float = 0.25,
        iou: float = 0.5,
        classes: set[int] | None = None,
        threads: int = 2,
    ) -> None:
        self.path = Path(model_path)
        self.imgsz, self.names, self.conf, self.iou, self.classes = imgsz, names, conf, iou, classes
        if self.path.suffix == ".onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            # busy-waiting threads cost more than they save on a small, shared CPU (measured: 120 → 56 ms)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            self._input = self._session.get_inputs()[0].name
            self._nhwc = False
        else:
            from ai_edge_litert.interpreter import Interpreter

            self._interp = Interpreter(str(self.path), num_threads=threads)
            self._interp.allocate_tensors()
            self._in = self._interp.get_input_details()[0]
            self._out = self._interp.get_output_details()[0]
            self._nhwc = True

    def raw(self, canvas_rgb: np.ndarray) -> np.ndarray:
        x = canvas_rgb.astype(np.float32) / 255.0
        if self._nhwc:
            self._interp.set_tensor(self._in["index"], x[None])
            self._interp.invoke()
            return self._interp.get_tensor(self._out["index"])
        return self._session.run(None, {self._input: x.transpose(2, 0, 1)[None]})[0]

    def __call__(self, frame: np.ndarray) -> Boxes:
        canvas, box = letterbox(frame, self.imgsz)
        output = self.raw(canvas[..., ::-1])
        return decode_yolo(output, box, self.imgsz, self.conf, self.iou, self.classes)


class UltralyticsYolo:
    """The same interface through ultralytics (needs PyTorch); the reference for the lean back end."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        imgsz: int,
        conf: float = 0.25,
        iou: float = 0.5,
        classes: set[int] | None = None,
        names: dict[int, str] | None = None,
    ) -> None:
        from ultralytics import YOLO

        self.model = YOLO(str(model_path), task="detect")
        self.names = names or dict(self.model.names)
        self.imgsz, self.conf, self.iou, self.classes = imgsz, conf, iou, classes

    def __call__(self, frame: np.ndarray) -> Boxes:
        result = self.model.predict(
            frame,
            imgsz=self.imgsz,
            conf=self.conf,
            iou=self.iou,
            verbose=False,
            classes=sorted(self.classes) if self.classes else None,
        )[0]
        b = result.boxes
        if b is None or len(b) == 0:
            return Boxes.empty()
        return Boxes(
            b.xyxy.cpu().numpy().astype(np.float32),
            b.conf.cpu().numpy().astype(np.float32),
            b.cls.cpu().numpy().astype(np.int64),
        )


def open_yolo(
    backend: Backend,
    model_path: Path | str,
    *,
    imgsz: int,
    names: dict[int, str],
    conf: float = 0.25,
    iou: float = 0.5,
    classes: set[int] | None = None,
    threads: int = 2,
) -> YoloDetector:
    if backend == "ultralytics":
        return UltralyticsYolo(model_path, imgsz=imgsz, conf=conf, iou=iou, classes=classes, names=names)
    return LeanYolo(model_path, imgsz=imgsz, names=names, conf=conf, iou=iou, classes=classes, threads=threads)
