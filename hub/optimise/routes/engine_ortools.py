"""OR-Tools engine: soft windows (lateness), breaks and native double-visit synchronisation.

Nodes are tasks plus one node per carer start/end place. Time is in whole seconds; costs are
60 × the objective in cost units (one unit per second of travel at the default weight).
Search: parallel cheapest insertion, then guided local search until the budget is spent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from hub.optimise.routes.instance import Compiled
from hub.optimise.routes.model import Plan
from hub.optimise.routes.schedule import break_marker, break_of, build_plan, decode_break, next_place

log = logging.getLogger(__name__)

SCALE = 60
MANDATORY_FACTOR = 1000
MAX_PENALTY = 10**11
ProgressFn = Callable[[float, str], None]


def solve_ortools(ctx: Compiled, budget_s: float, seed: int, progress: ProgressFn | None, t0: float) -> Plan:
    """Plan with OR-Tools routing; returns a :class:`Plan` timed by the solver's start times."""
    w = ctx.problem.weights
    soft = w.lateness is not None
    n_tasks = len(ctx.tasks)
    depot_places = sorted(set(ctx.carer_start) | set(ctx.carer_end))
    depot_node = {p: n_tasks + i for i, p in enumerate(depot_places)}
    node_place = np.array([t.place for t in ctx.tasks] + depot_places, dtype=int)
    service = [round(t.duration * SCALE) for t in ctx.tasks] + [0] * len(depot_places)
    n_veh = len(ctx.carers)
    starts = [depot_node[p] for p in ctx.carer_start]
    ends = [depot_node[p] for p in ctx.carer_end]
    manager = pywrapcp.RoutingIndexManager(len(node_place), n_veh, starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    time_cb: dict[str, int] = {}
    for mode, mat in ctx.minutes.items():
        secs = np.round(mat[np.ix_(node_place, node_place)] * SCALE).astype(np.int64)
        secs += np.array(service, dtype=np.int64)[:, None]
        time_cb[mode] = routing.RegisterTransitMatrix(secs.tolist())  # C++-side: no Python per arc
    pref_on = w.continuity > 0 and any(v.preferred_carers for v in ctx.visits)
    cost_cb: dict[tuple, int] = {}
    for v_idx, carer in enumerate(ctx.carers):
        key = (carer.transport, carer.id if pref_on else "")
        if key not in cost_cb:
            mat = ctx.minutes[carer.transport][np.ix_(node_place, node_place)]
            km = ctx.km[np.ix_(node_place, node_place)]
            cost = np.round(SCALE * (w.travel * mat + w.distance * km)).astype(np.int64)
            if pref_on:
                for ti, t in enumerate(ctx.tasks):
                    pref = ctx.visits[t.visit].preferred_carers
                    if pref and carer.id not in pref:
                        cost[:, ti] += round(SCALE * w.continuity)
            cost_cb[key] = routing.RegisterTransitMatrix(cost.tolist())
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], v_idx)

    horizon = round(SCALE * max([c.shift_end for c in ctx.carers] + [t.late for t in ctx.tasks])) + 10**6
    routing.AddDimensionWithVehicleTransits([time_cb[c.transport] for c in ctx.carers], horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    late_coef = max(1, round(w.lateness)) if soft else 0
    for ti, t in enumerate(ctx.tasks):
        idx = manager.NodeToIndex(ti)
        early = round(t.early * SCALE)
        late = round(t.late * SCALE)
        if soft:
            tdim.CumulVar(idx).SetRange(early, horizon)
            tdim.SetCumulVarSoftUpperBound(idx, late, late_coef)
        else:
            tdim.CumulVar(idx).SetRange(early, late)
        allowed = [v for v in range(n_veh) if ctx.can_do(v, ti)]
        if len(allowed) < n_veh:
            routing.VehicleVar(idx).RemoveValues([v for v in range(n_veh) if v not in set(allowed)])
    for vi, tasks in enumerate(ctx.visit_tasks):
        v = ctx.visits[vi]
        # mandatory visits also get a (huge) drop penalty: with synchronisation the first-solution
        # heuristics often find nothing otherwise; the checker flags a dropped mandatory visit.
        # The parts of a double visit share one disjunction, so each part placed lowers the
        # penalty and local search can insert a pair one part at a time.
        penalty = SCALE * w.unassigned * v.priority * (MANDATORY_FACTOR if v.mandatory else 1)
        penalty = min(MAX_PENALTY, round(penalty / len(tasks)))
        routing.AddDisjunction([manager.NodeToIndex(t) for t in tasks], penalty, len(tasks))
    # indexed by routing index, not node: start/end depots get extra indices
    visit_transit = [service[manager.IndexToNode(i)] for i in range(manager.GetNumberOfIndices())]
    for v_idx, c in enumerate(ctx.carers):
        tdim.CumulVar(routing.Start(v_idx)).SetRange(round(c.shift_start * SCALE), round(c.shift_end * SCALE))
        tdim.CumulVar(routing.End(v_idx)).SetRange(round(c.shift_start * SCALE), round(c.shift_end * SCALE))
        tdim.SetSpanUpperBoundForVehicle(round(ctx.max_work(v_idx) * SCALE), v_idx)
        if c.breaks:
            intervals = [
                solver.FixedDurationIntervalVar(
                    round(b.earliest_start * SCALE),
                    round(b.latest_start * SCALE),
                    round(b.duration * SCALE),
                    False,
                    f"break {c.id} {k}",
                )
                for k, b in enumerate(c.breaks)
            ]
            tdim.SetBreakIntervalsOfVehicle(intervals, v_idx, visit_transit)
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.Start(v_idx)))
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.End(v_idx)))
    if any(c.capacity is not None for c in ctx.carers):
        demand = [t.demand for t in ctx.tasks] + [0] * len(depot_places)
        dem_cb = routing.RegisterUnaryTransitVector(demand)
        caps = [c.capacity if c.capacity is not None else 10**9 for c in ctx.carers]
        routing.AddDimensionWithVehicleCapacity(dem_cb, 0, caps, True, "load")
    _synchronise(ctx, routing, manager, tdim, solver)
    for ti in range(n_tasks):
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(manager.NodeToIndex(ti)))

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    remaining = max(0.5, budget_s - (time.perf_counter() - t0))
    params.time_limit.FromMilliseconds(int(remaining * 1000))
    if progress is not None:
        started = time.perf_counter()

        def report() -> None:
            frac = min(0.95, 0.05 + 0.9 * (time.perf_counter() - started) / remaining)
            progress(frac, f"searching, cost {routing.CostVar().Max() / SCALE:.1f}")

        routing.AddAtSolutionCallback(report)
    initial = _initial_routes(ctx, routing, manager, params)
    sol = routing.SolveFromAssignmentWithParameters(initial, params) if initial is not None else None
    if sol is None:
        sol = routing.SolveWithParameters(params)
    routes: list[list[int]] = [[] for _ in ctx.carers]
    task_start: dict[int, float] = {}
    if sol is None:
        log.warning("OR-Tools found no solution; every visit unassigned")
        return build_plan(ctx, routes, "ortools", time.perf_counter() - t0, soft)
    for v_idx in range(n_veh):
        idx = routing.Start(v_idx)
        items: list[int] = []
        idx = sol.Value(routing.NextVar(idx))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            items.append(node)
            task_start[node] = sol.Value(tdim.CumulVar(idx)) / SCALE
            idx = sol.Value(routing.NextVar(idx))
        routes[v_idx] = items
    _drop_half_pairs(ctx, routes)
    for v_idx, items in enumerate(routes):
        if items and ctx.carers[v_idx].breaks:
            items = _place_breaks_by_time(ctx, v_idx, items, task_start)
        routes[v_idx] = items
    return build_plan(ctx, routes, "ortools", time.perf_counter() - t0, soft, starts=task_start)


