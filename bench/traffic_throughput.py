"""Traffic throughput, decode → detect → track → count, on the 1080p city clip: our pipeline (lean
TFLite back end, ROI, motion gate, mosaic, detector stride) against ultralytics' own ``model.track()``
(ByteTrack) on the same model file and clip, measured side by side in one run. Prints both and the ratio.

Figures on a shared 2-core machine are noisy: run it when the machine is quiet, and read the ratio. Besides
frames per second (wall clock) it prints the CPU time each pipeline spent per frame (all its threads), which
other jobs on the machine change far less: on an otherwise idle 2-core machine a pipeline cannot run faster
than 2000 / (CPU ms per frame) frames per second, and the ratio of the CPU figures is the ratio to expect.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from edge.eval.traffic import load_traffic_config
from edge.pipelines.base import PipelineContext
from models.registry import data_dir, resolve_model

CLIP = "media/city-traffic-1080p.mp4"
# A full-width counting line across the road, as a lamp-post unit would have it.
BENCH_CONFIG = {
    "source": {"kind": "file", "uri": CLIP},
    "lines": [{"name": "road", "points": [[0.15, 0.72], [0.88, 0.72]], "positive": "towards", "negative": "away"}],
}
SETTINGS = {
    "tuned": {"detect_every": 2, "frames_per_inference": 4, "roi": "auto", "motion_gate": True},
    "plain": {"detect_every": 1, "frames_per_inference": 1, "roi": "full", "motion_gate": False},
}


def run_ours(speed: dict, frames: int, threads: int) -> dict[str, float]:
    import supervision  # noqa: F401  imported before the clock starts, as ultralytics is for its run
    import trackers  # noqa: F401

    from edge.pipelines.traffic.pipeline import TrafficPipeline

    cfg_path = Path(tempfile.mkstemp(suffix=".yaml")[1])
    cfg_path.write_text(json.dumps(BENCH_CONFIG))
    config = load_traffic_config(
        cfg_path, {"speed": speed, "source": {"max_frames": frames}, "detector": {"threads": threads},
                   "health": {"enabled": True}},
    )
    cfg_path.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = PipelineContext("bench", "bench", lambda body, **kw: 0, threading.Event(), Path(tmp))
        pipeline = TrafficPipeline(config, ctx)
        pipeline.crossing_log = []
        load, cpu, start = os.getloadavg()[0], time.process_time(), time.perf_counter()
        pipeline.run()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    m = pipeline.metrics()
    return {"frames": m["frames"], "seconds": seconds, "fps": m["frames"] / seconds,
            "cpu_ms_per_frame": 1000 * cpu / m["frames"], "load_before": load, "load_after": os.getloadavg()[0],
            "detected_frames": m["detected_frames"], "detector_ms": m["detector_ms"],
            "crossings": len(pipeline.crossing_log)}


def run_ultralytics(frames: int, model_path: Path) -> dict[str, float]:
    from ultralytics import YOLO

    model = YOLO(str(model_path), task="detect")
    load, cpu, start = os.getloadavg()[0], time.process_time(), time.perf_counter()
    n = 0
    for _ in model.track(source=str(data_dir() / CLIP), stream=True, tracker="bytetrack.yaml", imgsz=640,
                         classes=[0, 1, 2, 3, 5, 7], verbose=False, persist=True):
        n += 1
        if n >= frames:
            break
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"frames": n, "seconds": seconds, "fps": n / seconds, "cpu_ms_per_frame": 1000 * cpu / n,
            "load_before": load, "load_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=312, help="frames of the clip to process (312 = all)")
    parser.add_argument("--threads", type=int, default=2, help="inference threads for our pipeline")
    parser.add_argument("--skip-plain", action="store_true", help="skip our pipeline without speed-ups")
    parser.add_argument("--detect-every", type=int, default=2, help="tuned: detector on every n-th frame")
    parser.add_argument("--mosaic", type=int, default=4, help="tuned: frames per inference")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    model = resolve_model("yolov8n-int8-tflite")
    print(f"clip {CLIP}, {args.frames} frames, model {model.name}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    tuned = {**SETTINGS["tuned"], "detect_every": args.detect_every, "frames_per_inference": args.mosaic}
    results = {"ours (tuned)": run_ours(tuned, args.frames, args.threads)}
    print("ours (tuned):", results["ours (tuned)"], flush=True)
    if not args.skip_plain:
        results["ours (plain)"] = run_ours(SETTINGS["plain"], args.frames, args.threads)
        print("ours (plain):", results["ours (plain)"], flush=True)
    results["ultralytics track"] = run_ultralytics(args.frames, model)
    print("ultralytics model.track():", results["ultralytics track"], flush=True)
    peer = results["ultralytics track"]["fps"]
    print(f"load average now {os.getloadavg()[0]:.1f}")
    peer_cpu = results["ultralytics track"]["cpu_ms_per_frame"]
    print(f"\n{'pipeline':24} {'frames':>6} {'seconds':>8} {'fps':>6} {'ratio':>6} {'CPU ms/frame':>12} {'ratio':>6} "
          f"{'load':>9}")
    for name, r in results.items():
        print(f"{name:24} {int(r['frames']):6d} {r['seconds']:8.1f} {r['fps']:6.2f} {r['fps'] / peer:5.2f}x "
              f"{r['cpu_ms_per_frame']:12.1f} {peer_cpu / r['cpu_ms_per_frame']:5.2f}x "
              f"{r['load_before']:4.1f}-{r['load_after']:<4.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
