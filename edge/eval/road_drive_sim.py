"""Drive simulator for the road pipeline, built from real pothole photos, end to end through the hub service.

Each photo is a road site. The photo is read as the view of a camera with its horizon at the top row
(pitch 0, principal point at the top centre); every labelled pothole then has a true ground position.
As the vehicle approaches, each frame is the photo re-projected for the camera's new position (a
ground-plane homography: windows over the photo that slide down and scale up), composited over an
asphalt texture. The vehicle follows a route with a speed profile and a stop; GNSS fixes at 1 Hz carry
Gaussian noise; drives repeat; the link can be down for a while. Observations go through the real
:class:`~hub.services.road.RoadService`, which dispatches to a local webhook.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from edge.pipelines.road.analyzer import AnalyzerSettings, RoadAnalyzer
from edge.pipelines.road.damage import place_on_road
from edge.pipelines.road.vehicle import LocalFrame
from edge.sources.gps import GpsFix
from edge.vision.ground import CameraGeometry
from edge.vision.lean_yolo import YoloDetector
from edge.vision.redact import Redactor
from protocol import Body, Envelope, Topic
from protocol.streams.road import DamageObservation, RoadCoverage

log = logging.getLogger("edge.eval.road_drive_sim")
PHOTO_SIZE = 640
# The camera each photo is read as: horizon at the top row, 2400 px focal length (a 15° lens), 1.5 m above the road.
PHOTO_CAMERA = CameraGeometry(PHOTO_SIZE, PHOTO_SIZE, 2400.0, height_m=1.5, pitch_deg=0.0, cx=320.0, cy=0.0)
REF_LAT, REF_LON = 55.3959, 10.3883  # Odense
SITE_STRAIGHT_M = 40.0
SITE_GAP_M = 15.0
APPROACH_M = 15.0  # the site's photo comes into view this far before its reference position


# ---------------------------------------------------------------- ground truth


@dataclass
class Damage:
    """One physical damage: one or more labelled potholes whose footprints touch (repaired as one)."""

    damage_id: int
    site: int
    forward: float  # at the site's reference pose
    lateral: float
    boxes: int
    members: list[tuple[float, float]] = field(default_factory=list)  # (forward, lateral) of each pothole
    east: float = 0.0
    north: float = 0.0
    members_en: list[tuple[float, float]] = field(default_factory=list)

    def distance_to(self, east: float, north: float) -> float:
        """Distance to the nearest pothole of the damage (its centre for a single pothole)."""
        return min(math.hypot(e - east, n - north) for e, n in [(self.east, self.north), *self.members_en])


def read_labels(path: Path) -> list[tuple[float, float, float, float]]:
    """YOLO label file → pixel boxes (x1, y1, x2, y2) on the 640 px photo."""
    boxes = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5:
            x, y, w, h = (float(v) * PHOTO_SIZE for v in parts[1:5])
            boxes.append((x - w / 2, y - h / 2, x + w / 2, y + h / 2))
    return boxes


def site_damages(boxes: list[tuple[float, float, float, float]], site: int, join_m: float = 2.0) -> list[Damage]:
    """Ground positions of a photo's potholes, grouped when their footprints lie within ``join_m``."""
    placed = [p for p in (place_on_road(b, PHOTO_CAMERA) for b in boxes) if p is not None]
    groups: list[list[tuple[float, float, float, float]]] = []
    for p in placed:
        touching = [g for g in groups if any(_gap(p, q) <= join_m for q in g)]
        merged = [p]
        for g in touching:
            merged.extend(g)
            groups.remove(g)
        groups.append(merged)
    return [
        Damage(
            0,
            site,
            statistics.fmean(q[0] for q in g),
            statistics.fmean(q[1] for q in g),
            len(g),
            [(q[0], q[1]) for q in g],
        )
        for g in groups
    ]


