"""Independent feasibility checker for plans: trusts only the problem, never the solver.

It re-walks every route from the problem's own definition of travel (:func:`instance.leg`,
unrounded) and checks time windows, skills, shifts, working time, breaks, capacity,
double-visit synchronisation, assignment completeness and the reported lateness and travel.
"""

from __future__ import annotations

from collections import defaultdict

from hub.optimise.routes.instance import leg
from hub.optimise.routes.model import Plan, Problem

TOL = 1.0 / 60 + 1e-6  # one second per leg: the engines round travel to whole seconds


def check_plan(problem: Problem, plan: Plan, soft_windows: bool | None = None) -> list[str]:
    """Return a list of human-readable violations; empty means the plan is feasible.

    Parameters
    ----------
    problem
        The problem the plan claims to solve.
    plan
        The plan to check.
    soft_windows
        Allow starts after ``window_end`` (lateness, which must then be reported correctly).
        ``None`` means: soft exactly when ``problem.weights.lateness`` is set.
    """
    soft = problem.weights.lateness is not None if soft_windows is None else soft_windows
    visits = {v.id: v for v in problem.visits}
    carers = {c.id: c for c in problem.carers}
    errors: list[str] = []
    done: dict[tuple[str, int], tuple[str, float]] = {}
    seen_carers: set[str] = set()
    for route in plan.routes:
        carer = carers.get(route.carer_id)
        if carer is None:
            errors.append(f"route for unknown carer {route.carer_id}")
            continue
        if route.carer_id in seen_carers:
            errors.append(f"carer {route.carer_id} has two routes")
        seen_carers.add(route.carer_id)
        errors += _check_route(problem, route, carer, visits, soft, done)
    for (vid, part), (_cid, _) in done.items():
        v = visits[vid]
        parts = 2 if v.double is not None else 1
        if part >= parts:
            errors.append(f"visit {vid} has no part {part}")
    by_visit: dict[str, dict[int, tuple[str, float]]] = defaultdict(dict)
    for (vid, part), val in done.items():
        by_visit[vid][part] = val
    for vid, v in visits.items():
        parts = by_visit.get(vid, {})
        need = 2 if v.double is not None else 1
        assigned = len(parts) > 0
        if assigned and len(parts) != need:
            errors.append(f"visit {vid}: {len(parts)} of {need} carers planned")
        if assigned == (vid in plan.unassigned):
            errors.append(f"visit {vid}: unassigned list disagrees with the routes")
        if not assigned and v.mandatory:
            errors.append(f"mandatory visit {vid} is not planned")
        if v.double is not None and len(parts) == 2:
            (c0, s0), (c1, s1) = parts[0], parts[1]
            if c0 == c1:
                errors.append(f"double visit {vid}: both parts by carer {c0}")
            gap = s1 - s0
            lo, hi = (0.0, 0.0) if v.double.mode == "simultaneous" else (v.double.min_gap, v.double.max_gap)
            if gap < lo - TOL or gap > hi + TOL:
                errors.append(f"double visit {vid}: second start {gap:.2f} min after first, allowed [{lo}, {hi}]")
    return errors


def _check_route(problem, route, carer, visits, soft, done) -> list[str]:
    errors: list[str] = []
    name = f"carer {carer.id}"
    here = carer.start_location
    t = route.departure
    if t < carer.shift_start - TOL:
        errors.append(f"{name}: departs {t:.2f} before shift start {carer.shift_start}")
    travel = 0.0
    load = 0
    breaks_taken: list[tuple[float, float]] = []
    for pos, stop in enumerate(route.stops):
        if stop.kind == "break":
            if stop.after_travel:
                there = next(
                    (
                        visits[s.visit_id].location
                        for s in route.stops[pos + 1 :]
                        if s.kind == "visit" and s.visit_id in visits
                    ),
                    carer.end_location or carer.start_location,
                )
                minutes, _ = leg(problem, here, there, carer.transport)
                travel += minutes
                t += minutes
                here = there
            if stop.start < t - TOL:
                errors.append(f"{name}: break at {stop.start:.2f} overlaps the previous activity")
            breaks_taken.append((stop.start, stop.end - stop.start))
            t = max(t, stop.end)
            continue
        v = visits.get(stop.visit_id)
        if v is None:
            errors.append(f"{name}: unknown visit {stop.visit_id}")
            continue
        key = (v.id, stop.part)
        if key in done:
            errors.append(f"visit {v.id} part {stop.part} planned twice")
        done[key] = (carer.id, stop.start)
        minutes, _ = leg(problem, here, v.location, carer.transport)
        travel += minutes
        if stop.start < t + minutes - TOL:
            errors.append(f"{name}: visit {v.id} starts {stop.start:.2f}, cannot arrive before {t + minutes:.2f}")
        if stop.start < v.window_start - TOL:
            errors.append(f"{name}: visit {v.id} starts {stop.start:.2f} before its window {v.window_start}")
        late = max(0.0, stop.start - v.window_end)
        if late > TOL and not soft:
            errors.append(f"{name}: visit {v.id} starts {stop.start:.2f} after its window end {v.window_end}")
        if abs(late - stop.lateness) > TOL:
            errors.append(f"{name}: visit {v.id} reports lateness {stop.lateness:.2f}, actual {late:.2f}")
        dur = v.duration
        skill = v.skill
        if stop.part == 1 and v.double is not None:
            dur = v.double.second_duration if v.double.second_duration is not None else v.duration
            skill = v.double.second_skill if v.double.second_skill is not None else v.skill
        if stop.end - stop.start < dur - TOL:
            errors.append(f"{name}: visit {v.id} lasts {stop.end - stop.start:.2f} < {dur}")
        if skill is not None and skill not in carer.skills:
            errors.append(f"{name}: lacks skill {skill} for visit {v.id}")
        load += v.demand if stop.part == 0 else 0
        t = stop.end
        here = v.location
    minutes, _ = leg(problem, here, carer.end_location or carer.start_location, carer.transport)
    travel += minutes
    if route.return_time < t + minutes - TOL:
        errors.append(f"{name}: returns {route.return_time:.2f}, cannot be back before {t + minutes:.2f}")
    if route.return_time > carer.shift_end + TOL:
        errors.append(f"{name}: returns {route.return_time:.2f} after shift end {carer.shift_end}")
    limit = carer.max_work if carer.max_work is not None else carer.shift_end - carer.shift_start
    if route.return_time - route.departure > limit + TOL:
        errors.append(f"{name}: works {route.return_time - route.departure:.2f} min > {limit}")
    if carer.capacity is not None and load > carer.capacity:
        errors.append(f"{name}: load {load} > capacity {carer.capacity}")
    if abs(travel - route.travel_minutes) > TOL * (len(route.stops) + 1):
        errors.append(f"{name}: reports {route.travel_minutes:.2f} travel minutes, actual {travel:.2f}")
    if any(s.kind == "visit" for s in route.stops):
        errors += _check_breaks(name, carer.breaks, breaks_taken)
    return errors


def _check_breaks(name, required, taken) -> list[str]:
    errors = []
    free = list(taken)
    for b in required:
        match = next(
            (x for x in free if b.earliest_start - TOL <= x[0] <= b.latest_start + TOL and x[1] >= b.duration - TOL),
            None,
        )
        if match is None:
            errors.append(f"{name}: no {b.duration}-minute break starting in [{b.earliest_start}, {b.latest_start}]")
        else:
            free.remove(match)
    return errors
