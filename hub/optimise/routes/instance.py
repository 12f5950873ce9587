"""Compile a :class:`~hub.optimise.routes.model.Problem` into arrays the engines share.

A *task* is one carer's part of a visit: an ordinary visit is one task, a double visit two
(part 0 and part 1). Travel is held per place and transport mode in minutes rounded to whole
seconds, so every engine and the scheduler see the same integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hub.optimise.routes.model import Carer, Location, Problem, Visit

EARTH_RADIUS_KM = 6371.0088


def straight_km(problem: Problem, a: Location, b: Location) -> float:
    """Straight-line distance in km between two locations of ``problem``."""
    if problem.coordinates == "wgs84":
        lon1, lat1, lon2, lat2 = map(math.radians, (a.x, a.y, b.x, b.y))
        h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))
    return math.hypot(a.x - b.x, a.y - b.y)


def leg(problem: Problem, a: Location, b: Location, mode: str) -> tuple[float, float]:
    """Travel minutes and km from ``a`` to ``b`` by ``mode``, unrounded.

    This is the problem's definition of travel; the checker uses it directly.
    """
    if problem.travel_minutes is not None:
        i, j = a.matrix_index, b.matrix_index
        minutes = float(problem.travel_minutes[i][j])
        if problem.distance_km is not None:
            return minutes, float(problem.distance_km[i][j])
        return minutes, minutes * problem.travel.speed_kmh.get("car", 35.0) / 60.0
    km = straight_km(problem, a, b) * problem.travel.road_factor
    return km / problem.travel.speed_kmh[mode] * 60.0, km


@dataclass
class Task:
    """One carer's share of a visit, with its (possibly pinned) start window in minutes."""

    visit: int
    part: int
    place: int
    early: float
    late: float
    duration: float
    skill: str | None
    demand: int
    pinned: bool = False


@dataclass
class Compiled:
    """Arrays shared by the engines, the scheduler and re-planning."""

    problem: Problem
    places: list[Location]
    minutes: dict[str, np.ndarray]
    km: np.ndarray
    carer_start: list[int]
    carer_end: list[int]
    tasks: list[Task]
    visit_tasks: list[list[int]]
    carer_index: dict[str, int] = field(default_factory=dict)
    visit_index: dict[str, int] = field(default_factory=dict)

    @property
    def visits(self) -> list[Visit]:
        return self.problem.visits

    @property
    def carers(self) -> list[Carer]:
        return self.problem.carers

    def travel(self, carer: int, a: int, b: int) -> float:
        """Minutes from place ``a`` to place ``b`` for carer index ``carer``."""
        return float(self.minutes[self.carers[carer].transport][a, b])

    def can_do(self, carer: int, task: int) -> bool:
        """Whether the carer has the task's skill."""
        skill = self.tasks[task].skill
        return skill is None or skill in self.carers[carer].skills

    def max_work(self, carer: int) -> float:
        c = self.carers[carer]
        return c.max_work if c.max_work is not None else c.shift_end - c.shift_start


def pinned_start(visit: Visit, reachable: float) -> float:
    """Start a double visit is pinned to (PyVRP engine): the earliest start in its window at or
    after ``reachable``, the minute a second capable carer can first be there."""
    return min(visit.window_end, max(visit.window_start, reachable))


def _place_key(problem: Problem, loc: Location) -> tuple:
    if problem.travel_minutes is not None:
        return ("m", loc.matrix_index)
    return ("xy", loc.x, loc.y)