def _gap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Clearance between two footprints (forward, lateral, width, length) as axis-aligned rectangles."""
    d_fwd = abs(a[0] - b[0]) - (a[3] + b[3]) / 2
    d_lat = abs(a[1] - b[1]) - (a[2] + b[2]) / 2
    return math.hypot(max(0.0, d_fwd), max(0.0, d_lat))


# ---------------------------------------------------------------- route


@dataclass
class Route:
    """A road as a dense polyline (0.5 m steps) with straight stretches at the sites and bends between."""

    xy: np.ndarray
    heading: np.ndarray
    site_s: list[float]
    step: float = 0.5

    @staticmethod
    def build(n_sites: int, rng: random.Random) -> Route:
        pts, heads, site_s = [(0.0, 0.0)], [math.radians(rng.uniform(0, 360))], []
        s = 0.0

        def advance(length: float, turn: float) -> None:
            nonlocal s
            steps = max(1, int(length / 0.5))
            for _ in range(steps):
                h = heads[-1] + turn / steps
                x, y = pts[-1]
                pts.append((x + 0.5 * math.sin(h), y + 0.5 * math.cos(h)))
                heads.append(h)
                s += 0.5

        advance(40.0, 0.0)
        for _ in range(n_sites):
            site_s.append(s + APPROACH_M)
            advance(SITE_STRAIGHT_M, 0.0)
            advance(SITE_GAP_M, math.radians(rng.uniform(-20, 20)))
        advance(40.0, 0.0)
        return Route(np.array(pts), np.array(heads), site_s)

    @property
    def length(self) -> float:
        return (len(self.xy) - 1) * self.step

    def at(self, s: float) -> tuple[float, float, float]:
        """(east, north, heading) at arc length ``s`` (interpolated)."""
        i = min(max(0.0, s) / self.step, len(self.xy) - 1.000001)
        k, w = int(i), i - int(i)
        east, north = self.xy[k] * (1 - w) + self.xy[k + 1] * w
        return float(east), float(north), float(self.heading[k])


def place_damages(route: Route, damages: list[Damage]) -> None:
    for d in damages:
        east, north, h = route.at(route.site_s[d.site])

        def world(fwd: float, lat: float, e: float = east, n: float = north, hd: float = h) -> tuple[float, float]:
            return e + fwd * math.sin(hd) + lat * math.cos(hd), n + fwd * math.cos(hd) - lat * math.sin(hd)

        d.east, d.north = world(d.forward, d.lateral)
        d.members_en = [world(f, lat) for f, lat in d.members]


def site_end(damages: list[Damage], site: int, near_m: float) -> float:
    """How far past its reference a site's photo stays in view: until its last pothole left the frame.

    Beyond that the re-projected frame would show only the photo's top rows (often sky and facades,
    which this camera model reads as far road), so the simulator switches to plain road."""
    fwd = [f for d in damages if d.site == site for f, _ in d.members] or [near_m]
    return max(fwd) - near_m + 2.0


def speed_profile(duration_s: float, rng: random.Random, stop_at_s: float | None) -> Iterator[tuple[float, float]]:
    """(t, speed m/s) at 10 Hz: 25–45 km/h wandering smoothly, one 6 s stop with braking and pulling away."""
    v, target, t = 9.0, 9.0, 0.0
    while t <= duration_s:
        if rng.random() < 0.02:
            target = rng.uniform(7.0, 12.5)
        target_now = 0.0 if stop_at_s is not None and stop_at_s <= t < stop_at_s + 6.0 else target
        v += max(-2.5 * 0.1, min(1.5 * 0.1, target_now - v))
        yield t, max(0.0, v)
        t += 0.1


# ---------------------------------------------------------------- rendering


def asphalt(rng: np.random.Generator, size: int = PHOTO_SIZE) -> np.ndarray:
    import cv2

    grain = rng.normal(95, 22, (size, size)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (3, 3), 0)
    tex = np.clip(grain, 0, 255).astype(np.uint8)
    return cv2.cvtColor(tex, cv2.COLOR_GRAY2BGR)


def render(photo: np.ndarray, delta_m: float) -> np.ndarray:
    """The photo as seen after the camera moved ``delta_m`` forward along the road (negative: not there yet)."""
    import cv2

    fh = PHOTO_CAMERA.focal_px * PHOTO_CAMERA.height_m
    cx = PHOTO_CAMERA.principal[0]
    t = np.array([[1, 0, cx], [0, 1, 0], [0, 0, 1]], np.float64)
    move = np.array([[fh, 0, 0], [0, fh, 0], [0, -delta_m, fh]], np.float64)
    h = t @ move @ np.linalg.inv(t)
    size = (photo.shape[1], photo.shape[0])
    # replicate the photo's edges outwards: no hard seam for the detector to fire on
    warped = cv2.warpPerspective(photo, h, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if delta_m < 0:  # below the photo's near edge the road is not in the photo: smear its last row down
        near_row = int(fh * (size[1] - 1) / (fh - delta_m * (size[1] - 1)))
        warped[near_row + 1 :] = warped[near_row]
    return warped


# ---------------------------------------------------------------- the hub side


class WebhookReceiver:
    """A local HTTP endpoint standing in for a contractor's system: records every order it is sent."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/orders"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SimLink:
    """Device → hub: delivers emitted bodies in order, holding them while the link is down."""

    service: Any
    device_id: str
    clock: list[float]
    down: list[tuple[float, float]] = field(default_factory=list)  # (from, to) sim seconds
    queue: list[tuple[int, int, Body, float, float]] = field(default_factory=list)
    seq: int = 0
    delivered: int = 0
    wall_hub_s: float = 0.0
    max_pump_wall_s: float = 0.0
    metres_inspected: float = 0.0
    link_up_at: dict[int, float] = field(default_factory=dict)  # seq → when it could finally be sent

    peer: Any = None  # a second hub fed the same observations placed by single raw GNSS fixes
    analyzer: Any = None

    def emit(self, body: Body, ts_ms: int, priority: int) -> None:
        if self.peer is not None and isinstance(body, DamageObservation | RoadCoverage):
            raw = self.analyzer.unfused_positions.get(getattr(body, "observation_id", ""))
            twin = body if raw is None else body.model_copy(update={"lat": raw[0], "lon": raw[1]})
            env = Envelope(device_id=self.device_id, seq=self.seq + 1, ts=ts_ms, body={})
            self.peer.handle(Topic("kommune", "odense", self.device_id, body.STREAM), env, twin)
        self.seq += 1
        if isinstance(body, RoadCoverage):
            self.metres_inspected += body.metres_inspected
        self.queue.append((self.seq, ts_ms, body, self.clock[0], 0.0))

    def is_up(self, t: float) -> bool:
        return not any(a <= t < b for a, b in self.down)

    def pump(self, t: float) -> None:
        if not self.is_up(t):
            return
        started = time.perf_counter()
        topic = Topic("kommune", "odense", self.device_id, "")
        for seq, ts_ms, body, emitted_at, _ in self.queue:
            envelope = Envelope(device_id=self.device_id, seq=seq, ts=ts_ms, body={}, historical=emitted_at < t - 5)
            if any(a <= emitted_at < b for a, b in self.down):
                self.link_up_at[seq] = t
            self.service.handle(Topic(topic.prefix, topic.site, topic.device_id, body.STREAM), envelope, body)
            self.delivered += 1
        self.queue.clear()
        self.service.dispatch_pending()
        took = time.perf_counter() - started
        self.wall_hub_s += took
        self.max_pump_wall_s = max(self.max_pump_wall_s, took)


