"""Small seeded fleet instances shared by the fleet tests."""

from __future__ import annotations

import numpy as np

from hub.optimise.fleet.model import Roundtrips, Settings, Vehicle, VehicleKind

DAY0 = 20_000 * 86400  # a Monday in 2024, midnight


def ev(vid: str, loc: int = 1, range_km: float = 250.0, **kw) -> Vehicle:
    return Vehicle(id=vid, type=VehicleKind.EV, fuel=3, wltp_el=180.0, omkostning_aar=60000.0, location=loc,
                   **{"range": range_km}, **kw)


def fossil(vid: str, loc: int = 1, **kw) -> Vehicle:
    return Vehicle(id=vid, type=VehicleKind.FOSSIL, fuel=1, wltp_fossil=20.0, omkostning_aar=45000.0, location=loc,
                   **kw)


def bike(vid: str, loc: int = 1) -> Vehicle:
    return Vehicle(id=vid, type=VehicleKind.BIKE, fuel=10, omkostning_aar=2000.0, location=loc)


def trips_from(rows: list[tuple[float, float, float, int]], vehicle: str | list[str] = "x") -> Roundtrips:
    """Rows of (start hour, end hour, km, location) counted from DAY0; ``vehicle`` drove them today."""
    drivers = vehicle if isinstance(vehicle, list) else [vehicle] * len(rows)
    start = np.array([DAY0 + int(s * 3600) for s, _, _, _ in rows], dtype=np.int64)
    end = np.array([DAY0 + int(e * 3600) for _, e, _, _ in rows], dtype=np.int64)
    return Roundtrips(np.arange(1, len(rows) + 1), start, end, np.array([r[2] for r in rows], dtype=float),
                      np.array([r[3] for r in rows], dtype=np.int64), np.array(drivers, dtype=object))


def random_trips(seed: int, n: int, locations: int = 1, days: int = 1) -> Roundtrips:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        s = rng.uniform(6, 20) + 24 * rng.integers(days)
        dur = rng.uniform(0.3, 3.0)
        rows.append((s, s + dur, float(np.round(rng.lognormal(2.0, 0.8), 2)), int(rng.integers(1, locations + 1))))
    return trips_from(rows)


def settings(**kw) -> Settings:
    return Settings(**kw)
