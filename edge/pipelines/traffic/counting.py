"""Counting logic of the traffic pipeline: COCO → traffic classes, riders, per-track class votes,
and time bins that survive a restart. Pure Python and numpy; no camera or model needed."""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protocol.streams.traffic import TRAFFIC_CLASSES, TrafficCounts, TrafficZone, ZoneClassStats

log = logging.getLogger(__name__)

COCO_TO_TRAFFIC = {0: "pedestrian", 1: "bicycle", 2: "car", 3: "motorcycle", 5: "heavy", 7: "heavy"}
COCO_IDS = tuple(sorted(COCO_TO_TRAFFIC))
RIDER = "rider"  # a person on a bicycle or motorcycle: counted through the vehicle, not as a pedestrian
RIDER_WEIGHT = 3.0
STATE_VERSION = 1


def traffic_labels(coco_cls: np.ndarray, extra: dict[int, str] | None = None) -> list[str]:
    """Traffic class of each COCO id ("" for others); ``extra`` adds view-specific ids (see DetectorConfig)."""
    table = {**COCO_TO_TRAFFIC, **(extra or {})}
    return [table.get(int(c), "") for c in coco_cls]


def relabel_riders(xyxy: np.ndarray, labels: list[str], min_overlap: float = 0.25) -> list[str]:
    """Persons over a bicycle or motorcycle (centre above its horizontal span, and at least ``min_overlap``
    of the smaller box shared) become ``rider``, so one cyclist is not also counted as a pedestrian."""
    out = list(labels)
    wheels = [i for i, label in enumerate(labels) if label in ("bicycle", "motorcycle")]
    for i, label in enumerate(labels):
        if label != "pedestrian":
            continue
        px1, py1, px2, py2 = xyxy[i]
        for j in wheels:
            x1, y1, x2, y2 = xyxy[j]
            inter = max(0.0, min(px2, x2) - max(px1, x1)) * max(0.0, min(py2, y2) - max(py1, y1))
            smaller = max(min((px2 - px1) * (py2 - py1), (x2 - x1) * (y2 - y1)), 1e-6)
            if x1 <= (px1 + px2) / 2 <= x2 and inter / smaller >= min_overlap:
                out[i] = RIDER
                break
    return out


@dataclass
class ClassVotes:
    """A track's class is the confidence-weighted majority of its detections (car/truck flicker). A frame
    that shows the person on a two-wheeler weighs ``RIDER_WEIGHT`` times: small bicycles are often missed."""

    _votes: dict[int, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))

    def add(self, track_id: int, label: str, conf: float) -> None:
        if label:
            self._votes[track_id][label] += conf * (RIDER_WEIGHT if label == RIDER else 1.0)

    def label(self, track_id: int) -> str:
        votes = self._votes.get(track_id)
        return max(votes.items(), key=lambda kv: kv[1])[0] if votes else ""

    def forget(self, active: set[int]) -> None:
        for track_id in [t for t in self._votes if t not in active]:
            del self._votes[track_id]


def bin_start_of(wall_ms: int, bin_s: int) -> int:
    size = bin_s * 1000
    return wall_ms - wall_ms % size


@dataclass
class _ZoneAcc:
    entries: int = 0
    occupancy_sum: float = 0.0
    max_occupancy: int = 0
    dwell_sum: float = 0.0
    dwell_n: int = 0


