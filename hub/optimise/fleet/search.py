"""Fleet search on the true objective: compositions evaluated by exact allocation, Pareto cost vs CO2e.

Pools (locations joined by pool vehicles) are searched independently. In a pool a *composition*
is a count per vehicle group (identical vehicles of today's fleet, or a candidate type). For a CO2e
price ``mu`` the objective is fixed cost + optimal allocation cost (cash + ``mu`` x CO2e) per year.
A local search keeps, drops, adds and replaces vehicles; every neighbour gets a lower bound from
the LP duals of the current allocation (the allocation value is convex in the vehicle counts), and
neighbours are evaluated best bound first until the bound cannot beat the best found (cache and
bound; no per-km surrogate). Sweeping ``mu`` from 0 upwards traces the cost-CO2e trade-off; the
municipality's front is the non-dominated Minkowski sum of the pools' fronts.
"""

from __future__ import annotations

import logging
import os
import time as clock
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from hub.optimise.fleet.allocation import CountModel, Jobs, _Pool, _pools, eligible_mask
from hub.optimise.fleet.model import Dataset, Roundtrips, Settings, Vehicle
from hub.optimise.fleet.tco import DAYS_PER_YEAR, allowance_km_rate, vehicle_km_rate

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
#: CO2e prices (DKK per tonne) swept for the Pareto front, besides the settings' own price.
DEFAULT_CO2E_PRICES = (0.0, 500.0, 3000.0, 6000.0, 12000.0, 25000.0, 60000.0, 150000.0, 400000.0)
#: Seconds (on ``workers`` cores, counted in CPU time) after which the search returns its best so far.
DEFAULT_TIME_BUDGET_S = 50.0
#: Lean starting fleets, as shares of the pool's peak concurrency.
LEAN_FRACTIONS = (1.0, 0.5)
#: Fleets of a pool's front re-dispatched at the settings' price for the municipality-wide choice.
AT_PRICE_MAX = 16


@dataclass(frozen=True)
class Group:
    """Identical vehicles in one pool: today's (``existing`` ids, first to go first) or a candidate."""

    key: str
    spec: Vehicle
    existing: tuple[str, ...] = ()

    @property
    def candidate(self) -> bool:
        return not self.existing


@dataclass(frozen=True)
class Point:
    """One evaluated composition of a pool at CO2e price ``mu``; money per year, CO2e t per year."""

    counts: tuple[int, ...]
    mu: float
    fixed_dkk: float
    variable_dkk: float
    co2e_t: float
    unallocated_trips: int
    unallocated_km: float

    @property
    def cash_dkk(self) -> float:
        return self.fixed_dkk + self.variable_dkk

    def objective(self, mu: float | None = None) -> float:
        return self.cash_dkk + (self.mu if mu is None else mu) * self.co2e_t


@dataclass
class PoolSearchResult:
    locations: list[int]
    groups: list[Group]
    today: tuple[int, ...]
    points: list[Point]
    best_by_mu: dict[float, Point]
    min_vehicles_all_trips: int
    evaluations: int
    seconds: float
    today_point: Point
    max_unallocated: int | None = None
    out_of_time: bool = False
    cpu_s: float | None = None


def _key(v: Vehicle) -> tuple:
    return (int(v.type), v.fuel, v.make, v.model, v.wltp_fossil, v.wltp_el, v.range_km, v.capacity_decrease,
            v.co2_pr_km, v.omkostning_aar, v.sleep, tuple(sorted(v.homes)))


