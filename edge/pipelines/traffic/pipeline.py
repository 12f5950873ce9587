"""The traffic pipeline: frames → (motion gate, ROI, mosaic) detection → ByteTrack → line crossings and
zone occupancy → 15-minute count bins → protocol messages. Frames never leave memory."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.pipelines.base import Pipeline, PipelineContext
from edge.pipelines.traffic.config import TrafficConfig
from edge.pipelines.traffic.counting import (
    COCO_IDS,
    ClassVotes,
    CountBins,
    relabel_riders,
    traffic_labels,
)
from edge.sources.video import Frame, FrameGrabber
from edge.vision.detect import Detections, Detector, DetectorSettings, make_detector
from edge.vision.geometry import CountingLine, LineCrossings, Zone, ZoneDwell, bbox_anchor, border_cuts
from edge.vision.health import HealthThresholds, ViewHealth
from edge.vision.tracking import ByteTracker, TrackerSettings
from protocol import Command
from protocol.streams.system import HealthEvent
from protocol.streams.traffic import TrafficCounts, TrafficZone

log = logging.getLogger(__name__)
MOTION_SIZE = 160  # width of the grey thumbnail used for motion gating


def resolve_model_path(model: str) -> Path:
    """A registry name (``models/registry.yaml``) or a file path."""
    path = Path(model)
    if path.suffix and path.exists():
        return path
    from models.registry import resolve_model

    return resolve_model(model)


def roi_box(cfg: TrafficConfig) -> tuple[float, float, float, float]:
    """Region of interest as fractions of the frame: explicit, full, or around the lines and zones."""
    roi = cfg.speed.roi
    if roi == "full":
        return (0.0, 0.0, 1.0, 1.0)
    if roi != "auto":
        return roi
    pts = np.array([p for line in cfg.lines for p in line.points] + [p for z in cfg.zones for p in z.polygon])
    m = cfg.speed.roi_margin
    x0, y0 = (pts.min(0) - m).clip(0, 1)
    x1, y1 = (pts.max(0) + m).clip(0, 1)
    return (float(x0), float(y0), float(x1), float(y1))


@dataclass
class _Geometry:
    """Lines and zones in pixels of the frame size they were built for."""

    size: tuple[int, int]
    crossings: list[tuple[LineCrossings, frozenset[str] | None]]
    zones: list[tuple[ZoneDwell, frozenset[str] | None]]
    roi_px: tuple[int, int, int, int]


class MotionGate:
    """Says whether anything moved in the ROI since the last frame that was detected on."""

    def __init__(self, fraction: float, max_gap_s: float) -> None:
        self.fraction = fraction
        self.max_gap_s = max_gap_s
        self._last: np.ndarray | None = None
        self._last_t = -1e9

    def moving(self, roi: np.ndarray, t_s: float) -> bool:
        import cv2

        h, w = roi.shape[:2]
        small = cv2.resize(roi, (MOTION_SIZE, max(1, round(h * MOTION_SIZE / w))), interpolation=cv2.INTER_AREA)
        gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        if self._last is None or self._last.shape != gray.shape or t_s - self._last_t >= self.max_gap_s:
            changed = True
        else:
            changed = float(np.mean(cv2.absdiff(gray, self._last) > 18)) >= self.fraction
        if changed:
            self._last, self._last_t = gray, t_s
        return changed


class TrafficPipeline(Pipeline):
    """Counts pedestrians, bicycles, cars, motorcycles and heavy vehicles per line and direction."""

    type = "traffic"
    config: TrafficConfig

    def __init__(self, config: TrafficConfig, ctx: PipelineContext) -> None:
        super().__init__(config, ctx)
        state = Path(ctx.state_dir) / "traffic" / self.name
        self.bins = CountBins(
            config.bin_s,
            {line.name: (line.positive, line.negative) for line in config.lines},
            [z.name for z in config.zones],
            state_file=state / "open_bin.json",
        )
        h = config.health
        self.health = ViewHealth(
            HealthThresholds(h.dark_mean, h.covered_ratio, h.defocus_ratio, h.moved_similarity),
            raise_after_s=h.raise_after_s,
            clear_after_s=h.clear_after_s,
            reference_file=state / "view_reference.json",
        )
        self._frames = 0
        self._detected = 0
        self._t0 = time.monotonic()
        self._fps_window: deque[float] = deque(maxlen=120)
        self._detector_ms: deque[float] = deque(maxlen=50)
        self._grabber: FrameGrabber | None = None
        self._reset_reference = False
        self._last_seen: dict[int, float] = {}
        self.crossing_log: list[tuple[float, str, str, str]] | None = None  # (t_s, line, class, direction), eval

    # -- heartbeat ---------------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        window = list(self._fps_window)
        fps = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 and window[-1] > window[0] else 0.0
        return {
            "fps": round(fps, 2),
            "frames": float(self._frames),
            "detected_frames": float(self._detected),
            "dropped_frames": float(self._grabber.dropped if self._grabber else 0),
            "detector_ms": round(float(np.mean(self._detector_ms)), 1) if self._detector_ms else 0.0,
            "health_conditions": float(len(self.health.active)),
        }

    def on_command(self, command: Command) -> str | None:
        if command.action == "traffic/reset-reference":
            self._reset_reference = True
            return "the view reference will be learned again from the next frames"
        return None

    # -- main loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        cfg = self.config
        d = cfg.detector
        detector = make_detector(
            d.backend,
            resolve_model_path(d.model),
            DetectorSettings(
                conf=d.conf,
                iou=d.iou,
                classes=tuple(sorted({*COCO_IDS, *d.extra_classes})),
                threads=d.threads,
                agnostic=d.agnostic_nms,
            ),
        )
        grabber = FrameGrabber(cfg.source, stop=self.ctx.stop)
        self._grabber = grabber
        every = cfg.speed.detect_every
        grabber.want = lambda index: index % every == 0
        grabber.start()
        fps = grabber.fps
        t = cfg.tracker
        tracker = ByteTracker(
            TrackerSettings(
                t.lost_track_buffer_s,
                t.track_activation_threshold,
                t.high_conf_det_threshold,
                t.minimum_consecutive_frames,
                t.minimum_iou_threshold,
            ),
            frame_rate=fps / every,
        )
        votes = ClassVotes()
        gate = MotionGate(cfg.speed.motion_fraction, cfg.speed.max_gate_s) if cfg.speed.motion_gate else None
        geometry: _Geometry | None = None
        batch: list[tuple[Frame, np.ndarray]] = []
        next_health = 0.0
        ended = False
        try:
            for frame in grabber.frames():
                self._frames += 1
                self._fps_window.append(time.monotonic())
                self._roll(frame.wall_ms)
                if frame.image.size == 0:
                    continue
                if geometry is None or geometry.size != frame.image.shape[:2]:
                    geometry = self._build_geometry(frame.image.shape[:2])
                if cfg.health.enabled and frame.t_s >= next_health:
                    next_health = frame.t_s + cfg.health.every_s
                    self._check_health(frame)
                x0, y0, x1, y1 = geometry.roi_px
                roi = frame.image[y0:y1, x0:x1]
                if gate is not None and not gate.moving(roi, frame.t_s):
                    continue
                batch.append((frame, roi))
                if len(batch) < cfg.speed.frames_per_inference:
                    continue
                self._detect_and_count(detector, tracker, votes, geometry, batch)
                batch = []
            ended = not self.ctx.stop.is_set() and not grabber.limit_reached
            if batch and geometry is not None:
                self._detect_and_count(detector, tracker, votes, geometry, batch)
        finally:
            grabber.close()
            if ended and grabber.cfg.kind == "file" and not grabber.cfg.loop:
                self._flush()
            else:
                self.bins.save()

    # -- steps -------------------------------------------------------------------------------------
    def _build_geometry(self, shape: tuple[int, int]) -> _Geometry:
        cfg = self.config
        h, w = shape
        margin = cfg.hysteresis * h
        crossings = [
            (
                LineCrossings(CountingLine(line.name, line.points, line.positive, line.negative).scaled(w, h), margin),
                frozenset(line.classes) if line.classes else None,
            )
            for line in cfg.lines
        ]
        zones = [
            (ZoneDwell(Zone(z.name, z.polygon).scaled(w, h)), frozenset(z.classes) if z.classes else None)
            for z in cfg.zones
        ]
        fx0, fy0, fx1, fy1 = roi_box(cfg)
        px0, py0 = int(fx0 * w), int(fy0 * h)
        roi_px = (px0, py0, max(int(fx1 * w), px0 + 32), max(int(fy1 * h), py0 + 32))
        log.info("traffic geometry", extra={"frame": [w, h], "roi": roi_px, "lines": len(crossings)})
        return _Geometry((h, w), crossings, zones, roi_px)

    def _detect_and_count(
        self,
        detector: Detector,
        tracker: ByteTracker,
        votes: ClassVotes,
        geometry: _Geometry,
        batch: list[tuple[Frame, np.ndarray]],
    ) -> None:
        results = detector.detect_many([roi for _, roi in batch])
        self._detector_ms.append(detector.last_ms / len(batch))
        x0, y0 = geometry.roi_px[:2]
        for (frame, _), dets in zip(batch, results, strict=True):
            self._detected += 1
            self._count(frame, self._filter(dets.shifted(x0, y0)), tracker, votes, geometry)

    def _filter(self, dets: Detections) -> Detections:
        class_conf = self.config.detector.class_conf
        if not class_conf or not len(dets):
            return dets
        labels = traffic_labels(dets.cls, self.config.detector.extra_classes)  # type: ignore[arg-type]
        minimum = [class_conf.get(label, 0.0) for label in labels]  # type: ignore[call-overload]
        return dets.select(dets.conf >= np.array(minimum, np.float32))

    def _count(self, frame: Frame, dets: Detections, tracker: ByteTracker, votes: ClassVotes, g: _Geometry) -> None:
        tracks = tracker.update(dets, frame.t_s)
        labels = relabel_riders(tracks.xyxy, traffic_labels(tracks.cls, self.config.detector.extra_classes))  # type: ignore[arg-type]
        for tid, label, conf in zip(tracks.track_id.tolist(), labels, tracks.conf.tolist(), strict=True):
            votes.add(tid, label, conf)
        anchors = bbox_anchor(tracks.xyxy, self.config.anchor)
        cuts = border_cuts(tracks.xyxy, g.size, self.config.anchor)
        for tid in tracks.track_id.tolist():
            self._last_seen[tid] = frame.t_s
        # a track unmatched for a frame or two is only lost, not ended: keep its side and votes
        horizon = self.config.tracker.lost_track_buffer_s + 1.0
        alive = {tid for tid, seen in self._last_seen.items() if frame.t_s - seen <= horizon}
        self._last_seen = {tid: self._last_seen[tid] for tid in alive}
        changed = False
        for crossing, classes in g.crossings:
            for tid, point, cut in zip(tracks.track_id.tolist(), anchors, cuts, strict=True):
                direction = crossing.update(tid, point, cut)
                cls = votes.label(tid)
                if direction and cls in self.bins.counts[crossing.line.name] and (classes is None or cls in classes):
                    self.bins.add_crossing(crossing.line.name, cls, direction)
                    changed = True
                    if self.crossing_log is not None:
                        self.crossing_log.append((round(frame.t_s, 3), crossing.line.name, cls, direction))
                    log.debug(
                        "crossing",
                        extra={
                            "line": crossing.line.name,
                            "class": cls,
                            "direction": direction,
                            "t_s": round(frame.t_s, 2),
                        },
                    )
            crossing.forget(alive)
        if g.zones:
            self._zones(frame, tracks.track_id.tolist(), anchors, votes, g)
        votes.forget(alive)
        if changed:
            self.bins.save()

    def _zones(self, frame: Frame, ids: list[int], anchors: np.ndarray, votes: ClassVotes, g: _Geometry) -> None:
        occupancy: dict[str, dict[str, int]] = {}
        for dwell, classes in g.zones:
            wanted = self.bins.zone_acc[dwell.zone.name].keys() if classes is None else classes
            present = {tid: p for tid, p in zip(ids, anchors, strict=True) if votes.label(tid) in wanted}
            entered, left = dwell.update(present, frame.t_s)
            for tid in entered:
                self.bins.add_zone_entry(dwell.zone.name, votes.label(tid))
            for tid, seconds in left:
                cls = votes.label(tid)
                if cls in self.bins.zone_acc[dwell.zone.name]:
                    self.bins.add_zone_dwell(dwell.zone.name, cls, seconds)
            per_cls: dict[str, int] = {}
            for tid in dwell.occupants:
                cls = votes.label(tid)
                if cls in self.bins.zone_acc[dwell.zone.name]:
                    per_cls[cls] = per_cls.get(cls, 0) + 1
            occupancy[dwell.zone.name] = per_cls
        self.bins.add_zone_frame(occupancy)

    def _check_health(self, frame: Frame) -> None:
        if self._reset_reference:
            self._reset_reference = False
            self.health.reset_reference()
        for change in self.health.check(frame.image, frame.t_s):
            self.ctx.emit(
                HealthEvent(
                    pipeline=self.name,
                    kind=change.kind,
                    state=change.state,  # type: ignore[arg-type]
                    severity="warning",
                    score=change.score,
                    message=f"camera view: {change.kind.replace('_', ' ')} {change.state}; counts of this period "
                    "are flagged",
                ),
                ts=frame.wall_ms,
                priority=1,
            )
        self.bins.set_active_flags(set(self.health.active))

    def _roll(self, wall_ms: int) -> None:
        self._emit(self.bins.roll(wall_ms))

    def _flush(self) -> None:
        if self.bins.bin_start is not None:
            self._emit(self.bins.roll(self.bins.bin_start, flush=True))
        if self.bins.state_file and self.bins.state_file.exists():
            self.bins.state_file.unlink()

    def _emit(self, bodies: list[TrafficCounts | TrafficZone]) -> None:
        if not bodies:
            return
        for body in bodies:
            self.ctx.emit(body, ts=body.bin_start, priority=2)
        self.bins.save()
