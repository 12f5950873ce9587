"""The road pipeline's core: frames + GNSS fixes in, observations, blurred crops and coverage out.

No I/O of its own: the pipeline (live) and the drive simulator (evaluation) feed it and take its bodies.
"""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge.pipelines.road.damage import DamageTrack, DamageTracker, Sighting, place_on_road, severity_of
from edge.pipelines.road.quality import CoverageMeter, QualityThresholds, brightness_and_sharpness, judge_frame
from edge.pipelines.road.vehicle import Pose, VehicleTrack
from edge.sources.gps import GpsFix
from edge.vision.ground import CameraGeometry
from edge.vision.lean_yolo import YoloDetector
from edge.vision.redact import Redactor
from protocol import Body
from protocol.streams.road import DamageCrop, DamageObservation, RoadCoverage

log = logging.getLogger(__name__)
EmitFn = Callable[[Body, int, int], None]  # (body, event time ms, priority)
CROP_MAX_PX = 320
CROP_B64_LIMIT = 44_000


@dataclass(frozen=True)
class AnalyzerSettings:
    view_near_m: float = 3.0
    view_far_m: float = 20.0
    view_half_width_m: float = 3.5
    min_frames: int = 2
    min_confidence: float = 0.3
    coverage_interval_s: float = 30.0
    coverage_spacing_m: float = 5.0
    road_class: str = "local"
    gnss_sigma_m: float = 5.0
    emit_delay_s: float = 15.0  # wait after passing so GNSS fixes after the damage also fix its position
    crops: bool = True
    quality: QualityThresholds = field(default_factory=QualityThresholds)


@dataclass
class _ViewPoint:
    east: float
    north: float
    odometer: float
    ts: float