def pool_groups(fleet: Sequence[Vehicle], candidates: Sequence[Vehicle], locations: Sequence[int]) -> list[Group]:
    """Today's vehicles of a pool grouped by identical spec, then one group per candidate type."""
    by_key: dict[tuple, list[Vehicle]] = {}
    for v in fleet:
        if v.homes & set(locations):
            by_key.setdefault(_key(v), []).append(v)
    groups = []
    for vs in by_key.values():
        vs.sort(key=lambda v: (v.end_leasing is None, v.end_leasing or 0, v.id))
        groups.append(Group(f"{vs[0].label} @ {'/'.join(map(str, sorted(vs[0].homes)))}", vs[0],
                            tuple(v.id for v in vs)))
    home = min(locations)
    seen = {_key(g.spec) for g in groups}
    for c in candidates:
        spec = c.model_copy(update={"location": home, "extra_locations": (), "test_vehicle": False})
        if _key(spec) in seen:
            continue
        seen.add(_key(spec))
        groups.append(Group(f"new {spec.label} @ {home}", spec))
    return groups


class PoolEvaluator:
    """Exact allocation value of compositions of one pool, cached per (counts, mu)."""

    def __init__(self, trips: Roundtrips, groups: list[Group], settings: Settings, period_days: float) -> None:
        self.groups = groups
        self.settings = settings
        self.scale = DAYS_PER_YEAR / period_days
        jobs = Jobs.of(trips, settings)
        self.pool = _Pool(jobs, np.arange(len(jobs.start)), settings, settings.slack_min * 60.0)
        self.trips_per_job = np.array([len(jobs.members[j]) for j in self.pool.idx])
        self.masks = [eligible_mask(g.spec, self.pool.local, settings) for g in groups]
        self.rates = [vehicle_km_rate(g.spec, settings) for g in groups]
        self.allow = allowance_km_rate(settings)
        self.cash_km = np.array([r.dkk for r in self.rates])
        self.co2_km = np.array([r.co2e_kg for r in self.rates])
        self.model = CountModel(self.pool, self.masks)
        self._price_rows: dict[float, np.ndarray] = {}
        self.cache: dict[tuple[tuple[int, ...], float], tuple[Point, np.ndarray]] = {}

    def ample_bound(self, counts: Sequence[int], mu: float) -> float:
        """Annual variable cost if the groups present had vehicles to spare: a lower bound."""
        if mu not in self._price_rows:
            prices = np.array([r.priced(mu) for r in self.rates])[:, None]
            self._price_rows[mu] = np.where(np.asarray(self.masks), prices, np.inf)
        rows = self._price_rows[mu][np.asarray(counts) > 0]
        allowance = np.full(len(self.pool.km), self.allow.priced(mu))
        per_km = np.minimum(rows.min(axis=0), allowance) if len(rows) else allowance
        return float(per_km @ self.pool.km) * self.scale

    def fixed(self, counts: Sequence[int]) -> float:
        return float(sum(n * g.spec.omkostning_aar for n, g in zip(counts, self.groups, strict=True)))

    def evaluate(self, counts: tuple[int, ...], mu: float) -> tuple[Point, np.ndarray]:
        """The pool's annual figures for ``counts`` and the marginal value per group (DKK/yr, <= 0)."""
        key = (counts, mu)
        if key in self.cache:
            return self.cache[key]
        prices = np.array([r.priced(mu) for r in self.rates])
        solved = self.model.solve(np.asarray(counts), prices, self.allow.priced(mu))
        plan = solved.plan
        km = self.pool.km
        on = plan >= 0
        group_km = np.bincount(plan[on], weights=km[on], minlength=len(self.groups))
        un_km = float(km[~on].sum())
        cash = float(group_km @ self.cash_km) + self.allow.dkk * un_km
        co2 = float(group_km @ self.co2_km) + self.allow.co2e_kg * un_km
        point = Point(counts, mu, self.fixed(counts), cash * self.scale, co2 * self.scale / 1000.0,
                      int(self.trips_per_job[~on].sum()), un_km * self.scale)
        marginal = solved.marginal * self.scale
        self.cache[key] = (point, marginal)
        return point, marginal

