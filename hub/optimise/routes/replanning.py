"""Re-planning after a disruption: keep the plan, re-home only what the disruption touched.

Routes of carers still on shift keep their order (cancelled visits removed); visits of absent
carers and new visits are put where they cost least (cheapest feasible insertion, breaks and
windows respected). Whatever cannot be placed is reported unassigned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import BaseModel, Field

from hub.optimise.routes.instance import compile_problem
from hub.optimise.routes.model import Plan, Problem, Visit
from hub.optimise.routes.schedule import RouteState, break_marker, build_plan

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]


class Disruption(BaseModel):
    """What changed since the plan was made.

    Parameters
    ----------
    absent_carers
        Carer ids who called in sick (their visits must move).
    cancelled_visits
        Visit ids to drop.
    added_visits
        New visits to fit in.
    """

    absent_carers: list[str] = Field(default_factory=list)
    cancelled_visits: list[str] = Field(default_factory=list)
    added_visits: list[Visit] = Field(default_factory=list)


class Move(BaseModel):
    """A visit part that changed carer (``None``: was or is unassigned)."""

    visit_id: str
    part: int = 0
    from_carer: str | None = None
    to_carer: str | None = None


class ReplanResult(BaseModel):
    """The new plan, the problem it solves, and what moved.

    ``changed_share`` is the number of moved parts divided by the parts assigned in the old plan.
    """

    plan: Plan
    problem: Problem
    moved: list[Move]
    changed_share: float


def apply_disruption(problem: Problem, disruption: Disruption) -> Problem:
    """The problem after the disruption (absent carers and cancelled visits removed, new visits added)."""
    gone = set(disruption.absent_carers)
    cancelled = set(disruption.cancelled_visits)
    visits = [v for v in problem.visits if v.id not in cancelled] + list(disruption.added_visits)
    carers = [c for c in problem.carers if c.id not in gone]
    return problem.model_copy(update={"visits": visits, "carers": carers})


def _route_items(ctx, carer: int, route, task_of: dict[tuple[str, int], int]) -> list[int]:
    """Route items (tasks and break markers, as planned) of a planned route; cancelled visits left out."""
    breaks = sorted(range(len(ctx.carers[carer].breaks)), key=lambda k: ctx.carers[carer].breaks[k].earliest_start)
    items: list[int] = []
    taken = 0
    for stop in route.stops:
        if stop.kind == "break":
            if taken < len(breaks):
                items.append(break_marker(breaks[taken], stop.after_travel))
                taken += 1
        elif (stop.visit_id, stop.part) in task_of:
            items.append(task_of[(stop.visit_id, stop.part)])
    return items


def _keep_double_times(ctx, plan: Plan, task_of: dict[tuple[str, int], int]) -> None:
    """Pin planned double visits to the starts they have in the plan, so the kept part stays valid."""
    for route in plan.routes:
        for stop in route.stops:
            task = task_of.get((stop.visit_id, stop.part)) if stop.kind == "visit" else None
            if task is not None and ctx.tasks[task].pinned:
                ctx.tasks[task].early = ctx.tasks[task].late = stop.start


def replan(
    problem: Problem,
    plan: Plan,
    disruption: Disruption,
    budget_s: float = 5.0,
    seed: int = 1,
    progress: ProgressFn | None = None,
) -> ReplanResult:
    """Repair ``plan`` for ``disruption`` within ``budget_s`` seconds.

    Parameters
    ----------
    problem, plan
        The day and its current plan.
    disruption
        Absent carers, cancelled and added visits.
    budget_s
        Seconds; re-homing the affected visits always completes (it is cheap) and is only cut
        off after ten times the budget (at least 30 s).
    seed
        Unused by the deterministic insertion; kept for a uniform API.
    """
    t0 = time.perf_counter()
    new_problem = apply_disruption(problem, disruption)
    soft = new_problem.weights.lateness is not None
    ctx = compile_problem(new_problem, pin_doubles=not soft)
    task_of = {(ctx.visits[t.visit].id, t.part): i for i, t in enumerate(ctx.tasks)}
    _keep_double_times(ctx, plan, task_of)
    routes: list[list[int]] = [[] for _ in ctx.carers]
    for route in plan.routes:
        ci = ctx.carer_index.get(route.carer_id)
        if ci is None:
            continue
        routes[ci] = _route_items(ctx, ci, route, task_of)
    state = RouteState(ctx, routes, soft)
    state.repair()
    placed = {t for items in state.routes for t in items if t >= 0}
    pending = [v for v, ts in enumerate(ctx.visit_tasks) if any(t not in placed for t in ts)]
    pending.sort(key=lambda v: (-ctx.visits[v].priority, ctx.tasks[ctx.visit_tasks[v][0]].late))
    if progress is not None:
        progress(0.1, f"re-homing {len(pending)} visits")
    # re-homing always completes (about a millisecond of CPU per visit); only a runaway is cut
    deadline = t0 + max(10 * budget_s, 30.0)
    for k, v in enumerate(pending):
        if time.perf_counter() > deadline:
            log.warning("re-plan cut off with %d visits left", len(pending) - k)
            break
        missing = [t for t in ctx.visit_tasks[v] if t not in placed]
        holder = {r for r, items in enumerate(state.routes) for t in ctx.visit_tasks[v] if t in items}
        if not state._insert_parts(missing, holder, 60) and holder:
            state.remove_visit(v)
            state.try_insert(v)
        placed = {t for items in state.routes for t in items if t >= 0}
        if progress is not None and k % 20 == 0:
            progress(0.1 + 0.85 * k / max(1, len(pending)), f"re-homed {k}/{len(pending)}")
    new_plan = build_plan(ctx, state.routes, "replan", time.perf_counter() - t0, soft)
    old = plan.assignment()
    new = new_plan.assignment()
    moved = [
        Move(visit_id=v, part=p, from_carer=old.get((v, p)), to_carer=new.get((v, p)))
        for (v, p) in sorted(set(old) | set(new))
        if old.get((v, p)) != new.get((v, p)) and v not in set(disruption.cancelled_visits)
    ]
    share = len(moved) / max(1, len(old))
    if progress is not None:
        progress(1.0, f"re-planned: {len(moved)} parts moved")
    return ReplanResult(plan=new_plan, problem=new_problem, moved=moved, changed_share=round(share, 4))
