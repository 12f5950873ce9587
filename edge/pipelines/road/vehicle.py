"""Where the vehicle was at a frame's time: a locally consistent dead-reckoned track plus a GNSS offset.

Doppler speed and course from the receiver are integrated into a smooth "odometry" track; the mean
difference between the GNSS fixes and that track over a window around a moment is the offset that
puts it on the map. Averaging ~20 fixes cuts 5 m fix noise to about 1 m, with no lag from accelerations.
Without Doppler figures the track falls back to the raw fixes, interpolated.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from edge.sources.gps import GpsFix

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class LocalFrame:
    """Equirectangular east/north metres around a reference point (fine over a municipality)."""

    lat0: float
    lon0: float

    def to_en(self, lat: float, lon: float) -> tuple[float, float]:
        east = math.radians(lon - self.lon0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))
        north = math.radians(lat - self.lat0) * EARTH_RADIUS_M
        return east, north

    def to_latlon(self, east: float, north: float) -> tuple[float, float]:
        lat = self.lat0 + math.degrees(north / EARTH_RADIUS_M)
        lon = self.lon0 + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(self.lat0))))
        return lat, lon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    east, north = LocalFrame(lat1, lon1).to_en(lat2, lon2)
    return math.hypot(east, north)


@dataclass(frozen=True)
class Pose:
    """Vehicle position (odometry frame, metres), heading (radians clockwise from north), speed."""

    east: float
    north: float
    heading: float
    speed_mps: float

    def ahead(self, forward: float, lateral: float) -> tuple[float, float]:
        """Odometry-frame point ``forward`` m ahead and ``lateral`` m to the right of the vehicle."""
        s, c = math.sin(self.heading), math.cos(self.heading)
        return self.east + forward * s + lateral * c, self.north + forward * c - lateral * s

    def along(self, east: float, north: float) -> float:
        """Signed distance of a point ahead of the vehicle along its heading."""
        return (east - self.east) * math.sin(self.heading) + (north - self.north) * math.cos(self.heading)


class VehicleTrack:
    """GNSS fixes of one drive → smooth poses for frame timestamps and map offsets for observations."""

    def __init__(self, offset_window_s: float = 25.0, keep_s: float = 600.0) -> None:
        self.offset_window_s = offset_window_s
        self.keep_s = keep_s
        self.frame: LocalFrame | None = None
        self._ts: list[float] = []
        self._odo: list[tuple[float, float]] = []  # dead-reckoned position at each fix
        self._gnss: list[tuple[float, float]] = []  # measured position at each fix
        self._vel: list[tuple[float, float]] = []
        self.doppler = True
        self._last_course: float | None = None

    def __len__(self) -> int:
        return len(self._ts)

    def add(self, fix: GpsFix) -> None:
        if self._ts and fix.ts <= self._ts[-1]:
            return
        if self.frame is None:
            self.frame = LocalFrame(fix.lat, fix.lon)
        en = self.frame.to_en(fix.lat, fix.lon)
        if fix.speed_mps is None:
            self.doppler = False
        vel = (0.0, 0.0)
        # receivers leave the course empty when standing still: keep the last one
        course = fix.course_deg if fix.course_deg is not None else self._last_course
        if fix.speed_mps is not None and course is not None:
            c = math.radians(course)
            vel = (fix.speed_mps * math.sin(c), fix.speed_mps * math.cos(c))
        if fix.course_deg is not None:
            self._last_course = fix.course_deg
        if not self._ts:
            odo = en
        elif self.doppler:
            dt = fix.ts - self._ts[-1]
            pv = self._vel[-1]
            odo = (self._odo[-1][0] + (pv[0] + vel[0]) / 2 * dt, self._odo[-1][1] + (pv[1] + vel[1]) / 2 * dt)
        else:
            odo = en
        self._ts.append(fix.ts)
        self._odo.append(odo)
        self._gnss.append(en)
        self._vel.append(vel)
        self._trim()

    def _trim(self) -> None:
        cut = bisect.bisect_left(self._ts, self._ts[-1] - self.keep_s)
        if cut > 0:
            del self._ts[:cut], self._odo[:cut], self._gnss[:cut], self._vel[:cut]

    @property
    def last_ts(self) -> float | None:
        return self._ts[-1] if self._ts else None

    def pose(self, ts: float, max_extrapolate_s: float = 2.0) -> Pose | None:
        """Odometry-frame pose at ``ts``; None without fixes close enough in time."""
        if not self._ts or ts < self._ts[0] - max_extrapolate_s or ts > self._ts[-1] + max_extrapolate_s:
            return None
        i = bisect.bisect_right(self._ts, ts) - 1
        if i < 0:
            i = 0
        if i + 1 < len(self._ts) and ts >= self._ts[i]:
            t0, t1 = self._ts[i], self._ts[i + 1]
            w = (ts - t0) / (t1 - t0)
            east = self._odo[i][0] * (1 - w) + self._odo[i + 1][0] * w
            north = self._odo[i][1] * (1 - w) + self._odo[i + 1][1] * w
            ve = self._vel[i][0] * (1 - w) + self._vel[i + 1][0] * w
            vn = self._vel[i][1] * (1 - w) + self._vel[i + 1][1] * w
        else:
            dt = ts - self._ts[i]
            ve, vn = self._vel[i]
            east, north = self._odo[i][0] + ve * dt, self._odo[i][1] + vn * dt
        if not self.doppler:
            ve, vn = self._velocity_from_positions(ts)
        speed = math.hypot(ve, vn)
        heading = math.atan2(ve, vn) % (2 * math.pi) if speed > 0.2 else self._last_heading(i)
        return Pose(east, north, heading, speed)

    def _velocity_from_positions(self, ts: float, span_s: float = 3.0) -> tuple[float, float]:
        lo = bisect.bisect_left(self._ts, ts - span_s)
        hi = min(len(self._ts) - 1, bisect.bisect_right(self._ts, ts + span_s) - 1)
        if hi <= lo:
            return 0.0, 0.0
        dt = self._ts[hi] - self._ts[lo]
        return (self._odo[hi][0] - self._odo[lo][0]) / dt, (self._odo[hi][1] - self._odo[lo][1]) / dt

    def _last_heading(self, i: int) -> float:
        for j in range(i, -1, -1):
            ve, vn = self._vel[j]
            if math.hypot(ve, vn) > 0.2:
                return math.atan2(ve, vn) % (2 * math.pi)
        return 0.0

    def offset(self, ts: float, window_s: float | None = None) -> tuple[float, float, int]:
        """Mean (GNSS − odometry) over fixes within the window around ``ts``: (east, north, fixes used).
        A window of 0 takes the single fix nearest in time (what a plain GNSS logger would give)."""
        window = self.offset_window_s if window_s is None else window_s
        if window <= 0 and self._ts:
            i = min(range(len(self._ts)), key=lambda k: abs(self._ts[k] - ts))
            return self._gnss[i][0] - self._odo[i][0], self._gnss[i][1] - self._odo[i][1], 1
        lo = bisect.bisect_left(self._ts, ts - window)
        hi = bisect.bisect_right(self._ts, ts + window)
        if hi <= lo:
            return 0.0, 0.0, 0
        n = hi - lo
        de = sum(self._gnss[k][0] - self._odo[k][0] for k in range(lo, hi)) / n
        dn = sum(self._gnss[k][1] - self._odo[k][1] for k in range(lo, hi)) / n
        return de, dn, n

    def to_latlon(
        self,
        east: float,
        north: float,
        ts: float,
        window_s: float | None = None,
    ) -> tuple[float, float, int]:
        """Map position of an odometry-frame point observed around ``ts``: (lat, lon, fixes used)."""
        assert self.frame is not None
        de, dn, n = self.offset(ts, window_s)
        lat, lon = self.frame.to_latlon(east + de, north + dn)
        return lat, lon, n
