"""Multi-object tracking: ByteTrack from Roboflow's ``trackers`` package (the successor of
supervision's tracker), wrapped to take and return our :class:`Detections`. No PyTorch needed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.vision.detect import Detections


@dataclass(frozen=True)
class Tracks:
    """Tracked boxes of one frame: ``xyxy`` (N×4), COCO ``cls`` (N), ``conf`` (N) and ``track_id`` (N)."""

    xyxy: np.ndarray
    cls: np.ndarray
    conf: np.ndarray
    track_id: np.ndarray

    def __len__(self) -> int:
        return len(self.track_id)


@dataclass
class TrackerSettings:
    """ByteTrack's knobs; times are in seconds so frame skipping does not change their meaning."""

    lost_track_buffer_s: float = 1.5
    track_activation_threshold: float = 0.3
    high_conf_det_threshold: float = 0.45
    minimum_consecutive_frames: int = 2
    minimum_iou_threshold: float = 0.1


class ByteTracker:
    """ByteTrack over timestamped detections (variable frame steps are fine: detection may skip frames)."""

    def __init__(self, settings: TrackerSettings | None = None, frame_rate: float = 30.0) -> None:
        from trackers import ByteTrackTracker

        s = settings or TrackerSettings()
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(s.lost_track_buffer_s * frame_rate)),
            frame_rate=frame_rate,
            track_activation_threshold=s.track_activation_threshold,
            minimum_consecutive_frames=s.minimum_consecutive_frames,
            minimum_iou_threshold=s.minimum_iou_threshold,
            high_conf_det_threshold=s.high_conf_det_threshold,
        )

    def update(self, dets: Detections, t_s: float) -> Tracks:
        """Associate this frame's detections (taken at ``t_s`` seconds) with the tracks."""
        import supervision as sv

        svd = sv.Detections(xyxy=dets.xyxy.astype(np.float32).reshape(-1, 4), confidence=dets.conf, class_id=dets.cls)
        out = self._tracker.update(svd, timestamp=t_s)
        ids = np.asarray(out.tracker_id if out.tracker_id is not None else [], dtype=np.int64)
        keep = ids >= 0
        if not len(ids):
            return Tracks(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32), ids)
        conf = out.confidence if out.confidence is not None else np.ones(len(ids), np.float32)
        return Tracks(out.xyxy[keep], np.asarray(out.class_id)[keep], np.asarray(conf)[keep], ids[keep])

    def reset(self) -> None:
        self._tracker.reset()