def _neighbours(counts: tuple[int, ...], groups: list[Group], max_add: int,
                limits: Sequence[int] | None = None) -> list[tuple[int, ...]]:
    """Drop one, add one, or replace one by another; a group holds at most ``limits[g]`` vehicles
    (default: today's count + ``max_add``)."""
    out = []
    n = len(counts)
    top = list(limits) if limits is not None else [len(g.existing) + max_add for g in groups]
    for g in range(n):
        if counts[g] > 0:
            out.append((*counts[:g], counts[g] - 1, *counts[g + 1:]))
        if counts[g] < top[g]:
            out.append((*counts[:g], counts[g] + 1, *counts[g + 1:]))
        for h in range(n):
            if h != g and counts[g] > 0 and counts[h] < top[h]:
                c = list(counts)
                c[g] -= 1
                c[h] += 1
                out.append(tuple(c))
    return out


class _OutOfTime(Exception):
    """The pool's time budget is spent: the caller keeps the best found so far."""


def _check_time(deadline: float | None) -> None:
    if deadline is not None and clock.process_time() > deadline:
        raise _OutOfTime


def local_search(ev: PoolEvaluator, start: tuple[int, ...], mu: float, *, max_unallocated: int | None = None,
                 max_co2e_t: float | None = None, max_add: int = 3, limits: Sequence[int] | None = None,
                 max_steps: int = 200, first_improvement: bool = False, deadline: float | None = None,
                 best_so_far: list[Point] | None = None) -> Point:
    """Descent from ``start``; neighbours in order of their dual lower bound. It moves to the first
    improving neighbour (or the best one), and stops where no neighbour's bound beats the incumbent.

    Fleets leaving more than ``max_unallocated`` roundtrips or emitting more than ``max_co2e_t`` are
    not accepted. With a ``deadline`` (process CPU time) it stops when that passes and returns the
    best found so far (also kept in ``best_so_far[0]`` for callers that catch the time-out)."""

    def feasible(p: Point) -> bool:
        return ((max_unallocated is None or p.unallocated_trips <= max_unallocated)
                and (max_co2e_t is None or p.co2e_t <= max_co2e_t + 1e-9))

    keep = best_so_far if best_so_far is not None else []

    def remember(p: Point) -> None:
        if feasible(p) and (not keep or p.objective() < keep[0].objective()):
            keep[:] = [p]

    cur, marg = ev.evaluate(start, mu)
    remember(cur)
    try:
        if max_unallocated is not None and cur.unallocated_trips > max_unallocated:
            # fewer unallocated trips first: add the cheapest-to-run vehicles until the cap holds
            for _ in range(max_steps):
                options = []
                for nb in _neighbours(cur.counts, ev.groups, max_add, limits):
                    if sum(nb) > sum(cur.counts):
                        _check_time(deadline)
                        options.append(ev.evaluate(nb, mu))
                if not options:
                    break
                cur, marg = min(options, key=lambda pm: (pm[0].unallocated_trips, pm[0].objective()))
                remember(cur)
                if cur.unallocated_trips <= max_unallocated:
                    break
        for _ in range(max_steps):
            base = cur.objective() - cur.fixed_dkk
            scored = []
            for nb in _neighbours(cur.counts, ev.groups, max_add, limits):
                delta = np.asarray(nb) - np.asarray(cur.counts)
                bound = ev.fixed(nb) + max(base + float(marg @ delta), ev.ample_bound(nb, mu))
                scored.append((bound, nb))
            scored.sort()
            best, best_marg = cur, marg
            # while the current fleet breaks a cap, any feasible neighbour is better than it
            incumbent = best.objective() if feasible(best) else np.inf
            for bound, nb in scored:
                if bound >= incumbent - 1e-6:
                    break
                _check_time(deadline)
                p, m = ev.evaluate(nb, mu)
                remember(p)
                if feasible(p) and p.objective() < incumbent - 1e-6:
                    best, best_marg, incumbent = p, m, p.objective()
                    if first_improvement:
                        break
            if best is cur:
                return cur
            cur, marg = best, best_marg
    except _OutOfTime:
        return keep[0] if keep else cur
    return cur


