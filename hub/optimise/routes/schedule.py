"""Timing of a carer's route, break placement, cheapest feasible insertion and plan building.

A route is a list of items: a task index (``>= 0``) or a break marker for the carer's break
``k``: ``-(k + 1)`` takes the break where the carer is (after the previous stop, or at the start
location before the first visit); ``-(k + 1) - AFTER_TRAVEL`` first travels to the next stop and
takes the break there, while waiting for the visit's window. Visits start as early as their window
allows; departure is delayed so the carer does not wait before the first stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from hub.optimise.routes.instance import Compiled
from hub.optimise.routes.model import Kpis, Plan, Route, Stop

log = logging.getLogger(__name__)

EPS = 1e-6
AFTER_TRAVEL = 1_000_000
PIN_STEP = 10.0  # minutes between alternative pinned starts of a double visit
PIN_SOFT_REACH = 120.0  # with soft windows, how far past the window a pair may be pinned


@dataclass
class Timing:
    """Result of timing one route (minutes after midnight)."""

    feasible: bool
    departure: float
    return_time: float
    arrivals: list[float]
    starts: list[float]
    ends: list[float]
    travel: float
    lateness: float
    first_violation: int


def break_marker(k: int, after_travel: bool = False) -> int:
    """Route item for the carer's break ``k``."""
    return -(k + 1) - (AFTER_TRAVEL if after_travel else 0)


def decode_break(item: int) -> tuple[int, bool]:
    """``(k, after_travel)`` of a break marker."""
    after = -item > AFTER_TRAVEL
    return (-item - 1 - (AFTER_TRAVEL if after else 0)), after


def break_of(ctx: Compiled, carer: int, item: int):
    return ctx.carers[carer].breaks[decode_break(item)[0]]


def next_place(ctx: Compiled, carer: int, items: list[int], pos: int) -> int:
    """Place of the first visit after ``pos``, or the carer's end place."""
    for i in items[pos + 1 :]:
        if i >= 0:
            return ctx.tasks[i].place
    return ctx.carer_end[carer]


def time_route(ctx: Compiled, carer: int, items: list[int], soft: bool = False) -> Timing:
    """Time a route; ``soft`` allows starts after the window end (lateness) instead of failing."""
    c = ctx.carers[carer]
    mat = ctx.minutes[c.transport]
    here = ctx.carer_start[carer]
    t = c.shift_start
    departure = c.shift_start
    arrivals: list[float] = []
    starts: list[float] = []
    ends: list[float] = []
    travel = lateness = 0.0
    bad = -1
    first_visit_seen = False
    for pos, item in enumerate(items):
        if item < 0:
            b = break_of(ctx, carer, item)
            if decode_break(item)[1]:
                there = next_place(ctx, carer, items, pos)
                travel += float(mat[here, there])
                t += float(mat[here, there])
                here = there
            arrivals.append(t)
            start = max(t, b.earliest_start)
            if start > b.latest_start + EPS and bad < 0:
                bad = pos
            starts.append(start)
            t = start + b.duration
            ends.append(t)
            continue
        task = ctx.tasks[item]
        leg = float(mat[here, task.place])
        arrive = t + leg
        if not first_visit_seen and not any(i < 0 for i in items[:pos]):
            # leave home late enough to arrive just in time for the first visit
            departure = max(c.shift_start, task.early - leg)
            arrive = departure + leg
        first_visit_seen = True
        travel += leg
        start = max(arrive, task.early)
        late = start - task.late
        if late > EPS:
            # a pinned double-visit part must be on time even with soft windows, or the pair drifts apart
            if soft and not task.pinned:
                lateness += late
            elif bad < 0:
                bad = pos
        arrivals.append(arrive)
        starts.append(start)
        t = start + task.duration
        ends.append(t)
        here = task.place
    back = float(mat[here, ctx.carer_end[carer]])
    travel += back
    ret = t + back
    if bad < 0 and (ret > c.shift_end + EPS or ret - departure > ctx.max_work(carer) + EPS):
        bad = len(items)
    if bad < 0 and c.capacity is not None and sum(ctx.tasks[i].demand for i in items if i >= 0) > c.capacity:
        bad = len(items)
    return Timing(bad < 0, departure, ret, arrivals, starts, ends, travel, lateness, bad)


