"""Roundtrip builder: chain raw GPS trips into roundtrips that leave and return to a home location.

A vehicle device reports one :class:`GpsTrip` per ignition-on to ignition-off (the trip log it
publishes over MQTT); the optimiser needs roundtrips from a home location and back, as
FleetOptimiser builds them. Trips that never start at a home, chains that do not come home within
``max_hours`` and chains with a standstill longer than ``max_gap_hours`` are left out and counted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from hub.optimise.fleet.model import Roundtrips

log = logging.getLogger(__name__)
EARTH_RADIUS_M = 6_371_000.0
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class GpsTrip:
    """One trip of one vehicle as its device logs it (times in local time, distance in km)."""

    vehicle_id: str
    start_time: datetime
    end_time: datetime
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    distance_km: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GpsTrip:
        """From a JSON trip message (ISO times)."""

        def when(x: Any) -> datetime:
            dt = x if isinstance(x, datetime) else datetime.fromisoformat(str(x).replace("Z", "+00:00"))
            return dt.replace(tzinfo=None)  # roundtrips are kept in the wall-clock time they were logged in

        return cls(
            str(raw["vehicle_id"]),
            when(raw["start_time"]),
            when(raw["end_time"]),
            float(raw["start_lat"]),
            float(raw["start_lon"]),
            float(raw["end_lat"]),
            float(raw["end_lon"]),
            float(raw["distance_km"]),
        )


@dataclass(frozen=True)
class HomeLocation:
    """A place roundtrips start from (FleetOptimiser's ``allowed_starts``), with a match radius."""

    id: int
    latitude: float
    longitude: float
    radius_m: float = 250.0


@dataclass
class BuildReport:
    roundtrips: int = 0
    trips_used: int = 0
    trips_not_from_home: int = 0
    chains_dropped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def home_at(lat: float, lon: float, homes: Sequence[HomeLocation]) -> HomeLocation | None:
    """The nearest home within its radius, if any."""
    best, best_d = None, math.inf
    for h in homes:
        d = distance_m(lat, lon, h.latitude, h.longitude)
        if d <= h.radius_m and d < best_d:
            best, best_d = h, d
    return best


def build_roundtrips(
    trips: Iterable[GpsTrip], homes: Sequence[HomeLocation], *, max_hours: float = 24.0, max_gap_hours: float = 12.0
) -> tuple[Roundtrips, BuildReport]:
    """Chain each vehicle's trips from a home location until it is back at that home."""
    report = BuildReport()
    rows: list[tuple[int, int, float, int, str]] = []
    by_vehicle: dict[str, list[GpsTrip]] = {}
    for t in trips:
        by_vehicle.setdefault(t.vehicle_id, []).append(t)

    def drop(reason: str) -> None:
        report.chains_dropped += 1
        report.reasons[reason] = report.reasons.get(reason, 0) + 1

    for vehicle, vtrips in sorted(by_vehicle.items()):
        vtrips.sort(key=lambda t: t.start_time)
        chain: list[GpsTrip] = []
        home: HomeLocation | None = None
        for t in vtrips:
            if not chain:
                home = home_at(t.start_lat, t.start_lon, homes)
                if home is None:
                    report.trips_not_from_home += 1
                    continue
            elif (t.start_time - chain[-1].end_time).total_seconds() > max_gap_hours * 3600:
                drop("standstill away from home too long")
                chain = []
                home = home_at(t.start_lat, t.start_lon, homes)
                if home is None:
                    report.trips_not_from_home += 1
                    continue
            chain.append(t)
            back = home_at(t.end_lat, t.end_lon, homes)
            if back is not None and home is not None and back.id == home.id:
                span = (chain[-1].end_time - chain[0].start_time).total_seconds()
                if span > max_hours * 3600:
                    drop("did not come home in time")
                else:
                    rows.append(
                        (
                            int((chain[0].start_time - _EPOCH).total_seconds()),
                            int((chain[-1].end_time - _EPOCH).total_seconds()),
                            sum(x.distance_km for x in chain),
                            home.id,
                            vehicle,
                        )
                    )
                    report.trips_used += len(chain)
                chain = []
        if chain:
            drop("still away at the end of the log")
    report.roundtrips = len(rows)
    log.info("built %d roundtrips from %d trips", len(rows), report.trips_used)
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Roundtrips(empty, empty, empty, np.zeros(0), empty, np.zeros(0, dtype=object)), report
    start, end, km, loc, veh = zip(*rows, strict=True)
    return Roundtrips(
        np.arange(1, len(rows) + 1),
        np.asarray(start, dtype=np.int64),
        np.asarray(end, dtype=np.int64),
        np.asarray(km, dtype=float),
        np.asarray(loc, dtype=np.int64),
        np.asarray(veh, dtype=object),
    ), report
