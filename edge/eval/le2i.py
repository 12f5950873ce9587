"""Le2i fall clips and UR Fall: annotations, and a disk cache of pose keypoints per clip.

The cache (``var/pose-cache`` by default, gitignored) holds only keypoints, so the fall logic
can be iterated on without re-running the model. Frames are read, posed and dropped one by one.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.vision.pose import PersonPose, PoseBackend

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path("var/pose-cache")
URFALL_CLIP = "media/urfall-fall-01-cam0.mp4"


@dataclass(frozen=True)
class Clip:
    """One annotated video. ``fall_start``/``fall_end`` are 1-based frame numbers; 0/0 means no fall.
    ``crop_x`` keeps only the columns from that x on (UR Fall: RGB in the right half)."""

    name: str
    video: Path
    fall_start: int
    fall_end: int
    fps: float = 25.0
    crop_x: int = 0

    @property
    def has_fall(self) -> bool:
        return self.fall_end > 0


def le2i_clips(folder: Path) -> list[Clip]:
    """All clips of a Le2i folder (``dev`` or ``holdout``) with their fall annotation."""
    clips = []
    for video in sorted(folder.glob("*.mp4")):
        lines = video.with_suffix(".txt").read_text().splitlines()
        clips.append(Clip(video.stem, video, int(lines[0].strip() or 0), int(lines[1].strip() or 0)))
    return clips


def urfall_clip(data_dir: Path) -> Clip:
    """UR Fall fall-01 camera 0 (640×240: depth left, RGB right). No frame annotation: the
    acceptance rule is one alarm after the person reaches the floor (see ``bench/falls_eval.py``)."""
    return Clip("urfall-fall-01-cam0", data_dir / URFALL_CLIP, 0, 0, fps=30.0, crop_x=320)


def read_frames(clip: Clip, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame_number, BGR frame)`` for every ``stride``-th frame, 1-based like the annotations."""
    import cv2

    cap = cv2.VideoCapture(str(clip.video))
    try:
        number = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            number += 1
            if (number - 1) % stride == 0:
                yield number, frame[:, clip.crop_x :] if clip.crop_x else frame
    finally:
        cap.release()


@dataclass
class PoseTrack:
    """Untracked poses of every frame of a clip as read from the cache."""

    frames: np.ndarray  # (F,) frame numbers
    width: int
    height: int
    poses: list[list[PersonPose]]


def cache_path(cache_dir: Path, clip: Clip, backend: str, imgsz: int, stride: int) -> Path:
    return cache_dir / f"{backend}-{imgsz}-s{stride}" / f"{clip.name}.npz"


def compute_poses(clip: Clip, pose: PoseBackend, stride: int = 1) -> PoseTrack:
    numbers, poses, shape = [], [], (0, 0)
    for number, frame in read_frames(clip, stride):
        shape = frame.shape[:2]
        numbers.append(number)
        poses.append(pose(frame))
    return PoseTrack(np.array(numbers), int(shape[1]), int(shape[0]), poses)


def save_poses(path: Path, track: PoseTrack) -> None:
    flat = [(i, p) for i, frame in enumerate(track.poses) for p in frame]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        frames=track.frames,
        size=np.array([track.width, track.height]),
        owner=np.array([i for i, _ in flat], dtype=np.int32),
        boxes=np.array([p.box for _, p in flat], dtype=np.float32).reshape(-1, 4),
        scores=np.array([p.score for _, p in flat], dtype=np.float32),
        keypoints=np.array([p.keypoints for _, p in flat], dtype=np.float32).reshape(-1, 17, 3),
    )


def load_poses(path: Path) -> PoseTrack:
    data = np.load(path)
    frames = data["frames"]
    poses: list[list[PersonPose]] = [[] for _ in frames]
    for owner, box, score, kpts in zip(data["owner"], data["boxes"], data["scores"], data["keypoints"], strict=False):
        poses[int(owner)].append(PersonPose(box=box, score=float(score), keypoints=kpts))
    width, height = (int(v) for v in data["size"])
    return PoseTrack(frames, width, height, poses)


def cached_poses(
    clip: Clip, *, backend: str = "ultralytics", imgsz: int = 320, stride: int = 5, cache_dir: Path = DEFAULT_CACHE
) -> PoseTrack:
    """Poses of every ``stride``-th frame of a clip from the cache, computing and storing them on a miss."""
    path = cache_path(cache_dir, clip, backend, imgsz, stride)
    if path.is_file():
        return load_poses(path)
    from edge.vision.pose import load_pose_backend

    track = compute_poses(clip, load_pose_backend(backend, imgsz=imgsz), stride)  # type: ignore[arg-type]
    save_poses(path, track)
    log.info("cached poses", extra={"clip": clip.name, "frames": len(track.frames)})
    return track


def main(argv: list[str] | None = None) -> None:
    from models.registry import data_dir

    parser = argparse.ArgumentParser(description="Fill the pose-keypoint cache for the Le2i clips and UR Fall.")
    parser.add_argument("--splits", nargs="+", default=["dev", "holdout", "urfall"])
    parser.add_argument("--backend", default="ultralytics", choices=["ultralytics", "onnx"])
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument(
        "--stride", type=int, default=5, help="pose every n-th frame (25 fps / 5 = 5 Hz, a device's rate)"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    for split in args.splits:
        clips = [urfall_clip(data_dir())] if split == "urfall" else le2i_clips(data_dir() / "falls" / "le2i" / split)
        for clip in clips:
            cached_poses(clip, backend=args.backend, imgsz=args.imgsz, stride=args.stride, cache_dir=args.cache_dir)
            log.info("done %s", clip.name)


if __name__ == "__main__":
    main()
