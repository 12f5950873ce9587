"""Seeded synthetic municipalities: departments at home locations, shift patterns, realistic trips.

Trip distances are lognormal with a median of about 7 km, roundtrip durations have a median of
about 50 minutes (driving plus the visit), home care drives day, evening and night shifts all week
with a few long night trips, technical and administrative staff drive on weekdays. Each vehicle
has its own utilisation, so some are barely used, as in real fleets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from hub.optimise.fleet.model import Dataset, Location, Roundtrips, Settings, Vehicle, VehicleKind

_EPOCH = datetime(1970, 1, 1)

#: (make, model, wltp Wh/km or km/l, DKK per year, range km)
EV_MODELS = [
    ("Renault", "Zoe", 175.0, 56000.0, 300.0),
    ("VW", "ID.3", 160.0, 61000.0, 350.0),
    ("Hyundai", "Kona", 155.0, 59000.0, 380.0),
    ("VW", "e-Up", 145.0, 52000.0, 220.0),
]
FOSSIL_MODELS = [
    ("Toyota", "Yaris", 21.0, 44000.0),
    ("Skoda", "Octavia", 18.5, 49000.0),
    ("Citroen", "Berlingo", 16.0, 51000.0),
]


@dataclass(frozen=True)
class Department:
    """Who drives from a location: shifts (start hour, length h), active weekdays, trip habits."""

    name: str
    shifts: tuple[tuple[float, float], ...]
    weekdays: tuple[int, ...]
    trips_per_shift: float
    visit_min: float
    km_median: float


HOME_CARE = Department("Hjemmepleje", ((7.0, 8.0), (15.0, 8.0), (23.0, 8.0)), tuple(range(7)), 4.5, 38.0, 6.0)
TECHNICAL = Department("Teknik og Miljø", ((7.0, 8.5),), (0, 1, 2, 3, 4), 3.0, 50.0, 9.0)
ADMIN = Department("Administration", ((8.0, 8.0),), (0, 1, 2, 3, 4), 1.5, 60.0, 12.0)


@dataclass(frozen=True)
class MunicipalitySpec:
    """What to generate. ``utilisation`` scales how busy vehicles are (1: as busy as typical)."""

    name: str = "synthetic"
    vehicles: int = 300
    days: int = 182
    locations: int = 30
    fossil_share: float = 0.45
    utilisation: float = 1.0
    idle_share: float = 0.08
    seed: int = 1
    start: date = date(2025, 1, 6)


HOLBAEK_LIKE = MunicipalitySpec(
    name="holbaek-like",
    vehicles=300,
    days=182,
    locations=28,
    fossil_share=0.22,
    utilisation=0.9,
    idle_share=0.05,
    seed=2,
)
AARHUS_LIKE = MunicipalitySpec(
    name="aarhus-like", vehicles=120, days=91, locations=12, fossil_share=0.35, utilisation=0.8, idle_share=0.1, seed=3
)


def candidate_types() -> list[Vehicle]:
    """Types a municipality may buy: a bike, an e-bike and a small EV."""
    return [
        Vehicle(
            id="cand-bike",
            make="Principia",
            model="Citybike",
            type=VehicleKind.BIKE,
            fuel=10,
            omkostning_aar=2000.0,
            test_vehicle=True,
        ),
        Vehicle(
            id="cand-ebike",
            make="Kildemoes",
            model="E-bike",
            type=VehicleKind.EBIKE,
            fuel=3,
            wltp_el=10.0,
            omkostning_aar=5000.0,
            test_vehicle=True,
        ),
        Vehicle(
            id="cand-ev",
            make="VW",
            model="e-Up",
            type=VehicleKind.EV,
            fuel=3,
            wltp_el=145.0,
            **{"range": 220.0},
            omkostning_aar=52000.0,
            test_vehicle=True,
        ),
    ]


def _trips_in_shift(
    rng: np.random.Generator, day0: float, dept: Department, shift: tuple[float, float], busy: float
) -> list[tuple[float, float, float]]:
    start_h, length_h = shift
    night = start_h >= 22 or start_h < 5
    n = rng.poisson(dept.trips_per_shift * busy * (0.45 if night else 1.0))
    t = day0 + (start_h + rng.uniform(0, 0.75)) * 3600
    end_of_shift = day0 + (start_h + length_h) * 3600
    out = []
    for _ in range(n):
        long_trip = night and rng.random() < 0.35
        km = float(np.clip(rng.lognormal(np.log(25.0 if long_trip else dept.km_median), 0.8), 0.5, 120.0))
        drive_s = km / rng.uniform(28, 45) * 3600
        visit_s = rng.gamma(2.0, dept.visit_min / 2.0) * 60
        dur = drive_s + visit_s
        if t + dur > end_of_shift + 1800:
            break
        out.append((t, t + dur, km))
        t += dur + rng.exponential(25 * 60)
    return out


def generate(spec: MunicipalitySpec = MunicipalitySpec()) -> Dataset:
    """A seeded synthetic municipality in FleetOptimiser's shape, with candidate types."""
    rng = np.random.default_rng(spec.seed)
    depts = [HOME_CARE, TECHNICAL, ADMIN]
    loc_dept = [depts[i] for i in rng.choice(3, size=spec.locations, p=[0.55, 0.3, 0.15])]
    per_loc = np.bincount(rng.integers(0, spec.locations, spec.vehicles - spec.locations), minlength=spec.locations) + 1
    vehicles: list[Vehicle] = []
    rows: list[tuple[float, float, float, int, str]] = []
    day_zero = (datetime.combine(spec.start, datetime.min.time()) - _EPOCH).total_seconds()
    vid = 0
    for loc in range(spec.locations):
        dept = loc_dept[loc]
        for _ in range(per_loc[loc]):
            vid += 1
            fossil = rng.random() < spec.fossil_share
            end_leasing = spec.start + timedelta(days=int(rng.integers(90, 1500)))
            if fossil:
                make, model, kml, cost = FOSSIL_MODELS[rng.integers(len(FOSSIL_MODELS))]
                v = Vehicle(
                    id=str(vid),
                    plate=f"SY{vid:05d}",
                    make=make,
                    model=model,
                    type=VehicleKind.FOSSIL,
                    fuel=1 if model != "Berlingo" else 2,
                    wltp_fossil=kml,
                    omkostning_aar=cost,
                    km_aar=20000.0,
                    location=loc + 1,
                    department=dept.name,
                    end_leasing=end_leasing,
                )
            else:
                make, model, wh, cost, rng_km = EV_MODELS[rng.integers(len(EV_MODELS))]
                v = Vehicle(
                    id=str(vid),
                    plate=f"SY{vid:05d}",
                    make=make,
                    model=model,
                    type=VehicleKind.EV,
                    fuel=3,
                    wltp_el=wh,
                    omkostning_aar=cost,
                    km_aar=20000.0,
                    location=loc + 1,
                    department=dept.name,
                    end_leasing=end_leasing,
                    **{"range": rng_km},
                )
            vehicles.append(v)
            busy = 0.0 if rng.random() < spec.idle_share else spec.utilisation * rng.uniform(0.35, 1.25)
            shift = dept.shifts[rng.integers(len(dept.shifts))]
            for d in range(spec.days):
                day = spec.start + timedelta(days=d)
                if day.weekday() not in dept.weekdays or busy == 0.0:
                    continue
                for s, e, km in _trips_in_shift(rng, day_zero + d * 86400, dept, shift, busy):
                    rows.append((s, e, km, loc + 1, v.id))
    rows.sort()
    start, end, km, loc_ids, veh = (list(x) for x in zip(*rows, strict=True))
    trips = Roundtrips(
        np.arange(1, len(rows) + 1),
        np.asarray(start, dtype=np.int64),
        np.asarray(end, dtype=np.int64),
        np.round(np.asarray(km), 3),
        np.asarray(loc_ids, dtype=np.int64),
        np.asarray(veh, dtype=object),
    )
    settings = Settings()
    locations = [Location(id=i + 1, address=f"{loc_dept[i].name} {i + 1}") for i in range(spec.locations)]
    return Dataset(
        vehicles=[*vehicles, *candidate_types()],
        roundtrips=trips,
        settings=settings,
        locations=locations,
        name=spec.name,
    )