# ---------------------------------------------------------------- the simulation


@dataclass
class SimConfig:
    photos: list[Path]
    drives: int = 3
    fps: float = 5.0
    gnss_sigma_m: float = 5.0
    gnss_hz: float = 1.0
    seed: int = 7
    outage: tuple[int, float, float] | None = (0, 0.3, 120.0)  # (drive, start fraction, seconds down)
    crops: bool = True


@dataclass
class DriveFigures:
    frames: int = 0
    good: int = 0
    wall_analyzer_s: float = 0.0
    metres_inspected: float = 0.0


def run_simulation(
    cfg: SimConfig,
    detector: YoloDetector,
    rdd_of: dict[int, str],
    redactor: Redactor | None,
    state_dir: Path | None = None,
) -> dict[str, Any]:
    """Drive the route ``cfg.drives`` times; return the figures of :func:`score`."""
    import cv2

    from hub.domain import HubContext
    from hub.services.road import RoadService

    rng = random.Random(cfg.seed)
    nprng = np.random.default_rng(cfg.seed)
    photos = [cv2.imread(str(p)) for p in cfg.photos]
    damages: list[Damage] = []
    for site, p in enumerate(cfg.photos):
        label = p.parent.parent / "labels" / (p.stem + ".txt")
        damages.extend(site_damages(read_labels(label), site))
    for i, d in enumerate(damages):
        d.damage_id = i
    route = Route.build(len(photos), rng)
    place_damages(route, damages)
    ends = [site_end(damages, site, 3.0) for site in range(len(photos))]
    frame_geo = LocalFrame(REF_LAT, REF_LON)

    clock = [0.0]
    state = Path(state_dir or tempfile.mkdtemp(prefix="road-sim-"))
    hook = WebhookReceiver()
    ring = [[10.0, 55.0], [11.0, 55.0], [11.0, 56.0], [10.0, 56.0], [10.0, 55.0]]
    areas = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"contractor": "sim-contractor", "webhook_url": hook.url, "token": "sim"},
            }
        ],
    }
    service = RoadService(
        HubContext(state, "kommune", lambda *a: None, None, None, {"contractor_areas_geojson": areas}),
        clock=lambda: clock[0],
    )
    peer = RoadService(HubContext(state / "peer", "kommune", lambda *a: None, None, None, {}), clock=lambda: clock[0])
    link = SimLink(service, "vehicle-sim", clock, peer=peer)
    settings = AnalyzerSettings(crops=cfg.crops and redactor is not None, gnss_sigma_m=cfg.gnss_sigma_m)
    base_t = 1_795_000_000.0  # an epoch in 2026
    drives: list[DriveFigures] = []

    for drive in range(cfg.drives):
        start_t = base_t + drive * 7 * 86_400
        duration = route.length / 8.0 + 60
        stop_at = rng.uniform(0.2, 0.8) * duration
        down: tuple[float, float] | None = None
        if cfg.outage and cfg.outage[0] == drive:
            a = start_t + cfg.outage[1] * duration
            down = (a, a + cfg.outage[2])
            link.down.append(down)
        analyzer = RoadAnalyzer(settings, PHOTO_CAMERA, detector, rdd_of, link.emit, f"drive-{drive}", redactor)
        link.analyzer = analyzer
        fig = DriveFigures()
        inspected_before = link.metres_inspected
        background = asphalt(nprng)
        s, next_fix, next_frame = 0.0, 0.0, 0.0
        for t_rel, v in speed_profile(duration, rng, stop_at):
            s += v * 0.1
            if s >= route.length - 1:
                break
            t = start_t + t_rel
            clock[0] = t
            east, north, head = route.at(s)
            if t_rel >= next_fix:
                next_fix += 1.0 / cfg.gnss_hz
                ne, nn = east + nprng.normal(0, cfg.gnss_sigma_m), north + nprng.normal(0, cfg.gnss_sigma_m)
                lat, lon = frame_geo.to_latlon(ne, nn)
                analyzer.add_fix(
                    GpsFix(
                        t,
                        lat,
                        lon,
                        max(0.0, v + nprng.normal(0, 0.1)),
                        (math.degrees(head) + nprng.normal(0, 1.0)) % 360 if v > 0.5 else None,
                    )
                )
            if t_rel >= next_frame:
                next_frame += 1.0 / cfg.fps
                frame = _frame_at(s, route, photos, ends, background, nprng)
                w0 = time.perf_counter()
                verdict = analyzer.process(t, frame)
                fig.wall_analyzer_s += time.perf_counter() - w0
                fig.frames += 1
                fig.good += verdict == "good"
                link.pump(t)
        analyzer.flush(clock[0])
        clock[0] += 1.0
        link.pump(clock[0])
        if down and not link.is_up(clock[0]):
            clock[0] = down[1]
            link.pump(clock[0])
        fig.metres_inspected = link.metres_inspected - inspected_before
        drives.append(fig)
    orders = service.book.orders()
    result = score(damages, orders, frame_geo, link, drives, cfg)
    unfused = score(damages, peer.book.orders(), frame_geo, link, drives, cfg)
    result["peer_unfused_share_exactly_one"] = unfused["share_exactly_one"]
    result["peer_unfused_median_position_error_m"] = unfused["median_position_error_m"]
    result["peer_unfused_orders"] = unfused["orders"]
    peer.stop()
    result["webhook_received"] = len(hook.received)
    hook.close()
    service.stop()
    return result


