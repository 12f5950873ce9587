"""The road pipeline on a device: wires the frame grabber, the GNSS source and the detectors to the analyzer."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator

from edge.pipelines.base import Pipeline, PipelineContext
from edge.pipelines.road import RoadConfig
from edge.pipelines.road.analyzer import AnalyzerSettings, RoadAnalyzer
from edge.pipelines.road.quality import QualityThresholds
from edge.sources.gps import GpsFix, open_gps
from edge.vision.ground import CameraGeometry
from protocol import Body

log = logging.getLogger(__name__)


def camera_geometry(cfg: RoadConfig, width: int, height: int) -> CameraGeometry:
    c = cfg.camera
    focal = c.focal_px if c.focal_px else CameraGeometry.from_hfov(width, height, c.hfov_deg).focal_px
    return CameraGeometry(
        width,
        height,
        focal,
        c.height_m,
        c.pitch_deg,
        None if c.cx_frac is None else c.cx_frac * width,
        None if c.cy_frac is None else c.cy_frac * height,
    )


def analyzer_settings(cfg: RoadConfig) -> AnalyzerSettings:
    q = cfg.quality
    return AnalyzerSettings(
        view_near_m=cfg.view_near_m,
        view_far_m=cfg.view_far_m,
        view_half_width_m=cfg.view_half_width_m,
        min_frames=cfg.min_frames,
        # a track must reach the analyzer's own bar at least once (what the drive simulator measures), and never
        # less than the detector threshold: per-frame detections at 0.15 feed tracks, reports need more evidence
        min_confidence=max(cfg.confidence, AnalyzerSettings.min_confidence),
        coverage_interval_s=cfg.coverage_interval_s,
        road_class=cfg.road_class,
        gnss_sigma_m=cfg.gnss_sigma_m,
        crops=cfg.crops,
        quality=QualityThresholds(q.min_brightness, q.min_sharpness, q.min_speed_mps),
    )


def detector_imgsz(cfg: RoadConfig, registry_size: int) -> int:
    """Input size the damage detector runs at: an ONNX/TFLite export's size is fixed when it is exported (the
    registry's ``input_size``); ultralytics runs at ``imgsz`` when the config sets it, else at that same size."""
    if cfg.backend != "ultralytics" or "imgsz" not in cfg.model_fields_set:
        if "imgsz" in cfg.model_fields_set and cfg.imgsz != registry_size:
            log.warning("imgsz ignored: the export's input size is fixed", extra={"imgsz": cfg.imgsz,
                                                                                 "model_input": registry_size})
        return registry_size
    return cfg.imgsz


def open_damage_detector(cfg: RoadConfig):  # -> (YoloDetector, rdd_of)
    """The damage detector named in the registry, with its class ids mapped to RDD codes."""
    from edge.vision.lean_yolo import open_yolo
    from models.registry import load_registry, resolve_model

    spec = load_registry()[cfg.model]
    names = {int(k): str(v) for k, v in spec.classes.items()}
    detector = open_yolo(
        cfg.backend, resolve_model(cfg.model), imgsz=detector_imgsz(cfg, spec.input_size), names=names,
        conf=cfg.confidence, threads=cfg.threads,
    )
    rdd_of = {k: v.split()[0] for k, v in names.items() if v.split()[0] in {"D00", "D10", "D20", "D40"}}
    return detector, rdd_of


def open_privacy(cfg: RoadConfig):
    """The redactor, or None (then no crop is ever made: privacy fails closed)."""
    if not cfg.crops:
        return None
    from edge.vision.redact import open_redactor
    from models.registry import resolve_model

    try:
        return open_redactor(str(resolve_model(cfg.privacy_model)), cfg.privacy_model, threads=cfg.threads)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        log.warning("privacy model unavailable: crops disabled", extra={"error": str(exc)})
        return None


def new_drive_id(ts: float | None = None) -> str:
    return time.strftime("drive-%Y%m%dT%H%M%S", time.gmtime(ts if ts is not None else time.time()))


class RoadPipeline(Pipeline):
    """Runs until stopped: frames and fixes in, ``road/*`` messages out through ``ctx.emit``."""

    type = "road"

    def __init__(self, config: RoadConfig, ctx: PipelineContext) -> None:
        super().__init__(config, ctx)
        self.cfg = config
        self.analyzer: RoadAnalyzer | None = None
        self._fixes: queue.Queue[GpsFix] = queue.Queue(maxsize=10_000)
        self._fps = 0.0

    def _emit(self, body: Body, ts_ms: int, priority: int) -> None:
        self.ctx.emit(body, ts=ts_ms, priority=priority)

    def _read_gps(self, fixes: Iterator[GpsFix]) -> None:
        try:
            for fix in fixes:
                if self.ctx.stop.is_set():
                    return
                self._fixes.put(fix)
        except OSError as exc:
            log.warning("GNSS source failed", extra={"gps": self.cfg.gps, "error": str(exc)})

    def run(self) -> None:
        from edge.sources.video import FrameGrabber

        detector, rdd_of = open_damage_detector(self.cfg)
        redactor = open_privacy(self.cfg)
        grabber = FrameGrabber(self.cfg.video, self.ctx.stop).start()
        step = max(1, round(grabber.fps / self.cfg.process_fps))
        grabber.want = lambda index: index % step == 0
        threading.Thread(
            target=self._read_gps,
            args=(open_gps(self.cfg.gps, self.cfg.gps_time_offset_s),),
            name="road-gps",
            daemon=True,
        ).start()
        pending: list[GpsFix] = []
        last_ts = time.time()
        window_start, window_frames = time.monotonic(), 0
        try:
            for frame in grabber.frames():
                if frame.image.size == 0:
                    continue
                ts = frame.wall_ms / 1000
                if self.analyzer is None:
                    h, w = frame.image.shape[:2]
                    self.analyzer = RoadAnalyzer(
                        analyzer_settings(self.cfg),
                        camera_geometry(self.cfg, w, h),
                        detector,
                        rdd_of,
                        self._emit,
                        new_drive_id(ts),
                        redactor,
                    )
                pending.extend(self._drain_fixes())
                # a replayed track is read ahead of the video: feed fixes up to the frame's time (+1 s)
                pending.sort(key=lambda f: f.ts)
                while pending and pending[0].ts <= ts + 1.0:
                    self.analyzer.add_fix(pending.pop(0))
                self.analyzer.process(ts, frame.image)
                last_ts = ts
                window_frames += 1
                elapsed = time.monotonic() - window_start
                if elapsed >= 5.0:
                    self._fps, window_start, window_frames = window_frames / elapsed, time.monotonic(), 0
        finally:
            grabber.close()
            if self.analyzer is not None:
                self.analyzer.flush(last_ts)

    def _drain_fixes(self) -> list[GpsFix]:
        out = []
        while True:
            try:
                out.append(self._fixes.get_nowait())
            except queue.Empty:
                return out

    def metrics(self) -> dict[str, float]:
        figures = {"fps": round(self._fps, 2)}
        if self.analyzer is not None:
            figures.update({k: round(v, 2) for k, v in self.analyzer.metrics().items()})
        return figures