def place_breaks(ctx: Compiled, carer: int, visits: list[int], soft: bool = False) -> list[int] | None:
    """Insert the carer's breaks at the positions that return earliest; ``None`` if impossible."""
    items = list(visits)
    if not items:
        return items
    for k in range(len(ctx.carers[carer].breaks)):
        best: tuple[float, list[int]] | None = None
        for pos in range(len(items) + 1):
            for after in (False, True):
                trial = [*items[:pos], break_marker(k, after), *items[pos:]]
                timing = time_route(ctx, carer, trial, soft)
                if timing.feasible:
                    key = timing.return_time + timing.lateness
                    if best is None or key < best[0] - EPS:
                        best = (key, trial)
        if best is None:
            return None
        items = best[1]
    return items


def partner_tasks(ctx: Compiled, task: int) -> list[int]:
    return ctx.visit_tasks[ctx.tasks[task].visit]


@dataclass
class RouteSlots:
    """Insertion positions 0..len(items) of a route: the places around each position, the time the
    carer is ready to leave the previous place, and the latest start allowed at the next stop."""

    items: list[int]
    prev: np.ndarray
    next: np.ndarray
    ready: np.ndarray
    latest: np.ndarray


def route_slots(ctx: Compiled, carer: int, items: list[int], soft: bool) -> RouteSlots:
    """Quick necessary conditions for inserting into ``items`` (exact check: :func:`time_route`)."""
    c = ctx.carers[carer]
    n = len(items) + 1
    prev = np.empty(n, dtype=int)
    nxt = np.empty(n, dtype=int)
    ready = np.empty(n)
    latest = np.empty(n)
    timing = time_route(ctx, carer, items, soft) if items else None
    here = ctx.carer_start[carer]
    t = c.shift_start
    for pos in range(n):
        prev[pos] = here
        ready[pos] = t
        if pos < len(items):
            item = items[pos]
            t = timing.ends[pos]
            if item >= 0:
                here = ctx.tasks[item].place
    after = ctx.carer_end[carer]
    bound = c.shift_end
    for pos in range(n - 1, -1, -1):
        nxt[pos] = after
        latest[pos] = bound
        if pos > 0:
            item = items[pos - 1]
            if item >= 0:
                after = ctx.tasks[item].place
                bound = ctx.tasks[item].late if not soft else c.shift_end
            else:
                bound = break_of(ctx, carer, item).latest_start
    return RouteSlots(items, prev, nxt, ready, latest)


