"""The room's event state machines over keypoint tracks: bed exit, fall, on-floor, got-up,
second person, and the night's statistics. Pure logic: no camera, no model, no clock, no I/O,
so the simulator and the tests drive it directly with ``RoomMonitor.step``."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from edge.pipelines.falls.config import DetectorSettings, Point, RoomConfig
from edge.vision.geometry import point_in_polygon

# COCO keypoint indices
NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 0, 5, 6, 11, 12, 13, 14, 15, 16
HEAD = (0, 1, 2, 3, 4)
MISSING_GRACE_S = 3.0  # a person unseen this long no longer counts as present
TRACK_FORGET_S = 30.0
OFF_SEAT_DROP = 0.8  # torso lengths the hips sink in the image when sliding off a seat to the floor
SEATED_S = 3.0  # sitting on a seat this long counts as seated (not passing over it, not kneeling in front)


@dataclass(frozen=True)
class Observation:
    """One tracked person in one frame: ``keypoints[k] = [x, y, conf]`` with x, y fractions of the frame."""

    track_id: int
    keypoints: np.ndarray


@dataclass
class RoomEvent:
    """What the state machines decided; the pipeline turns it into a ``FallEvent``."""

    kind: str
    ts: int
    started_ts: int
    severity: str
    event_id: str
    track_id: int | None = None
    related_event_id: str | None = None
    details: dict[str, float | int | str | bool] = field(default_factory=dict)
    clip: dict | None = None


@dataclass(frozen=True)
class Body:
    """Geometry of one person in one frame, in frame heights (x scaled by the aspect ratio)."""

    center: tuple[float, float]
    hip: tuple[float, float] | None
    anchor: tuple[float, float]  # fractions of the frame, for zone tests (hip centre or body centre)
    angle: float | None  # torso from vertical, degrees
    torso: float | None
    foot_y: float | None
    width: float
    height: float
    visible: int
    folded: bool  # bent over the legs (shoulders and knees on the same side of the hips): bending, not lying
    feet: tuple[tuple[float, float], ...]  # ankles, fractions of the frame
    points: tuple[tuple[float, float], ...] = ()  # every seen keypoint, fractions of the frame
    head_angle: float | None = None  # neck-to-head from vertical, when the hips are hidden (in bed)
    whole: bool = False  # head or shoulders and an ankle seen: the height spans the body


def _mid(pts: list[list[float]], a: int, b: int, conf: float) -> tuple[float, float] | None:
    ok = [pts[i] for i in (a, b) if pts[i][2] >= conf]
    if not ok:
        return None
    return sum(p[0] for p in ok) / len(ok), sum(p[1] for p in ok) / len(ok)


def body_geometry(kp: np.ndarray, aspect: float, conf: float, placement: str = "wall") -> Body | None:
    """Torso angle, torso length, centre, hip and feet of one person; None when too little is seen.
    (Plain Python floats: for 17 points that is several times faster than numpy.)"""
    pts = kp.tolist()
    seen = [p[2] >= conf for p in pts]
    if sum(seen) < 4:
        return None
    xs = [p[0] * aspect for p, ok in zip(pts, seen, strict=True) if ok]
    ys = [p[1] for p, ok in zip(pts, seen, strict=True) if ok]
    shoulder = _mid(pts, L_SHOULDER, R_SHOULDER, conf)
    hip_n = _mid(pts, L_HIP, R_HIP, conf)
    angle = torso = head_angle = None
    hip = None
    folded = False
    ankles = [i for i in (L_ANKLE, R_ANKLE) if seen[i]]
    if hip_n is not None:
        hip = (hip_n[0] * aspect, hip_n[1])
    if shoulder is not None and hip is not None:
        sx, sy = shoulder[0] * aspect, shoulder[1]
        dx, dy = sx - hip[0], sy - hip[1]
        torso = math.hypot(dx, dy)
        if placement == "ceiling":
            angle = _ceiling_angle(kp, aspect, conf, torso)
        else:
            angle = math.degrees(math.atan2(abs(dx), -dy)) if torso > 1e-6 else None
        center = ((sx + hip[0]) / 2, (sy + hip[1]) / 2)
        knees = [i for i in (L_KNEE, R_KNEE) if seen[i]]
        if knees and torso > 1e-6:
            knee_dx = sum(pts[i][0] for i in knees) / len(knees) * aspect - hip[0]
            folded = dx * knee_dx > 0 and abs(dx) > 0.3 * torso and abs(knee_dx) > 0.3 * torso
        if ankles and torso > 1e-6 and max(pts[i][1] for i in ankles) - hip[1] > 1.0 * torso:
            folded = True  # legs straight down under a tilted trunk: bending over, not lying
    else:
        center = (sum(xs) / len(xs), sum(ys) / len(ys))
        head = [pts[i] for i in HEAD if seen[i]]
        if shoulder is not None and head and placement == "wall":
            # hips hidden (a blanket): the neck-to-head direction still tells lying from sitting up
            hx, hy = sum(p[0] for p in head) / len(head) * aspect, sum(p[1] for p in head) / len(head)
            dx, dy = hx - shoulder[0] * aspect, hy - shoulder[1]
            if math.hypot(dx, dy) > 1e-6:
                head_angle = math.degrees(math.atan2(abs(dx), -dy))
    foot_y = max(pts[i][1] for i in ankles) if ankles else None
    anchor = hip_n if hip_n is not None else (center[0] / aspect, center[1])
    return Body(
        center=center,
        hip=hip,
        anchor=anchor,
        angle=angle,
        torso=torso,
        foot_y=foot_y,
        width=max(xs) - min(xs),
        height=max(ys) - min(ys),
        visible=len(xs),
        folded=folded,
        feet=tuple((pts[i][0], pts[i][1]) for i in ankles),
        points=tuple((p[0], p[1]) for p, ok in zip(pts, seen, strict=True) if ok),
        head_angle=head_angle,
        whole=bool(ankles) and any(seen[i] for i in (*HEAD, L_SHOULDER, R_SHOULDER)),
    )


def _ceiling_angle(kp: np.ndarray, aspect: float, conf: float, torso: float) -> float:
    """Seen from above, a standing body is short and a lying one long: map the body's diagonal over
    the shoulder width to an equivalent tilt (experimental; no real ceiling video was at hand)."""
    seen = kp[:, 2] >= conf
    iso = kp[:, :2] * np.array([aspect, 1.0])
    shoulders = [i for i in (L_SHOULDER, R_SHOULDER) if seen[i]]
    width = float(np.ptp(iso[shoulders, 0])) if len(shoulders) == 2 else torso * 0.8
    length = float(np.hypot(*np.ptp(iso[seen], axis=0)))
    ratio = length / max(width, 1e-6)
    return float(np.clip((ratio - 1.5) / 2.0, 0.0, 1.0) * 90.0)


class Perspective:
    """How tall a standing person looks at each image row, learned from everyone seen standing:
    ``height ≈ k · (foot_y − horizon_y)`` by least squares (one camera, a flat floor)."""

    def __init__(self, capacity: int = 600) -> None:
        self.samples: deque[tuple[float, float]] = deque(maxlen=capacity)
        self._fit: tuple[float, float] | None = None
        self._dirty = 0

    def add(self, foot_y: float, height: float) -> None:
        self.samples.append((foot_y, height))
        self._dirty += 1

    def expected_height(self, foot_y: float) -> float | None:
        if len(self.samples) < 10:
            return None
        if self._fit is None or self._dirty >= 25:
            self._refit()
        assert self._fit is not None
        k, horizon = self._fit
        return max(k * (foot_y - horizon), 0.02) if k > 0 else None

    def _refit(self) -> None:
        data = np.array(self.samples)
        ys, hs = data[:, 0], data[:, 1]
        self._dirty = 0
        if np.ptp(ys) > 0.05:
            k, b = np.polyfit(ys, hs, 1)
            if k > 0:
                self._fit = (float(k), float(-b / k))
                return
        self._fit = (float(np.median(hs / np.maximum(ys, 1e-3))), 0.0)


@dataclass
class PersonTrack:
    """What the room remembers about one tracked person."""

    track_id: int
    first_t: float
    last_t: float
    # (t, centre_y, hip_y, angle, height ratio), nan where unseen
    history: deque = field(default_factory=lambda: deque(maxlen=400))
    torso_ref: float | None = None
    floor_y: float | None = None
    stand_height: float | None = None
    down_since: float | None = None
    floor_since: float | None = None
    upright_since: float | None = None
    bed_lying_since: float | None = None
    bed_sitting_since: float | None = None
    bed_armed: bool = False
    bed_warned: bool = False
    in_bed: bool = False
    from_door: bool | None = None  # first seen in the door area: came into the room (visitor, staff, resident back)
    at_door: bool = False
    seated_t: float | None = None  # last time seen on a seat (armchair, sofa)
    stood_t: float | None = None  # last time seen standing
    seat_since: float | None = None
    seat_hip_y: float | None = None  # hip row while last seated (at least SEATED_S)
    seat_hip_run: float | None = None  # hip row of the current stay on the seat
    off_seat_since: float | None = None
    body: Body | None = None

    def scale(self) -> float | None:
        if self.torso_ref:
            return self.torso_ref
        torsos = [b for b in [self.body.torso if self.body else None] if b]
        return torsos[0] if torsos else None


@dataclass
class NightStats:
    """The night so far, for the morning report (the pipeline persists it across restarts)."""

    night_of: str = ""
    in_bed_s: float = 0.0
    out_of_bed_episodes: int = 0
    restless_minutes: int = 0
    bed_exit_warnings: int = 0
    falls: int = 0
    on_floor: int = 0
    observed_s: float = 0.0
    out_of_room_s: float = 0.0
    left_room: int = 0
    reported: bool = False

    def as_details(self) -> dict[str, float | int | str | bool]:
        return {
            "night_of": self.night_of,
            "in_bed_min": round(self.in_bed_s / 60),
            "out_of_bed_episodes": self.out_of_bed_episodes,
            "restless_minutes": self.restless_minutes,
            "bed_exit_warnings": self.bed_exit_warnings,
            "falls": self.falls,
            "on_floor": self.on_floor,
            "observed_min": round(self.observed_s / 60),
            "out_of_room_min": round(self.out_of_room_s / 60),
            "left_room": self.left_room,
        }


class RoomMonitor:
    """Feed it every analysed frame (``step``); it returns the events that frame completes."""

    def __init__(self, room: RoomConfig, settings: DetectorSettings | None = None, *, aspect: float = 4 / 3) -> None:
        self.room = room
        self.s = settings or DetectorSettings()
        self.aspect = aspect
        self.tz = ZoneInfo(room.timezone)
        self.night_start = time.fromisoformat(room.night_start)
        self.night_end = time.fromisoformat(room.night_end)
        self.tracks: dict[int, PersonTrack] = {}
        self._furniture = {}
        self._zone_bounds: dict[int, tuple[float, float, float, float]] = {}
        self.perspective = Perspective()
        self.open_alarm: RoomEvent | None = None
        self.alarm_track: int | None = None
        self.others_since: float | None = None
        self.others_clear_since: float | None = None
        self.staff_event: RoomEvent | None = None
        self.night = NightStats()
        self._was_night = False
        self._clip: deque = deque()
        self._clip_last_t = -1
        self._counter = 0
        self._bed_out_since: float | None = None
        self._bed_out_counted = False
        self._minute: int | None = None
        self._minute_moves = 0
        self._second: int | None = None
        self._second_pos: list[tuple[float, float]] = []
        self._last_second_pos: tuple[float, float] | None = None
        self._last_t: float | None = None
        self._gone_by_door = False  # the last person seen was in the door area: the room is empty, not unseen
        self._gone_counted = False

    # -- public -----------------------------------------------------------------------------------
    def step(self, ts_ms: int, observations: list[Observation]) -> list[RoomEvent]:
        t = ts_ms / 1000.0
        events: list[RoomEvent] = []
        self._furniture: dict[int, bool] = {}
        self._remember_clip(t, observations)
        for obs in observations:
            self._update_track(t, obs)
        self._forget(t)
        present = self._present(t)
        if present:
            self._gone_by_door = any(tr.at_door for tr in present)
        events += self._second_person(t, ts_ms, present)
        for track in present:
            events += self._bed_exit(t, ts_ms, track)
            events += self._fall(t, ts_ms, track)
            events += self._on_floor(t, ts_ms, track)
        events += self._got_up(t, ts_ms, present)
        events += self._night(t, ts_ms, present)
        self._last_t = t
        return events

    def is_night(self, ts_ms: int) -> bool:
        local = datetime.fromtimestamp(ts_ms / 1000, self.tz).time()
        if self.night_start <= self.night_end:
            return self.night_start <= local < self.night_end
        return local >= self.night_start or local < self.night_end

    def local_time(self, ts_ms: int) -> datetime:
        return datetime.fromtimestamp(ts_ms / 1000, self.tz)

    # -- tracks -----------------------------------------------------------------------------------
    def _update_track(self, t: float, obs: Observation) -> None:
        track = self.tracks.get(obs.track_id)
        if track is None:
            track = self.tracks[obs.track_id] = PersonTrack(obs.track_id, t, t)
        body = body_geometry(obs.keypoints, self.aspect, self.s.keypoint_conf, self.room.placement)
        if body is None:
            return
        track.last_t = t
        track.body = body
        # clamped into the frame: a door drawn at the image edge also holds people leaving the view there
        at = (min(max(body.anchor[0], 0.0), 1.0), min(max(body.anchor[1], 0.0), 1.0))
        track.at_door = self.room.door is not None and self._in_zone(at, [self.room.door])
        if track.from_door is None:
            track.from_door = track.at_door
        nan = float("nan")
        ratio = self._height_ratio(track, body)
        track.history.append(
            (
                t,
                body.center[1] if body.torso else nan,  # only torso-based centres: fallbacks jump
                body.hip[1] if body.hip else nan,
                body.angle if body.angle is not None else nan,
                ratio if ratio is not None else nan,
            )
        )
        if self._standing_shape(body) and (ratio is None or ratio >= 0.85):
            assert body.torso is not None and body.foot_y is not None
            self.perspective.add(body.foot_y, body.height)
            track.torso_ref = body.torso if track.torso_ref is None else 0.9 * track.torso_ref + 0.1 * body.torso
            track.stand_height = (
                body.height if track.stand_height is None else 0.9 * track.stand_height + 0.1 * body.height
            )
            track.floor_y = body.foot_y if track.floor_y is None else 0.7 * track.floor_y + 0.3 * body.foot_y
        elif body.torso and track.torso_ref is None:
            track.torso_ref = body.torso

    def _standing_shape(self, body: Body) -> bool:
        """Upright with the legs stretched below the hips: the frames that calibrate a person's size."""
        return bool(
            body.torso
            and body.angle is not None
            and body.angle < self.s.upright_angle
            and body.hip is not None
            and body.foot_y is not None
            and body.foot_y - body.hip[1] > 1.3 * body.torso
        )

    def _forget(self, t: float) -> None:
        for tid in [tid for tid, tr in self.tracks.items() if t - tr.last_t > TRACK_FORGET_S]:
            del self.tracks[tid]

    def _present(self, t: float) -> list[PersonTrack]:
        return [tr for tr in self.tracks.values() if t - tr.last_t <= MISSING_GRACE_S and tr.body is not None]

    def _in_zone(self, anchor: tuple[float, float], zones: list[list[Point]]) -> bool:
        x, y = anchor
        for zone in zones:
            x0, y0, x1, y1 = self._bounds(zone)
            if x0 <= x <= x1 and y0 <= y <= y1 and point_in_polygon(anchor, zone):
                return True
        return False

    def _bounds(self, zone: list[Point]) -> tuple[float, float, float, float]:
        key = id(zone)
        if key not in self._zone_bounds:
            xs, ys = [p[0] for p in zone], [p[1] for p in zone]
            self._zone_bounds[key] = (min(xs), min(ys), max(xs), max(ys))
        return self._zone_bounds[key]

    def _on_furniture(self, body: Body) -> bool:
        """On a bed or a seat rather than on the floor."""
        key = id(body)
        if key not in self._furniture:
            # hips over the mattress: in bed (also while lying down into it, legs still out);
            # seats are small, so most of the body must be on them
            on = body.hip is not None and self._in_zone(body.anchor, self.room.beds)
            if not on and self._in_zone(body.anchor, self.room.seating):
                on = sum(self._in_zone(p, self.room.seating) for p in body.points) >= 0.6 * len(body.points)
            self._furniture[key] = on
        return self._furniture[key]

    # -- postures ---------------------------------------------------------------------------------
    def _lying(self, body: Body) -> bool:
        return body.angle is not None and body.angle >= self.s.lying_angle and not body.folded

    def _scale(self, track: PersonTrack) -> float | None:
        """A torso length for this person: measured while standing, else from the room's perspective."""
        if track.stand_height is None and track.body is not None:
            bottom = (
                track.body.foot_y if track.body.foot_y is not None else track.body.center[1] + track.body.height / 2
            )
            expected = self.perspective.expected_height(bottom)
            if expected:
                return 0.3 * expected
        return track.scale()

    def _hips_low(self, track: PersonTrack, body: Body, margin: float) -> bool:
        ref = self._scale(track)
        if track.floor_y is None or body.hip is None or not ref:
            return False
        return body.hip[1] >= track.floor_y - margin * ref

    def _on_floor_posture(self, track: PersonTrack, body: Body) -> bool:
        """Lying, or sitting with the hips at floor level, outside beds and seating."""
        if self._on_furniture(body):
            return False
        if self.room.floor is not None and not point_in_polygon(body.anchor, self.room.floor):
            return False
        ref = self._scale(track)
        if self._lying(body) and (body.width >= 0.8 * body.height or self._hips_low(track, body, 0.9)):
            return True
        if self._collapsed(track, body):
            return True
        if self._hips_low(track, body, 0.5):
            return True
        # sitting on the floor, legs stretched out: feet hardly below the hips
        return bool(
            ref
            and body.angle is not None
            and body.angle < self.s.upright_angle
            and body.hip is not None
            and body.foot_y is not None
            and body.foot_y - body.hip[1] < 0.35 * ref
        )

    def _height_ratio(self, track: PersonTrack, body: Body) -> float | None:
        """Body height now over a standing person's height at the same image row (1 standing, ~0.3 lying)."""
        if body.visible < 7 or not body.whole or body.foot_y is None:
            return None
        bottom = body.foot_y
        expected = self.perspective.expected_height(bottom) or track.stand_height
        return body.height / expected if expected else None

    def _collapsed(self, track: PersonTrack, body: Body, limit: float = 0.45) -> bool:
        """Much lower than a standing person there, seen whole: e.g. lying along the line of sight."""
        ratio = self._height_ratio(track, body)
        return ratio is not None and ratio <= limit

    def _standing(self, track: PersonTrack, body: Body) -> bool:
        ref = self._scale(track)
        return bool(
            ref
            and body.angle is not None
            and body.angle < self.s.upright_angle
            and body.hip is not None
            and body.foot_y is not None
            and body.foot_y - body.hip[1] > 1.0 * ref
        )

    # -- fall ---------------------------------------------------------------------------------------
    def _collapse(self, track: PersonTrack, t: float, window: float) -> float | None:
        """Seconds the body took to go from standing height (ratio ≥ 0.75) to half of it, if that
        happened within ``window`` s: a collapse in image terms, independent of the camera distance."""
        hist = [(h[0], h[4]) for h in track.history if t - h[0] <= window and h[4] == h[4]]
        last_up = None
        for ht, ratio in hist:
            if ratio >= 0.75:
                last_up = ht
            elif ratio <= 0.5 and last_up is not None:
                return ht - last_up
        return None

    def _descent(self, track: PersonTrack, t: float, window: float) -> tuple[float, float]:
        """Largest torso-centre descent ending now within ``window`` s, and the time it took."""
        hist = [h for h in track.history if t - h[0] <= window and h[1] == h[1]]
        if len(hist) < 3:
            return 0.0, math.inf
        ys = np.array([h[1] for h in hist])
        ts = np.array([h[0] for h in hist])
        top = int(np.argmin(ys))
        drop = float(ys[-1] - ys[top])
        if drop <= 0:
            return 0.0, math.inf
        reached = top + int(np.argmax(ys[top:] >= ys[top] + 0.9 * drop))
        high = np.flatnonzero(ys[: reached + 1] <= ys[top] + 0.1 * drop)
        began = int(high[-1]) if len(high) else top  # the last moment still up: the descent starts there
        return drop, max(float(ts[reached] - ts[began]), 1e-3)

    def _fall(self, t: float, ts_ms: int, track: PersonTrack) -> list[RoomEvent]:
        body = track.body
        ref = self._scale(track)
        if body is None or not ref:
            return []
        if track.last_t != t:
            # unseen since it went down (lying behind furniture, or the model lost a lying body):
            # the last view stands, so the confirmation time still runs
            if track.down_since is None or self.open_alarm is not None:
                return []
            return self._confirm_fall(t, ts_ms, track, body, ref)
        self._seated(track, body, t)
        furniture = self._on_furniture(body) or self._still_seated(track, body)
        if self.open_alarm is None and self._slid_off_seat(track, body, t):
            return [self._raise("fall", t, ts_ms, track, {"rule": "off_seat", "slow": True})]
        down = not furniture and (self._on_floor_posture(track, body) or self._collapsed(track, body, 0.5))
        if not down and not furniture and self._height_ratio(track, body) is None and not self._standing(track, body):
            return []  # too little seen to tell: keep the state of the last frame that showed the body
        if not down:
            track.down_since = None
            return []
        if track.down_since is None:
            track.down_since = t
        if self.open_alarm is not None:
            return []
        return self._confirm_fall(t, ts_ms, track, body, ref)

    def _confirm_fall(self, t: float, ts_ms: int, track: PersonTrack, body: Body, ref: float) -> list[RoomEvent]:
        assert track.down_since is not None
        held = t - track.down_since
        drop, took = self._descent(track, t, self.s.fall_window_s + held + 0.5)
        fast = (
            drop >= self.s.fall_drop * ref
            and drop / took >= self.s.fall_speed * ref
            and took <= self.s.fall_window_s
        )
        collapse = self._collapse(track, t, self.s.fall_window_s + held + 0.5)
        upright = body.angle is not None and body.angle < self.s.upright_angle
        rule = "descent"
        if (
            collapse is not None
            and collapse <= self.s.fall_window_s * 0.75
            and self._collapsed(track, body, 0.45)
            and not upright
            and not body.folded
        ):
            fast, rule = True, "collapse"
            drop, took = max(drop, 0.0), min(took, collapse)
        if fast and held >= self.s.fall_confirm_s:
            return [
                self._raise(
                    "fall",
                    t,
                    ts_ms,
                    track,
                    {
                        "rule": rule,
                        "descent_torso": round(drop / ref, 2),
                        "descent_s": round(took, 2),
                        "seen": track.last_t == t,
                    },
                )
            ]
        slide_drop, slide_took = self._descent(track, t, self.s.slide_window_s + held + 0.5)
        reclined = self._lying(body)
        if (
            reclined
            and (self._hips_low(track, body, 0.6) or self._collapsed(track, body, 0.55))
            and slide_drop >= 0.5 * ref
            and slide_took <= self.s.slide_window_s
            and held >= self.s.slide_confirm_s
        ):
            return [
                self._raise(
                    "fall",
                    t,
                    ts_ms,
                    track,
                    {
                        "rule": "slide",
                        "descent_torso": round(slide_drop / ref, 2),
                        "descent_s": round(slide_took, 2),
                        "slow": True,
                    },
                )
            ]
        return []

    def _seated(self, track: PersonTrack, body: Body, t: float) -> None:
        """Remember when the person last sat on a seat (hips over it at sitting height for ``SEATED_S``)
        and last stood at full height, for :meth:`_slid_off_seat`."""
        ratio = self._height_ratio(track, body)
        if ratio is not None and ratio >= 0.9:
            track.stood_t, track.seat_since = t, None  # sitting upright on a chair is about 0.75
            return
        sitting = (ratio is None or ratio >= 0.55) and body.hip is not None  # unmeasured frames keep the state
        if not (sitting and self._in_zone(body.anchor, self.room.seating)):
            track.seat_since = None
            return
        if track.seat_since is None:
            track.seat_since, track.seat_hip_run = t, body.hip[1]
        assert track.seat_hip_run is not None
        track.seat_hip_run = min(track.seat_hip_run, body.hip[1])  # sitting up straight; a slide only lowers it
        if t - track.seat_since >= SEATED_S:
            track.seated_t, track.seat_hip_y = t, track.seat_hip_run

    def _still_seated(self, track: PersonTrack, body: Body) -> bool:
        """Sat on a seat, has not stood up since, and the hips are still over it (e.g. bent over to
        tie shoes, where most of the body leaves the seat's outline)."""
        return bool(
            track.seated_t is not None
            and (track.stood_t is None or track.stood_t < track.seated_t)
            and body.hip is not None
            and self._in_zone(body.anchor, self.room.seating)
        )

    def _slid_off_seat(self, track: PersonTrack, body: Body, t: float) -> bool:
        """Off a seat and down in front of it without standing up: the hips left the seat's outline and
        are ``OFF_SEAT_DROP`` torso lengths lower in the image than while seated, within ``slide_window_s``,
        and stay there for ``slide_confirm_s``. A slow slide off a chair, also when the body ends sitting
        up against the chair and looks like someone sitting on purpose in 2D."""
        ref = self._scale(track)
        low = bool(
            ref
            and track.seated_t is not None
            and track.seat_hip_y is not None
            and body.hip is not None
            and (track.stood_t is None or track.stood_t < track.seated_t)
            and not self._in_zone(body.anchor, self.room.seating)
            and body.hip[1] - track.seat_hip_y >= OFF_SEAT_DROP * ref
        )
        if not low:
            track.off_seat_since = None
            return False
        assert track.seated_t is not None
        if track.off_seat_since is None:
            track.off_seat_since = t
        return (
            track.off_seat_since - track.seated_t <= self.s.slide_window_s
            and t - track.off_seat_since >= self.s.slide_confirm_s
        )

    def _on_floor(self, t: float, ts_ms: int, track: PersonTrack) -> list[RoomEvent]:
        body = track.body
        if body is None or track.last_t != t:
            return []
        if not self._on_floor_posture(track, body):
            track.floor_since = None
            return []
        if track.floor_since is None:
            track.floor_since = t
        if self.open_alarm is None and t - track.floor_since >= self.s.on_floor_s:
            return [
                self._raise(
                    "on_floor", t, ts_ms, track, {"on_floor_s": round(t - track.floor_since)}, started=track.floor_since
                )
            ]
        return []

    def _got_up(self, t: float, ts_ms: int, present: list[PersonTrack]) -> list[RoomEvent]:
        if self.open_alarm is None:
            return []
        candidates = [tr for tr in present if tr.track_id == self.alarm_track]
        if not candidates and len(present) == 1:
            candidates = present  # the tracker gave the resident a new id while getting up
        for track in candidates:
            body = track.body
            if body is None or not self._standing(track, body) or track.last_t != t:
                track.upright_since = None
                continue
            if track.upright_since is None:
                track.upright_since = t
            if t - track.upright_since >= self.s.got_up_s:
                cleared = self.open_alarm
                self.open_alarm, self.alarm_track = None, None
                event = self._event("got_up", t, ts_ms, "info", track, {"after_s": round((ts_ms - cleared.ts) / 1000)})
                event.related_event_id = cleared.event_id
                return [event]
        return []

    def _raise(
        self, kind: str, t: float, ts_ms: int, track: PersonTrack, details: dict, started: float | None = None
    ) -> RoomEvent:
        severity = "critical"
        if self.staff_event is not None:
            details["staff_present"] = True
            if self.s.staff_policy == "downgrade":
                severity = "warning"
        event = self._event(kind, t, ts_ms, severity, track, details, started=started)
        if self.staff_event is not None and self.s.staff_policy == "suppress":
            event.severity = "info"
            event.details["suppressed"] = True
        self.open_alarm, self.alarm_track = event, track.track_id
        if self.is_night(ts_ms):
            if kind == "fall":
                self.night.falls += 1
            else:
                self.night.on_floor += 1
        return event

    # -- bed exit -----------------------------------------------------------------------------------
    def _bed_exit(self, t: float, ts_ms: int, track: PersonTrack) -> list[RoomEvent]:
        body = track.body
        if body is None or not self.room.beds or track.last_t != t:
            return []
        if body.hip is not None or not track.in_bed:
            track.in_bed = self._in_zone(body.anchor, self.room.beds)  # hips hidden under a blanket: still in bed
        angle = body.angle if body.angle is not None else body.head_angle
        if angle is None:
            return []
        if track.in_bed and angle >= self.s.lying_angle:
            track.bed_sitting_since = None
            track.bed_lying_since = track.bed_lying_since or t
            needed = self.s.bed_rearm_s if track.bed_warned else 2.0
            if t - track.bed_lying_since >= needed:
                track.bed_armed = True
            return []
        track.bed_lying_since = None
        if not track.bed_armed:
            return []
        sitting_up = track.in_bed and angle < self.s.upright_angle + 10
        left_bed = not track.in_bed
        if not sitting_up:
            track.bed_sitting_since = None
        else:
            track.bed_sitting_since = track.bed_sitting_since or t
        if not left_bed and (not sitting_up or t - track.bed_sitting_since < self.s.sit_up_s):
            return []
        track.bed_warned = True
        track.bed_armed = False
        profile = self.room.profile
        if not profile.bed_exit_alert or not (profile.bed_exit_all_day or self.is_night(ts_ms)):
            return []
        on_edge = left_bed or any(not self._in_zone(foot, self.room.beds) for foot in body.feet)
        details: dict = {
            "position": "out_of_bed" if left_bed else ("bed_edge" if on_edge else "sitting_up"),
            "walking_aid": profile.walking_aid,
        }
        if self.is_night(ts_ms):
            self.night.bed_exit_warnings += 1
        severity = "warning"
        if self.staff_event is not None:
            details["staff_present"] = True
            severity = "info" if self.s.staff_policy != "ignore" else severity
        started = track.bed_sitting_since if track.bed_sitting_since is not None else t
        return [self._event("bed_exit_warning", t, ts_ms, severity, track, details, started=started)]

    # -- second person ------------------------------------------------------------------------------
    def _second_person(self, t: float, ts_ms: int, present: list[PersonTrack]) -> list[RoomEvent]:
        people = [tr for tr in present if tr.body and tr.body.visible >= 8 and t - tr.first_t >= 0.5]
        if len(people) >= 2:
            self.others_clear_since = None
            self.others_since = self.others_since or t
            if (
                self.staff_event is None
                and t - self.others_since >= self.s.second_person_s
                and self.s.staff_policy != "ignore"
            ):
                visitor = min(people, key=lambda tr: tr.first_t if tr.track_id != self.alarm_track else math.inf)
                others = sorted((tr for tr in people if tr is not visitor), key=lambda tr: not tr.from_door)
                details: dict = {"people": len(people)}
                if self.room.door is not None and others:
                    details["through_door"] = bool(others[0].from_door)
                event = self._event(
                    "staff_present",
                    t,
                    ts_ms,
                    "info",
                    others[0] if others else visitor,
                    details,
                    started=self.others_since,
                )
                if self.open_alarm is not None:
                    event.related_event_id = self.open_alarm.event_id
                self.staff_event = event
                return [event]
            return []
        self.others_since = None
        if self.staff_event is not None:
            self.others_clear_since = self.others_clear_since or t
            if t - self.others_clear_since >= 10.0:
                self.staff_event = None
        return []

    # -- night report -------------------------------------------------------------------------------
    def night_of(self, ts_ms: int) -> str:
        """The local date on which the night around ``ts_ms`` began (after midnight: the day before)."""
        local = self.local_time(ts_ms)
        wraps = self.night_start > self.night_end
        day = local.date() - timedelta(days=1) if wraps and local.time() < self.night_end else local.date()
        return day.isoformat()

    def resume(self, stats: NightStats) -> None:
        """Continue a night's statistics saved before a restart: kept if that night is still on, reported
        at the next step if it ended while the agent was down (unless it was reported already)."""
        self.night = stats
        self._was_night = bool(stats.night_of) and not stats.reported

    def _night(self, t: float, ts_ms: int, present: list[PersonTrack]) -> list[RoomEvent]:
        night = self.is_night(ts_ms)
        events: list[RoomEvent] = []
        if night and self._was_night and self.night.night_of != self.night_of(ts_ms):
            events.append(self._night_report(t, ts_ms))  # a restart skipped the morning: late report
            self._was_night = False
        starts = night and not self._was_night
        if starts and (self.night.night_of != self.night_of(ts_ms) or self.night.reported):
            self.night = NightStats(night_of=self.night_of(ts_ms))
        if not night and self._was_night:
            events.append(self._night_report(t, ts_ms))
        self._was_night = night
        if not night:
            return events
        dt = 0.0 if self._last_t is None else min(t - self._last_t, 2.0)
        self.night.observed_s += dt
        if present or not self._gone_by_door:
            self._gone_counted = False
        else:  # left through the door: out of the room until someone is seen again
            self.night.out_of_room_s += dt
            if not self._gone_counted:
                self.night.left_room += 1
                self._gone_counted = True
        in_bed = [tr for tr in present if tr.in_bed]
        if in_bed:
            self.night.in_bed_s += dt
            self._bed_out_since, self._bed_out_counted = None, False
            self._restless(t, in_bed[0])
        elif present or self._bed_out_since is not None:
            self._bed_out_since = self._bed_out_since or t
            if not self._bed_out_counted and t - self._bed_out_since >= 30.0:
                self.night.out_of_bed_episodes += 1
                self._bed_out_counted = True
        return events

    def _restless(self, t: float, track: PersonTrack) -> None:
        """A minute in bed is restless when the body moved in at least 6 of its seconds."""
        assert track.body is not None
        ref = self._scale(track) or 0.1
        second, minute = int(t), int(t // 60)
        if self._second is not None and second != self._second and self._second_pos:
            pos = tuple(np.median(np.array(self._second_pos), axis=0))
            if (
                self._last_second_pos is not None
                and math.dist(pos, self._last_second_pos) > self.s.restless_motion * ref
            ):
                self._minute_moves += 1
            self._last_second_pos = pos  # type: ignore[assignment]
            self._second_pos = []
        if self._minute is not None and minute != self._minute:
            if self._minute_moves >= 6:
                self.night.restless_minutes += 1
            self._minute_moves = 0
        self._second, self._minute = second, minute
        self._second_pos.append(track.body.center)

    def _night_report(self, t: float, ts_ms: int) -> RoomEvent:
        stats = self.night
        stats.reported = True
        self._counter += 1
        started = ts_ms - int(stats.observed_s * 1000)
        return RoomEvent(
            "night_report",
            ts_ms,
            started,
            "info",
            self._event_id("night_report", ts_ms),
            None,
            details=stats.as_details(),
        )

    # -- events and clips ---------------------------------------------------------------------------
    def _event_id(self, kind: str, ts_ms: int) -> str:
        return f"{self.room.room}-{kind}-{ts_ms}-{self._counter}"[:64]

    def _event(
        self,
        kind: str,
        t: float,
        ts_ms: int,
        severity: str,
        track: PersonTrack,
        details: dict,
        started: float | None = None,
    ) -> RoomEvent:
        self._counter += 1
        started_ms = round((started if started is not None else t) * 1000)
        return RoomEvent(
            kind,
            ts_ms,
            started_ms,
            severity,
            self._event_id(kind, ts_ms),
            track.track_id,
            details=details,
            clip=self.clip(track.track_id),
        )

    def _remember_clip(self, t: float, observations: list[Observation]) -> None:
        bucket = int(t * self.s.clip_fps)  # one frame per 1/clip_fps slot: the clip plays at clip_fps on average
        if bucket == self._clip_last_t:
            return
        self._clip_last_t = bucket
        self._clip.append((t, {o.track_id: o.keypoints for o in observations}))
        while self._clip and t - self._clip[0][0] > self.s.clip_s:
            self._clip.popleft()

    def clip(self, track_id: int | None, max_people: int = 2) -> dict:
        """The last ``clip_s`` seconds as a ``SkeletonClip`` dict: the event's person first, then
        the people seen most; missing people are zero keypoints."""
        seen: dict[int, int] = {}
        for _, people in self._clip:
            for tid in people:
                seen[tid] = seen.get(tid, 0) + 1
        order = sorted(seen, key=lambda tid: (tid != track_id, -seen[tid]))[:max_people]
        empty = [[0.0, 0.0, 0.0]] * 17
        frames = []
        for _, people in self._clip:
            frames.append([_compact(people[tid]) if tid in people else empty for tid in order])
        return {"fps": self.s.clip_fps, "aspect": round(self.aspect, 4), "frames": frames}


def _compact(keypoints: np.ndarray) -> list[list[float]]:
    """x, y clipped to the frame with 2 decimals, confidence with 1: about 15 bytes a keypoint."""
    kp = keypoints.astype(np.float64)
    xy = np.round(np.clip(kp[:, :2], 0.0, 1.0), 2)
    conf = np.round(kp[:, 2:3], 1)
    return np.concatenate([xy, conf], axis=1).tolist()