def _peak(trips: Roundtrips, slack_s: float) -> int:
    if len(trips) == 0:
        return 0
    times = np.concatenate([trips.start, trips.end + slack_s])
    delta = np.concatenate([np.ones(len(trips)), -np.ones(len(trips))])
    order = np.lexsort((delta, times))
    return int(np.cumsum(delta[order]).max())


def lean_start(ev: PoolEvaluator, peak: int, limits: Sequence[int], mu: float) -> tuple[int, ...]:
    """A lean composition: ``peak`` (the most roundtrips running at once) vehicles of the one group
    that can take every trip and is cheapest by fixed cost + the ample lower bound of its running."""
    full = [g for g, m in enumerate(ev.masks) if m.all() and limits[g] > 0]
    best, best_value = tuple(len(g.existing) for g in ev.groups), np.inf
    for g in full:
        counts = tuple(min(peak, limits[g]) if h == g else 0 for h in range(len(ev.groups)))
        value = ev.fixed(counts) + ev.ample_bound(counts, mu)
        if value < best_value:
            best, best_value = counts, value
    return best


def _sweep_order(mus: Sequence[float], price: float) -> list[float]:
    """The settings' price first, then dearer CO2e (cleaner fleets), then cheaper."""
    return [price, *sorted(m for m in mus if m > price), *sorted((m for m in mus if m < price), reverse=True)]


def search_pool(trips: Roundtrips, groups: list[Group], settings: Settings, period_days: float,
                locations: list[int], mus: Sequence[float], max_unallocated: int | str | None = "today",
                max_add: int = 3, co2e_guide: float | None = None, budget_s: float | None = None,
                multi_start: bool = True) -> PoolSearchResult:
    """Search one pool: at the settings' CO2e price from today's fleet and from lean fleets (the peak
    concurrency and half of it, of the one group cheapest to run), then a sweep over the other CO2e
    prices (each search starting where the previous ended). With ``co2e_guide`` (t/yr) it also
    looks for the least-TCO fleet at the settings' price that emits at most that (the evaluated
    fleets meeting it, cheapest first, then a descent held to it), so that clean fleets dispatched
    at the settings' price are on hand for the final choice.

    ``max_unallocated``: a cap on unallocated roundtrips, ``"today"`` for as many as today's fleet
    leaves (the service level stays), or None for pure TCO. A group may grow to today's count +
    ``max_add`` or to the peak concurrency, whichever is more. ``budget_s`` (process CPU seconds)
    stops the search with the best found so far.
    """
    t0, cpu0 = clock.perf_counter(), clock.process_time()
    deadline = None if budget_s is None else cpu0 + budget_s
    price = settings.vaerdisaetning_tons_co2
    ev = PoolEvaluator(trips, groups, settings, period_days)
    today = tuple(len(g.existing) for g in groups)
    peak = _peak(trips, settings.slack_min * 60.0)
    limits = [max(len(g.existing) + max_add, peak) for g in groups]
    if max_unallocated == "today":
        max_unallocated = ev.evaluate(today, price)[0].unallocated_trips
    cap = None if max_unallocated is None else int(max_unallocated)
    best: dict[float, Point] = {}
    out_of_time = False

    def run(start: tuple[int, ...], mu: float, co2_cap: float | None = None, share: float = 1.0) -> Point | None:
        """A descent; ``share``: the part of the time left that it may use."""
        nonlocal out_of_time
        if out_of_time:
            return None
        found: list[Point] = []
        until = None if deadline is None else clock.process_time() + share * (deadline - clock.process_time())
        p = local_search(ev, start, mu, max_unallocated=cap, max_co2e_t=co2_cap, max_add=max_add, limits=limits,
                         deadline=until, best_so_far=found, first_improvement=deadline is not None)
        if deadline is not None and clock.process_time() > deadline:
            out_of_time = True
        return p

    order = _sweep_order(mus, price)
    starts = [today]
    if multi_start:  # lean fleets: peak concurrency, and half of it (the rest paid as allowance if cheaper)
        starts += [lean_start(ev, max(1, round(peak * f)), limits, price) for f in LEAN_FRACTIONS]
    at_price = [p for p in (run(s, price) for s in dict.fromkeys(starts)) if p is not None]
    ok = [p for p in at_price if cap is None or p.unallocated_trips <= cap] or at_price
    best[price] = min(ok, key=lambda p: p.objective())

    def nearest(mu: float) -> Point:
        """The result of the evaluated price nearest below ``mu`` (above, for prices under the settings')."""
        if mu > price:
            return best[max(m for m in best if m < mu)]
        return best[min(m for m in best if m > mu)]

    if co2e_guide is not None:
        # bisection over the dearer CO2e prices for the cheapest that meets the guide, then the
        # least-TCO fleet at the settings' price under the guide
        higher = sorted(m for m in mus if m > price)
        lo, hi = 0, len(higher) - 1
        while lo <= hi and not out_of_time:
            mid = (lo + hi) // 2
            p = run(nearest(higher[mid]).counts, higher[mid])
            if p is None:
                break
            best[higher[mid]] = p
            if p.co2e_t <= co2e_guide + 1e-9:
                hi = mid - 1
            else:
                lo = mid + 1
        _constrained(ev, price, cap, co2e_guide, run)  # its fleets join the cache, at the settings' price
    for mu in order[1:]:
        if mu in best:
            continue
        p = run(nearest(mu).counts, mu)
        if p is None:
            break
        best[mu] = p
    points = [p for p, _ in ev.cache.values() if cap is None or p.unallocated_trips <= cap]
    # the pool's front, dispatched at the settings' price, is what the municipality-wide choice mixes
    for p in _nondominated(points)[:AT_PRICE_MAX]:
        if p.mu != price and not out_of_time:
            try:
                _check_time(deadline)
                ev.evaluate(p.counts, price)
            except _OutOfTime:
                out_of_time = True
    points = [p for p, _ in ev.cache.values() if cap is None or p.unallocated_trips <= cap]
    today_point = ev.evaluate(today, price)[0]
    result = PoolSearchResult(locations, groups, today, points, best, peak, len(ev.cache),
                              clock.perf_counter() - t0, today_point)
    result.max_unallocated = cap
    result.out_of_time = out_of_time
    result.cpu_s = clock.process_time() - cpu0
    return result