class RouteState:
    """Mutable set of routes (items per carer) plus the pool of unplanned visits."""

    def __init__(self, ctx: Compiled, routes: list[list[int]], soft: bool = False) -> None:
        self.ctx = ctx
        self.routes = routes
        self.soft = soft
        self._slot_cache: dict[int, RouteSlots] = {}
        self._flat_items: list[list[int]] | None = None
        self._flat_cache: tuple[np.ndarray, ...] = ()
        self._flat_sizes = np.zeros(0, dtype=int)
        self._carer_cache: tuple | None = None
        self._skill_cache: dict[str | None, np.ndarray] = {}

    def carer_of(self) -> dict[int, int]:
        return {item: r for r, items in enumerate(self.routes) for item in items if item >= 0}

    def remove_visit(self, visit: int) -> None:
        drop = set(self.ctx.visit_tasks[visit])
        for r, items in enumerate(self.routes):
            if any(i in drop for i in items):
                self.routes[r] = [i for i in items if i not in drop]

    def repair(self) -> set[int]:
        """Drop visits until every route is feasible (breaks placed); return dropped visit indices."""
        dropped: set[int] = set()
        ctx = self.ctx
        changed = True
        while changed:
            changed = False
            owner: dict[int, int] = {}
            for r, items in enumerate(self.routes):
                for i in items:
                    if i >= 0:
                        v = ctx.tasks[i].visit
                        if not ctx.can_do(r, i) or owner.get(v) == r:
                            dropped.add(v)
                        owner[v] = r
            for v in list(dropped):
                self.remove_visit(v)
            for v, tasks in enumerate(ctx.visit_tasks):
                if len(tasks) > 1 and v not in dropped:
                    where = self.carer_of()
                    if sum(t in where for t in tasks) not in (0, len(tasks)):
                        dropped.add(v)
                        self.remove_visit(v)
            for r, items in enumerate(self.routes):
                visits = [i for i in items if i >= 0]
                markers = sorted(decode_break(i)[0] for i in items if i < 0)
                complete = markers == list(range(len(ctx.carers[r].breaks)))
                if visits and complete and time_route(ctx, r, items, self.soft).feasible:
                    continue  # breaks already placed and the route holds: keep it as it is
                while visits:
                    placed = place_breaks(ctx, r, visits, self.soft)
                    if placed is not None:
                        self.routes[r] = placed
                        break
                    timing = time_route(ctx, r, visits, self.soft)
                    pos = min(max(timing.first_violation, 0), len(visits) - 1)
                    v = ctx.tasks[visits[pos]].visit
                    dropped.add(v)
                    self.remove_visit(v)
                    visits = [i for i in self.routes[r] if i >= 0]
                    changed = True
                if not visits:
                    self.routes[r] = []
        return dropped

    def _slots(self, r: int) -> RouteSlots:
        """Per insertion position of route ``r``: neighbouring places and time bounds (cached)."""
        items = self.routes[r]
        cached = self._slot_cache.get(r)
        if cached is not None and cached.items is items:
            return cached
        slots = route_slots(self.ctx, r, items, self.soft)
        self._slot_cache[r] = slots
        return slots

    def _flat(self) -> tuple[np.ndarray, ...]:
        """All routes' insertion slots in flat arrays: route, position, prev, next, ready, latest.

        Rebuilt in full only when many routes changed; otherwise the changed routes are spliced.
        """
        n = len(self.routes)
        seen = self._flat_items
        changed = [r for r in range(n) if seen is None or self.routes[r] is not seen[r]]
        if not changed:
            return self._flat_cache
        if seen is None or len(changed) > 4:
            slots = [self._slots(r) for r in range(n)]
            sizes = np.array([len(sl.prev) for sl in slots])
            self._flat_cache = (
                np.repeat(np.arange(n), sizes),
                np.concatenate([np.arange(k) for k in sizes]),
                np.concatenate([sl.prev for sl in slots]),
                np.concatenate([sl.next for sl in slots]),
                np.concatenate([sl.ready for sl in slots]),
                np.concatenate([sl.latest for sl in slots]),
            )
            self._flat_sizes = sizes
        else:
            for r in changed:
                sl = self._slots(r)
                k = len(sl.prev)
                begin = int(self._flat_sizes[:r].sum())
                stop = begin + int(self._flat_sizes[r])
                parts = (np.full(k, r), np.arange(k), sl.prev, sl.next, sl.ready, sl.latest)
                self._flat_cache = tuple(
                    np.concatenate([a[:begin], part, a[stop:]]) for a, part in zip(self._flat_cache, parts, strict=True)
                )
                self._flat_sizes[r] = k
        self._flat_items = list(self.routes)
        return self._flat_cache

    def _carer_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        if self._carer_cache is None:
            carers = self.ctx.carers
            modes = sorted({c.transport for c in carers})
            self._carer_cache = (
                np.array([modes.index(c.transport) for c in carers]),
                np.array([c.shift_start for c in carers]),
                np.array([c.shift_end for c in carers]),
                modes,
            )
        return self._carer_cache

    def _skilled(self, skill: str | None) -> np.ndarray:
        if skill not in self._skill_cache:
            self._skill_cache[skill] = np.array([skill is None or skill in c.skills for c in self.ctx.carers])
        return self._skill_cache[skill]

    def _candidates(self, task: int, exclude: set[int], limit: int = 10**9) -> list[tuple[float, int, int]]:
        """Insertion positions (cost, route, position), cheapest first, that pass quick time bounds."""
        ctx = self.ctx
        w = ctx.problem.weights
        t = ctx.tasks[task]
        visit = ctx.visits[t.visit]
        mode_of, shift_start, shift_end, modes = self._carer_arrays()
        ok_route = self._skilled(t.skill) & (shift_end >= t.early)
        if not self.soft:
            ok_route &= shift_start <= t.late
        if exclude:
            ok_route[list(exclude)] = False
        route, pos, prev, nxt, ready, latest = self._flat()
        keep = ok_route[route]
        route, pos, prev, nxt, ready, latest = (a[keep] for a in (route, pos, prev, nxt, ready, latest))
        if route.size == 0:
            return []
        p = t.place
        to_p = np.empty(route.size)
        from_p = np.empty(route.size)
        direct = np.empty(route.size)
        route_mode = mode_of[route]
        for m, name in enumerate(modes):
            sel = route_mode == m
            if sel.any():
                mat = ctx.minutes[name]
                to_p[sel] = mat[prev[sel], p]
                from_p[sel] = mat[p, nxt[sel]]
                direct[sel] = mat[prev[sel], nxt[sel]]
        cost = w.travel * (to_p + from_p - direct)
        if w.distance:
            cost += w.distance * (ctx.km[prev, p] + ctx.km[p, nxt] - ctx.km[prev, nxt])
        if visit.preferred_carers and w.continuity:
            pref = set(visit.preferred_carers)
            outsider = np.array([c.id not in pref for c in ctx.carers])
            cost += w.continuity * outsider[route]
        arrive = ready + to_p
        ok = np.maximum(arrive, t.early) + t.duration + from_p <= latest + EPS
        if not self.soft:
            ok &= arrive <= t.late + EPS
        idx = np.nonzero(ok)[0]
        if idx.size > limit:
            idx = idx[np.argpartition(cost[idx], limit - 1)[:limit]]
        order = idx[np.argsort(cost[idx], kind="stable")]
        return [(float(cost[k]), int(route[k]), int(pos[k])) for k in order]

    def try_insert(self, visit: int, max_checks: int = 60) -> bool:
        """Cheapest feasible insertion of all parts of ``visit``; breaks stay feasible.

        A pinned double visit that fits nowhere is retried at later pinned starts (every
        :data:`PIN_STEP` minutes, within its window unless windows are soft).
        """
        tasks = self.ctx.visit_tasks[visit]
        if self._insert_parts(list(tasks), set(), max_checks):
            return True
        parts = [self.ctx.tasks[t] for t in tasks]
        if len(parts) < 2 or not parts[0].pinned:
            return False
        saved = [(p.early, p.late) for p in parts]
        v = self.ctx.visits[visit]
        limit = v.window_end + (PIN_SOFT_REACH if self.soft else 0.0)
        shift = PIN_STEP
        part1_limit = max(v.window_end, saved[1][1])
        while saved[0][0] + shift <= limit + EPS:
            for p, (early, late) in zip(parts, saved, strict=True):
                p.early, p.late = early + shift, late + shift
            fits = self.soft or parts[1].late <= part1_limit + EPS
            if fits and self._insert_parts(list(tasks), set(), max_checks):
                return True
            shift += PIN_STEP
        for p, (early, late) in zip(parts, saved, strict=True):
            p.early, p.late = early, late
        return False

    def _lateness(self, r: int) -> float:
        items = self.routes[r]
        return time_route(self.ctx, r, items, self.soft).lateness if items else 0.0

    def _insert_parts(self, tasks: list[int], used: set[int], max_checks: int) -> bool:
        """Insert ``tasks`` (parts of one visit) on distinct routes not in ``used``.

        With hard windows the cheapest feasible position wins; with soft windows the few
        cheapest feasible positions are compared including the lateness they add.
        """
        if not tasks:
            return True
        task = tasks[0]
        w_late = self.ctx.problem.weights.lateness or 0.0
        keep = 6 if self.soft else 1
        options: list[tuple[float, int, list[int]]] = []
        base_late: dict[int, float] = {}
        for checks, (cost, r, pos) in enumerate(self._candidates(task, used, max_checks), 1):
            items = self.routes[r]
            trial = [*items[:pos], task, *items[pos:]]
            if not items and self.ctx.carers[r].breaks:
                trial = place_breaks(self.ctx, r, [task], self.soft)
            if trial is not None:
                timing = time_route(self.ctx, r, trial, self.soft)
                if timing.feasible:
                    if self.soft and r not in base_late:
                        base_late[r] = self._lateness(r)
                    extra = w_late * (timing.lateness - base_late.get(r, 0.0))
                    options.append((cost + extra, r, trial))
                    if len(options) >= keep:
                        break
            if checks >= max_checks:
                break
        options.sort(key=lambda o: o[0])
        for _, r, trial in options:
            before = self.routes[r]
            self.routes[r] = trial
            if self._insert_parts(tasks[1:], used | {r}, max_checks):
                return True
            self.routes[r] = before
        return False


