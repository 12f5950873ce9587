"""Synthetic but realistic Danish home-care municipality, for demos, tests and benchmarks.

A town of about 24 × 24 km: a dense centre, suburbs and villages; three district bases; citizens
with one to four visits a day at habitual times (morning care, lunch, afternoon, evening), some
needing a nurse, a few needing two carers for a hoist transfer; day (07-15) and evening (15-23)
shifts with a 30-minute break; cars in the countryside, bikes in the centre; carers work five of
seven days, so the roster changes from day to day.
"""

from __future__ import annotations

import numpy as np

from hub.optimise.routes.model import Break, Carer, DoubleVisit, Location, Problem, Visit, Weights

BASES = [(12.0, 12.0), (5.0, 18.0), (19.0, 6.0)]
SLOTS = [  # (name, habitual start in minutes, shift)
    ("morning", 8 * 60, "day"),
    ("lunch", 12 * 60, "day"),
    ("afternoon", 13 * 60 + 30, "day"),
    ("evening", 18 * 60, "evening"),
    ("night", 21 * 60, "evening"),
]
SHIFTS = {
    "day": (7 * 60.0, 15 * 60.0, (11 * 60.0, 13 * 60.0)),
    "evening": (15 * 60.0, 23 * 60.0, (18 * 60.0, 20 * 60.0)),
}


def _citizens(rng: np.random.Generator, n: int) -> list[dict]:
    out = []
    for k in range(n):
        u = rng.random()
        if u < 0.55:
            xy = rng.normal(12.0, 2.5, 2)
        elif u < 0.85:
            base = BASES[rng.integers(1, 3)]
            xy = rng.normal(base, 2.0, 2)
        else:
            xy = rng.uniform(0.0, 24.0, 2)
        xy = np.clip(xy, 0.0, 24.0)
        n_slots = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
        slots = sorted(rng.choice(len(SLOTS), size=n_slots, replace=False, p=[0.34, 0.2, 0.14, 0.22, 0.1]))
        visits = []
        for s in slots:
            name, t, shift = SLOTS[s]
            nurse = rng.random() < 0.12
            double = (not nurse) and name in ("morning", "evening") and rng.random() < 0.06
            visits.append(
                {
                    "slot": name,
                    "start": float(t + rng.integers(-45, 46)),
                    "width": float(rng.choice([30, 60, 90])),
                    "duration": float(rng.choice([10, 15, 20, 25, 30, 45], p=[0.15, 0.3, 0.2, 0.15, 0.12, 0.08])),
                    "skill": "nurse" if nurse else None,
                    "double": double,
                    "shift": shift,
                    "days": 7 if rng.random() < 0.8 else int(rng.choice([2, 3, 5])),
                }
            )
        out.append({"id": f"c{k:04d}", "x": float(xy[0]), "y": float(xy[1]), "visits": visits})
    return out


def _carers(rng: np.random.Generator, citizens: list[dict], slack: float) -> list[dict]:
    load = {"day": 0.0, "evening": 0.0}
    for c in citizens:
        for v in c["visits"]:
            load[v["shift"]] += (v["duration"] + 12.0) * (2 if v["double"] else 1) * v["days"] / 7
    out = []
    for shift, minutes in load.items():
        count = int(np.ceil(minutes / (440.0 * 0.62) * slack * 7 / 5))
        for k in range(count):
            base = int(rng.integers(0, len(BASES)))
            bx, by = BASES[base]
            out.append(
                {
                    "id": f"{shift[0]}{k:03d}",
                    "shift": shift,
                    "base": (bx, by),
                    "nurse": rng.random() < 0.22,
                    "transport": "bike" if base == 0 and rng.random() < 0.4 else "car",
                    "off": set(rng.choice(7, size=2, replace=False).tolist()),
                }
            )
    return out