def _constrained(ev: PoolEvaluator, price: float, cap: int | None, max_co2e_t: float,
                 run: Callable[..., Point | None]) -> Point | None:
    """The least-TCO fleet at ``price`` with at most ``max_co2e_t`` t CO2e/yr and ``cap`` unallocated:
    evaluated fleets that met the caps at any price are re-evaluated at ``price`` cheapest first,
    and a descent held to the caps starts from the first that still meets them."""
    seen: dict[tuple[int, ...], Point] = {}
    for p, _ in list(ev.cache.values()):
        if (cap is None or p.unallocated_trips <= cap) and p.co2e_t <= max_co2e_t + 1e-9:
            q = seen.get(p.counts)
            if q is None or p.objective(price) < q.objective(price):
                seen[p.counts] = p
    start = None
    for p in sorted(seen.values(), key=lambda p: p.objective(price))[:8]:
        q = ev.evaluate(p.counts, price)[0]
        if (cap is None or q.unallocated_trips <= cap) and q.co2e_t <= max_co2e_t + 1e-9:
            start = q
            break
    if start is None:
        # nothing found meets the caps at this price: descend from the cleanest fleet evaluated
        cands = [p for p, _ in ev.cache.values() if cap is None or p.unallocated_trips <= cap]
        if not cands:
            return None
        start = ev.evaluate(min(cands, key=lambda p: p.co2e_t).counts, price)[0]
    p = run(start.counts, price, max_co2e_t)
    return start if p is None else p


# ------------------------------------------------------------------ the whole municipality


