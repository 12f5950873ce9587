"""Falls pipeline throughput: two rooms on one device, frames per second per room, lean ONNX Runtime back end
beside ultralytics' own pose inference (the reference) on the same frames.

Each room is a thread, as in the agent (one falls pipeline per room): pose → ByteTrack → RoomMonitor on
frames of a real clip (Le2i dev and UR Fall, decoded once into memory at the analysed rate, so decoding
is not timed; a camera delivers decoded frames). The rooms run as fast as they can for ``--seconds``;
the figure is frames analysed per second in each room. Goal (issue 4): ≥ 5 Hz per room for two rooms on
the 2-core machine. Also prints how far the two back ends' keypoints are apart on the same frames.

    python -m bench.falls_throughput --seconds 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np

from edge.eval.le2i import le2i_clips, read_frames, urfall_clip
from edge.pipelines.falls.config import RoomConfig
from edge.pipelines.falls.logic import Observation, RoomMonitor
from edge.vision.pose import PoseBackend, PoseTracker, load_pose_backend
from models.registry import data_dir

GOAL_HZ = 5.0


def room_frames(count: int, stride: int) -> list[list[np.ndarray]]:
    """Frames of two real rooms: a Le2i dev clip and UR Fall fall-01 (its RGB half)."""
    le2i = next(c for c in le2i_clips(data_dir() / "falls" / "le2i" / "dev") if c.has_fall)
    out = []
    for clip in (le2i, urfall_clip(data_dir())):
        frames = [frame for _, frame in read_frames(clip, stride=stride)][:count]
        out.append(frames)
    return out


def run_room(pose: PoseBackend, frames: list[np.ndarray], seconds: float, fps: float, done: list[float],
             start: threading.Barrier) -> None:
    """Loop over the room's frames for ``seconds``; append frames analysed per second to ``done``."""
    tracker = PoseTracker(frame_rate=fps)
    monitor: RoomMonitor | None = None
    height, width = frames[0].shape[:2]
    scale = np.array([1 / width, 1 / height, 1.0], dtype=np.float32)
    start.wait()
    began, analysed = time.perf_counter(), 0
    while time.perf_counter() - began < seconds:
        frame = frames[analysed % len(frames)]
        people = tracker.update(pose(frame), ts_s=analysed / fps)
        if monitor is None:
            monitor = RoomMonitor(RoomConfig(room=str(len(done)), care_home="bench"), aspect=width / height)
        monitor.step(1_767_600_000_000 + int(analysed * 1000 / fps),
                     [Observation(p.track_id or 0, p.keypoints * scale) for p in people])
        analysed += 1
    done.append(analysed / (time.perf_counter() - began))


def measure(make_pose: Callable[[], PoseBackend], rooms: list[list[np.ndarray]], seconds: float,
            fps: float) -> list[float]:
    """Per-room rates with every room running at once, each in its own thread with its own model."""
    poses = [make_pose() for _ in rooms]
    for pose, frames in zip(poses, rooms, strict=True):
        pose(frames[0])  # warm-up outside the timing
    start = threading.Barrier(len(rooms))
    rates: list[float] = []
    threads = [threading.Thread(target=run_room, args=(pose, frames, seconds, fps, rates, start))
               for pose, frames in zip(poses, rooms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return rates


def agreement(rooms: list[list[np.ndarray]], imgsz: int, frames: int = 20) -> tuple[float, int]:
    """Median keypoint distance (pixels) between the two back ends' best person on the same frames."""
    onnx = load_pose_backend("onnx", imgsz=imgsz)
    torch_pose = load_pose_backend("ultralytics", imgsz=imgsz)
    gaps = []
    for frame in [f for room in rooms for f in room[:frames]]:
        a, b = onnx(frame), torch_pose(frame)
        if a and b:
            best_a, best_b = max(a, key=lambda p: p.score), max(b, key=lambda p: p.score)
            gaps.append(float(np.median(np.linalg.norm(best_a.keypoints[:, :2] - best_b.keypoints[:, :2], axis=1))))
    return (statistics.median(gaps) if gaps else float("nan")), len(gaps)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed run per back end")
    parser.add_argument("--imgsz", type=int, default=320, help="pose input size (the device config's default)")
    parser.add_argument("--fps", type=float, default=5.0, help="analysed frame rate (clip stride)")
    parser.add_argument("--frames", type=int, default=120, help="frames per room kept in memory")
    parser.add_argument("--onnx-threads", type=int, default=1, help="ONNX Runtime threads per room")
    parser.add_argument("--torch-threads", type=int, default=1, help="PyTorch threads (shared by the rooms)")
    args = parser.parse_args(argv)

    rooms = room_frames(args.frames, stride=max(1, round(25 / args.fps)))
    print(f"rooms: 2 ({', '.join(f'{len(r)} frames {r[0].shape[1]}x{r[0].shape[0]}' for r in rooms)}), "
          f"imgsz {args.imgsz}, {args.seconds:.0f} s per back end; cpus {os.cpu_count()}; "
          f"load average before {os.getloadavg()[0]:.2f}")
    import torch

    torch.set_num_threads(args.torch_threads)
    results = {
        "onnx (ours)": measure(lambda: load_pose_backend("onnx", imgsz=args.imgsz, threads=args.onnx_threads),
                               rooms, args.seconds, args.fps),
        "ultralytics (reference)": measure(lambda: load_pose_backend("ultralytics", imgsz=args.imgsz),
                                           rooms, args.seconds, args.fps),
    }
    gap, compared = agreement(rooms, args.imgsz)
    print(f"\n| back end | room 1 Hz | room 2 Hz | slowest room | goal ≥ {GOAL_HZ:.0f} Hz per room |")
    print("|---|---|---|---|---|")
    for name, rates in results.items():
        slowest = min(rates)
        verdict = "met" if slowest >= GOAL_HZ else "NOT met"
        print(f"| {name} | {rates[0]:.1f} | {rates[1]:.1f} | {slowest:.1f} | {verdict} |")
    ours, ref = min(results["onnx (ours)"]), min(results["ultralytics (reference)"])
    print(f"\nonnx / ultralytics (slowest room): {ours / ref:.2f}x")
    print(f"keypoints onnx vs ultralytics on the same frames: median {gap:.2f} px apart ({compared} frames)")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
