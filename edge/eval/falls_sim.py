"""Keypoint-sequence simulator for the fall logic, with exact ground truth.

A 3D stick body (pelvis, trunk, legs, arms, head) moves between key poses (standing, walking,
sitting on a chair or the bed edge, lying in bed or on the floor, kneeling, bending) and is
projected through a wall- or ceiling-mounted pinhole camera into the 17 COCO keypoints, with
jitter, dropped keypoints, missed frames and IR-like low confidence at night. Scenarios are
falls (forward, backward, sideways; from standing, bed and chair; slow slides) and confounders
(sitting down, lying down in bed, tying shoes, kneeling, sitting on the floor on purpose, staff
helping, visitors) and whole 8-hour nights. ``RoomMonitor`` is driven directly; no model runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from edge.pipelines.falls.config import DetectorSettings, ResidentProfile, RoomConfig
from edge.pipelines.falls.logic import NightStats, Observation, RoomEvent, RoomMonitor

ASPECT = 4 / 3
FOCAL = 0.95  # in frame heights
BED = {"x": (0.1, 2.1), "z": (3.8, 4.7), "top": 0.55}  # long side across the view, as installers are told
CHAIR = (-1.1, 3.0, 0.46)
DOOR = (-1.9, 5.0)
ALARM_KINDS = ("fall", "on_floor")
UP = np.array([0.0, 1.0, 0.0])


# -- camera -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Camera:
    """Pinhole camera at ``position`` (metres; y up, z into the room) pitched down by ``pitch_deg``."""

    position: tuple[float, float, float] = (0.0, 2.3, 0.0)
    pitch_deg: float = 28.0

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(..., 3)`` world points → ``(..., 2)`` frame fractions and an in-view mask."""
        th = math.radians(self.pitch_deg)
        fw = np.array([0.0, -math.sin(th), math.cos(th)])
        dn = np.array([0.0, -math.cos(th), -math.sin(th)])
        d = points - np.array(self.position)
        depth = d @ fw
        u = FOCAL * d[..., 0] / np.maximum(depth, 1e-3) + ASPECT / 2
        v = FOCAL * (d @ dn) / np.maximum(depth, 1e-3) + 0.5
        xy = np.stack([u / ASPECT, v], axis=-1)
        inside = (depth > 0.3) & (xy[..., 0] >= 0) & (xy[..., 0] <= 1) & (xy[..., 1] >= 0) & (xy[..., 1] <= 1)
        return xy, inside


WALL = Camera()
CEILING = Camera(position=(0.0, 2.7, 3.4), pitch_deg=89.0)


def room_config(camera: Camera = WALL, profile: ResidentProfile | None = None) -> RoomConfig:
    """The simulated room as an installer would configure it: the bed's mattress outline in the image."""
    (x0, x1), (z0, z1), top = BED["x"], BED["z"], BED["top"] + 0.12
    corners = np.array(
        [[x0 - 0.1, top, z0 - 0.1], [x1 + 0.1, top, z0 - 0.1], [x1 + 0.1, top, z1 + 0.1], [x0 - 0.1, top, z1 + 0.1]]
    )
    xy, _ = camera.project(corners)
    bed = [(float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1))) for x, y in xy]
    cx, cz, seat = CHAIR
    chair = np.array(
        [
            [cx - 0.35, seat, cz - 0.35],
            [cx + 0.35, seat, cz - 0.35],
            [cx + 0.35, seat, cz + 0.35],
            [cx - 0.35, seat, cz + 0.35],
        ]
    )
    cxy, _ = camera.project(chair)
    return RoomConfig(
        door=door_outline(camera),
        room="12",
        care_home="Sim plejecenter",
        beds=[bed],
        seating=[[(float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1))) for x, y in cxy]],
        placement="ceiling" if camera.pitch_deg > 60 else "wall",
        profile=profile or ResidentProfile(resident="sim-resident"),
    )


def door_outline(camera: Camera) -> list[tuple[float, float]]:
    """The doorway as an installer draws it: the image outline of the space a person stands in when in
    the door (0.5 m either side of it, up to hip height), clipped to the frame."""
    dx, dz = DOOR
    box = np.array([[x, y, z] for x in (dx - 0.5, dx + 0.5) for y in (0.0, 1.0) for z in (dz - 0.8, dz + 0.4)])
    xy, _ = camera.project(box)
    return _hull([(float(np.clip(x, 0, 1)), float(np.clip(y, 0, 1))) for x, y in xy])


