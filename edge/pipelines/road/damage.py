"""Damage tracks: detections placed on the road, associated across frames, fused into one estimate.

Association happens in the vehicle's odometry frame (smooth, metre-accurate over seconds), so a
pothole seen in eight frames is one track even when single GNSS fixes jump by metres.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from edge.vision.ground import CameraGeometry

RDD_CODES: tuple[str, ...] = ("D00", "D10", "D20", "D40")


@dataclass(frozen=True)
class Sighting:
    """One detection of a damage in one frame, placed on the road."""

    ts: float
    east: float
    north: float
    forward: float
    width_m: float
    length_m: float
    score: float
    rdd_class: str
    box: tuple[float, float, float, float]


def place_on_road(
    box: tuple[float, float, float, float],
    camera: CameraGeometry,
    max_length_m: float = 6.0,
) -> tuple[float, float, float, float] | None:
    """(forward, lateral, width_m, length_m) of the footprint centre of a box on a flat road."""
    x1, y1, x2, y2 = box
    uc = (x1 + x2) / 2
    near = camera.ground_point(uc, y2)
    if near is None:
        return None
    far = camera.ground_point(uc, y1)
    far_fwd = near[0] + max_length_m if far is None else min(far[0], near[0] + max_length_m)
    length = max(0.0, far_fwd - near[0])
    forward = near[0] + length / 2
    mid_v = (y1 + y2) / 2
    mpp = camera.metres_per_pixel(uc, mid_v) or camera.metres_per_pixel(uc, y2) or 0.0
    lateral_near = near[1]
    # lateral of the centre: scale the near-edge lateral to the centre's distance
    lateral = lateral_near * (forward / near[0]) if near[0] > 0 else lateral_near
    return forward, lateral, (x2 - x1) * mpp, length


def severity_of(rdd_class: str, width_m: float, length_m: float) -> str:
    """Severity from class and size (thresholds after common municipal pothole/crack guidance)."""
    area = math.pi / 4 * width_m * length_m
    if rdd_class == "D40":
        if width_m >= 0.8 or area >= 0.5:
            return "high"
        return "medium" if width_m >= 0.3 else "low"
    if rdd_class == "D20":
        if area >= 4.0:
            return "high"
        return "medium" if area >= 1.0 else "low"
    return "medium" if max(width_m, length_m) >= 3.0 else "low"


@dataclass
class DamageTrack:
    track_id: int
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def last(self) -> Sighting:
        return self.sightings[-1]

    def weights(self) -> list[float]:
        # near sightings are placed far better than distant ones (error grows ~ with distance squared)
        return [s.score / (0.25 + 0.01 * s.forward**2) for s in self.sightings]

    def position(self) -> tuple[float, float]:
        w = self.weights()
        total = sum(w)
        return (
            sum(wi * s.east for wi, s in zip(w, self.sightings, strict=True)) / total,
            sum(wi * s.north for wi, s in zip(w, self.sightings, strict=True)) / total,
        )

    def spread_m(self) -> float:
        if len(self.sightings) < 2:
            return 1.0
        east, north = self.position()
        d2 = [(s.east - east) ** 2 + (s.north - north) ** 2 for s in self.sightings]
        return math.sqrt(sum(d2) / (len(d2) - 1))

    def rdd_class(self) -> str:
        votes: dict[str, float] = {}
        for s in self.sightings:
            votes[s.rdd_class] = votes.get(s.rdd_class, 0.0) + s.score
        return max(votes, key=votes.__getitem__)

    def size(self) -> tuple[float, float]:
        """Median width/length over the nearer half of the sightings."""
        near = sorted(self.sightings, key=lambda s: s.forward)[: max(1, (len(self.sightings) + 1) // 2)]
        return statistics.median(s.width_m for s in near), statistics.median(s.length_m for s in near)

    def confidence(self) -> float:
        return max(s.score for s in self.sightings)


@dataclass
class DamageTracker:
    """Greedy nearest-neighbour association of sightings to tracks within a distance gate."""

    gate_m: float = 1.5
    gate_per_m: float = 0.12  # the gate widens with distance, where placement is rougher
    lost_after_s: float = 1.5
    tracks: dict[int, DamageTrack] = field(default_factory=dict)
    _next_id: int = 1

    def update(self, sightings: list[Sighting]) -> None:
        pairs = []
        for si, s in enumerate(sightings):
            for tid, track in self.tracks.items():
                east, north = track.position()
                d = math.hypot(s.east - east, s.north - north)
                gate = self.gate_m + self.gate_per_m * min(s.forward, track.last.forward)
                if d <= gate:
                    pairs.append((d, si, tid))
        used_s: set[int] = set()
        used_t: set[int] = set()
        for _, si, tid in sorted(pairs):
            if si in used_s or tid in used_t:
                continue
            self.tracks[tid].sightings.append(sightings[si])
            used_s.add(si)
            used_t.add(tid)
        for si, s in enumerate(sightings):
            if si not in used_s:
                self.tracks[self._next_id] = DamageTrack(self._next_id, [s])
                self._next_id += 1

    def finished(self, ts: float, along_of: dict[int, float], near_m: float) -> list[DamageTrack]:
        """Remove and return tracks the vehicle has passed (below the view) or that were lost."""
        done = []
        for tid, track in list(self.tracks.items()):
            passed = along_of.get(tid, 0.0) < near_m * 0.5
            lost = ts - track.last.ts > self.lost_after_s
            if passed or lost:
                done.append(self.tracks.pop(tid))
        return done