class RoadAnalyzer:
    """Quality gate → detection → road placement → tracking → one observation per damage (+ crop)."""

    def __init__(
        self,
        settings: AnalyzerSettings,
        camera: CameraGeometry,
        detector: YoloDetector,
        rdd_of: dict[int, str],
        emit: EmitFn,
        drive_id: str,
        redactor: Redactor | None = None,
    ) -> None:
        self.s = settings
        self.camera = camera
        self.detector = detector
        self.rdd_of = rdd_of
        self.emit = emit
        self.drive_id = drive_id
        self.redactor = redactor
        self.vehicle = VehicleTrack()
        self.tracker = DamageTracker()
        self.coverage = CoverageMeter(settings.view_near_m, settings.view_far_m)
        self._best: dict[int, tuple[float, np.ndarray, tuple[float, float, float, float]]] = {}
        self._last_pose: Pose | None = None
        self._odometer = 0.0
        self._view_points: list[_ViewPoint] = []
        self._period_start: float | None = None
        self._observations = 0
        self._crops = 0
        self._timing = {"frame_ms": 0.0, "detect_ms": 0.0, "redact_ms": 0.0}
        self._frames = 0
        self._finished: list[tuple[float, DamageTrack]] = []  # (emit when, track)
        # for evaluation: where one raw GNSS fix (no fusion) would have put each damage
        self.unfused_positions: dict[str, tuple[float, float]] = {}

    # ------------------------------------------------------------------ inputs

    def add_fix(self, fix: GpsFix) -> None:
        self.vehicle.add(fix)

    def process(self, ts: float, frame: np.ndarray) -> str:
        """Handle one frame taken at ``ts`` (epoch s); returns the quality verdict."""
        started = time.perf_counter()
        if self._period_start is None:
            self._period_start = ts
        if (frame.shape[1], frame.shape[0]) != (self.camera.width, self.camera.height):
            self.camera = self.camera.scaled(frame.shape[1], frame.shape[0])
        pose = self.vehicle.pose(ts)
        travelled = 0.0
        if pose is not None and self._last_pose is not None:
            travelled = math.hypot(pose.east - self._last_pose.east, pose.north - self._last_pose.north)
        brightness, sharpness = brightness_and_sharpness(frame)
        verdict = judge_frame(brightness, sharpness, pose.speed_mps if pose else None, self.s.quality)
        self.coverage.add(verdict, travelled)
        self._odometer += travelled
        if pose is not None:
            self._last_pose = pose
        if verdict == "good" and pose is not None:
            self._inspect(ts, frame, pose)
        if pose is not None:
            self._finish_tracks(ts, pose)
        if ts - self._period_start >= self.s.coverage_interval_s:
            self._emit_coverage(ts, final=False)
        self._frames += 1
        self._timing["frame_ms"] += (time.perf_counter() - started) * 1000
        return verdict

    def flush(self, ts: float) -> None:
        """End of drive: finish every track and report the remaining coverage."""
        for track in [t for _, t in self._finished] + list(self.tracker.tracks.values()):
            self.tracker.tracks.pop(track.track_id, None)
            self._observe(track, ts)
        self._finished = []
        self._emit_coverage(ts, final=True)

    # ------------------------------------------------------------------ steps

    def _inspect(self, ts: float, frame: np.ndarray, pose: Pose) -> None:
        t0 = time.perf_counter()
        boxes = self.detector(frame)
        self._timing["detect_ms"] += (time.perf_counter() - t0) * 1000
        sightings = []
        for xyxy, score, cls in zip(boxes.xyxy, boxes.scores, boxes.classes, strict=True):
            code = self.rdd_of.get(int(cls))
            box = tuple(float(v) for v in xyxy)
            placed = place_on_road(box, self.camera)  # type: ignore[arg-type]
            if code is None or placed is None:
                continue
            forward, lateral, width, length = placed
            if forward > self.s.view_far_m * 1.5 or abs(lateral) > self.s.view_half_width_m * 2:
                continue
            east, north = pose.ahead(forward, lateral)
            sightings.append(Sighting(ts, east, north, forward, width, length, float(score), code, box))  # type: ignore[arg-type]
        self.tracker.update(sightings)
        if self.s.crops and self.redactor is not None:
            self._keep_best_frames(frame, sightings)
        self._add_view_point(ts, pose)

    def _keep_best_frames(self, frame: np.ndarray, sightings: list[Sighting]) -> None:
        for tid, track in self.tracker.tracks.items():
            s = track.last
            if s not in sightings:
                continue
            merit = s.score * (s.box[2] - s.box[0]) * (s.box[3] - s.box[1])
            if tid not in self._best or merit > self._best[tid][0]:
                self._best[tid] = (merit, frame, s.box)

    def _add_view_point(self, ts: float, pose: Pose) -> None:
        if self._view_points and self._odometer - self._view_points[-1].odometer < self.s.coverage_spacing_m:
            return
        east, north = pose.ahead((self.s.view_near_m + self.s.view_far_m) / 2, 0.0)
        self._view_points.append(_ViewPoint(east, north, self._odometer, ts))

    def _finish_tracks(self, ts: float, pose: Pose) -> None:
        along = {tid: pose.along(*t.position()) for tid, t in self.tracker.tracks.items()}
        for track in self.tracker.finished(ts, along, self.s.view_near_m):
            self._finished.append((ts + self.s.emit_delay_s, track))
        due = [t for when, t in self._finished if when <= ts]
        self._finished = [(when, t) for when, t in self._finished if when > ts]
        for track in due:
            self._observe(track, ts)

    def _observe(self, track: DamageTrack, now: float) -> None:
        best = self._best.pop(track.track_id, None)
        if len(track.sightings) < self.s.min_frames or track.confidence() < self.s.min_confidence:
            return
        east, north = track.position()
        last = track.last
        pose = self.vehicle.pose(last.ts)
        speed = pose.speed_mps if pose else 0.0
        passed = min(now, last.ts + (max(0.0, last.forward) / speed if speed > 0.5 else 0.0))
        lat, lon, n_fixes = self.vehicle.to_latlon(east, north, passed)
        closest = min(track.sightings, key=lambda s: s.forward)
        self.unfused_positions[f"{self.drive_id}-{self._observations + 1:05d}"] = self.vehicle.to_latlon(
            east, north, closest.ts, window_s=0.0
        )[:2]
        while len(self.unfused_positions) > 1000:
            self.unfused_positions.pop(next(iter(self.unfused_positions)))
        sigma = math.hypot(
            self.s.gnss_sigma_m / math.sqrt(max(1, n_fixes)), track.spread_m() / math.sqrt(len(track.sightings))
        )
        width, length = track.size()
        code = track.rdd_class()
        self._observations += 1
        obs_id = f"{self.drive_id}-{self._observations:05d}"
        crop = self._crop(obs_id, code, best) if best is not None else None
        body = DamageObservation(
            observation_id=obs_id,
            drive_id=self.drive_id,
            rdd_class=code,  # type: ignore[arg-type]
            severity=severity_of(code, width, length),  # type: ignore[arg-type]
            lat=round(lat, 7),
            lon=round(lon, 7),
            position_sigma_m=round(sigma, 2),
            width_m=round(width, 2),
            length_m=round(length, 2),
            area_m2=round(math.pi / 4 * width * length, 3),
            confidence=round(track.confidence(), 3),
            frames=len(track.sightings),
            distance_min_m=round(min(s.forward for s in track.sightings), 2),
            first_ts=int(track.sightings[0].ts * 1000),
            passed_ts=int(passed * 1000),
            heading_deg=round(math.degrees(pose.heading) % 360, 1) if pose else 0.0,
            road_class=self.s.road_class,
            has_crop=crop is not None,
        )
        self.emit(body, int(passed * 1000), 5)
        if crop is not None:
            self.emit(crop, int(passed * 1000), 1)

    def _crop(self, obs_id: str, code: str, best: tuple[float, np.ndarray, tuple]) -> DamageCrop | None:
        assert self.redactor is not None
        t0 = time.perf_counter()
        crop = evidence_crop(best[1], best[2], self.redactor, obs_id, code)
        self._timing["redact_ms"] += (time.perf_counter() - t0) * 1000
        self._crops += crop is not None
        return crop

    def _emit_coverage(self, ts: float, final: bool) -> None:
        start = self._period_start if self._period_start is not None else ts
        active = [t.position() for t in self.tracker.tracks.values()] + [t.position() for _, t in self._finished]
        ripe, keep = [], []
        for p in self._view_points:
            passed = self._odometer - p.odometer >= self.s.view_far_m + 2.0
            near_track = any(math.hypot(p.east - e, p.north - n) < 10.0 for e, n in active)
            (ripe if final or (passed and not near_track) else keep).append(p)
        self._view_points = keep
        if self.vehicle.frame is None:
            return
        points = []
        for p in ripe[:400]:
            lat, lon, _ = self.vehicle.to_latlon(p.east, p.north, p.ts)
            points.append([round(lat, 7), round(lon, 7), round(p.ts - start, 1)])
        c = self.coverage.counts
        self.emit(
            RoadCoverage(
                drive_id=self.drive_id,
                start_ts=int(start * 1000),
                end_ts=int(ts * 1000),
                metres_driven=round(self.coverage.metres_driven, 1),
                metres_inspected=round(self.coverage.metres_inspected, 1),
                frames_total=self.coverage.total,
                frames_good=c["good"],
                frames_dark=c["dark"],
                frames_blurred=c["blurred"],
                frames_stationary=c["stationary"],
                frames_no_fix=c["no_fix"],
                view_near_m=self.s.view_near_m,
                view_far_m=self.s.view_far_m,
                view_half_width_m=self.s.view_half_width_m,
                points=points,
            ),
            int(ts * 1000),
            3,
        )
        self.coverage.reset_period()
        self._period_start = ts

    # ------------------------------------------------------------------ figures

    def metrics(self) -> dict[str, float]:
        n = max(1, self._frames)
        return {
            "frames": float(self._frames),
            "frame_ms": self._timing["frame_ms"] / n,
            "detect_ms": self._timing["detect_ms"] / n,
            "redact_ms_total": self._timing["redact_ms"],
            "observations": float(self._observations),
            "crops": float(self._crops),
            "active_tracks": float(len(self.tracker.tracks)),
        }