def _frame_at(
    s: float,
    route: Route,
    photos: list[np.ndarray],
    ends: list[float],
    background: np.ndarray,
    nprng: np.random.Generator,
) -> np.ndarray:
    """The camera frame at arc length ``s``: the site in view, or plain road between sites."""
    for site, s_ref in enumerate(route.site_s):
        delta = s - s_ref
        if -APPROACH_M <= delta <= min(ends[site], SITE_STRAIGHT_M - APPROACH_M):
            return render(photos[site], delta)
    return np.roll(background, int(nprng.integers(0, PHOTO_SIZE)), axis=1)


# ---------------------------------------------------------------- scoring


def score(
    damages: list[Damage],
    orders: list[dict[str, Any]],
    frame_geo: LocalFrame,
    link: SimLink,
    drives: list[DriveFigures],
    cfg: SimConfig,
    match_radius_m: float = 5.0,
) -> dict[str, Any]:
    """Each order goes to the nearest true damage within ``match_radius_m``; a damage holds if exactly one does."""
    assigned: dict[int, list[dict[str, Any]]] = {d.damage_id: [] for d in damages}
    unmatched = 0
    for o in orders:
        east, north = frame_geo.to_en(o["lat"], o["lon"])
        best = min(damages, key=lambda d: d.distance_to(east, north))
        if best.distance_to(east, north) <= match_radius_m:
            assigned[best.damage_id].append(o)
        else:
            unmatched += 1
    exactly_one = [d for d in damages if len(assigned[d.damage_id]) == 1]
    errors, single_errors = [], []
    for d in exactly_one:
        o = assigned[d.damage_id][0]
        east, north = frame_geo.to_en(o["lat"], o["lon"])
        errors.append(d.distance_to(east, north))
        if d.boxes == 1:
            single_errors.append(errors[-1])
    frames = sum(d.frames for d in drives)
    wall = sum(d.wall_analyzer_s for d in drives)
    # simulated time covers detection delay; add the measured processing of one frame and of one hub pump
    processing_s = wall / max(1, frames) + link.max_pump_wall_s
    latencies, offline = [], []
    for o in orders:
        if not o["dispatched_ms"]:
            continue
        # the link was down at some moment between passing the damage and sending its order
        hit = [b for a, b in link.down if a * 1000 < o["dispatched_ms"] and b * 1000 > o["first_passed_ms"]]
        if hit:
            offline.append((o["dispatched_ms"] - max(hit) * 1000) / 1000 + processing_s)
        else:
            latencies.append((o["dispatched_ms"] - o["first_passed_ms"]) / 1000 + processing_s)
    return {
        "photos": len(cfg.photos),
        "damages": len(damages),
        "labelled_potholes": sum(d.boxes for d in damages),
        "drives": cfg.drives,
        "orders": len(orders),
        "orders_unmatched": unmatched,
        "damages_exactly_one_order": len(exactly_one),
        "share_exactly_one": round(len(exactly_one) / max(1, len(damages)), 4),
        "damages_without_order": sum(1 for d in damages if not assigned[d.damage_id]),
        "damages_with_duplicates": sum(1 for d in damages if len(assigned[d.damage_id]) > 1),
        "median_position_error_m": round(statistics.median(errors), 2) if errors else None,
        "p90_position_error_m": round(float(np.percentile(errors, 90)), 2) if errors else None,
        "median_position_error_single_pothole_m": round(statistics.median(single_errors), 2) if single_errors else None,
        "single_pothole_damages": sum(1 for d in damages if d.boxes == 1),
        "max_dispatch_latency_s": round(max(latencies), 1) if latencies else None,
        "median_dispatch_latency_s": round(statistics.median(latencies), 1) if latencies else None,
        "offline_orders": len(offline),
        "max_latency_after_link_return_s": round(max(offline), 1) if offline else None,
        "link_down_windows": len(link.down),
        "metres_inspected": round(sum(d.metres_inspected for d in drives), 1),
        "frames": frames,
        "good_frames": sum(d.good for d in drives),
        "analyzer_ms_per_frame": round(1000 * wall / max(1, frames), 1),
        "analyzer_fps": round(frames / wall, 2) if wall else None,
        "hub_wall_s": round(link.wall_hub_s, 2),
        "gnss_sigma_m_per_axis": cfg.gnss_sigma_m,
        "messages": link.delivered,
    }


