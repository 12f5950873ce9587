"""Ruin-and-recreate engine for soft-window days with synchronised double visits.

Used by ``auto`` when lateness is allowed (``weights.lateness`` set) and no carer has breaks or a
capacity (the Mankowska home-care benchmark and similar days). It searches the routes directly:

* **Timing.** For fixed routes every start is the *least* solution of difference constraints:
  a task starts no earlier than its window opens, than the carer can arrive from the previous
  task, and than its partner's start allows (simultaneous: equal starts; sequential: second part
  ``min_gap``..``max_gap`` after the first). Lateness, its maximum and overtime only grow with
  the starts, so the least solution is the best timing of those routes. It is found by walking
  routes forward and re-walking a partner's route whenever a synchronisation bound rises (a
  cycle that keeps rising is a deadlock: the routes are rejected).
* **Insertion.** Cheapest insertion over every skilled carer and position with exact cost deltas
  (travel, continuity, lateness pushed down the route and across synchronised partners, maximum
  lateness, overtime); a double visit is inserted part by part, the second part evaluated with
  the first in place for the few best places of the first.
* **Search.** Random, related (near in place and time) and string removals, greedy re-insertion
  with random order and occasional skipped positions ("blinks"), simulated-annealing acceptance
  with a temperature falling over the budget; the best plan is kept.

Shift ends and maximum working time are penalised (``OVERTIME`` per minute) rather than forbidden
while searching; a final plan that still breaks them has the offending visits unassigned.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable

import numpy as np

from hub.optimise.routes.instance import Compiled
from hub.optimise.routes.model import Plan
from hub.optimise.routes.schedule import build_plan

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
OVERTIME = 1000.0  # cost per minute past a shift end or max_work while searching
MANDATORY_FACTOR = 1000.0
STEP_LIMIT_FACTOR = 20  # walk steps per task before a timing is declared deadlocked
MAX_PUSHES = 4  # pushes of one task within one re-timing before it counts as a deadlock
EXTRA_EXACT = 3  # estimated insertion places re-timed exactly beyond those kept
GRANULAR_MIN_TASKS = 80  # above this many tasks, only places next to near tasks are tried
NEIGHBOURS = 60  # nearest tasks (travel, then window start beyond an hour) per task
RUIN_SHARE = 0.12  # at most this share of the visits (and 40) is removed per move
PAIR_FIRST = 4  # places of a double visit's first part tried with the second part


class Deadlock(Exception):
    """Synchronised pairs wait on each other in a cycle."""


class LnsState:
    """Routes, least start times and cost of one solution."""

    def __init__(self, ctx: Compiled) -> None:
        self.ctx = ctx
        p = ctx.problem
        w = p.weights
        self.w_late = float(w.lateness or 0.0)
        self.w_max = float(w.max_lateness)
        tasks = ctx.tasks
        n = len(tasks)
        self.n = n
        self.early = [t.early for t in tasks]
        self.late = [t.late for t in tasks]
        self.dur = [t.duration for t in tasks]
        self.place = [t.place for t in tasks]
        self.visit = [t.visit for t in tasks]
        self.partner = [-1] * n
        self.pc = [0.0] * n  # S[t] >= S[partner] + pc[t]
        for vi, ids in enumerate(ctx.visit_tasks):
            if len(ids) == 2:
                a, b = ids
                d = ctx.visits[vi].double
                self.partner[a], self.partner[b] = b, a
                if d.mode == "simultaneous":
                    self.pc[a] = self.pc[b] = 0.0
                else:
                    self.pc[b] = float(d.min_gap)
                    self.pc[a] = -float(d.max_gap)
        m = len(ctx.carers)
        self.m = m
        modes = {c.transport for c in ctx.carers}
        mat_by_mode = {mode: ctx.minutes[mode].tolist() for mode in modes}
        self.mat = [mat_by_mode[c.transport] for c in ctx.carers]
        cost_by_mode = {mode: (w.travel * ctx.minutes[mode] + w.distance * ctx.km).tolist() for mode in modes}
        self.arc = [cost_by_mode[c.transport] for c in ctx.carers]
        self.cont = [[0.0] * n for _ in range(m)]
        if w.continuity > 0:
            for ti, t in enumerate(tasks):
                pref = ctx.visits[t.visit].preferred_carers
                if pref:
                    for r, c in enumerate(ctx.carers):
                        if c.id not in pref:
                            self.cont[r][ti] = float(w.continuity)
        self.can = [[ctx.can_do(r, t) for t in range(n)] for r in range(m)]
        self.skilled = [[r for r in range(m) if self.can[r][t]] for t in range(n)]
        self.start_place = list(ctx.carer_start)
        self.end_place = list(ctx.carer_end)
        self.shift_start = [c.shift_start for c in ctx.carers]
        self.shift_end = [c.shift_end for c in ctx.carers]
        self.max_work = [ctx.max_work(r) for r in range(m)]
        self.unassigned_cost = [
            w.unassigned * v.priority * (MANDATORY_FACTOR if v.mandatory else 1.0) for v in ctx.visits
        ]
        self.routes: list[list[int]] = [[] for _ in range(m)]
        self.route_of = [-1] * n
        self.S = [0.0] * n
        self.step_limit = STEP_LIMIT_FACTOR * max(1, n) + 100
        # routes that can never run past the shift or max_work need no overtime bookkeeping
        longest = (
            max(self.late, default=0.0)
            + sum(self.dur)
            + max((float(ctx.minutes[mode].max()) for mode in modes), default=0.0) * max(1, n)
        )
        # granular insertion: a task goes next to one of its nearest tasks (place and window)
        self.neigh: list[list[int]] | None = None
        self.full_scan = False  # try every position (the construction)
        if n > GRANULAR_MIN_TASKS:
            minutes = ctx.minutes[ctx.carers[0].transport]
            places = np.array(self.place)
            early = np.array(self.early)
            rel = minutes[np.ix_(places, places)] + np.maximum(0.0, np.abs(early[:, None] - early[None, :]) - 60.0)
            np.fill_diagonal(rel, np.inf)
            k = min(n - 1, NEIGHBOURS)
            near = np.argpartition(rel, k - 1, axis=1)[:, :k]
            self.neigh = [[int(x) for x in row if int(x) != self.partner[t]] for t, row in enumerate(near)]
        self.limited = [min(self.shift_end[r], self.shift_start[r] + self.max_work[r]) < longest for r in range(m)]

    # ---- timing -------------------------------------------------------------------------------

    def _walk(self, S: list[float], r: int, i: int, changes: list | None, work: list) -> int:
        """Re-time route ``r`` from index ``i`` (starts only rise); returns walk steps taken."""
        route = self.routes[r]
        mat = self.mat[r]
        if i == 0:
            t_end, here = self.shift_start[r], self.start_place[r]
        else:
            p = route[i - 1]
            t_end, here = S[p] + self.dur[p], self.place[p]
        steps = 0
        early, place, dur, partner, pc, route_of = (
            self.early,
            self.place,
            self.dur,
            self.partner,
            self.pc,
            self.route_of,
        )
        for k in range(i, len(route)):
            t = route[k]
            pl = place[t]
            s = t_end + mat[here][pl]
            if early[t] > s:
                s = early[t]
            u = partner[t]
            if u >= 0 and route_of[u] >= 0:
                lb = S[u] + pc[t]
                if lb > s:
                    s = lb
            old = S[t]
            steps += 1
            if k > i and s <= old:
                break
            if s != old:
                if changes is not None:
                    changes.append((t, old))
                S[t] = s
                if u >= 0 and route_of[u] >= 0 and S[u] < s + pc[u] - 1e-9:
                    work.append(u)
            t_end, here = s + dur[t], pl
        return steps

    def _settle(
        self, S: list[float], work: list, changes: list | None, steps: int, max_pushes: int = MAX_PUSHES
    ) -> int:
        routes, route_of = self.routes, self.route_of
        pushed: dict[int, int] = {}
        while work:
            u = work.pop()
            # a pair pushed again and again sits on a rising cycle (a deadlock); an acyclic
            # timing settles after very few pushes per pair
            k = pushed.get(u, 0) + 1
            if k > max_pushes:
                raise Deadlock
            pushed[u] = k
            r = route_of[u]
            steps += self._walk(S, r, routes[r].index(u), changes, work)
            if steps > self.step_limit * (1 if max_pushes == MAX_PUSHES else 10):
                raise Deadlock
        return steps

    def retime(self) -> None:
        """Least starts of the current routes from scratch (raises :class:`Deadlock`)."""
        S = self.S
        for t in range(self.n):
            S[t] = self.early[t]
        work: list[int] = []
        steps = 0
        for r, route in enumerate(self.routes):
            if route:
                # force the first walk through the whole route
                for t in route:
                    S[t] = -1e18
                steps += self._walk_full(S, r, work)
        self._settle(S, work, None, steps, max_pushes=self.n + 10)

    def _walk_full(self, S: list[float], r: int, work: list) -> int:
        route = self.routes[r]
        mat = self.mat[r]
        t_end, here = self.shift_start[r], self.start_place[r]
        for t in route:
            s = t_end + mat[here][self.place[t]]
            if self.early[t] > s:
                s = self.early[t]
            u = self.partner[t]
            if u >= 0 and self.route_of[u] >= 0 and S[u] > -1e17:
                s = max(s, S[u] + self.pc[t])
            S[t] = s
            if u >= 0 and self.route_of[u] >= 0 and S[u] > -1e17 and S[u] < s + self.pc[u] - 1e-9:
                work.append(u)
            t_end, here = s + self.dur[t], self.place[t]
        return len(route)

    # ---- cost ---------------------------------------------------------------------------------

    def route_over(self, r: int, S: list[float]) -> float:
        route = self.routes[r]
        if not route or not self.limited[r]:
            return 0.0
        first, last = route[0], route[-1]
        mat = self.mat[r]
        back = S[last] + self.dur[last] + mat[self.place[last]][self.end_place[r]]
        depart = max(self.shift_start[r], S[first] - mat[self.start_place[r]][self.place[first]])
        return max(0.0, back - self.shift_end[r]) + max(0.0, back - depart - self.max_work[r])

    def cost_parts(self) -> tuple[float, float, float, float, float]:
        """(travel+continuity, total lateness, max lateness, overtime, unassigned) of the state."""
        arc_cost = 0.0
        for r, route in enumerate(self.routes):
            if not route:
                continue
            arc, cont = self.arc[r], self.cont[r]
            here = self.start_place[r]
            for t in route:
                arc_cost += arc[here][self.place[t]] + cont[t]
                here = self.place[t]
            arc_cost += arc[here][self.end_place[r]]
        late_sum = late_max = 0.0
        S, late = self.S, self.late
        for t in range(self.n):
            if self.route_of[t] >= 0:
                x = S[t] - late[t]
                if x > 0:
                    late_sum += x
                    if x > late_max:
                        late_max = x
        over = sum(self.route_over(r, S) for r in range(self.m))
        unassigned = sum(
            self.unassigned_cost[v] for v, ids in enumerate(self.ctx.visit_tasks) if self.route_of[ids[0]] < 0
        )
        return arc_cost, late_sum, late_max, over, unassigned

    def total(self) -> float:
        arc, ls, lm, over, un = self.cost_parts()
        self.late_max = lm
        return arc + self.w_late * ls + self.w_max * lm + OVERTIME * over + un

    # ---- insertion ----------------------------------------------------------------------------

    def _apply_insert(self, t: int, r: int, i: int, changes: list) -> float:
        """Insert task ``t`` at ``routes[r][i]`` and re-time; returns the lateness/overtime cost
        change (raises :class:`Deadlock`, leaving the caller to undo)."""
        route = self.routes[r]
        over_before = self.route_over(r, self.S) if route else 0.0
        route.insert(i, t)
        self.route_of[t] = r
        changes.append((t, None))
        S = self.S
        S[t] = -1e18
        work: list[int] = []
        steps = self._walk(S, r, i, changes, work)
        self._settle(S, work, changes, steps)
        touched = {r} | {self.route_of[x] for x, _ in changes}
        over = 0.0
        late, w_late = self.late, self.w_late
        dlate = 0.0
        new_max = self.late_max
        # lateness change: first recorded old value of each task vs its current value
        first_old: dict[int, float | None] = {}
        for x, old in changes:
            if x not in first_old:
                first_old[x] = old
        for x, old in first_old.items():
            nl = S[x] - late[x]
            nl = nl if nl > 0 else 0.0
            if old is None or old < -1e17:
                ol = 0.0
            else:
                ol = old - late[x]
                ol = ol if ol > 0 else 0.0
            dlate += nl - ol
            if nl > new_max:
                new_max = nl
        for q in touched:
            if not self.limited[q]:
                continue
            if q == r:
                over += self.route_over(q, S) - over_before
            else:
                over += self._over_change(q, first_old)
        return w_late * dlate + self.w_max * (new_max - self.late_max) + OVERTIME * over

    def _over_change(self, q: int, first_old: dict) -> float:
        route = self.routes[q]
        if not route:
            return 0.0
        now = self.route_over(q, self.S)
        saved = [(x, self.S[x]) for x in (route[0], route[-1]) if x in first_old and first_old[x] is not None]
        if not saved:
            return 0.0
        for x, _ in saved:
            self.S[x] = first_old[x]
        before = self.route_over(q, self.S)
        for x, v in saved:
            self.S[x] = v
        return now - before

    def _undo(self, t: int, r: int, changes: list) -> None:
        S = self.S
        for x, old in reversed(changes):
            if old is not None:
                S[x] = old
        self.routes[r].remove(t)
        self.route_of[t] = -1

    def best_places(
        self, t: int, limit: float, rng: random.Random, blink: float, keep: int = 1, full: bool = False
    ) -> list:
        """Cheapest insertion places of task ``t``: ``[(delta, r, i), ...]`` best first.

        Every skilled carer and position is estimated (exact unless the push reaches a
        synchronised task, whose partner's route is then not followed); the best estimates
        are re-timed exactly."""
        full = full or self.full_scan
        n_eval = keep + EXTRA_EXACT
        cands: list[tuple[float, bool, int, int]] = []
        S, place, dur, early, late = self.S, self.place, self.dur, self.early, self.late
        pt = place[t]
        u = self.partner[t]
        partner_placed = u >= 0 and self.route_of[u] >= 0
        ru = self.route_of[u] if partner_placed else -1
        bound = limit
        w_late = self.w_late
        lb_t = S[u] + self.pc[t] if partner_placed else -math.inf
        for r, positions in self._positions(t, ru, full):
            route = self.routes[r]
            arc, mat = self.arc[r], self.mat[r]
            cont = self.cont[r][t]
            n_r = len(route)
            for i in positions:
                if i > 0:
                    p = route[i - 1]
                    prev_place, prev_end = place[p], S[p] + dur[p]
                else:
                    prev_place, prev_end = self.start_place[r], self.shift_start[r]
                nxt = route[i] if i < n_r else -1
                next_place = place[nxt] if nxt >= 0 else self.end_place[r]
                if blink and rng.random() < blink:
                    continue
                d_arc = arc[prev_place][pt] + arc[pt][next_place] - arc[prev_place][next_place] + cont
                s = prev_end + mat[prev_place][pt]
                if early[t] > s:
                    s = early[t]
                if lb_t > s:
                    s = lb_t
                own = s - late[t]
                lb = d_arc + (w_late * own if own > 0 else 0.0)
                if lb < bound:
                    est, exact = self._estimate(t, r, i, s, u if partner_placed else -1)
                    delta = d_arc + est
                    if delta < bound:
                        cands.append((delta, exact, r, i))
                        if len(cands) >= n_eval:
                            cands.sort()
                            del cands[n_eval:]
                            bound = cands[-1][0]
        cands.sort()
        found: list[tuple[float, int, int]] = []
        for delta, exact, r, i in cands:
            if not exact:
                changes: list = []
                try:
                    d = self._apply_insert(t, r, i, changes)
                except Deadlock:
                    self._undo(t, r, changes)
                    continue
                self._undo(t, r, changes)
                delta = self._arc_delta(t, r, i) + d
            if delta < limit:
                found.append((delta, r, i))
        found.sort()
        if not found and not full and self.neigh is not None and limit == math.inf:
            return self.best_places(t, limit, rng, blink, keep, full=True)
        return found[:keep]

    def _positions(self, t: int, ru: int, full: bool):
        """``(route, positions)`` to try for task ``t`` (never the route ``ru`` of its partner)."""
        if self.neigh is None or full:
            for r in self.skilled[t]:
                if r != ru:
                    yield r, range(len(self.routes[r]) + 1)
            return
        by_route: dict[int, set[int]] = {}
        can = self.can
        route_of = self.route_of
        for x in self.neigh[t]:
            r = route_of[x]
            if r < 0 or r == ru or not can[r][t]:
                continue
            i = self.routes[r].index(x)
            by_route.setdefault(r, set()).update((i, i + 1))
        for r in self.skilled[t]:
            if r != ru and not self.routes[r]:
                by_route[r] = {0}
        yield from by_route.items()

    def _arc_delta(self, t: int, r: int, i: int) -> float:
        route = self.routes[r]
        arc, place = self.arc[r], self.place
        a = place[route[i - 1]] if i > 0 else self.start_place[r]
        b = place[route[i]] if i < len(route) else self.end_place[r]
        return arc[a][place[t]] + arc[place[t]][b] - arc[a][b] + self.cont[r][t]

    def _estimate(self, t: int, r: int, i: int, s: float, u: int) -> tuple[float, bool]:
        """Lateness/overtime cost change of inserting ``t`` at ``routes[r][i]`` starting at ``s``
        (``u``: its placed partner or -1), and whether it is exact: a push reaching a
        synchronised task moves the partner by the same amount, but the partner's route is not
        followed (not exact)."""
        S, late, dur, place, partner, route_of, pc = (
            self.S,
            self.late,
            self.dur,
            self.place,
            self.partner,
            self.route_of,
            self.pc,
        )
        route = self.routes[r]
        mat = self.mat[r]
        exact = True
        lt = s - late[t]
        dlate = lt if lt > 0 else 0.0
        new_max = lt if lt > self.late_max else self.late_max
        if u >= 0:
            need = s + pc[u]
            if need > S[u]:
                exact = False
                lu, ln = S[u] - late[u], need - late[u]
                if ln > 0:
                    dlate += ln - (lu if lu > 0 else 0.0)
                    if ln > new_max:
                        new_max = ln
        end, here = s + dur[t], place[t]
        n_r = len(route)
        k = i
        while k < n_r:
            x = route[k]
            arr = end + mat[here][place[x]]
            old = S[x]
            if arr <= old:
                break
            lo = old - late[x]
            ln = arr - late[x]
            if ln > 0:
                dlate += ln - (lo if lo > 0 else 0.0)
                if ln > new_max:
                    new_max = ln
            y = partner[x]
            if y >= 0 and route_of[y] >= 0:
                need = arr + pc[y]
                if need > S[y]:
                    exact = False
                    ly, ln = S[y] - late[y], need - late[y]
                    if ln > 0:
                        dlate += ln - (ly if ly > 0 else 0.0)
                        if ln > new_max:
                            new_max = ln
            end, here = arr + dur[x], place[x]
            k += 1
        over = 0.0
        if self.limited[r]:
            exact = exact and (k < n_r or i > 0)
            if k == n_r:
                back = end + mat[here][self.end_place[r]]
                first = route[0] if i > 0 else t
                start_first = S[first] if i > 0 else s
                depart = max(self.shift_start[r], start_first - mat[self.start_place[r]][place[first]])
                now = max(0.0, back - self.shift_end[r]) + max(0.0, back - depart - self.max_work[r])
                over = now - self.route_over(r, S)
        return self.w_late * dlate + self.w_max * (new_max - self.late_max) + OVERTIME * over, exact

    def commit(self, t: int, r: int, i: int) -> None:
        changes: list = []
        self._apply_insert(t, r, i, changes)
        self._refresh_max(changes)

    def _refresh_max(self, changes: list) -> None:
        for x, _ in changes:
            lx = self.S[x] - self.late[x]
            if lx > self.late_max:
                self.late_max = lx

    def insert_visit(self, v: int, rng: random.Random, blink: float) -> bool:
        """Insert visit ``v`` (both parts of a double visit) where it costs least."""
        ids = self.ctx.visit_tasks[v]
        if len(ids) == 1:
            places = self.best_places(ids[0], math.inf, rng, blink)
            if not places:
                return False
            _, r, i = places[0]
            self.commit(ids[0], r, i)
            return True
        best: tuple[float, int, int, int, int, int, int] | None = None
        for first, second in ((ids[0], ids[1]), (ids[1], ids[0])):
            for d1, r1, i1 in self.best_places(first, math.inf, rng, blink, keep=PAIR_FIRST):
                changes: list = []
                saved_max = self.late_max
                try:
                    self._apply_insert(first, r1, i1, changes)
                except Deadlock:
                    self._undo(first, r1, changes)
                    continue
                self._refresh_max(changes)
                limit = math.inf if best is None else best[0] - d1
                second_places = self.best_places(second, limit, rng, blink)
                self._undo(first, r1, changes)
                self.late_max = saved_max
                if second_places:
                    d2, r2, i2 = second_places[0]
                    if best is None or d1 + d2 < best[0]:
                        best = (d1 + d2, first, r1, i1, second, r2, i2)
        if best is None:
            return False
        _, first, r1, i1, second, r2, i2 = best
        self.commit(first, r1, i1)
        try:
            self.commit(second, r2, i2)
        except Deadlock:
            # the estimate was made with the same routes, so this should not happen; back out
            self.remove_tasks([first, second])
            return False
        return True

    def remove_tasks(self, tasks: list[int]) -> None:
        for t in tasks:
            r = self.route_of[t]
            if r >= 0:
                self.routes[r].remove(t)
                self.route_of[t] = -1

    def snapshot(self) -> list[list[int]]:
        return [list(route) for route in self.routes]

    def restore(self, routes: list[list[int]]) -> None:
        self.routes = [list(route) for route in routes]
        self.route_of = [-1] * self.n
        for r, route in enumerate(self.routes):
            for t in route:
                self.route_of[t] = r
        self.retime()
        self.late_max = self.cost_parts()[2]


def _visits_in_routes(state: LnsState) -> list[int]:
    return sorted({state.visit[t] for route in state.routes for t in route})


def _ruin(state: LnsState, rng: random.Random, q: int) -> list[int]:
    """Remove about ``q`` visits; returns the removed visits."""
    ctx = state.ctx
    placed = _visits_in_routes(state)
    if not placed:
        return []
    kind = rng.random()
    removed: set[int] = set()
    if kind < 0.2:
        removed = set(rng.sample(placed, min(q, len(placed))))
    elif kind < 0.6:
        seed = rng.choice(placed)
        t0 = ctx.visit_tasks[seed][0]
        p0, e0 = state.place[t0], state.early[t0]
        km = ctx.km
        scale = max(1e-9, float(km.max()))

        def relatedness(v: int) -> float:
            t = ctx.visit_tasks[v][0]
            return km[p0, state.place[t]] / scale + abs(state.early[t] - e0) / 600.0

        removed = set(sorted(placed, key=relatedness)[:q])
    else:
        # strings: consecutive tasks of routes near a seed visit
        seed = rng.choice(placed)
        t0 = ctx.visit_tasks[seed][0]
        p0 = state.place[t0]
        km = ctx.km
        order = sorted(
            (r for r, route in enumerate(state.routes) if route),
            key=lambda r: min(km[p0, state.place[t]] for t in state.routes[r]),
        )
        avg = max(1.0, sum(len(x) for x in state.routes) / max(1, len(order)))
        max_len = max(1, min(int(avg), 10))
        for r in order:
            if len(removed) >= q:
                break
            route = state.routes[r]
            length = rng.randint(1, min(max_len, len(route)))
            anchor = min(range(len(route)), key=lambda k: km[p0, state.place[route[k]]])
            lo = max(0, min(anchor - rng.randint(0, length - 1), len(route) - length))
            for t in route[lo : lo + length]:
                removed.add(state.visit[t])
    out = sorted(removed)
    state.remove_tasks([t for v in out for t in ctx.visit_tasks[v]])
    return out


def _recreate(state: LnsState, visits: list[int], rng: random.Random, blink: float) -> list[int]:
    """Re-insert ``visits`` (double visits first, then a random or window order)."""
    ctx = state.ctx
    r = rng.random()
    if r < 0.4:
        rng.shuffle(visits)
    elif r < 0.7:
        visits.sort(key=lambda v: state.early[ctx.visit_tasks[v][0]])
    else:
        visits.sort(key=lambda v: -(state.late[ctx.visit_tasks[v][0]] - state.early[ctx.visit_tasks[v][0]]))
    visits.sort(key=lambda v: -len(ctx.visit_tasks[v]))
    failed = []
    for v in visits:
        if not state.insert_visit(v, rng, blink):
            failed.append(v)
    return failed


def search(
    ctx: Compiled,
    budget_s: float,
    seed: int,
    progress: ProgressFn | None,
    initial: list[list[int]] | None = None,
) -> tuple[list[list[int]], dict[int, float], float]:
    """Ruin-and-recreate search: ``(task routes per carer, task starts, cost)``.

    ``initial`` (task routes per carer, e.g. from the PyVRP engine with pinned double visits)
    seeds the search; visits it leaves out, or whose pair it splits, are inserted first."""
    rng = random.Random(seed)
    deadline = time.perf_counter() + budget_s
    state = LnsState(ctx)
    state.late_max = 0.0
    if initial is not None:
        _seed_routes(state, initial)
    state.full_scan = True
    placed = {state.visit[t] for route in state.routes for t in route}
    order = sorted(
        (v for v in range(len(ctx.visits)) if v not in placed),
        key=lambda v: (-len(ctx.visit_tasks[v]), -ctx.visits[v].priority, state.early[ctx.visit_tasks[v][0]]),
    )
    for v in order:
        state.insert_visit(v, rng, 0.0)
    state.full_scan = False
    state.retime()
    current = state.total()
    best, best_routes = current, state.snapshot()
    start_cost = current
    n_vis = len(ctx.visits)
    t_start = time.perf_counter()
    span = max(1e-3, deadline - t_start)
    temp0 = 0.002 * max(1.0, start_cost) * (10.0 / max(10.0, math.sqrt(n_vis)))
    temp1 = temp0 / 100.0
    q_max = max(2, min(40, int(RUIN_SHARE * n_vis)))
    iters = accepted = 0
    last_report = t_start
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        frac = (now - t_start) / span
        temp = temp0 * (temp1 / temp0) ** frac
        snap = state.snapshot()
        q = rng.randint(min(2, q_max), q_max)
        removed = _ruin(state, rng, q)
        try:
            state.retime()
            state.late_max = state.cost_parts()[2]
            failed = _recreate(state, removed, rng, 0.01)
            state.retime()
            cost = state.total()
        except Deadlock:
            state.restore(snap)
            continue
        iters += 1
        if failed:
            log.debug("%d visits not re-inserted", len(failed))
        if cost < current - 1e-9 or rng.random() < math.exp(-(cost - current) / max(1e-9, temp)):
            current = cost
            accepted += 1
            if cost < best - 1e-9:
                best, best_routes = cost, state.snapshot()
        else:
            state.restore(snap)
        if progress is not None and now - last_report > 1.0:
            last_report = now
            progress(min(0.95, 0.05 + 0.9 * frac), f"search: best {best:.1f} after {iters} moves")
    log.info(
        "lns: start %.1f best %.1f, %d iterations (%d accepted) in %.1f s",
        start_cost,
        best,
        iters,
        accepted,
        time.perf_counter() - t_start,
    )
    state.restore(best_routes)
    _drop_overtime(state)
    return state.routes, {t: state.S[t] for route in state.routes for t in route}, best


def solve_lns(
    ctx: Compiled,
    budget_s: float,
    seed: int,
    progress: ProgressFn | None,
    t0: float,
    initial: list[list[int]] | None = None,
) -> Plan:
    """Plan with :func:`search`; returns a :class:`Plan` timed by its least starts."""
    routes, starts, _ = search(ctx, budget_s, seed, progress, initial)
    return build_plan(ctx, routes, "lns", time.perf_counter() - t0, True, starts=starts)


def repin(pinned: Compiled, starts: dict[int, float]) -> None:
    """Pin each planned double visit of ``pinned`` (a ``pin_doubles`` compile) to the starts
    ``starts`` gives its parts, so PyVRP keeps the pairs synchronised where the search put them."""
    for ids in pinned.visit_tasks:
        if len(ids) == 2 and all(t in starts for t in ids):
            for t in ids:
                pinned.tasks[t].early = pinned.tasks[t].late = starts[t]


def _seed_routes(state: LnsState, initial: list[list[int]]) -> None:
    """Take over ``initial`` routes: whole visits only (both parts on different carers, skilled),
    dropping any whose timing would deadlock."""
    ctx = state.ctx
    where: dict[int, int] = {}
    for r, items in enumerate(initial):
        for t in items:
            if t >= 0 and state.can[r][t]:
                where[t] = r
    keep: set[int] = set()
    for ids in ctx.visit_tasks:
        if all(t in where for t in ids) and len({where[t] for t in ids}) == len(ids):
            keep.update(ids)
    for r, items in enumerate(initial):
        state.routes[r] = [t for t in items if t in keep and where[t] == r]
        for t in state.routes[r]:
            state.route_of[t] = r
    try:
        state.retime()
    except Deadlock:
        log.warning("start routes deadlock on synchronised pairs; starting from scratch")
        state.routes = [[] for _ in range(state.m)]
        state.route_of = [-1] * state.n
    state.late_max = state.cost_parts()[2]


def _drop_overtime(state: LnsState) -> None:
    """Unassign visits from the end of any route that still runs past its shift or max_work."""
    for r in range(state.m):
        while state.routes[r] and state.route_over(r, state.S) > 1e-6:
            t = state.routes[r][-1]
            v = state.visit[t]
            log.warning("visit %s unassigned: carer %s would work overtime", state.ctx.visits[v].id, r)
            state.remove_tasks(state.ctx.visit_tasks[v])
            state.retime()