def compile_problem(problem: Problem, pin_doubles: bool = False) -> Compiled:
    """Build places, travel matrices and tasks.

    Parameters
    ----------
    problem
        The day to plan.
    pin_doubles
        Pin double visits to :func:`pinned_start` (part 0 window ``[t, t]``, part 1 ``[t, t]`` or
        ``[t + min_gap, t + max_gap]`` within the visit window), so that any schedule meeting the
        windows is synchronised. Unpinned, both parts get the visit window and the engine
        synchronises them.
    """
    keys: dict[tuple, int] = {}
    places: list[Location] = []

    def place_of(loc: Location) -> int:
        key = _place_key(problem, loc)
        if key not in keys:
            keys[key] = len(places)
            places.append(loc)
        return keys[key]

    carer_start = [place_of(c.start_location) for c in problem.carers]
    carer_end = [place_of(c.end_location or c.start_location) for c in problem.carers]
    tasks: list[Task] = []
    visit_tasks: list[list[int]] = []
    for vi, v in enumerate(problem.visits):
        place = place_of(v.location)
        ids = [len(tasks)]
        early, late = v.window_start, v.window_end
        tasks.append(Task(vi, 0, place, early, late, v.duration, v.skill, v.demand))
        if v.double is not None:
            d = v.double
            e2, l2 = early, late
            skill = d.second_skill if d.second_skill is not None else v.skill
            dur = d.second_duration if d.second_duration is not None else v.duration
            ids.append(len(tasks))
            tasks.append(Task(vi, 1, place, e2, l2, dur, skill, 0))
        visit_tasks.append(ids)

    n = len(places)
    km = np.zeros((n, n))
    modes = sorted({c.transport for c in problem.carers} | {"car"})
    minutes = {m: np.zeros((n, n)) for m in modes}
    if problem.travel_minutes is not None:
        idx = np.array([p.matrix_index for p in places])
        full = np.asarray(problem.travel_minutes, dtype=float)[np.ix_(idx, idx)]
        for m in modes:
            minutes[m] = full
        if problem.distance_km is not None:
            km = np.asarray(problem.distance_km, dtype=float)[np.ix_(idx, idx)]
        else:
            km = full * problem.travel.speed_kmh.get("car", 35.0) / 60.0
    else:
        xy = np.array([[p.x, p.y] for p in places], dtype=float).reshape(n, 2)
        if problem.coordinates == "wgs84":
            lon, lat = np.radians(xy[:, 0]), np.radians(xy[:, 1])
            h = (
                np.sin((lat[None, :] - lat[:, None]) / 2) ** 2
                + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin((lon[None, :] - lon[:, None]) / 2) ** 2
            )
            straight = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, h)))
        else:
            straight = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        km = straight * problem.travel.road_factor
        for m in modes:
            minutes[m] = km / problem.travel.speed_kmh[m] * 60.0
    for m in modes:
        minutes[m] = np.round(minutes[m] * 60.0) / 60.0
    ctx = Compiled(
        problem=problem,
        places=places,
        minutes=minutes,
        km=km,
        carer_start=carer_start,
        carer_end=carer_end,
        tasks=tasks,
        visit_tasks=visit_tasks,
        carer_index={c.id: i for i, c in enumerate(problem.carers)},
        visit_index={v.id: i for i, v in enumerate(problem.visits)},
    )
    if pin_doubles:
        _pin_doubles(ctx)
    return ctx


def _pin_doubles(ctx: Compiled) -> None:
    """Fix each double visit's start to the earliest time two capable carers can both be there."""
    for vi, ids in enumerate(ctx.visit_tasks):
        if len(ids) < 2:
            continue
        v = ctx.visits[vi]
        reach = sorted(
            c.shift_start + ctx.travel(k, ctx.carer_start[k], ctx.tasks[ids[0]].place)
            for k, c in enumerate(ctx.carers)
            if any(ctx.can_do(k, t) for t in ids)
        )
        t = pinned_start(v, reach[1] if len(reach) > 1 else v.window_start)
        first, second = ctx.tasks[ids[0]], ctx.tasks[ids[1]]
        first.pinned = second.pinned = True
        first.early = first.late = t
        if v.double.mode == "simultaneous":
            second.early = second.late = t
        else:
            second.early = max(v.window_start, t + v.double.min_gap)
            second.late = max(second.early, min(v.window_end, t + v.double.max_gap))
