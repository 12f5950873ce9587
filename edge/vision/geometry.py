"""Counting geometry: polyline counting lines with a named positive direction and hysteresis,
and polygon zones with occupancy and dwell time. Pure functions of points; no image needed.

A line's *positive* direction is crossing from its left-hand side to its right-hand side as
you walk along it from its first point to its last (image coordinates, y pointing down). A
line drawn left → right across the picture therefore counts downward movement as positive:

>>> line = CountingLine("kerb", [(0, 100), (200, 100)], positive="towards", negative="away")
>>> crossing = LineCrossings(line, hysteresis=5)
>>> [crossing.update(7, p) for p in [(50, 80), (52, 99), (53, 101), (55, 120)]]
[None, None, None, 'towards']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PointLike = Sequence[float]


@dataclass(frozen=True)
class CountingLine:
    """A polyline with names for its two crossing directions."""

    name: str
    points: Sequence[PointLike]
    positive: str = "positive"
    negative: str = "negative"

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ValueError(f"line {self.name!r} needs at least two points")
        if self.positive == self.negative:
            raise ValueError(f"line {self.name!r}: the two directions need different names")

    @property
    def segments(self) -> np.ndarray:
        pts = np.asarray(self.points, np.float64)
        return np.stack([pts[:-1], pts[1:]], 1)

    def signed_distance(self, point: PointLike) -> float:
        """Distance to the nearest segment; positive on the right-hand side of the line."""
        p = np.asarray(point, np.float64)
        best, sign = np.inf, 1.0
        for a, b in self.segments:
            ab = b - a
            t = float(np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0))
            d = float(np.hypot(*(p - (a + t * ab))))
            if d < best:
                cross = ab[0] * (p[1] - a[1]) - ab[1] * (p[0] - a[0])
                best, sign = d, (1.0 if cross >= 0 else -1.0)
        return sign * best

    def intersects(self, start: PointLike, end: PointLike) -> bool:
        """Whether the movement ``start → end`` crosses any segment of the line."""
        return any(segments_intersect(start, end, a, b) for a, b in self.segments)

    def scaled(self, sx: float, sy: float) -> CountingLine:
        """The line in pixels, from normalised (0..1) coordinates."""
        return CountingLine(self.name, [(x * sx, y * sy) for x, y in self.points], self.positive, self.negative)


def _orient(a: PointLike, b: PointLike, c: PointLike) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def segments_intersect(p1: PointLike, p2: PointLike, q1: PointLike, q2: PointLike) -> bool:
    """Proper or touching intersection of segments p1p2 and q1q2."""
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(a: PointLike, b: PointLike, c: PointLike) -> bool:
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return (
        (d1 == 0 and on(q1, q2, p1))
        or (d2 == 0 and on(q1, q2, p2))
        or (d3 == 0 and on(p1, p2, q1))
        or (d4 == 0 and on(p1, p2, q2))
    )


@dataclass
class _Side:
    side: int  # +1 right-hand, -1 left-hand
    point: tuple[float, float]
    counted: bool = False


@dataclass
class LineCrossings:
    """Counts each track at most once per line, when it moves from one side to the other.

    A side only counts once the track's anchor is at least ``hysteresis`` pixels from the line,
    so a box flickering on the line is never counted twice; the movement between the last firm
    point on one side and the first firm point on the other must pass through the polyline (not
    around its end). Measured perpendicular to each segment, so the line's angle does not matter.
    """

    line: CountingLine
    hysteresis: float = 8.0
    _state: dict[int, _Side] = field(default_factory=dict)

    def update(self, track_id: int, point: PointLike, cut: tuple[float, float] | None = None) -> str | None:
        """Feed a track's anchor point; returns the direction name when this update is a crossing.

        ``cut``: the box was cut by the frame border and the true anchor lies somewhere beyond ``point`` in
        this direction (see :func:`border_cuts`). Such a point never gives a track its first side (an object
        entering the view is often detected in part, or is another object's track taken over), and later
        counts only where every point in that direction is on the same side of the line.
        """
        d = self.line.signed_distance(point)
        if abs(d) < self.hysteresis:
            return None
        side = 1 if d > 0 else -1
        here = (float(point[0]), float(point[1]))
        prev = self._state.get(track_id)
        if cut is not None and (prev is None or self._reaches_line(here, cut)):
            return None
        if prev is None:
            self._state[track_id] = _Side(side, here)
            return None
        if side == prev.side:
            prev.point = here
            return None
        crossed = not prev.counted and self.line.intersects(prev.point, here)
        self._state[track_id] = _Side(side, here, prev.counted or crossed)
        if not crossed:
            return None
        return self.line.positive if side > 0 else self.line.negative

    def _reaches_line(self, point: tuple[float, float], direction: tuple[float, float]) -> bool:
        far = max(abs(c) for seg in self.line.segments for p in seg for c in p) * 4 + 1e4
        end = (point[0] + direction[0] * far, point[1] + direction[1] * far)
        return self.line.intersects(point, end)

    def forget(self, active: Iterable[int]) -> None:
        """Drop the state of tracks no longer alive."""
        keep = set(active)
        for track_id in [t for t in self._state if t not in keep]:
            del self._state[track_id]


def point_in_polygon(point: PointLike, polygon: Sequence[PointLike]) -> bool:
    """Even-odd rule; points on the border count as inside half the time, which is fine for zones."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


@dataclass(frozen=True)
class Zone:
    """A named polygon (occupancy, dwell time)."""

    name: str
    polygon: Sequence[PointLike]

    def __post_init__(self) -> None:
        if len(self.polygon) < 3:
            raise ValueError(f"zone {self.name!r} needs at least three points")

    def contains(self, point: PointLike) -> bool:
        return point_in_polygon(point, self.polygon)

    def scaled(self, sx: float, sy: float) -> Zone:
        return Zone(self.name, [(x * sx, y * sy) for x, y in self.polygon])


@dataclass
class ZoneDwell:
    """Which tracks are in a zone since when; yields finished visits as (track_id, seconds)."""

    zone: Zone
    _since: dict[int, float] = field(default_factory=dict)

    def update(self, present: dict[int, PointLike], t_s: float) -> tuple[list[int], list[tuple[int, float]]]:
        """``present``: anchor per live track at ``t_s``. Returns (entered track ids, finished visits)."""
        inside = {tid for tid, p in present.items() if self.zone.contains(p)}
        entered = [tid for tid in inside if tid not in self._since]
        for tid in entered:
            self._since[tid] = t_s
        left = [(tid, t_s - t0) for tid, t0 in self._since.items() if tid not in inside]
        for tid, _ in left:
            del self._since[tid]
        return entered, left

    @property
    def occupants(self) -> list[int]:
        return list(self._since)


def bbox_anchor(xyxy: np.ndarray, anchor: str = "bottom_center") -> np.ndarray:
    """Anchor points (N×2) of boxes: where the object meets the ground, or the box centre."""
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
    if anchor == "center":
        return np.stack([cx, (xyxy[:, 1] + xyxy[:, 3]) / 2], 1)
    if anchor == "bottom_center":
        return np.stack([cx, xyxy[:, 3]], 1)
    raise ValueError(f"unknown anchor {anchor!r}; use 'bottom_center' or 'center'")


def border_cuts(xyxy: np.ndarray, frame_size: tuple[int, int], anchor: str = "bottom_center", margin: float = 2.0
                ) -> list[tuple[float, float] | None]:
    """For each box, the direction in which its true anchor may lie beyond the measured one when the frame
    border cuts the box (``frame_size`` = height, width), or None when the anchor is seen whole.

    A box cut by the left or right border has its true centre further out; for ``center`` the top and bottom
    borders count too. For ``bottom_center`` a box cut by the bottom border still places the ground point at
    or below the frame's bottom edge, which is what a line above it needs, so that cut is not reported.

    >>> border_cuts(np.array([[0, 10, 50, 90], [100, 10, 150, 100], [150, 0, 200, 100]]), (100, 200))
    [(-1.0, 0.0), None, (1.0, 0.0)]
    """
    h, w = frame_size
    out: list[tuple[float, float] | None] = []
    for x0, y0, x1, y1 in np.asarray(xyxy, np.float64).tolist():
        dx = (-1.0 if x0 <= margin else 0.0) + (1.0 if x1 >= w - margin else 0.0)
        dy = 0.0
        if anchor == "center":
            dy = (-1.0 if y0 <= margin else 0.0) + (1.0 if y1 >= h - margin else 0.0)
        out.append((dx, dy) if (dx or dy) else None)
    return out