def _initial_routes(ctx: Compiled, routing, manager, params):
    """Start from the scheduler's insertion plan (double visits pinned): OR-Tools' operators move
    one node at a time and cannot insert a synchronised pair into an empty plan by themselves."""
    from hub.optimise.routes.instance import compile_problem
    from hub.optimise.routes.schedule import RouteState, partner_tasks

    pinned = compile_problem(ctx.problem, pin_doubles=True)
    state = RouteState(pinned, [[] for _ in ctx.carers], ctx.problem.weights.lateness is not None)
    order = sorted(
        range(len(ctx.visits)), key=lambda v: (-len(ctx.visit_tasks[v]), pinned.tasks[ctx.visit_tasks[v][0]].late)
    )
    for v in order:
        state.try_insert(v)
    routing.CloseModelWithParameters(params)
    for keep_doubles in (True, False):
        routes = [
            [manager.NodeToIndex(t) for t in items if t >= 0 and (keep_doubles or len(partner_tasks(pinned, t)) == 1)]
            for items in state.routes
        ]
        initial = routing.ReadAssignmentFromRoutes(routes, True)
        if initial is not None:
            return initial
        # waits of synchronised pairs on different routes can deadlock; start without the pairs
        log.info("OR-Tools rejected the insertion start (double visits kept: %s)", keep_doubles)
    return None