# ---------------------------------------------------------------- CLI


def val_photos(limit: int | None = None) -> list[Path]:
    """Photos of our own validation split of potholes-web (never the hold-out set)."""
    from models.registry import data_dir
    from models.train_road import split_names

    folder = data_dir() / "road" / "potholes-web" / "images"
    images = sorted(folder.glob("*.jpg"))
    _, val = split_names([p.stem for p in images], 0.15, 20261123)
    chosen = [folder / f"{stem}.jpg" for stem in val]
    return chosen[:limit] if limit else chosen


def open_detectors(backend: str, conf: float, threads: int = 2) -> tuple[YoloDetector, dict[int, str], Redactor | None]:
    from edge.pipelines.road import RoadConfig
    from edge.pipelines.road.pipeline import open_damage_detector, open_privacy

    cfg = RoadConfig(
        backend=backend,
        confidence=conf,
        threads=threads,  # type: ignore[arg-type]
        model="road-damage-yolo11n" if backend == "ultralytics" else "road-damage-yolo11n-onnx",
    )
    detector, rdd_of = open_damage_detector(cfg)
    return detector, rdd_of, open_privacy(cfg)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=None, help="number of validation photos (sites); default all")
    ap.add_argument("--drives", type=int, default=3)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--gnss-sigma", type=float, default=5.0, help="GNSS noise, metres per axis (1 sigma)")
    ap.add_argument("--backend", default="onnx", choices=["onnx", "ultralytics"])
    ap.add_argument("--conf", type=float, default=None, help="detector threshold (default: the registry's)")
    ap.add_argument("--no-outage", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from edge.pipelines.road import RoadConfig

    conf = args.conf if args.conf is not None else RoadConfig().confidence
    detector, rdd_of, redactor = open_detectors(args.backend, conf)
    cfg = SimConfig(
        val_photos(args.photos),
        drives=args.drives,
        fps=args.fps,
        gnss_sigma_m=args.gnss_sigma,
        seed=args.seed,
        outage=None if args.no_outage else (0, 0.3, 120.0),
    )
    t0 = time.perf_counter()
    figures = run_simulation(cfg, detector, rdd_of, redactor)
    figures["wall_s"] = round(time.perf_counter() - t0, 1)
    figures["confidence"] = conf
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def write_drive(
    photos: list[Path],
    video_path: Path,
    track_path: Path,
    start_ts: float,
    fps: float = 5.0,
    speed_mps: float = 8.0,
    gnss_sigma_m: float = 5.0,
    seed: int = 3,
) -> list[tuple[float, float]]:
    """Record a simulated drive as a video file and a GPX/NMEA track (for replaying through the real pipeline);
    returns the (lat, lon) of every physical damage."""
    import cv2

    from edge.sources.gps import format_rmc, write_gpx

    rng, nprng = random.Random(seed), np.random.default_rng(seed)
    images = [cv2.imread(str(p)) for p in photos]
    damages: list[Damage] = []
    for site, p in enumerate(photos):
        damages.extend(site_damages(read_labels(p.parent.parent / "labels" / (p.stem + ".txt")), site))
    route = Route.build(len(photos), rng)
    place_damages(route, damages)
    ends = [site_end(damages, site, 3.0) for site in range(len(photos))]
    geo = LocalFrame(REF_LAT, REF_LON)
    background = asphalt(nprng)
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (PHOTO_SIZE, PHOTO_SIZE))
    fixes, n_frames = [], int(route.length / speed_mps * fps) - 1
    for i in range(n_frames):
        s = i / fps * speed_mps
        writer.write(_frame_at(s, route, images, ends, background, nprng))
        if i % int(fps) == 0:
            east, north, head = route.at(s)
            lat, lon = geo.to_latlon(east + nprng.normal(0, gnss_sigma_m), north + nprng.normal(0, gnss_sigma_m))
            fixes.append(GpsFix(start_ts + i / fps, lat, lon, speed_mps, math.degrees(head) % 360))
    writer.release()
    if track_path.suffix == ".gpx":
        write_gpx(fixes, track_path)
    else:
        track_path.write_text("\n".join(format_rmc(f) for f in fixes) + "\n")
    return [geo.to_latlon(d.east, d.north) for d in damages]