@dataclass
class FleetOption:
    """A whole fleet on the front: per pool composition, annual figures, and changes against today."""

    counts: list[tuple[int, ...]]
    fixed_dkk: float
    variable_dkk: float
    co2e_t: float
    unallocated_trips: int
    vehicles: int
    mu: float | None = None
    changes: list[str] = field(default_factory=list)

    @property
    def cash_dkk(self) -> float:
        return self.fixed_dkk + self.variable_dkk

    def tco(self, co2e_price: float) -> float:
        return self.cash_dkk + co2e_price * self.co2e_t

    def as_dict(self, co2e_price: float) -> dict[str, object]:
        return {"vehicles": self.vehicles, "cash_dkk": round(self.cash_dkk), "fixed_dkk": round(self.fixed_dkk),
                "variable_dkk": round(self.variable_dkk), "co2e_t": round(self.co2e_t, 3),
                "tco_dkk": round(self.tco(co2e_price)), "unallocated_trips": self.unallocated_trips,
                "co2e_price_searched": self.mu, "changes": self.changes}


@dataclass
class SearchResult:
    """What :func:`search_fleet` found: the pools, today's figures, the front and the recommendation."""

    pools: list[PoolSearchResult]
    today: FleetOption
    front: list[FleetOption]
    recommended: FleetOption
    co2e_price: float
    min_vehicles_all_trips: int
    seconds: float
    evaluations: int
    vehicles_by_id: dict[str, Vehicle] = field(default_factory=dict)

    def recommend(self, max_co2e_t: float | None = None) -> FleetOption:
        """The least-TCO mix of the pools' fleets dispatched at the settings' price, optionally
        emitting at most ``max_co2e_t`` t CO2e per year (the cleanest mix found if none does)."""
        return _option(self.pools, _select(self.pools, self.co2e_price, max_co2e_t), self.co2e_price)

    def best(self, co2e_price: float | None = None, max_co2e_t: float | None = None) -> FleetOption:
        """The front's fleet with least TCO at ``co2e_price``, optionally with at most ``max_co2e_t``."""
        price = self.co2e_price if co2e_price is None else co2e_price
        options = [o for o in [*self.front, self.recommended] if max_co2e_t is None or o.co2e_t <= max_co2e_t + 1e-9]
        if not options:
            raise ValueError(f"no fleet found emits at most {max_co2e_t} t CO2e per year")
        return min(options, key=lambda o: o.tco(price))

    def fleet(self, option: FleetOption, candidates_prefix: str = "new") -> list[Vehicle]:
        """The vehicles of ``option``: today's kept (earliest leasing end dropped first) plus new ones."""
        out: list[Vehicle] = []
        for pool, counts in zip(self.pools, option.counts, strict=True):
            for g, n in zip(pool.groups, counts, strict=True):
                keep = list(g.existing[len(g.existing) - min(n, len(g.existing)):])
                out.extend(self.vehicles_by_id.get(vid, g.spec) for vid in keep)
                for k in range(n - len(keep)):
                    loc = "-".join(map(str, sorted(g.spec.homes)))
                    out.append(g.spec.model_copy(update={"id": f"{candidates_prefix}-{loc}-{g.spec.id}-{k + 1}",
                                                         "plate": ""}))
        return out


def _changes(pools: list[PoolSearchResult], counts: list[tuple[int, ...]]) -> list[str]:
    lines = []
    for pool, cs in zip(pools, counts, strict=True):
        for g, n, n0 in zip(pool.groups, cs, pool.today, strict=True):
            if n < n0:
                dropped = g.existing[: n0 - n]
                lines.append(f"drop {n0 - n} x {g.key} ({', '.join(dropped)})")
            elif n > n0:
                lines.append(f"add {n - n0} x {g.key}")
    return lines


