"""PyVRP engine: hard time windows, skills, shifts, modes and continuity as PyVRP profiles.

Mapping (PyVRP 0.14):

* every carer is a vehicle (identical carers share a vehicle type), shift = vehicle time window,
  maximum working time minus breaks = ``shift_duration``;
* a skill a carer lacks, and a visit outside the carer's reach, become prohibitive arcs in the
  profile of that carer group (a profile per transport mode and skill set, or per carer when
  continuity penalties are on and fit in memory);
* the continuity penalty is added to the cost of every arc entering a visit whose citizen does
  not prefer the profile's carer;
* optional visits carry a prize (the unassigned penalty); mandatory visits are required;
* double visits are two clients pinned to the same start (or the sequential gap), so any
  window-feasible solution is synchronised; breaks are placed afterwards by the scheduler.

Costs are integers: 60 × the objective in cost units (so one cost unit per minute of travel is one
per second).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

from hub.optimise.routes.instance import Compiled

log = logging.getLogger(__name__)

SCALE = 60
FORBIDDEN = 10**8
PROFILE_MEMORY_BYTES = 1.2e9

ProgressFn = Callable[[float, str], None]


class _Stop:
    """MaxRuntime that also reports progress at most twice a second."""

    def __init__(self, budget_s: float, progress: ProgressFn | None, scale: float, offset: float) -> None:
        self.inner = MaxRuntime(budget_s)
        self.budget = budget_s
        self.progress = progress
        self.scale = scale
        self.offset = offset
        self.t0 = time.perf_counter()
        self.last = 0.0

    def __call__(self, best_cost: float) -> bool:
        now = time.perf_counter() - self.t0
        if self.progress is not None and now - self.last > 0.5:
            self.last = now
            frac = min(1.0, now / self.budget) if self.budget > 0 else 1.0
            self.progress(self.offset + self.scale * frac, f"searching, best cost {best_cost / SCALE:.1f}")
        return self.inner(best_cost)


def _location_keys(ctx: Compiled, continuity: bool) -> tuple[list[int], list[int]]:
    """Deduplicate PyVRP locations: (place, skill, preferred carers) per task; depots first."""
    keys: dict[tuple, int] = {}
    loc_place: list[int] = []

    def loc(key: tuple, place: int) -> int:
        if key not in keys:
            keys[key] = len(loc_place)
            loc_place.append(place)
        return keys[key]

    for p in sorted(set(ctx.carer_start) | set(ctx.carer_end)):
        loc(("depot", p), p)
    task_loc = []
    for t in ctx.tasks:
        pref = tuple(sorted(ctx.visits[t.visit].preferred_carers)) if continuity else ()
        task_loc.append(loc(("task", t.place, t.skill, pref), t.place))
    return task_loc, loc_place


def build_data(ctx: Compiled) -> tuple[pyvrp.ProblemData, list[list[int]], list[int]]:
    """PyVRP data, carers per vehicle type, and PyVRP client index -> task index."""
    w = ctx.problem.weights
    has_pref = any(v.preferred_carers for v in ctx.visits) and w.continuity > 0
    n_guess = len({(t.place, t.skill) for t in ctx.tasks}) + len(ctx.carers)
    continuity = has_pref and len(ctx.carers) * n_guess**2 * 16 <= PROFILE_MEMORY_BYTES
    if has_pref and not continuity:
        log.warning("continuity profiles would not fit in memory; planning without continuity penalty")
    task_loc, loc_place = _location_keys(ctx, continuity)
    depot_locs = {p: i for i, p in enumerate(sorted(set(ctx.carer_start) | set(ctx.carer_end)))}
    n_loc = len(loc_place)
    lp = np.array(loc_place)
    loc_skill: list[str | None] = [None] * n_loc
    loc_pref: list[tuple] = [()] * n_loc
    for ti, t in enumerate(ctx.tasks):
        loc_skill[task_loc[ti]] = t.skill
        if continuity:
            loc_pref[task_loc[ti]] = tuple(ctx.visits[t.visit].preferred_carers)

    def profile_key(ci: int) -> tuple:
        c = ctx.carers[ci]
        return (c.transport, tuple(sorted(c.skills)), c.id if continuity else "")

    profiles: dict[tuple, int] = {}
    dist_mats: list[np.ndarray] = []
    dur_mats: list[np.ndarray] = []
    for ci in range(len(ctx.carers)):
        key = profile_key(ci)
        if key in profiles:
            continue
        profiles[key] = len(dist_mats)
        c = ctx.carers[ci]
        minutes = ctx.minutes[c.transport][np.ix_(lp, lp)]
        km = ctx.km[np.ix_(lp, lp)]
        dur = np.round(minutes * SCALE).astype(np.int64)
        dist = np.round(SCALE * (w.travel * minutes + w.distance * km)).astype(np.int64)
        skills = set(c.skills)
        banned = np.array([s is not None and s not in skills for s in loc_skill])
        if continuity:
            penal = np.array([bool(p) and c.id not in p for p in loc_pref])
            dist[:, penal] += round(SCALE * w.continuity)
        dur[:, banned] = FORBIDDEN
        dist[:, banned] = FORBIDDEN
        np.fill_diagonal(dur, 0)
        np.fill_diagonal(dist, 0)
        dist_mats.append(dist)
        dur_mats.append(dur)

    locations = [pyvrp.Location(x=float(ctx.places[p].x), y=float(ctx.places[p].y)) for p in loc_place]
    depots = [pyvrp.Depot(location=i) for i in range(len(depot_locs))]
    has_cap = any(c.capacity is not None for c in ctx.carers) or any(t.demand for t in ctx.tasks)
    clients = []
    client_task = []
    for ti, t in enumerate(ctx.tasks):
        v = ctx.visits[t.visit]
        clients.append(
            pyvrp.Client(
                location=task_loc[ti],
                delivery=[t.demand] if has_cap else [],
                service_duration=round(t.duration * SCALE),
                tw_early=round(t.early * SCALE),
                tw_late=round(t.late * SCALE),
                prize=round(SCALE * w.unassigned * v.priority),
                required=v.mandatory,
                name=f"{v.id}#{t.part}",
            )
        )
        client_task.append(ti)

    groups: dict[tuple, list[int]] = {}
    for ci, c in enumerate(ctx.carers):
        break_min = sum(b.duration for b in c.breaks)
        key = (
            depot_locs[ctx.carer_start[ci]],
            depot_locs[ctx.carer_end[ci]],
            c.shift_start,
            c.shift_end,
            ctx.max_work(ci) - break_min,
            profiles[profile_key(ci)],
            c.capacity,
        )
        groups.setdefault(key, []).append(ci)
    vehicle_types = []
    type_carers = []
    for (start, end, s0, s1, work, prof, cap), members in groups.items():
        capacity = [cap if cap is not None else 10**9] if has_cap else []
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=capacity,
                start_depot=start,
                end_depot=end,
                tw_early=round(s0 * SCALE),
                tw_late=round(s1 * SCALE),
                shift_duration=max(0, round(work * SCALE)),
                profile=prof,
            )
        )
        type_carers.append(members)
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=dist_mats,
        duration_matrices=dur_mats,
    )
    return data, type_carers, client_task


def solve_pyvrp(
    ctx: Compiled,
    budget_s: float,
    seed: int,
    progress: ProgressFn | None = None,
    initial: list[list[int]] | None = None,
) -> list[list[int]]:
    """Solve with PyVRP and return task routes indexed by carer (no breaks yet)."""
    data, type_carers, client_task = build_data(ctx)
    init = None
    if initial is not None:
        init = _initial_solution(data, type_carers, initial)
    stop = _Stop(budget_s, progress, 0.9, 0.05)
    result = pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False, initial_solution=init)
    best = result.best
    log.info(
        "pyvrp: cost %.1f feasible %s iterations %d", best.distance_cost(), best.is_feasible(), result.num_iterations
    )
    routes: list[list[int]] = [[] for _ in ctx.carers]
    free = [list(m) for m in type_carers]
    for route in best.routes():
        carer = free[route.vehicle_type()].pop(0)
        routes[carer] = [client_task[a.idx] for a in route if a.is_client()]
    return routes


def _initial_solution(data, type_carers, initial):
    carer_type = {c: t for t, members in enumerate(type_carers) for c in members}
    routes = []
    for carer, tasks in enumerate(initial):
        visits = [t for t in tasks if t >= 0]
        if visits:
            routes.append(pyvrp.Route(data, visits, carer_type[carer]))
    try:
        return pyvrp.Solution(data, routes)
    except (RuntimeError, ValueError) as exc:
        log.warning("initial solution rejected by PyVRP: %s", exc)
        return None