class CountBins:
    """Counts per line × class × direction and zone statistics for the open bin, persisted to
    ``state_file`` after every change (atomic rename), so a restarted agent continues the same
    bin: nothing counted is lost and nothing is counted twice. Closed bins come back from
    :meth:`roll` as protocol bodies; call :meth:`save` after emitting them.
    """

    def __init__(
        self,
        bin_s: int,
        lines: dict[str, tuple[str, str]],
        zones: list[str],
        state_file: Path | None = None,
    ) -> None:
        self.bin_s = bin_s
        self.lines = lines
        self.zones = zones
        self.state_file = state_file
        self.bin_start: int | None = None
        self.partial = False
        self.flags: set[str] = set()
        self.active_flags: set[str] = set()  # health conditions raised now; they carry into the next bin
        self.counts: dict[str, dict[str, dict[str, int]]] = {}
        self.zone_acc: dict[str, dict[str, _ZoneAcc]] = {}
        self.zone_frames = 0
        self._reset_counts()
        self._load()

    # -- state ------------------------------------------------------------------------------------
    def _reset_counts(self) -> None:
        self.counts = {
            line: {cls: {pos: 0, neg: 0} for cls in TRAFFIC_CLASSES} for line, (pos, neg) in self.lines.items()
        }
        self.zone_acc = {zone: {cls: _ZoneAcc() for cls in TRAFFIC_CLASSES} for zone in self.zones}
        self.zone_frames = 0

    def _load(self) -> None:
        if not self.state_file or not self.state_file.exists():
            return
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            log.warning("unreadable traffic state; starting a fresh bin", extra={"path": str(self.state_file)})
            return
        if state.get("version") != STATE_VERSION or state.get("bin_s") != self.bin_s:
            log.info("traffic state from another configuration ignored", extra={"path": str(self.state_file)})
            return
        self.bin_start = state["bin_start"]
        self.partial = True  # the unit was down for part of this bin
        self.flags = set(state.get("flags", []))
        for line, per_cls in state.get("counts", {}).items():
            if line in self.counts:
                for cls, per_dir in per_cls.items():
                    for direction, n in per_dir.items():
                        if direction in self.counts[line].get(cls, {}):
                            self.counts[line][cls][direction] = int(n)
        for zone, per_cls in state.get("zones", {}).items():
            if zone in self.zone_acc:
                for cls, acc in per_cls.items():
                    if cls in self.zone_acc[zone]:
                        self.zone_acc[zone][cls] = _ZoneAcc(**acc)
        self.zone_frames = int(state.get("zone_frames", 0))

    def save(self) -> None:
        """Write the open bin atomically (temp file, fsync, rename)."""
        if not self.state_file:
            return
        state = {
            "version": STATE_VERSION,
            "bin_s": self.bin_s,
            "bin_start": self.bin_start,
            "flags": sorted(self.flags),
            "counts": self.counts,
            "zones": {z: {c: vars(a) for c, a in per.items()} for z, per in self.zone_acc.items()},
            "zone_frames": self.zone_frames,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_file)

    # -- counting ---------------------------------------------------------------------------------
    def roll(self, wall_ms: int, *, flush: bool = False) -> list[TrafficCounts | TrafficZone]:
        """Close the open bin if ``wall_ms`` is past its end (or ``flush``); open the bin of ``wall_ms``."""
        current = bin_start_of(wall_ms, self.bin_s)
        if self.bin_start is None:
            self.bin_start, self.partial = current, wall_ms > current
            return []
        if current == self.bin_start and not flush:
            return []
        closed = self._bodies(partial=self.partial or flush)
        self._reset_counts()
        self.bin_start, self.partial = current, wall_ms > current
        self.flags = set(self.flags & self.active_flags)
        return closed

    def set_active_flags(self, flags: set[str]) -> None:
        self.active_flags = set(flags)
        self.flags |= self.active_flags

    def add_crossing(self, line: str, cls: str, direction: str) -> None:
        self.counts[line][cls][direction] += 1

    def add_zone_frame(self, occupancy: dict[str, dict[str, int]]) -> None:
        """One processed frame's number of occupants per zone and class."""
        self.zone_frames += 1
        for zone, per_cls in occupancy.items():
            for cls, n in per_cls.items():
                acc = self.zone_acc[zone][cls]
                acc.occupancy_sum += n
                acc.max_occupancy = max(acc.max_occupancy, n)

    def add_zone_entry(self, zone: str, cls: str) -> None:
        self.zone_acc[zone][cls].entries += 1

    def add_zone_dwell(self, zone: str, cls: str, seconds: float) -> None:
        acc = self.zone_acc[zone][cls]
        acc.dwell_sum += seconds
        acc.dwell_n += 1

    def total(self, line: str) -> int:
        return sum(n for per_dir in self.counts[line].values() for n in per_dir.values())

    def _bodies(self, partial: bool) -> list[TrafficCounts | TrafficZone]:
        assert self.bin_start is not None
        flags = sorted(self.flags)
        bodies: list[TrafficCounts | TrafficZone] = [
            TrafficCounts(
                line=line, bin_start=self.bin_start, bin_s=self.bin_s, counts=counts, flags=flags, partial=partial
            )
            for line, counts in self.counts.items()
        ]
        frames = max(self.zone_frames, 1)
        for zone, per_cls in self.zone_acc.items():
            stats = {
                cls: ZoneClassStats(
                    entries=a.entries,
                    mean_occupancy=round(a.occupancy_sum / frames, 3),
                    max_occupancy=a.max_occupancy,
                    mean_dwell_s=round(a.dwell_sum / a.dwell_n, 2) if a.dwell_n else 0.0,
                )
                for cls, a in per_cls.items()
            }
            bodies.append(
                TrafficZone(
                    zone=zone, bin_start=self.bin_start, bin_s=self.bin_s, classes=stats, flags=flags, partial=partial
                )
            )
        return bodies
