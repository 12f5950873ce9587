"""The falls pipeline's I/O: frames → pose → tracks → ``RoomMonitor`` → ``falls/event`` messages.

A frame lives only inside one loop iteration (read, pose, dropped); what leaves is text and keypoints.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict

import numpy as np

from edge.pipelines.base import Pipeline
from edge.pipelines.falls.config import FallsConfig, SourceConfig
from edge.pipelines.falls.logic import NightStats, Observation, RoomEvent, RoomMonitor
from edge.pipelines.falls.messages import fall_event_body

log = logging.getLogger(__name__)
PRIORITY = {"critical": 9, "warning": 6, "info": 3}
STATE_EVERY_S = 30.0  # the night statistics are saved this often (and on every event and on stop)


def frames(source: SourceConfig, stop: object | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """``(seconds, BGR frame)`` at about ``source.fps``; video files give their own timeline."""
    import cv2

    uri: str | int = int(source.uri) if source.uri.isdigit() else source.uri
    base = 0.0  # a looping file's timeline continues across loops (the room's clocks must not run back)
    while True:
        cap = cv2.VideoCapture(uri)
        if not cap.isOpened():
            raise RuntimeError(f"cannot open video source {source.uri!r}")
        native = cap.get(cv2.CAP_PROP_FPS) or 25.0
        is_file = isinstance(uri, str) and "://" not in uri
        step = max(1, round(native / source.fps)) if is_file else 1
        index, started, last = 0, time.monotonic(), 0.0
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                index += 1
                if is_file:
                    if (index - 1) % step:
                        continue
                    t = base + (index - 1) / native
                    if source.realtime:
                        time.sleep(max(0.0, t - base - (time.monotonic() - started)))
                else:
                    t = time.monotonic() - started
                    if t - last < 1.0 / source.fps:
                        continue
                    last = t
                if source.crop is not None:
                    h, w = frame.shape[:2]
                    x0, y0, x1, y1 = source.crop
                    frame = frame[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]
                yield t, frame
        finally:
            cap.release()
        if not (is_file and source.loop):
            return
        base += index / native


class FallsPipeline(Pipeline):
    """Fall, bed-exit and restless-night detection for one room."""

    type = "falls"
    config: FallsConfig

    def __init__(self, config, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, ctx)
        self._fps = 0.0
        self._pose_ms = 0.0
        self._events = 0

    def run(self) -> None:
        from edge.vision.pose import PoseTracker, load_pose_backend

        cfg = self.config
        pose = load_pose_backend(cfg.pose.backend, imgsz=cfg.pose.imgsz, conf=cfg.pose.conf, threads=cfg.pose.threads)
        tracker = PoseTracker(frame_rate=cfg.source.fps)
        monitor: RoomMonitor | None = None
        state_path = cfg.state_file if cfg.state_file.is_absolute() else self.ctx.state_dir / cfg.state_file
        epoch = time.time()
        last = saved = time.monotonic()
        try:
            for t, frame in frames(cfg.source):
                if self.ctx.stop.is_set():
                    return
                height, width = frame.shape[:2]
                if monitor is None:
                    monitor = RoomMonitor(cfg.room, cfg.detector, aspect=width / height)
                    _restore(monitor, state_path)
                started = time.perf_counter()
                people = tracker.update(pose(frame), ts_s=t)
                del frame  # the frame is not needed any more; nothing image-like is kept
                self._pose_ms = 0.9 * self._pose_ms + 100 * (time.perf_counter() - started)
                scale = np.array([1 / width, 1 / height, 1.0], dtype=np.float32)
                observations = [Observation(p.track_id or 0, p.keypoints * scale) for p in people]
                events = monitor.step(int((epoch + t) * 1000), observations)
                for event in events:
                    self._emit(event, monitor)
                now = time.monotonic()
                if events or now - saved >= STATE_EVERY_S:
                    _save(monitor, state_path)
                    saved = now
                self._fps = 0.9 * self._fps + 0.1 / max(now - last, 1e-3)
                last = now
        finally:
            if monitor is not None:
                _save(monitor, state_path)  # on stop (SIGTERM) or a source error: the night so far is kept

    def _emit(self, event: RoomEvent, monitor: RoomMonitor) -> None:
        body = fall_event_body(event, self.config.room, monitor.local_time(event.ts))
        self.ctx.emit(body, ts=event.ts, priority=PRIORITY[event.severity])
        self._events += 1
        log.info("falls event", extra={"kind": event.kind, "severity": event.severity, "event_id": event.event_id})

    def metrics(self) -> dict[str, float]:
        return {"fps": round(self._fps, 2), "pose_ms": round(self._pose_ms, 1), "events": float(self._events)}


def _save(monitor: RoomMonitor, path) -> None:  # type: ignore[no-untyped-def]
    """Keep the night's statistics across a restart (no images, only counters)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(json.dumps(asdict(monitor.night)))
        partial.replace(path)  # atomic: a kill during the write leaves the previous file
    except OSError as exc:
        log.warning("cannot save falls state", extra={"error": str(exc)})


def _restore(monitor: RoomMonitor, path) -> None:  # type: ignore[no-untyped-def]
    try:
        stats = NightStats(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return
    monitor.resume(stats)
    log.info("falls night statistics restored", extra={"night_of": stats.night_of, "observed_s": stats.observed_s})
