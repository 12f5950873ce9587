"""Public planning API: a day plan and a multi-day plan with continuity of care.

Example
-------
>>> from hub.optimise.routes import plan_day
>>> plan = plan_day(problem, budget_s=10, seed=1)  # doctest: +SKIP
>>> plan.kpis.travel_minutes  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Literal

from hub.optimise.routes.continuity import carers_by_citizen, with_preferences
from hub.optimise.routes.instance import Compiled, compile_problem
from hub.optimise.routes.model import Plan, Problem
from hub.optimise.routes.schedule import RouteState, build_plan

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
Engine = Literal["auto", "pyvrp", "ortools", "lns", "portfolio"]


PORTFOLIO_MAX_VISITS = 100
LNS_PYVRP_START = 150  # visits from which the lns engine starts from a PyVRP plan
LNS_MAX_VISITS = 1000  # the lns engine holds place-to-place travel as Python lists
LNS_ROUNDS = 2  # PyVRP rounds (each followed by the synchronising search) on large days


def choose_engine(problem: Problem, engine: Engine = "auto") -> str:
    """Engine for ``auto``.

    Soft windows (``weights.lateness`` set): ``lns`` (ruin and recreate with native
    synchronisation), or ``ortools`` when carers have breaks or capacities or the day has more
    than ``LNS_MAX_VISITS`` visits. Hard windows: ``portfolio`` (both engines on half the budget
    each, the better plan wins) for small days (<= 100 visits) with double visits, where pinning
    the pair's start for PyVRP can cost travel that OR-Tools' own synchronisation saves; else
    ``pyvrp``.
    """
    if engine != "auto":
        return engine
    if problem.weights.lateness is not None:
        if any(c.breaks or c.capacity is not None for c in problem.carers) or len(problem.visits) > LNS_MAX_VISITS:
            return "ortools"
        return "lns"
    if any(v.double is not None for v in problem.visits) and len(problem.visits) <= PORTFOLIO_MAX_VISITS:
        return "portfolio"
    return "pyvrp"


def _report(progress: ProgressFn | None, frac: float, msg: str) -> None:
    if progress is not None:
        progress(frac, msg)


def is_home_care(problem: Problem) -> bool:
    """Whether the day uses home-care features (breaks, skills, double visits, preferences).

    Plain VRPTW days (the Solomon benchmark) go to PyVRP untouched; home-care days get a start
    plan from the scheduler, which keeps PyVRP productive on short budgets and busy machines.
    """
    return any(c.breaks or c.skills for c in problem.carers) or any(
        v.double is not None or v.skill is not None or v.preferred_carers for v in problem.visits
    )


def insertion_plan(ctx: Compiled, soft: bool) -> list[list[int]]:
    """Cheapest feasible insertion of every visit (double visits and tight windows first)."""
    state = RouteState(ctx, [[] for _ in ctx.carers], soft)
    order = sorted(
        range(len(ctx.visits)),
        key=lambda v: (-len(ctx.visit_tasks[v]), -ctx.visits[v].priority, ctx.tasks[ctx.visit_tasks[v][0]].late),
    )
    for v in order:
        state.try_insert(v)
    return [[t for t in items if t >= 0] for items in state.routes]


def finish(ctx: Compiled, routes: list[list[int]], soft: bool, deadline: float) -> list[list[int]]:
    """Repair routes (skills, pairing, breaks), then re-insert dropped visits where they fit."""
    state = RouteState(ctx, routes, soft)
    dropped = state.repair()
    placed = {t for items in state.routes for t in items if t >= 0}
    pool = sorted(
        dropped | {v for v, ts in enumerate(ctx.visit_tasks) if ts[0] not in placed},
        key=lambda v: (-ctx.visits[v].priority, ctx.tasks[ctx.visit_tasks[v][0]].late),
    )
    for v in pool:
        if time.perf_counter() > deadline:
            break
        if not any(t in placed for t in ctx.visit_tasks[v]):
            state.try_insert(v)
    return state.routes


def plan_day(
    problem: Problem,
    budget_s: float = 10.0,
    seed: int = 1,
    progress: ProgressFn | None = None,
    engine: Engine = "auto",
) -> Plan:
    """Plan one day.

    Parameters
    ----------
    problem
        Visits, carers, travel and weights.
    budget_s
        Search time in seconds (wall clock); repair and timing add a little on top.
    seed
        Random seed; the same seed and budget give comparable runs.
    progress
        Called with (fraction 0..1, message) while planning.
    engine
        ``auto`` (see :func:`choose_engine`), ``pyvrp``, ``ortools`` or ``portfolio``.

    Returns
    -------
    Plan
        Routes with arrival and start times, unassigned visits and KPIs.
    """
    t0 = time.perf_counter()
    which = choose_engine(problem, engine)
    if which == "portfolio":

        def half(offset: float):
            return lambda frac, msg: _report(progress, offset + frac / 2, msg)

        plans = [
            plan_day(problem, budget_s / 2, seed, half(0.0), "pyvrp"),
            plan_day(problem, budget_s / 2, seed, half(0.5), "ortools"),
        ]
        best = min(plans, key=lambda p: p.objective)
        best.runtime_s = round(time.perf_counter() - t0, 3)
        log.info("portfolio: pyvrp %.1f, ortools %.1f", plans[0].objective, plans[1].objective)
        return best
    _report(progress, 0.0, f"compiling {len(problem.visits)} visits, {len(problem.carers)} carers")
    soft = problem.weights.lateness is not None
    if which == "lns":
        if problem.weights.lateness is None:
            raise ValueError("the lns engine needs soft windows (weights.lateness)")
        if any(c.breaks or c.capacity is not None for c in problem.carers):
            raise ValueError("the lns engine plans neither breaks nor capacities; use ortools")
        from hub.optimise.routes.engine_lns import solve_lns

        ctx = compile_problem(problem, pin_doubles=False)
        initial = None
        if len(problem.visits) >= LNS_PYVRP_START:
            # large days: alternate PyVRP (double visits pinned, windows as if hard: its search is
            # far faster than ours) with the synchronising search, which re-pins the pairs
            from hub.optimise.routes.engine_lns import repin, search
            from hub.optimise.routes.engine_pyvrp import solve_pyvrp

            pinned = compile_problem(problem, pin_doubles=True)
            start_routes = insertion_plan(pinned, True)
            share = budget_s / (2 * LNS_ROUNDS + 1)  # the last search gets the rest
            for k in range(LNS_ROUNDS):
                _report(progress, 0.02 + k / LNS_ROUNDS * 0.9, f"round {k + 1}: PyVRP with pinned double visits")
                initial = solve_pyvrp(pinned, share, seed + k, None, start_routes)
                if k == LNS_ROUNDS - 1:
                    break
                start_routes, starts, _ = search(ctx, share, seed + k, None, initial)
                pinned = compile_problem(problem, pin_doubles=True)
                repin(pinned, starts)
        rest = max(0.1, budget_s - (time.perf_counter() - t0))
        plan = solve_lns(ctx, rest, seed, progress, t0, initial)
    elif which == "pyvrp":
        from hub.optimise.routes.engine_pyvrp import solve_pyvrp

        ctx = compile_problem(problem, pin_doubles=True)
        initial = None
        if is_home_care(problem):
            _report(progress, 0.02, "building a start plan by cheapest insertion")
            initial = insertion_plan(ctx, soft)
        routes = solve_pyvrp(ctx, max(0.1, budget_s - (time.perf_counter() - t0)), seed, progress, initial)
        _report(progress, 0.95, "placing breaks and repairing")
        routes = finish(ctx, routes, soft, t0 + budget_s * 1.2 + 2)
        plan = build_plan(ctx, routes, "pyvrp", time.perf_counter() - t0, soft)
    else:
        plan = _plan_ortools(problem, budget_s, seed, progress, t0)
    _report(progress, 1.0, f"done: {plan.kpis.assigned}/{plan.kpis.visits} visits planned")
    return plan


def _plan_ortools(problem: Problem, budget_s: float, seed: int, progress: ProgressFn | None, t0: float) -> Plan:
    """OR-Tools engine in this process, or in a fresh one if its library cannot load here.

    OR-Tools and ``highspy`` bundle different builds of HiGHS and cannot share a process (either
    import order fails); the hub also loads the fleet optimiser, so this keeps planning working.
    """
    try:
        from hub.optimise.routes.engine_ortools import solve_ortools
    except ImportError as exc:
        log.warning("OR-Tools cannot load in this process (%s); planning in a subprocess", exc)
        _report(progress, 0.05, "planning with OR-Tools in a subprocess")
        text = _ortools_pool().submit(_ortools_json, problem.model_dump_json(), budget_s, seed).result()
        plan = Plan.model_validate_json(text)
        plan.runtime_s = round(time.perf_counter() - t0, 3)
        return plan
    ctx = compile_problem(problem, pin_doubles=False)
    return solve_ortools(ctx, budget_s, seed, progress, t0)


_POOL: list[ProcessPoolExecutor] = []


def _ortools_pool() -> ProcessPoolExecutor:
    """One long-lived spawned worker (a fresh interpreter without highspy), started on first use."""
    if not _POOL:
        _POOL.append(ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")))
    return _POOL[0]


def _ortools_json(problem_json: str, budget_s: float, seed: int) -> str:
    """Subprocess entry point: plan with OR-Tools and return the plan as JSON."""
    problem = Problem.model_validate_json(problem_json)
    return plan_day(problem, budget_s=budget_s, seed=seed, engine="ortools").model_dump_json()


def plan_days(
    problems: list[Problem],
    budget_s: float = 10.0,
    seed: int = 1,
    progress: ProgressFn | None = None,
    continuity: bool = True,
    keep: int = 2,
    engine: Engine = "auto",
) -> list[Plan]:
    """Plan consecutive days; with ``continuity`` each day prefers the carers citizens met before.

    Parameters
    ----------
    problems
        One problem per day, in order.
    budget_s
        Seconds per day.
    continuity
        Carry each citizen's ``keep`` most frequent carers so far into the next day's
        ``preferred_carers`` (penalised by ``weights.continuity`` when broken).
    """
    plans: list[Plan] = []
    history: dict[str, Counter] = {}
    for d, problem in enumerate(problems):
        day_problem = with_preferences(problem, history, keep) if continuity and plans else problem

        def day_progress(frac: float, msg: str, d: int = d) -> None:
            _report(progress, (d + frac) / len(problems), f"day {d + 1}/{len(problems)}: {msg}")

        plans.append(plan_day(day_problem, budget_s, seed + d, day_progress, engine))
        history = carers_by_citizen(plans)
    return plans