def route_cost(ctx: Compiled, carer: int, items: list[int], timing: Timing) -> float:
    """Objective contribution of a route (travel, distance, lateness, continuity)."""
    w = ctx.problem.weights
    km = 0.0
    here = ctx.carer_start[carer]
    cont = 0
    for i in items:
        if i < 0:
            continue
        t = ctx.tasks[i]
        km += ctx.km[here, t.place]
        here = t.place
        v = ctx.visits[t.visit]
        if v.preferred_carers and ctx.carers[carer].id not in v.preferred_carers:
            cont += 1
    km += ctx.km[here, ctx.carer_end[carer]]
    late = timing.lateness * (w.lateness or 0.0)
    return w.travel * timing.travel + w.distance * km + late + w.continuity * cont


def build_plan(
    ctx: Compiled,
    routes: list[list[int]],
    engine: str,
    runtime_s: float,
    soft: bool = False,
    starts: dict[int, float] | None = None,
) -> Plan:
    """Turn item routes into a :class:`Plan` with times and KPIs.

    ``starts`` (task -> start minute) overrides the earliest-start timing, for engines that choose
    start times themselves (OR-Tools); breaks are then taken as early as their window allows.
    """
    out_routes: list[Route] = []
    assigned: set[int] = set()
    objective = 0.0
    for r, items in enumerate(routes):
        if not items or all(i < 0 for i in items):
            continue
        c = ctx.carers[r]
        timing = time_route(ctx, r, items, soft)
        mat = ctx.minutes[c.transport]
        stops: list[Stop] = []
        here = ctx.carer_start[r]
        t = timing.departure if starts is None else c.shift_start
        departure: float | None = None
        km = 0.0
        travel = 0.0
        for k, item in enumerate(items):
            if departure is None:
                departure = t
            if item < 0:
                b = break_of(ctx, r, item)
                after = decode_break(item)[1]
                leg = 0.0
                if after:
                    there = next_place(ctx, r, items, k)
                    leg = float(mat[here, there])
                    km += ctx.km[here, there]
                    travel += leg
                    t += leg
                    here = there
                s = timing.starts[k] if starts is None else max(t, b.earliest_start)
                stops.append(
                    Stop(
                        kind="break",
                        arrival=round(t, 4),
                        start=round(s, 4),
                        end=round(s + b.duration, 4),
                        travel_before=round(leg, 4),
                        after_travel=after,
                    )
                )
                t = s + b.duration
                continue
            task = ctx.tasks[item]
            leg = float(mat[here, task.place])
            if starts is not None and not stops and item in starts:
                t = departure = max(c.shift_start, starts[item] - leg)
            arrive = t + leg
            s = timing.starts[k] if starts is None else max(arrive, starts.get(item, arrive))
            v = ctx.visits[task.visit]
            stops.append(
                Stop(
                    visit_id=v.id,
                    citizen_id=v.citizen_id,
                    part=task.part,
                    arrival=round(arrive, 4),
                    start=round(s, 4),
                    end=round(s + task.duration, 4),
                    travel_before=round(leg, 4),
                    lateness=round(max(0.0, s - task.late), 4),
                )
            )
            km += ctx.km[here, task.place]
            travel += leg
            t = s + task.duration
            here = task.place
            assigned.add(task.visit)
        back = float(mat[here, ctx.carer_end[r]])
        km += ctx.km[here, ctx.carer_end[r]]
        travel += back
        out_routes.append(
            Route(
                carer_id=c.id,
                departure=round(departure if departure is not None else c.shift_start, 4),
                return_time=round(t + back, 4),
                stops=stops,
                travel_minutes=round(travel, 4),
                distance_km=round(km, 4),
            )
        )
        late_total = sum(st.lateness for st in stops)
        objective += route_cost(ctx, r, items, timing) + (late_total - timing.lateness) * (
            ctx.problem.weights.lateness or 0.0
        )
    unassigned = [v.id for i, v in enumerate(ctx.visits) if i not in assigned]
    w = ctx.problem.weights
    if soft and w.max_lateness:
        objective += w.max_lateness * max((s.lateness for r in out_routes for s in r.stops), default=0.0)
    objective += w.unassigned * sum(ctx.visits[ctx.visit_index[v]].priority for v in unassigned)
    plan = Plan(
        day=ctx.problem.day,
        routes=out_routes,
        unassigned=unassigned,
        objective=round(objective, 4),
        engine=engine,
        runtime_s=round(runtime_s, 3),
    )
    plan.kpis = compute_kpis(ctx.problem, plan)
    return plan