def _drop_half_pairs(ctx: Compiled, routes: list[list[int]]) -> None:
    """A double visit with only one part placed is not a visit: unassign it."""
    placed = {t for items in routes for t in items}
    half = {t for tasks in ctx.visit_tasks if len(tasks) > 1 for t in tasks if not all(x in placed for x in tasks)}
    if half:
        log.warning("dropping %d half-planned double-visit parts", len(half & placed))
        for k, items in enumerate(routes):
            routes[k] = [t for t in items if t not in half]


def _synchronise(ctx: Compiled, routing, manager, tdim, solver) -> None:
    """Double visits: different carers, starts synchronised (half-planned pairs are dropped later)."""
    for v, tasks in enumerate(ctx.visit_tasks):
        if len(tasks) < 2:
            continue
        a, b = (manager.NodeToIndex(t) for t in tasks)
        differ = routing.VehicleVar(a) != routing.VehicleVar(b)
        solver.Add(solver.Max(differ, 1 - routing.ActiveVar(a)) == 1)
        d = ctx.visits[v].double
        ca, cb = tdim.CumulVar(a), tdim.CumulVar(b)
        if d.mode == "simultaneous":
            solver.Add(ca == cb)
        else:
            solver.Add(cb >= ca + round(d.min_gap * SCALE))
            solver.Add(cb <= ca + round(d.max_gap * SCALE))


def _fits(ctx: Compiled, carer: int, items: list[int], task_start: dict[int, float]) -> bool:
    """Whether the route, timed as :func:`build_plan` times solver start times, meets breaks."""
    c = ctx.carers[carer]
    here = ctx.carer_start[carer]
    t = c.shift_start
    first = True
    for pos, item in enumerate(items):
        if item < 0:
            b = break_of(ctx, carer, item)
            if decode_break(item)[1]:
                there = next_place(ctx, carer, items, pos)
                t += ctx.travel(carer, here, there)
                here = there
            s = max(t, b.earliest_start)
            if s > b.latest_start + 1e-6:
                return False
            t = s + b.duration
            first = False
            continue
        task = ctx.tasks[item]
        leg = ctx.travel(carer, here, task.place)
        if first:
            t = max(c.shift_start, task_start[item] - leg)
            first = False
        if t + leg > task_start[item] + 1e-6:
            return False
        t = task_start[item] + task.duration
        here = task.place
    return t + ctx.travel(carer, here, ctx.carer_end[carer]) <= c.shift_end + 1e-6


def _place_breaks_by_time(ctx: Compiled, carer: int, items: list[int], task_start) -> list[int]:
    """Put break markers where the carer is free during the break's window.

    OR-Tools keeps breaks off visits, so a fitting gap exists; the break is then timed as early
    as its window allows after the previous activity, which only moves it earlier.
    """
    out = list(items)
    for k in range(len(ctx.carers[carer].breaks)):
        trials = (
            [*out[:pos], break_marker(k, after), *out[pos:]] for pos in range(len(out) + 1) for after in (False, True)
        )
        fitting = next((trial for trial in trials if _fits(ctx, carer, trial, task_start)), None)
        if fitting is None:
            log.warning("no room for break %d of carer %s", k, ctx.carers[carer].id)
            fitting = [*out, break_marker(k)]
        out = fitting
    return out
