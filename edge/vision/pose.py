"""Person pose (17 COCO keypoints) with two interchangeable back ends and per-person tracking.

``UltralyticsPose`` runs the official yolo11n-pose weights through PyTorch; ``OnnxPose`` runs
the same network exported to ONNX with our own letterbox pre-processing and NMS, so a
Raspberry Pi needs no PyTorch. ``PoseTracker`` gives each person a stable id (ByteTrack).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from edge.vision.yolo_common import Letterbox, letterbox, nms

log = logging.getLogger(__name__)

POSE_MODEL = "yolo11n-pose"
NUM_KEYPOINTS = 17
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
BackendName = Literal["ultralytics", "onnx"]


@dataclass(frozen=True)
class PersonPose:
    """One person in one frame: box ``[x1, y1, x2, y2]`` and ``keypoints[k] = [x, y, conf]`` in pixels."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray
    track_id: int | None = None


class PoseBackend(Protocol):
    def __call__(self, frame: np.ndarray) -> list[PersonPose]:
        """Poses of the people in a BGR frame (H×W×3, uint8)."""
        ...


def decode_pose_output(
    output: np.ndarray, lb: Letterbox, frame_shape: tuple[int, ...], conf: float, iou: float, max_det: int = 20
) -> list[PersonPose]:
    """Turn the raw YOLO pose head ``(1, 56, N)`` — ``cx, cy, w, h, person score, 17 × (x, y, v)`` in
    network pixels — into poses in frame pixels."""
    pred = output[0].T
    pred = pred[pred[:, 4] >= conf]
    if not len(pred):
        return []
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keep = nms(boxes, pred[:, 4], iou)[:max_det]
    height, width = frame_shape[:2]
    poses = []
    for i in keep:
        box = boxes[i].copy()
        box[[0, 2]] = ((box[[0, 2]] - lb.pad_x) / lb.scale).clip(0, width)
        box[[1, 3]] = ((box[[1, 3]] - lb.pad_y) / lb.scale).clip(0, height)
        kpts = pred[i, 5:].reshape(NUM_KEYPOINTS, 3).copy()
        kpts[:, 0] = (kpts[:, 0] - lb.pad_x) / lb.scale
        kpts[:, 1] = (kpts[:, 1] - lb.pad_y) / lb.scale
        poses.append(PersonPose(box=box.astype(np.float32), score=float(pred[i, 4]), keypoints=kpts.astype(np.float32)))
    return poses


class OnnxPose:
    """YOLO pose through ONNX Runtime: letterbox, one forward pass, decode, NMS. No PyTorch."""

    def __init__(self, model_path: Path, *, conf: float = 0.25, iou: float = 0.7, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.imgsz = int(model_input.shape[2])
        self.conf, self.iou = conf, iou

    def __call__(self, frame: np.ndarray) -> list[PersonPose]:
        padded, lb = letterbox(frame, self.imgsz)
        blob = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0
        (output,) = self.session.run(None, {self.input_name: blob})
        return decode_pose_output(output, lb, frame.shape, self.conf, self.iou)


class UltralyticsPose:
    """YOLO pose through ultralytics (PyTorch): the reference the lean back end is tested against."""

    def __init__(self, weights: Path, *, imgsz: int = 640, conf: float = 0.25, iou: float = 0.7) -> None:
        from ultralytics import YOLO

        self.model = YOLO(str(weights), task="pose")
        self.imgsz, self.conf, self.iou = imgsz, conf, iou

    def __call__(self, frame: np.ndarray) -> list[PersonPose]:
        result = self.model.predict(frame, imgsz=self.imgsz, conf=self.conf, iou=self.iou, verbose=False)[0]
        if result.keypoints is None or not len(result.boxes):
            return []
        boxes = result.boxes.xyxy.cpu().numpy()
        scores = result.boxes.conf.cpu().numpy()
        kpts = result.keypoints.data.cpu().numpy()
        return [
            PersonPose(box=b.astype(np.float32), score=float(s), keypoints=k.astype(np.float32))
            for b, s, k in zip(boxes, scores, kpts, strict=False)
        ]


def model_cache_dir() -> Path:
    """Where exported models are kept: ``$KOMMUNE_MODEL_CACHE`` or ``~/.cache/kommune-edge``."""
    return Path(os.environ.get("KOMMUNE_MODEL_CACHE", Path.home() / ".cache" / "kommune-edge"))


def onnx_pose_path(imgsz: int, cache_dir: Path | None = None) -> Path:
    return (cache_dir or model_cache_dir()) / f"{POSE_MODEL}-{imgsz}.onnx"


def export_pose_onnx(imgsz: int = 640, cache_dir: Path | None = None) -> Path:
    """Export the registered .pt weights to ONNX (opset 17, static ``imgsz``) into the cache; needs ultralytics.

    Same as ``yolo export model=yolo11n-pose.pt format=onnx imgsz=640 opset=17`` (see models/EXPORT_POSE.md).
    """
    import shutil
    import tempfile

    from ultralytics import YOLO

    from models.registry import resolve_model

    target = onnx_pose_path(imgsz, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / f"{POSE_MODEL}.pt"
        shutil.copyfile(resolve_model(POSE_MODEL), work)
        exported = YOLO(str(work), task="pose").export(
            format="onnx", imgsz=imgsz, opset=17, dynamic=False, simplify=False, verbose=False
        )
        shutil.move(str(exported), target)
    log.info("exported pose model", extra={"path": str(target), "imgsz": imgsz})
    return target


def load_pose_backend(
    backend: BackendName = "onnx", *, imgsz: int = 640, conf: float = 0.25, iou: float = 0.7, threads: int | None = None
) -> PoseBackend:
    """The configured back end; the ONNX file is exported on first use when ultralytics is installed."""
    if backend == "ultralytics":
        from models.registry import resolve_model

        return UltralyticsPose(resolve_model(POSE_MODEL), imgsz=imgsz, conf=conf, iou=iou)
    path = onnx_pose_path(imgsz)
    if not path.is_file():
        path = export_pose_onnx(imgsz)
    return OnnxPose(path, conf=conf, iou=iou, threads=threads)


class PoseTracker:
    """Stable per-person ids across frames with ByteTrack (Roboflow ``trackers``); keypoints ride along."""

    def __init__(self, frame_rate: float = 10.0, lost_track_s: float = 2.0, activation: float = 0.35) -> None:
        from trackers import ByteTrackTracker

        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_track_s * 30)),
            frame_rate=frame_rate,
            track_activation_threshold=activation,
            minimum_consecutive_frames=1,
            high_conf_det_threshold=0.5,
        )

    def update(self, poses: list[PersonPose], ts_s: float | None = None) -> list[PersonPose]:
        """Poses of this frame with ``track_id`` set; unconfirmed detections are dropped."""
        import supervision as sv

        if poses:
            detections = sv.Detections(
                xyxy=np.stack([p.box for p in poses]).astype(np.float32),
                confidence=np.array([p.score for p in poses], dtype=np.float32),
                class_id=np.zeros(len(poses), dtype=int),
                data={"index": np.arange(len(poses))},
            )
        else:
            detections = sv.Detections.empty()
        tracked = self._tracker.update(detections, timestamp=ts_s)
        out = []
        for index, track_id in zip(
            tracked.data.get("index", []), tracked.tracker_id if tracked.tracker_id is not None else [], strict=False
        ):
            if track_id >= 0:
                out.append(replace(poses[int(index)], track_id=int(track_id)))
        return out