def crop_window(box: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The damage box grown by half its size plus 16 px each side, clipped to the frame."""
    x1, y1, x2, y2 = box
    h, w = shape
    mx, my = 0.5 * (x2 - x1) + 16, 0.5 * (y2 - y1) + 16
    return int(max(0, x1 - mx)), int(max(0, y1 - my)), int(min(w, x2 + mx)), int(min(h, y2 + my))


def evidence_crop(
    frame: np.ndarray,
    box: tuple[float, float, float, float],
    redactor: Redactor,
    observation_id: str,
    rdd_class: str,
) -> DamageCrop | None:
    """Blur persons and plates in the whole frame first, then cut, shrink and JPEG-encode the damage crop."""
    import cv2

    blurred, regions = redactor.redact(frame)
    cx1, cy1, cx2, cy2 = crop_window(box, frame.shape[:2])
    crop = blurred[cy1:cy2, cx1:cx2]
    inside = [r for r in regions if r.intersects((cx1, cy1, cx2, cy2))]
    scale = min(1.0, CROP_MAX_PX / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(
            crop,
            (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
    for quality in (75, 60, 45, 30):
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        encoded = base64.b64encode(jpeg.tobytes()).decode() if ok else ""
        if encoded and len(encoded) <= CROP_B64_LIMIT:
            return DamageCrop(
                observation_id=observation_id,
                rdd_class=rdd_class,
                jpeg_b64=encoded,  # type: ignore[arg-type]
                width=crop.shape[1],
                height=crop.shape[0],
                privacy_model=redactor.model_name,
                blurred_regions=len(inside),
            )
    return None