def municipality(
    n_citizens: int = 120, days: int = 14, seed: int = 7, slack: float = 1.4, continuity_weight: float = 15.0
) -> list[Problem]:
    """One :class:`Problem` per day for the same citizens and staff.

    Parameters
    ----------
    n_citizens
        Citizens receiving care (about 2.1 visits each a day).
    days
        Horizon in days.
    seed
        Random seed; the same seed gives the same municipality.
    slack
        Staffing relative to the estimated workload (1.0 = just enough on paper).
    continuity_weight
        :attr:`Weights.continuity` of every day's problem.
    """
    rng = np.random.default_rng(seed)
    citizens = _citizens(rng, n_citizens)
    carers = _carers(rng, citizens, slack)
    problems = []
    for day in range(days):
        visits = []
        for c in citizens:
            for k, v in enumerate(c["visits"]):
                if v["days"] < 7 and (day * 7 + k) % 7 >= v["days"]:
                    continue
                jitter = float(rng.integers(-10, 11))
                start = v["start"] + jitter
                visits.append(
                    Visit(
                        id=f"{c['id']}-{v['slot']}-d{day}",
                        citizen_id=c["id"],
                        location=Location(x=c["x"], y=c["y"]),
                        window_start=start - v["width"] / 2,
                        window_end=start + v["width"] / 2,
                        duration=v["duration"],
                        skill=v["skill"],
                        priority=2 if v["skill"] else 1,
                        double=DoubleVisit(mode="simultaneous") if v["double"] else None,
                    )
                )
        staff = []
        for cr in carers:
            if day % 7 in cr["off"]:
                continue
            s0, s1, (b0, b1) = SHIFTS[cr["shift"]]
            staff.append(
                Carer(
                    id=cr["id"],
                    shift_start=s0,
                    shift_end=s1,
                    start_location=Location(x=cr["base"][0], y=cr["base"][1]),
                    skills=["nurse"] if cr["nurse"] else [],
                    breaks=[Break(earliest_start=b0, latest_start=b1, duration=30.0)],
                    transport=cr["transport"],
                )
            )
        problems.append(
            Problem(
                day=f"day-{day + 1:02d}", visits=visits, carers=staff, weights=Weights(continuity=continuity_weight)
            )
        )
    return problems


def tiny_problem(seed: int = 0, visits: int = 12, carers: int = 4, doubles: bool = True) -> Problem:
    """A small random day (a few km, one morning) with skills, breaks and double visits, for tests.

    Parameters
    ----------
    seed
        Random seed.
    visits, carers
        Sizes.
    doubles
        Include one simultaneous and one sequential double visit.
    """
    rng = np.random.default_rng(seed)
    out = []
    for k in range(visits):
        start = float(rng.integers(7 * 60, 12 * 60))
        double = None
        if doubles and k == 0:
            double = DoubleVisit(mode="simultaneous")
        elif doubles and k == 1:
            double = DoubleVisit(mode="sequential", min_gap=20.0, max_gap=40.0)
        out.append(
            Visit(
                id=f"v{k}",
                citizen_id=f"c{k % max(1, visits - 2)}",
                location=Location(x=float(rng.uniform(0, 6)), y=float(rng.uniform(0, 6))),
                window_start=start,
                window_end=start + float(rng.choice([30, 60, 120])),
                duration=float(rng.choice([10, 15, 20, 30])),
                skill="nurse" if k % 5 == 4 else None,
                double=double,
            )
        )
    staff = [
        Carer(
            id=f"k{j}",
            shift_start=7 * 60.0,
            shift_end=15 * 60.0,
            start_location=Location(x=3.0, y=3.0),
            skills=["nurse"] if j % 2 == 0 else [],
            breaks=[Break(earliest_start=11 * 60.0, latest_start=12 * 60.0, duration=30.0)],
            transport="car" if j % 3 else "bike",
        )
        for j in range(carers)
    ]
    return Problem(day="tiny", visits=out, carers=staff)