def _combine(pool_fronts: list[list[Point]], cap: int = 400) -> list[list[Point]]:
    """Non-dominated (cash, CO2e) combinations of one point per pool, thinned to ``cap``."""
    combos: list[tuple[float, float, list[Point]]] = [(0.0, 0.0, [])]
    for front in pool_fronts:
        merged = [(c + p.cash_dkk, e + p.co2e_t, [*ps, p]) for c, e, ps in combos for p in front]
        merged.sort(key=lambda x: (x[0], x[1]))
        nd, best_e = [], np.inf
        for item in merged:
            if item[1] < best_e - 1e-9:
                nd.append(item)
                best_e = item[1]
        if len(nd) > cap:
            keep = np.unique(np.linspace(0, len(nd) - 1, cap).round().astype(int))
            nd = [nd[i] for i in keep]
        combos = nd
    return [ps for _, _, ps in combos]


def _nondominated(pts: list[Point]) -> list[Point]:
    best: dict[tuple[int, ...], Point] = {}
    for p in pts:  # one figure per composition: the one of the lowest-cost dispatch seen
        if p.counts not in best or p.cash_dkk < best[p.counts].cash_dkk:
            best[p.counts] = p
    pts = sorted(best.values(), key=lambda p: (p.cash_dkk, p.co2e_t))
    out, best_e = [], np.inf
    for p in pts:
        if p.co2e_t < best_e - 1e-9:
            out.append(p)
            best_e = p.co2e_t
    return out


def _option(pools: list[PoolSearchResult], pts: list[Point], mu: float | None) -> FleetOption:
    counts = [p.counts for p in pts]
    return FleetOption(counts, sum(p.fixed_dkk for p in pts), sum(p.variable_dkk for p in pts),
                       sum(p.co2e_t for p in pts), sum(p.unallocated_trips for p in pts),
                       sum(sum(c) for c in counts), mu, _changes(pools, counts))


def _select(pools: list[PoolSearchResult], price: float, max_co2e_t: float | None) -> list[Point]:
    """One fleet per pool, each dispatched at ``price`` and within its pool's unallocated cap, with
    least total TCO and (if given) total CO2e at most ``max_co2e_t``: the Lagrangian choice (a CO2e
    surcharge raised by bisection until the cap holds), then single-pool swaps that lower TCO within
    the cap. Where no mix meets the cap the cleanest is returned."""
    cands = []
    for r in pools:
        ok = [p for p in r.points if p.mu == price
              and (r.max_unallocated is None or p.unallocated_trips <= r.max_unallocated)]
        cands.append(ok or [r.best_by_mu[price]])

    def pick(lam: float) -> list[Point]:
        return [min(c, key=lambda p: (p.objective(price) + lam * p.co2e_t, p.co2e_t)) for c in cands]

    chosen = pick(0.0)
    if max_co2e_t is None or sum(p.co2e_t for p in chosen) <= max_co2e_t + 1e-9:
        return chosen
    lo, hi = 0.0, 1e4
    while sum(p.co2e_t for p in pick(hi)) > max_co2e_t + 1e-9 and hi < 1e9:
        lo, hi = hi, hi * 10
    chosen = pick(hi)
    if sum(p.co2e_t for p in chosen) > max_co2e_t + 1e-9:
        return chosen
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(p.co2e_t for p in pick(mid)) <= max_co2e_t + 1e-9:
            hi = mid
        else:
            lo = mid
    chosen = pick(hi)
    improved = True
    while improved:
        improved = False
        slack = max_co2e_t - sum(p.co2e_t for p in chosen)
        best_gain, best_move = 1e-6, None
        for i, c in enumerate(cands):
            for p in c:
                if p.co2e_t - chosen[i].co2e_t <= slack + 1e-9:
                    gain = chosen[i].objective(price) - p.objective(price)
                    if gain > best_gain:
                        best_gain, best_move = gain, (i, p)
        if best_move is not None:
            chosen[best_move[0]] = best_move[1]
            improved = True
    return chosen


def _pool_job(args: tuple) -> PoolSearchResult:
    return search_pool(*args)