def compute_kpis(problem, plan: Plan) -> Kpis:
    """KPIs of one day plan (see :class:`Kpis`)."""
    from hub.optimise.routes.continuity import continuity_figures

    visits = {v.id: v for v in problem.visits}
    care = sum(s.end - s.start for r in plan.routes for s in r.stops if s.kind == "visit")
    paid = sum(r.return_time - r.departure for r in plan.routes)
    lates = [s.lateness for r in plan.routes for s in r.stops if s.kind == "visit"]
    non_pref = sum(
        1
        for r in plan.routes
        for s in r.stops
        if s.kind == "visit"
        and visits[s.visit_id].preferred_carers
        and r.carer_id not in visits[s.visit_id].preferred_carers
    )
    distinct, top = continuity_figures([plan])
    return Kpis(
        visits=len(problem.visits),
        assigned=len(problem.visits) - len(plan.unassigned),
        unassigned=len(plan.unassigned),
        travel_minutes=round(sum(r.travel_minutes for r in plan.routes), 3),
        distance_km=round(sum(r.distance_km for r in plan.routes), 3),
        care_minutes=round(care, 3),
        care_share=round(care / paid, 4) if paid > 0 else 0.0,
        total_lateness=round(sum(lates), 3),
        max_lateness=round(max(lates, default=0.0), 3),
        late_visits=sum(1 for x in lates if x > 1e-6),
        routes_used=len(plan.routes),
        non_preferred_visits=non_pref,
        distinct_carers_per_citizen=distinct,
        top_carer_share=top,
    )
