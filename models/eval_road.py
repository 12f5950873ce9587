"""Detection F1 at IoU >= 0.5 (the CRDDC rule) of the road-damage detector on a YOLO-format folder.

Choose the confidence threshold on our own validation split (``--choose``); measure the hold-out set once
at that fixed threshold (``--threshold``). Every ground-truth box of a pothole folder counts as D40.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("models.eval_road")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def match(pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, iou_min: float = 0.5) -> Counts:
    """Greedy matching, highest score first; each ground-truth box matches at most once."""
    order = np.argsort(-scores)
    ious = iou_matrix(pred[order], gt)
    used = np.zeros(len(gt), bool)
    tp = 0
    for i in range(len(order)):
        if len(gt) == 0:
            break
        candidates = np.where(~used & (ious[i] >= iou_min))[0]
        if len(candidates):
            used[candidates[np.argmax(ious[i, candidates])]] = True
            tp += 1
    return Counts(tp, len(pred) - tp, len(gt) - tp)


def read_gt(label: Path, width: int, height: int) -> np.ndarray:
    boxes = []
    if label.exists():
        for line in label.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5:
                x, y, w, h = (float(v) for v in parts[1:5])
                boxes.append([(x - w / 2) * width, (y - h / 2) * height, (x + w / 2) * width, (y + h / 2) * height])
    return np.array(boxes, np.float32).reshape(-1, 4)


def predict_folder(detector, images: list[Path], pothole_class: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(pred boxes, scores, gt boxes) per image; only pothole-class predictions count (class must match)."""
    import cv2

    out = []
    for path in images:
        img = cv2.imread(str(path))
        boxes = detector(img)
        keep = boxes.classes == pothole_class
        label = path.parent.parent / "labels" / f"{path.stem}.txt"
        out.append((boxes.xyxy[keep], boxes.scores[keep], read_gt(label, img.shape[1], img.shape[0])))
    return out


def f1_at(preds: list[tuple[np.ndarray, np.ndarray, np.ndarray]], threshold: float) -> Counts:
    tp = fp = fn = 0
    for boxes, scores, gt in preds:
        keep = scores >= threshold
        c = match(boxes[keep], scores[keep], gt)
        tp, fp, fn = tp + c.tp, fp + c.fp, fn + c.fn
    return Counts(tp, fp, fn)


def model_input_size(path: Path) -> int:
    """The input size an ONNX export was fixed at, or the size a checkpoint was trained at."""
    if path.suffix == ".pt":
        import torch

        ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
        return int(ckpt.get("train_args", {}).get("imgsz", 640))
    import onnxruntime as ort

    shape = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    return int(shape[-1]) if isinstance(shape[-1], int) else 640


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, required=True, help="YOLO folder with images/ and labels/")
    ap.add_argument("--only", type=Path, default=None, help="split.json: evaluate only its 'val' stems")
    ap.add_argument("--model", type=Path, required=True, help=".onnx (lean) or .pt (ultralytics)")
    ap.add_argument("--imgsz", type=int, default=None, help="default: the ONNX input size / the checkpoint's")
    ap.add_argument("--threshold", type=float, default=None, help="fixed confidence threshold to report")
    ap.add_argument("--choose", action="store_true", help="sweep thresholds and report the best F1 (val only!)")
    ap.add_argument("--nms-iou", type=float, default=0.5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from edge.vision.lean_yolo import open_yolo

    names = {0: "D00", 1: "D10", 2: "D20", 3: "D40"}
    backend = "ultralytics" if args.model.suffix == ".pt" else "onnx"
    if args.imgsz is None:
        args.imgsz = model_input_size(args.model)
    detector = open_yolo(backend, args.model, imgsz=args.imgsz, names=names, conf=0.05, iou=args.nms_iou)  # type: ignore[arg-type]
    images = sorted(p for p in (args.folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if args.only:
        wanted = set(json.loads(args.only.read_text())["val"])
        images = [p for p in images if p.stem in wanted]
    preds = predict_folder(detector, images, pothole_class=3)
    result: dict[str, object] = {"folder": str(args.folder), "images": len(images), "model": args.model.name,
                                 "imgsz": args.imgsz, "gt_boxes": int(sum(len(g) for _, _, g in preds))}
    if args.choose:
        sweep = {round(t, 2): f1_at(preds, t) for t in np.arange(0.05, 0.91, 0.05)}
        best_t = max(sweep, key=lambda t: sweep[t].f1)
        result["sweep"] = {str(t): round(c.f1, 4) for t, c in sweep.items()}
        result["chosen_threshold"] = best_t
        args.threshold = best_t
    if args.threshold is not None:
        c = f1_at(preds, args.threshold)
        result.update({"threshold": args.threshold, "tp": c.tp, "fp": c.fp, "fn": c.fn,
                       "precision": round(c.precision, 4), "recall": round(c.recall, 4), "f1": round(c.f1, 4)})
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