def search_fleet(
    data: Dataset,
    *,
    candidates: Sequence[Vehicle] | None = None,
    co2e_prices: Sequence[float] = DEFAULT_CO2E_PRICES,
    max_unallocated: dict[int, int] | int | str | None = "today",
    max_add: int = 3,
    max_co2e_t: float | None = None,
    co2e_guides: dict[int, float] | None = None,
    time_budget_s: float | None = DEFAULT_TIME_BUDGET_S,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> SearchResult:
    """Search fleets for ``data``: a Pareto front of annual cash cost vs CO2e, and the fleet that
    minimises TCO at the settings' CO2e price (``vaerdisaetning_tons_co2``).

    ``max_unallocated`` caps unallocated roundtrips per pool: ``"today"`` (default) keeps today's
    service level, an int caps every pool, a dict caps pools by their smallest location id, None
    leaves it to TCO alone. ``max_co2e_t`` caps the municipality's CO2e (t/yr): the recommendation
    is then the least-TCO mix of the pools' fleets (each dispatched at the settings' price) that
    emits at most that. ``co2e_guides`` (t/yr per pool, by smallest location id; default: the cap
    shared by km driven) are the levels at which each pool also searches for clean fleets.
    ``time_budget_s``: the search stops with the best found so far after about this many seconds on
    ``workers`` processes (shared between pools by their number of roundtrips, counted in CPU time
    so that a busy machine slows it down but does not change what it finds); None: no limit.
    ``workers`` processes search pools in parallel (default: CPU count).
    """
    t0 = clock.perf_counter()
    settings = data.settings
    fleet = data.fleet
    cands = list(data.candidates if candidates is None else candidates)
    price = settings.vaerdisaetning_tons_co2
    mus = sorted({*co2e_prices, price})
    period = data.roundtrips.days
    pools = _pools(fleet, data.roundtrips.location)
    n_workers = workers or os.cpu_count() or 1
    jobs = []
    total_trips = max(1, len(data.roundtrips))
    total_km = max(1e-9, float(data.roundtrips.distance.sum()))
    for locs, _members in pools:
        trips = data.roundtrips.subset(np.isin(data.roundtrips.location, locs))
        groups = pool_groups(fleet, cands, locs)
        cap = max_unallocated.get(min(locs)) if isinstance(max_unallocated, dict) else max_unallocated
        if co2e_guides is not None:
            co2_cap = co2e_guides.get(min(locs))
        else:
            co2_cap = None if max_co2e_t is None else max_co2e_t * float(trips.distance.sum()) / total_km
        budget = None if time_budget_s is None else (
            time_budget_s * min(n_workers, len(pools)) * len(trips) / total_trips)
        jobs.append((trips, groups, settings, period, locs, mus, cap, max_add, co2_cap, budget))
    results: list[PoolSearchResult | None] = [None] * len(jobs)
    if n_workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=min(n_workers, len(jobs))) as pool_exec:
            by_size = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))  # largest first
            futures = {pool_exec.submit(_pool_job, jobs[i]): i for i in by_size}
            for done, fut in enumerate(as_completed(futures), start=1):
                results[futures[fut]] = fut.result()
                if progress:
                    progress(done / len(jobs), f"searched pool {jobs[futures[fut]][4]}")
    else:
        for i, job in enumerate(jobs):
            results[i] = _pool_job(job)
            if progress:
                progress((i + 1) / len(jobs), f"searched pool {job[4]}")
    done_pools = [r for r in results if r is not None]
    today_pts = [r.today_point for r in done_pools]
    fronts = [_nondominated(r.points) or [r.best_by_mu[price]] for r in done_pools]
    combos = _combine(fronts)
    front = [_option(done_pools, pts, None) for pts in combos]
    recommended = _option(done_pools, _select(done_pools, price, max_co2e_t), price)
    return SearchResult(
        pools=done_pools, today=_option(done_pools, today_pts, price), front=front, recommended=recommended,
        co2e_price=price, min_vehicles_all_trips=sum(r.min_vehicles_all_trips for r in done_pools),
        seconds=clock.perf_counter() - t0, evaluations=sum(r.evaluations for r in done_pools),
        vehicles_by_id={v.id: v for v in data.vehicles},
    )