def _hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Convex hull, counter-clockwise (Andrew's monotone chain)."""
    pts = sorted(set(points))

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


# -- body -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pose:
    """A key pose: pelvis position (m) and unit directions of trunk (pelvis→neck), thighs, shins and face."""

    pelvis: np.ndarray
    trunk: np.ndarray
    thigh_l: np.ndarray
    thigh_r: np.ndarray
    shin_l: np.ndarray
    shin_r: np.ndarray
    face: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _dirs(heading: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward and left unit vectors for a body facing ``heading`` (radians, 0 = away from the camera)."""
    fwd = np.array([math.sin(heading), 0.0, math.cos(heading)])
    left = np.array([-math.cos(heading), 0.0, math.sin(heading)])
    return fwd, left


def _tilt(base: np.ndarray, toward: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    return _unit(base * math.cos(a) + toward * math.sin(a))


def pose(kind: str, x: float, z: float, heading: float, size: float = 1.0, lean: np.ndarray | None = None) -> Pose:
    """Key poses at floor position (x, z). ``lean`` is the horizontal direction a lying body's head points."""
    fwd, left = _dirs(heading)
    down = -UP
    h = size
    if kind == "stand":
        return Pose(np.array([x, 0.93 * h, z]), UP, down, down, down, down, fwd)
    if kind == "sit":
        seat = CHAIR[2]
        t = _tilt(UP, -fwd, 8)
        return Pose(np.array([x, seat + 0.05, z]), t, fwd, fwd, down, down, fwd)
    if kind == "bed_edge":
        t = _tilt(UP, -fwd, 5)
        return Pose(np.array([x, BED["top"] + 0.08, z]), t, fwd, fwd, down, down, fwd)
    if kind in ("bed_lie", "bed_sit_up"):
        head = lean if lean is not None else fwd
        trunk = head if kind == "bed_lie" else _tilt(UP, -head, 10)
        face = UP if kind == "bed_lie" else head
        return Pose(np.array([x, BED["top"] + 0.12, z]), trunk, -head, -head, -head, -head, face)
    if kind in ("floor_lie", "floor_lie_side"):
        head = lean if lean is not None else fwd
        legs = _unit(-head + 0.15 * left)
        return Pose(np.array([x, 0.12, z]), head, legs, _unit(-head - 0.15 * left), legs, -head, UP)
    if kind == "kneel":
        return Pose(np.array([x, 0.52 * h, z]), _tilt(UP, fwd, 10), down, down, -fwd, -fwd, fwd)
    if kind == "squat_bend":
        return Pose(
            np.array([x, 0.42 * h, z]), _tilt(UP, fwd, 65), _tilt(fwd, down, 30), _tilt(fwd, down, 30), down, down, fwd
        )
    if kind == "stand_bend":
        return Pose(np.array([x, 0.88 * h, z]), _tilt(UP, fwd, 80), down, down, down, down, fwd)
    if kind == "sit_bend":
        seat = CHAIR[2]
        return Pose(np.array([x, seat + 0.05, z]), _tilt(UP, fwd, 70), fwd, fwd, down, down, fwd)
    if kind == "floor_sit":
        return Pose(
            np.array([x, 0.12, z]), _tilt(UP, -fwd, 8), fwd, _tilt(fwd, left, 20), fwd, _tilt(fwd, left, 20), fwd
        )
    if kind == "floor_slump":
        return Pose(np.array([x, 0.12, z]), _tilt(UP, -fwd, 55), fwd, fwd, fwd, fwd, _tilt(fwd, UP, 40))
    raise ValueError(kind)


def bed_poses(rng: np.random.Generator, size: float) -> dict[str, Pose]:
    """The resident's poses at the bed: lying (head toward +x), turned, sitting up, on the near edge, standing."""
    x = float(rng.uniform(0.9, 1.2))
    z = (BED["z"][0] + BED["z"][1]) / 2 + float(rng.uniform(-0.1, 0.1))
    head = np.array([1.0, 0.0, 0.0])
    toward_camera = math.pi
    return {
        "lie": pose("bed_lie", x, z, toward_camera, size, lean=head),
        "turned": pose("bed_lie", x, z - 0.05, toward_camera, size, lean=_unit(head + np.array([0.0, 0.3, -0.2]))),
        "sit_up": pose("bed_sit_up", x, z, toward_camera, size, lean=head),
        "edge": pose("bed_edge", x + 0.4, BED["z"][0] + 0.3, toward_camera, size),
        "stand": pose("stand", x + 0.4, BED["z"][0] - 0.25, toward_camera, size),
        "floor": pose("floor_lie", x + 0.3, BED["z"][0] - 0.55, toward_camera, size, lean=head),
    }


def keypoints_world(p: dict[str, np.ndarray], size: np.ndarray | float = 1.0) -> np.ndarray:
    """``(n, 17, 3)`` world positions of the COCO keypoints from interpolated pose arrays ``(n, 3)``."""
    s = np.asarray(size, dtype=float).reshape(-1, 1)
    pelvis, trunk, face = p["pelvis"], _unit(p["trunk"]), _unit(p["face"])
    side = _unit(np.cross(trunk, face))
    side = np.where(
        np.linalg.norm(np.cross(trunk, face), axis=-1, keepdims=True) < 1e-3, np.array([1.0, 0.0, 0.0]), side
    )
    neck = pelvis + trunk * 0.52 * s
    head = neck + trunk * 0.2 * s + face * 0.08 * s
    out = np.zeros((len(pelvis), 17, 3))
    out[:, 0] = head
    out[:, 1] = head + side * 0.03 * s + trunk * 0.03 * s
    out[:, 2] = head - side * 0.03 * s + trunk * 0.03 * s
    out[:, 3] = head + side * 0.07 * s - face * 0.06 * s
    out[:, 4] = head - side * 0.07 * s - face * 0.06 * s
    out[:, 5] = neck + side * 0.18 * s
    out[:, 6] = neck - side * 0.18 * s
    out[:, 7] = out[:, 5] - trunk * 0.28 * s + face * 0.03 * s
    out[:, 8] = out[:, 6] - trunk * 0.28 * s + face * 0.03 * s
    out[:, 9] = out[:, 7] - trunk * 0.1 * s + face * 0.22 * s
    out[:, 10] = out[:, 8] - trunk * 0.1 * s + face * 0.22 * s
    out[:, 11] = pelvis + side * 0.1 * s
    out[:, 12] = pelvis - side * 0.1 * s
    out[:, 13] = out[:, 11] + _unit(p["thigh_l"]) * 0.45 * s
    out[:, 14] = out[:, 12] + _unit(p["thigh_r"]) * 0.45 * s
    out[:, 15] = out[:, 13] + _unit(p["shin_l"]) * 0.45 * s
    out[:, 16] = out[:, 14] + _unit(p["shin_r"]) * 0.45 * s
    return out


# -- scripts -------------------------------------------------------------------------------------------
@dataclass
class Move:
    """Go to ``target`` in ``seconds``; ``ease`` 'in' accelerates (falls), 'io' is a smooth voluntary move."""

    target: Pose | None  # None: out of view (left the room)
    seconds: float
    ease: str = "io"
    walk: bool = False


@dataclass
class Person:
    size: float
    start: Pose | None
    moves: list[Move]
    start_s: float = 0.0
    track_id: int = 1

    def duration(self) -> float:
        return self.start_s + sum(m.seconds for m in self.moves)


@dataclass
class Truth:
    """Exact ground truth of a scenario, seconds from its start."""

    falls: list[tuple[float, float]] = field(default_factory=list)  # (descent starts, body on the floor)
    stands_from_bed: list[float] = field(default_factory=list)  # resident stands up from the bed
    sit_ups: list[float] = field(default_factory=list)
    long_on_floor: list[tuple[float, float]] = field(
        default_factory=list
    )  # on the floor on purpose but longer than on_floor_s
    out_of_room: list[tuple[float, float]] = field(default_factory=list)  # resident left through the door, back


@dataclass
class Scenario:
    name: str
    people: list[Person]
    truth: Truth
    duration: float
    fps: float = 5.0
    start_ts: int = 0
    night_ir: bool = False
    jitter: float = 0.004
    dropout: float = 0.05
    miss: float = 0.03
    camera: Camera = WALL
    seed: int = 0


def _ease(u: np.ndarray, kind: str) -> np.ndarray:
    if kind == "in":
        return u**2
    if kind == "linear":
        return u
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _interp(a: Pose, b: Pose, w: np.ndarray) -> dict[str, np.ndarray]:
    w = w[:, None]
    out = {}
    for name in ("pelvis", "trunk", "thigh_l", "thigh_r", "shin_l", "shin_r", "face"):
        va, vb = getattr(a, name), getattr(b, name)
        v = va * (1 - w) + vb * w
        out[name] = v if name == "pelvis" else _unit(v + 1e-4 * np.array([0.3, 0.1, 0.2]))
    return out


def person_frames(person: Person, times: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """World keypoints ``(n, 17, 3)`` of ``person`` at ``times`` and a mask of when they are in the room."""
    n = len(times)
    kp = np.zeros((n, 17, 3))
    present = np.zeros(n, dtype=bool)
    t0, current = person.start_s, person.start
    for move in person.moves:
        t1 = t0 + move.seconds
        sel = (times >= t0) & (times < t1)
        if move.target is not None and current is not None and sel.any():
            u = (times[sel] - t0) / max(move.seconds, 1e-6)
            parts = _interp(current, move.target, _ease(u, move.ease))
            if move.walk:
                swing = 0.35 * np.sin(2 * np.pi * 0.9 * (times[sel] - t0))[:, None]
                fwd = _unit((move.target.pelvis - current.pelvis) * np.array([1, 0, 1]) + 1e-6)
                parts["thigh_l"] = _unit(parts["thigh_l"] + swing * fwd)
                parts["thigh_r"] = _unit(parts["thigh_r"] - swing * fwd)
                parts["shin_l"] = _unit(parts["shin_l"] + 0.6 * swing * fwd)
                parts["shin_r"] = _unit(parts["shin_r"] - 0.6 * swing * fwd)
            parts["pelvis"] = parts["pelvis"] + 0.004 * np.sin(2 * np.pi * 0.25 * times[sel])[:, None] * UP
            kp[sel] = keypoints_world(parts, person.size)
            present[sel] = True
        if move.target is not None:
            current = move.target
        t0 = t1
    tail = times >= t0
    left = bool(person.moves) and person.moves[-1].target is None  # walked out: gone, not standing in the door
    if tail.any() and current is not None and not left:
        parts = _interp(current, current, np.zeros(int(tail.sum())))
        kp[tail] = keypoints_world(parts, person.size)
        present[tail] = True
    before = times < person.start_s
    present[before] = False
    return kp, present


def observations(scn: Scenario, chunk_s: float = 120.0) -> Iterator[tuple[int, list[Observation]]]:
    """``(ts_ms, observations)`` per frame, generated chunk by chunk so an 8-hour night stays small."""
    rng = np.random.default_rng(scn.seed)
    step = 1.0 / scn.fps
    t = 0.0
    bed_lo = np.array([BED["x"][0], BED["z"][0]])
    bed_hi = np.array([BED["x"][1], BED["z"][1]])
    while t < scn.duration:
        times = np.arange(t, min(t + chunk_s, scn.duration), step)
        t = times[-1] + step if len(times) else scn.duration
        rendered = []
        for person in scn.people:
            world, present = person_frames(person, times, rng)
            xy, inside = scn.camera.project(world)
            conf = (
                rng.uniform(0.3, 0.65, size=inside.shape)
                if scn.night_ir
                else rng.uniform(0.65, 0.97, size=inside.shape)
            )
            in_bed = np.all((world[:, 11, [0, 2]] > bed_lo) & (world[:, 11, [0, 2]] < bed_hi), axis=1) & (
                world[:, 11, 1] > 0.4
            )
            conf[in_bed, 9:] *= 0.45  # blanket over hands and legs
            conf[rng.random(conf.shape) < scn.dropout] = 0.05
            conf[~inside] = 0.0
            jitter = scn.jitter * (1.8 if scn.night_ir else 1.0)
            xy = xy + rng.normal(0, jitter, xy.shape)
            visible = present & (rng.random(len(times)) >= scn.miss) & (inside.sum(axis=1) >= 5)
            rendered.append(
                (person.track_id, np.concatenate([xy, conf[..., None]], axis=-1).astype(np.float32), visible)
            )
        for i, ti in enumerate(times):
            obs = [Observation(tid, kp[i]) for tid, kp, vis in rendered if vis[i]]
            yield scn.start_ts + round(ti * 1000), obs


# -- scenario builders ---------------------------------------------------------------------------------
def _night_start_ts(rng: np.random.Generator, hour: float | None = None) -> int:
    day = datetime(2026, 1, 5 + int(rng.integers(0, 20)), tzinfo=ZoneInfo("Europe/Copenhagen"))
    h = hour if hour is not None else float(rng.uniform(22.5, 30.5))
    return int((day.timestamp() + h * 3600) * 1000)


def _spot(rng: np.random.Generator) -> tuple[float, float]:
    """A free floor spot in view, not on the bed or the chair."""
    while True:
        x, z = float(rng.uniform(-1.6, 0.6)), float(rng.uniform(2.0, 5.0))
        if math.dist((x, z), CHAIR[:2]) > 0.7:
            return x, z


def _noise(rng: np.random.Generator, night: bool) -> dict:
    return {
        "night_ir": night,
        "jitter": float(rng.uniform(0.002, 0.008)),
        "dropout": float(rng.uniform(0.02, 0.2)),
        "miss": float(rng.uniform(0.0, 0.08)),
        "fps": float(rng.choice([5.0, 6.0, 8.0, 10.0])),
    }


FALL_KINDS = (
    "forward",
    "backward",
    "sideways",
    "from_bed",
    "from_bed_edge",
    "from_chair",
    "slide_chair",
    "slide_standing",
)


def fall_scenario(kind: str, seed: int, *, staff_after: bool = False, camera: Camera = WALL) -> Scenario:
    """One fall of ``kind`` with some walking before and 20–60 s on the floor (or getting up) after."""
    rng = np.random.default_rng(seed)
    size = float(rng.uniform(0.85, 1.1))
    heading = float(rng.uniform(0, 2 * math.pi))
    fwd, left = _dirs(heading)
    x, z = _spot(rng)
    moves: list[Move] = []
    t_before = float(rng.uniform(4, 10))
    fall_s = float(rng.uniform(0.5, 1.3))
    if kind in ("forward", "backward", "sideways"):
        x0, z0 = _spot(rng)
        start = pose("stand", x0, z0, heading, size)
        moves.append(Move(pose("stand", x, z, heading, size), t_before, "linear", walk=True))
        lean = {"forward": fwd, "backward": -fwd, "sideways": left if rng.random() < 0.5 else -left}[kind]
        end = pose("floor_lie", x + 0.6 * lean[0], z + 0.6 * lean[2], heading, size, lean=lean)
    elif kind == "from_bed":
        bed = bed_poses(rng, size)
        start = bed["lie"]
        moves.append(Move(start, t_before))
        end = bed["floor"]
        fall_s = float(rng.uniform(0.6, 1.2))
    elif kind == "from_bed_edge":
        bed = bed_poses(rng, size)
        start = bed["edge"]
        moves.append(Move(start, t_before))
        moves.append(Move(bed["stand"], 1.5))
        lean = np.array([0.0, 0.0, -1.0])
        end = pose(
            "floor_lie", float(bed["stand"].pelvis[0]), float(bed["stand"].pelvis[2]) - 0.6, math.pi, size, lean=lean
        )
    elif kind == "from_chair":
        h = float(rng.uniform(-1.0, 1.0)) + math.pi
        start = pose("sit", CHAIR[0], CHAIR[1], h, size)
        moves.append(Move(start, t_before))
        lean = _dirs(h)[0]
        end = pose("floor_lie", CHAIR[0] + 0.8 * lean[0], CHAIR[1] + 0.8 * lean[2], h, size, lean=lean)
    elif kind == "slide_chair":
        h = float(rng.uniform(-1.0, 1.0)) + math.pi
        start = pose("sit", CHAIR[0], CHAIR[1], h, size)
        moves.append(Move(start, t_before))
        f = _dirs(h)[0]
        end = pose("floor_slump", CHAIR[0] + 0.45 * f[0], CHAIR[1] + 0.45 * f[2], h, size)
        fall_s = float(rng.uniform(2.0, 6.0))
    elif kind == "slide_standing":
        start = pose("stand", x, z, heading, size)
        moves.append(Move(start, t_before))
        moves.append(Move(pose("kneel", x, z, heading, size), float(rng.uniform(1.0, 2.5)), "in"))
        end = pose("floor_slump", x - 0.3 * fwd[0], z - 0.3 * fwd[2], heading, size)
        fall_s = float(rng.uniform(1.5, 3.0))
    else:
        raise ValueError(kind)
    # the monitor runs all day: the resident walked in and settled before the scene
    door = pose("stand", DOOR[0], DOOR[1] - 0.5, math.pi, size)
    moves[:0] = [
        Move(
            pose("stand", float(start.pelvis[0]) - 0.5, float(start.pelvis[2]), heading, size), 6.0, "linear", walk=True
        ),
        Move(start, 3.0),
    ]
    start = door
    descent_start = sum(m.seconds for m in moves) - (moves[-1].seconds if kind == "slide_standing" else 0)
    ease = "io" if kind.startswith("slide") else "in"
    moves.append(Move(end, fall_s, ease))
    t_floor = sum(m.seconds for m in moves)
    lie = float(rng.uniform(20, 60))
    people = [Person(size, start, moves)]
    if rng.random() < 0.4:
        moves.append(Move(end, lie))
        moves.append(Move(pose("floor_sit", end.pelvis[0], end.pelvis[2], heading, size), 3.0))
        moves.append(Move(pose("kneel", end.pelvis[0], end.pelvis[2], heading, size), 2.0))
        moves.append(Move(pose("stand", end.pelvis[0], end.pelvis[2], heading, size), 2.5))
        moves.append(Move(pose("stand", end.pelvis[0], end.pelvis[2], heading, size), 8.0))
    else:
        moves.append(Move(end, lie))
    if staff_after:
        people.append(
            _staff_visit(
                rng, t_floor + float(rng.uniform(5, 15)), (float(end.pelvis[0]), float(end.pelvis[2])), track_id=2
            )
        )
    night = bool(rng.random() < 0.6)
    noise = _noise(rng, night)
    duration = max(p.duration() for p in people) + 2
    start_ts = _night_start_ts(rng) if night else _night_start_ts(rng, float(rng.uniform(8, 20)))
    return Scenario(
        f"fall-{kind}-{seed}",
        people,
        Truth(falls=[(descent_start, t_floor)]),
        duration,
        start_ts=start_ts,
        camera=camera,
        seed=seed,
        **noise,
    )


def _staff_visit(
    rng: np.random.Generator, at: float, near: tuple[float, float], track_id: int, help_up: bool = True
) -> Person:
    """A carer walks in through the door, goes to ``near``, kneels or bends, and leaves."""
    h = float(rng.uniform(0, 2 * math.pi))
    door = pose("stand", DOOR[0], DOOR[1], h, 1.0)
    spot = pose("stand", near[0] + 0.6, near[1] - 0.3, -math.pi / 2, 1.0)
    moves = [Move(spot, 4.0, "linear", walk=True), Move(spot, 3.0)]
    if help_up:
        moves += [
            Move(pose("kneel", near[0] + 0.6, near[1] - 0.3, -math.pi / 2, 1.0), 1.2),
            Move(pose("kneel", near[0] + 0.6, near[1] - 0.3, -math.pi / 2, 1.0), 15.0),
        ]
        moves += [Move(spot, 1.5), Move(spot, 5.0)]
    else:
        moves += [
            Move(pose("stand_bend", near[0] + 0.6, near[1] - 0.3, -math.pi / 2, 1.0), 1.5),
            Move(pose("stand_bend", near[0] + 0.6, near[1] - 0.3, -math.pi / 2, 1.0), 8.0),
            Move(spot, 1.5),
        ]
    moves += [Move(door, 4.0, "linear", walk=True), Move(None, 1.0)]
    return Person(float(rng.uniform(0.9, 1.1)), door, moves, start_s=at, track_id=track_id)


def night_scenario(seed: int, hours: float = 8.0, camera: Camera = WALL) -> Scenario:
    """One resident-night from 22:30 with no fall: sleep with restless turns, bed exits (sit up,
    sit on the edge, stand, walk, come back), and daytime-like confounders (chair, shoes, kneeling,
    sitting on the floor on purpose, a carer's rounds, a visitor in the first hour)."""
    rng = np.random.default_rng(seed)
    size = float(rng.uniform(0.85, 1.1))
    truth = Truth()
    bed = bed_poses(rng, size)
    lie, turned, sit_up, edge, stand = bed["lie"], bed["turned"], bed["sit_up"], bed["edge"], bed["stand"]
    moves: list[Move] = []
    t = 0.0
    others: list[Person] = []

    def add(m: Move) -> None:
        nonlocal t
        moves.append(m)
        t += m.seconds

    total = hours * 3600
    confounders = ["chair", "shoes", "kneel", "floor_sit", "squat", "stand_bend"]
    add(Move(lie, 60.0))
    if rng.random() < 0.5:
        others.append(_visitor(rng, at=float(rng.uniform(120, 1800)), track_id=3))
    for r in range(int(rng.integers(1, 4))):
        others.append(
            _staff_visit(
                rng,
                float(rng.uniform(0.1, 0.95) * total),
                (float(stand.pelvis[0]) + 0.5, float(stand.pelvis[2]) - 0.3),
                track_id=10 + r,
                help_up=False,
            )
        )
    while t < total - 600:
        sleep = float(rng.exponential(2400))
        end = min(t + sleep, total - 600)
        while t < end:
            chunk = min(float(rng.uniform(300, 1500)), end - t)
            add(Move(lie, max(chunk - 6, 1.0)))
            if rng.random() < 0.5:  # restless turn in bed
                add(Move(turned, 3.0))
                add(Move(lie, 3.0))
            else:
                add(Move(lie, 6.0))
        if t >= total - 600:
            break
        # a bed exit
        add(Move(sit_up, float(rng.uniform(2, 5))))
        truth.sit_ups.append(t)
        if rng.random() < 0.25:  # sits up, then lies down again
            add(Move(sit_up, float(rng.uniform(5, 30))))
            add(Move(lie, 3.0))
            continue
        add(Move(edge, float(rng.uniform(2, 4))))
        add(Move(edge, float(rng.uniform(3, 60))))
        add(Move(stand, 2.0))
        truth.stands_from_bed.append(t)
        for _ in range(int(rng.integers(0, 3))):
            kind = confounders[int(rng.integers(len(confounders)))]
            t_floor_start = t
            for m in _confounder(kind, rng, size):
                add(m)
            if kind == "floor_sit" and t - t_floor_start > 25:
                truth.long_on_floor.append((t_floor_start, t))
        add(Move(pose("stand", DOOR[0], DOOR[1] - 0.6, math.pi, size), 5.0, "linear", walk=True))
        left = t
        add(Move(None, float(rng.uniform(60, 600))))
        truth.out_of_room.append((left, t))
        add(Move(pose("stand", DOOR[0], DOOR[1] - 0.6, 0.0, size), 0.2))
        add(Move(stand, 5.0, "linear", walk=True))
        add(Move(edge, 2.0))
        add(Move(edge, float(rng.uniform(2, 20))))
        add(Move(lie, 4.0))
    add(Move(lie, max(total - t, 1.0)))
    people = [Person(size, lie, moves, track_id=1), *others]
    noise = _noise(rng, True)
    noise["fps"] = 5.0
    return Scenario(
        f"night-{seed}", people, truth, total, start_ts=_night_start_ts(rng, 22.5), camera=camera, seed=seed, **noise
    )


def _confounder(kind: str, rng: np.random.Generator, size: float) -> list[Move]:
    """Everyday movements that look a little like a fall, ending standing."""
    heading = float(rng.uniform(0, 2 * math.pi))
    x, z = _spot(rng)
    stand = pose("stand", x, z, heading, size)
    walk = Move(stand, float(rng.uniform(3, 6)), "linear", walk=True)
    hold = float(rng.uniform(4, 20))
    if kind == "chair":
        h = float(rng.uniform(-1, 1)) + math.pi
        front = pose("stand", CHAIR[0] + 0.3 * math.sin(h), CHAIR[1] + 0.3 * math.cos(h), h, size)
        sit = pose("sit", CHAIR[0], CHAIR[1], h, size)
        fast = float(rng.uniform(0.6, 1.5))  # some people drop into a chair
        moves = [Move(front, 4.0, "linear", walk=True), Move(sit, fast, "in"), Move(sit, hold)]
        if rng.random() < 0.5:  # ties shoes while sitting
            moves += [
                Move(pose("sit_bend", CHAIR[0], CHAIR[1], h, size), 1.5),
                Move(pose("sit_bend", CHAIR[0], CHAIR[1], h, size), 10.0),
                Move(sit, 1.5),
            ]
        return [*moves, Move(front, 1.8)]
    if kind == "shoes":
        bend = pose("stand_bend", x, z, heading, size)
        return [walk, Move(bend, 1.2), Move(bend, 8.0), Move(stand, 1.2)]
    if kind == "squat":
        bend = pose("squat_bend", x, z, heading, size)
        return [walk, Move(bend, float(rng.uniform(1.0, 2.0))), Move(bend, hold), Move(stand, 1.8)]
    if kind == "kneel":
        kneel = pose("kneel", x, z, heading, size)
        return [walk, Move(kneel, float(rng.uniform(1.0, 2.5))), Move(kneel, hold), Move(stand, 2.0)]
    if kind == "floor_sit":
        kneel = pose("kneel", x, z, heading, size)
        sit = pose("floor_sit", x, z, heading, size)
        return [
            walk,
            Move(kneel, 2.0),
            Move(sit, 2.5),
            Move(sit, float(rng.uniform(5, 20))),
            Move(kneel, 2.5),
            Move(stand, 2.0),
        ]
    if kind == "stand_bend":
        bend = pose("stand_bend", x, z, heading, size)
        return [walk, Move(bend, 0.8), Move(bend, 3.0), Move(stand, 1.0)]
    raise ValueError(kind)


def _visitor(rng: np.random.Generator, at: float, track_id: int) -> Person:
    h = float(rng.uniform(-1, 1)) + math.pi
    door = pose("stand", DOOR[0], DOOR[1], h, 1.0)
    sit = pose("sit", CHAIR[0], CHAIR[1], h, 1.0)
    front = pose("stand", CHAIR[0] + 0.3 * math.sin(h), CHAIR[1] + 0.3 * math.cos(h), h, 1.0)
    stay = float(rng.uniform(120, 900))
    moves = [
        Move(front, 4.0, "linear", walk=True),
        Move(sit, 1.0, "in"),
        Move(sit, stay),
        Move(front, 1.5),
        Move(door, 4.0, "linear", walk=True),
        Move(None, 1.0),
    ]
    return Person(float(rng.uniform(0.9, 1.1)), door, moves, start_s=at, track_id=track_id)


def confounder_scenario(kind: str, seed: int, camera: Camera = WALL) -> Scenario:
    """A short daytime scene with one confounder (for tests at reduced scale)."""
    rng = np.random.default_rng(seed)
    size = float(rng.uniform(0.85, 1.1))
    x, z = _spot(rng)
    moves = [*_confounder(kind, rng, size), Move(pose("stand", x, z, 0.0, size), 5.0, "linear", walk=True)]
    person = Person(size, pose("stand", x, z, 0.0, size), moves)
    noise = _noise(rng, bool(rng.random() < 0.5))
    return Scenario(
        f"confounder-{kind}-{seed}",
        [person],
        Truth(),
        person.duration() + 2,
        start_ts=_night_start_ts(rng, 14.0),
        camera=camera,
        seed=seed,
        **noise,
    )


# -- running and scoring ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    scenario: Scenario
    events: list[RoomEvent]
    night: NightStats | None = None  # the monitor's night statistics at the end of the scene

    def t(self, event: RoomEvent) -> float:
        return (event.ts - self.scenario.start_ts) / 1000.0

    def alarms(self) -> list[RoomEvent]:
        return [e for e in self.events if e.kind in ALARM_KINDS and not e.details.get("suppressed")]


def run(scn: Scenario, settings: DetectorSettings | None = None, room: RoomConfig | None = None) -> Outcome:
    monitor = RoomMonitor(room or room_config(scn.camera), settings, aspect=ASPECT)
    events: list[RoomEvent] = []
    for ts, obs in observations(scn):
        events += monitor.step(ts, obs)
    return Outcome(scn, events, monitor.night)


@dataclass
class Score:
    falls: int = 0
    detected: int = 0
    latencies: list[float] = field(default_factory=list)
    nights: float = 0.0
    false_alarms: int = 0  # in scenes without a fall (nights, bed exits): the per-night rate
    false_alarms_in_fall_scenes: int = 0  # before/after the fall in fall scenes (e.g. lying down in bed first)
    false_alarm_names: list[str] = field(default_factory=list)
    bed_exits: int = 0
    bed_exit_warned: int = 0
    lead_times: list[float] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, out: Outcome) -> None:
        truth, alarms = out.scenario.truth, out.alarms()
        matched: set[int] = set()
        for start, floor in truth.falls:
            self.falls += 1
            hits = [i for i, a in enumerate(alarms) if start - 0.5 <= out.t(a) <= floor + 120]
            if hits:
                self.detected += 1
                self.latencies.append(out.t(alarms[hits[0]]) - floor)
                matched.update(hits)
            else:
                self.missed.append(out.scenario.name)
        for start, end in truth.long_on_floor:
            matched.update(i for i, a in enumerate(alarms) if start <= out.t(a) <= end + 5)
        for i, a in enumerate(alarms):
            if i not in matched and a.severity == "critical":
                if truth.falls:
                    self.false_alarms_in_fall_scenes += 1
                else:
                    self.false_alarms += 1
                rule = str(a.details.get("rule", "")) + ("" if a.details.get("seen", True) else ":unseen")
                self.false_alarm_names.append(f"{out.scenario.name}@{out.t(a):.0f}s:{a.kind}:{rule}")
        if not truth.falls:
            self.nights += out.scenario.duration / (8 * 3600)
        warnings = [out.t(e) for e in out.events if e.kind == "bed_exit_warning"]
        for stand in truth.stands_from_bed:
            self.bed_exits += 1
            before = [w for w in warnings if stand - 120 <= w <= stand + 10]
            if before:
                self.bed_exit_warned += 1
                self.lead_times.append(stand - before[0])

    def summary(self) -> dict[str, float]:
        lat = np.array(self.latencies) if self.latencies else np.array([math.nan])
        return {
            "falls": self.falls,
            "sensitivity": self.detected / self.falls if self.falls else math.nan,
            "latency_p50_s": float(np.percentile(lat, 50)),
            "latency_p95_s": float(np.percentile(lat, 95)),
            "resident_nights": round(self.nights, 2),
            "false_alarms": self.false_alarms,
            "false_alarms_per_night": self.false_alarms / self.nights if self.nights else math.nan,
            "false_alarms_in_fall_scenes": self.false_alarms_in_fall_scenes,
            "bed_exits": self.bed_exits,
            "bed_exit_warned": self.bed_exit_warned / self.bed_exits if self.bed_exits else math.nan,
            "bed_exit_lead_median_s": float(np.median(self.lead_times)) if self.lead_times else math.nan,
        }


def bed_exit_scenario(seed: int, *, night: bool = True, camera: Camera = WALL) -> Scenario:
    """Lying in bed, sitting up, sitting on the edge for 3–60 s, standing up and walking off."""
    rng = np.random.default_rng(seed)
    size = float(rng.uniform(0.85, 1.1))
    bed = bed_poses(rng, size)
    lie, sit_up, edge, stand = bed["lie"], bed["sit_up"], bed["edge"], bed["stand"]
    x, z = _spot(rng)
    moves = [Move(lie, float(rng.uniform(30, 90))), Move(sit_up, float(rng.uniform(2, 5)))]
    sat_up = sum(m.seconds for m in moves)
    moves += [Move(edge, float(rng.uniform(2, 4))), Move(edge, float(rng.uniform(3, 60))), Move(stand, 2.0)]
    stood = sum(m.seconds for m in moves)
    moves += [Move(pose("stand", x, z, 0.0, size), 5.0, "linear", walk=True), Move(pose("stand", x, z, 0.0, size), 5.0)]
    person = Person(size, lie, moves)
    noise = _noise(rng, night)
    start = _night_start_ts(rng) if night else _night_start_ts(rng, 14.0)
    truth = Truth(stands_from_bed=[stood], sit_ups=[sat_up])
    return Scenario(
        f"bed-exit-{seed}", [person], truth, person.duration() + 1, start_ts=start, camera=camera, seed=seed, **noise
    )
