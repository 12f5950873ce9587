"""Road pipeline throughput on this machine vs ultralytics' own ``predict`` on the same frames.

Frames come from the drive simulator (real pothole photos re-projected as the vehicle approaches).
"ours" is the whole per-frame path: quality gate, lean ONNX detection with our own pre/post-processing,
road placement, GNSS fusion, tracking, and the blurred evidence crop (COCO TFLite redaction of the whole
frame) for every damage reported. "ours, redaction every frame" is the worst case that blurs every frame.
The peer is ultralytics ``YOLO(weights).predict`` on the same frames (detection only).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time

import numpy as np


def sim_frames(n_photos: int, per_site: int) -> list[np.ndarray]:
    import cv2

    from edge.eval.road_drive_sim import APPROACH_M, render, val_photos

    frames = []
    for p in val_photos(n_photos):
        photo = cv2.imread(str(p))
        for k in range(per_site):
            frames.append(render(photo, -APPROACH_M + (APPROACH_M + 10.0) * k / max(1, per_site - 1)))
    return frames


def run_ours(frames: list[np.ndarray], redact_every_frame: bool, threads: int) -> dict[str, float]:
    from edge.eval.road_drive_sim import PHOTO_CAMERA, REF_LAT, REF_LON, open_detectors
    from edge.pipelines.road import RoadConfig
    from edge.pipelines.road.analyzer import AnalyzerSettings, RoadAnalyzer
    from edge.sources.gps import GpsFix

    detector, rdd_of, redactor = open_detectors("onnx", RoadConfig().confidence, threads)
    assert redactor is not None, "the COCO privacy model is needed for this benchmark"
    emitted: list[str] = []
    analyzer = RoadAnalyzer(AnalyzerSettings(), PHOTO_CAMERA, detector, rdd_of,
                            lambda body, ts, prio: emitted.append(body.STREAM), "bench", redactor)
    t0, rng = 1_795_000_000.0, random.Random(1)
    for i in range(int(len(frames) / 5) + 40):
        analyzer.add_fix(GpsFix(t0 + i, REF_LAT + i * 9e-5 + rng.gauss(0, 4e-5), REF_LON, 10.0, 0.0))
    analyzer.process(t0, frames[0])  # warm-up
    started = time.perf_counter()
    for i, frame in enumerate(frames):
        analyzer.process(t0 + 0.2 * (i + 1), frame)
        if redact_every_frame:
            redactor.redact(frame)
    analyzer.flush(t0 + 0.2 * (len(frames) + 1))
    wall = time.perf_counter() - started
    return {"fps": len(frames) / wall, "ms_per_frame": 1000 * wall / len(frames),
            "observations": float(emitted.count("road/observation")), "crops": float(emitted.count("road/crop"))}


def run_ultralytics(frames: list[np.ndarray], imgsz: int, threads: int) -> dict[str, float]:
    import torch
    from ultralytics import YOLO

    from models.registry import resolve_model

    torch.set_num_threads(threads)
    model = YOLO(str(resolve_model("road-damage-yolo11n")), task="detect")
    model.predict(frames[0], imgsz=imgsz, verbose=False)
    started = time.perf_counter()
    for frame in frames:
        model.predict(frame, imgsz=imgsz, conf=0.25, verbose=False)
    wall = time.perf_counter() - started
    return {"fps": len(frames) / wall, "ms_per_frame": 1000 * wall / len(frames)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--per-site", type=int, default=12, help="frames per photo as the vehicle approaches")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--imgsz", type=int, default=None, help="ultralytics' size (default: the model's, as ours)")
    args = ap.parse_args(argv)
    if args.imgsz is None:
        from models.registry import load_registry

        args.imgsz = load_registry()["road-damage-yolo11n-onnx"].input_size
    frames = sim_frames(args.photos, args.per_site)
    result = {
        "frames": len(frames), "frame_size": list(frames[0].shape[:2]), "threads": args.threads,
        "cpu_count": os.cpu_count(), "imgsz": args.imgsz, "load_avg_1m_before": round(os.getloadavg()[0], 2),
    }
    ours = run_ours(frames, redact_every_frame=False, threads=args.threads)
    worst = run_ours(frames, redact_every_frame=True, threads=args.threads)
    peer = run_ultralytics(frames, args.imgsz, args.threads)
    result.update({
        "ours_fps": round(ours["fps"], 2), "ours_ms_per_frame": round(ours["ms_per_frame"], 1),
        "ours_observations": ours["observations"], "ours_crops_blurred": ours["crops"],
        "ours_redact_every_frame_fps": round(worst["fps"], 2),
        "ultralytics_predict_fps": round(peer["fps"], 2),
        "ratio_ours_vs_ultralytics": round(ours["fps"] / peer["fps"], 2) if peer["fps"] else math.nan,
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    })
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
