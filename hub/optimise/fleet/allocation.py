"""Exact allocation of roundtrips to a given fleet, with a proven lower bound.

Method. Locations that share a vehicle form one *pool*; pools are independent. In a pool, vehicles
with the same eligibility and price per km form a *type* with ``n`` vehicles. Roundtrips that one
vehicle can serve form a chain of non-overlapping intervals, and on an interval graph a set of trips
fits on ``n`` vehicles exactly when no instant has more than ``n`` of them running (interval graphs
are perfect). So the allocation is the integer programme

    min  sum_t sum_i (price_t - allowance) * km_i * y[i,t]
    s.t. sum_t y[i,t] <= 1                         every roundtrip at most once
         sum_{i in clique k} y[i,t] <= n_t         every maximal clique, every type

solved with HiGHS over the whole period (days are coupled by night trips, so no day is cut). It
ignores EV range, so its optimum is a lower bound. A decoder then turns the type counts into
per-vehicle driving logs in start-time order, respecting range and charging; what an EV cannot take
is re-inserted elsewhere or paid as allowance. The reported gap is (decoded cost - bound) / decoded cost
on the allocation cost (energy, allowance and CO2e at the shadow price).
"""

from __future__ import annotations

import bisect
import logging
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field

import highspy
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix, hstack, vstack

from hub.optimise.fleet.model import Roundtrips, Settings, Vehicle, VehicleKind
from hub.optimise.fleet.tco import (
    FleetCost,
    allowance_km_rate,
    effective_range_km,
    fleet_tco,
    sleep_hours,
    vehicle_km_rate,
)

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
DAY_S = 86400
CLIQUE_CACHE = 64
REPLAN_ROUNDS = 4
#: Grid step (s) of the rest windows in the rest-aware bound (``sleep`` charging rule).
REST_STEP_S = 900.0
#: The rest-aware model is solved as a MIP for pools up to this many jobs (its LP relaxation is weak:
#: fractional rests), with this time limit; larger pools keep the count model's bound.
REST_MIP_MAX_JOBS = 3000
REST_MIP_SECONDS = 30.0


# ------------------------------------------------------------------ eligibility and charging


def bike_eligible(trips: Roundtrips, settings: Settings, electric: bool) -> np.ndarray:
    """Trips a (e-)bike may take: short, inside a bike time window, and slow enough to cycle."""
    rules = settings.bike
    tod = trips.start % DAY_S
    day0 = trips.start - tod
    ok_window = np.zeros(len(trips), dtype=bool)
    for a, z in rules.windows:
        a_s = a.hour * 3600 + a.minute * 60 + a.second
        z_s = z.hour * 3600 + z.minute * 60 + z.second
        ok_window |= (tod >= a_s) & (trips.end - day0 <= z_s)
    speed = rules.ebike_speed_kmh if electric else rules.bike_speed_kmh
    hours = (trips.end - trips.start) / 3600.0
    return ok_window & (trips.distance <= rules.max_km_per_trip) & (trips.distance <= speed * hours + 1e-9)


def eligible_mask(vehicle: Vehicle, trips: Roundtrips, settings: Settings) -> np.ndarray:
    """Which roundtrips ``vehicle`` may take (home location, and the bike rules for bikes)."""
    mask = np.isin(trips.location, np.fromiter(vehicle.homes, dtype=np.int64, count=len(vehicle.homes)))
    if vehicle.type.is_bike:
        mask &= bike_eligible(trips, settings, electric=vehicle.type == VehicleKind.EBIKE)
    return mask


@dataclass
class Battery:
    """Charge state of one vehicle while its log is built; non-EVs always have charge."""

    range_km: float
    sleep_s: float
    model: str
    rate_km_per_s: float
    used_km: float = 0.0
    last_end: float = -1e18

    @classmethod
    def of(cls, vehicle: Vehicle, settings: Settings) -> Battery:
        return cls(
            effective_range_km(vehicle, settings),
            sleep_hours(vehicle, settings) * 3600.0,
            settings.charging_model,
            settings.charge_km_per_h / 3600.0,
        )

    def used_at(self, start: float) -> float:
        """km drawn from the battery when a trip starts at ``start``."""
        idle = start - self.last_end
        if self.model == "sleep":
            return 0.0 if idle >= self.sleep_s else self.used_km
        return max(0.0, self.used_km - idle * self.rate_km_per_s)

    def can_drive(self, start: float, km: float) -> bool:
        return self.range_km == float("inf") or self.used_at(start) + km <= self.range_km + 1e-9

    def drive(self, start: float, end: float, km: float) -> None:
        self.used_km = self.used_at(start) + km
        self.last_end = end


def chain_feasible(
    vehicle: Vehicle, settings: Settings, starts: list[float], ends: list[float], kms: list[float]
) -> bool:
    """Whether a sorted chain of trips respects the vehicle's range and charging."""
    battery = Battery.of(vehicle, settings)
    if battery.range_km == float("inf"):
        return True
    for s, e, km in zip(starts, ends, kms, strict=True):
        if not battery.can_drive(s, km):
            return False
        battery.drive(s, e, km)
    return True


# ------------------------------------------------------------------ jobs (shift locking)


def shift_blocks(trips: Roundtrips, settings: Settings) -> np.ndarray:
    """Block id per trip: with shift locking, one vehicle's trips in one shift stay together."""
    n = len(trips)
    if not settings.shift_locking or not settings.shifts or n == 0:
        return np.arange(n)
    bounds = sorted({s.start.hour * 3600 + s.start.minute * 60 for s in settings.shifts})
    tod = trips.start % DAY_S
    day = trips.start // DAY_S
    idx = np.searchsorted(np.asarray(bounds), tod, side="right") - 1
    # before the first boundary of the day belongs to the previous day's last shift
    day = np.where(idx < 0, day - 1, day)
    idx = np.where(idx < 0, len(bounds) - 1, idx)
    key = [f"{v}|{d}|{i}" for v, d, i in zip(trips.vehicle, day, idx, strict=True)]
    _, block = np.unique(np.asarray(key, dtype=object), return_inverse=True)
    return block


@dataclass
class Jobs:
    """What is allocated: roundtrips, or with shift locking blocks of them."""

    start: np.ndarray
    end: np.ndarray
    km: np.ndarray
    location: np.ndarray
    members: list[np.ndarray]
    trips: Roundtrips

    @classmethod
    def of(cls, trips: Roundtrips, settings: Settings) -> Jobs:
        block = shift_blocks(trips, settings)
        if len(block) and block.max() + 1 == len(trips) and np.array_equal(block, np.arange(len(trips))):
            return cls(
                trips.start.astype(float),
                trips.end.astype(float),
                trips.distance.astype(float),
                trips.location,
                [np.array([i]) for i in range(len(trips))],
                trips,
            )
        nb = int(block.max()) + 1 if len(block) else 0
        order = np.argsort(block, kind="stable")
        splits = np.split(order, np.cumsum(np.bincount(block, minlength=nb))[:-1]) if nb else []
        return cls(
            np.array([trips.start[m].min() for m in splits], dtype=float),
            np.array([trips.end[m].max() for m in splits], dtype=float),
            np.array([trips.distance[m].sum() for m in splits], dtype=float),
            np.array([trips.location[m[0]] for m in splits], dtype=np.int64),
            splits,
            trips,
        )


# ------------------------------------------------------------------ the integer programme


def maximal_cliques(start: np.ndarray, end: np.ndarray) -> list[np.ndarray]:
    """Maximal sets of intervals running at one instant (intervals sorted by start)."""
    cliques: list[np.ndarray] = []
    active: list[int] = []
    n = len(start)
    for j in range(n):
        sj = start[j]
        active = [i for i in active if end[i] > sj]
        active.append(j)
        nxt = start[j + 1] if j + 1 < n else np.inf
        if nxt >= min(end[i] for i in active):
            cliques.append(np.asarray(active))
    return cliques


def clique_matrix(start: np.ndarray, end: np.ndarray) -> csr_matrix:
    """Clique-by-interval incidence for intervals sorted by start."""
    cliques = maximal_cliques(start, end)
    if not cliques:
        return csr_matrix((0, len(start)))
    rows = np.repeat(np.arange(len(cliques)), [len(c) for c in cliques])
    cols = np.concatenate(cliques)
    return coo_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(cliques), len(start))).tocsr()


@dataclass
class VehicleType:
    """``count`` interchangeable vehicles in a pool: same eligible trips, same price per km."""

    count: int
    mask: np.ndarray
    price_km: float
    members: list[int] = field(default_factory=list)


@dataclass
class CountPlan:
    """The integer programme's answer: planned type per job (-1: allowance) and values relative to
    paying every job as allowance. ``marginal[t]`` is an LP dual: adding ``d`` vehicles of type t
    lowers the optimum by at most ``-marginal[t] * d`` and removing them raises it by at least that."""

    plan: np.ndarray
    value: float
    bound: float
    marginal: np.ndarray
    status: str


@dataclass
class PoolResult:
    locations: list[int]
    trips: int
    bound: float
    cost: float
    seconds: float
    status: str


@dataclass
class Allocation:
    """A fleet's allocation: who drives what, its annual TCO, and how close to optimal it is.

    ``assignment[i]`` is the index into ``fleet`` of the vehicle that takes roundtrip ``i`` or -1
    (paid as allowance). ``cost_dkk``/``bound_dkk`` are the allocation cost over the observed period
    (energy + allowance + CO2e at the shadow price) of this allocation and a proven lower bound.
    """

    fleet: list[Vehicle]
    trips: Roundtrips
    assignment: np.ndarray
    settings: Settings
    cost_dkk: float
    bound_dkk: float
    seconds: float
    pools: list[PoolResult] = field(default_factory=list)

    @property
    def gap(self) -> float:
        return 0.0 if self.cost_dkk <= 0 else max(0.0, (self.cost_dkk - self.bound_dkk) / self.cost_dkk)

    @property
    def unallocated(self) -> np.ndarray:
        return np.flatnonzero(self.assignment < 0)

    @property
    def unallocated_km(self) -> float:
        return float(self.trips.distance[self.assignment < 0].sum())

    @property
    def km_by_vehicle(self) -> dict[str, float]:
        km = np.bincount(
            self.assignment[self.assignment >= 0],
            weights=self.trips.distance[self.assignment >= 0],
            minlength=len(self.fleet),
        )
        return {v.id: float(km[k]) for k, v in enumerate(self.fleet)}

    def tco(self, co2e_price: float | None = None) -> FleetCost:
        return fleet_tco(
            self.fleet, self.km_by_vehicle, self.unallocated_km, self.trips.days, self.settings, co2e_price
        )

    def driving_log(self) -> list[dict[str, object]]:
        """One row per roundtrip: vehicle (or allowance), times, km, who drove it before."""
        rows = []
        for i in np.argsort(self.trips.start, kind="stable"):
            k = int(self.assignment[i])
            v = self.fleet[k] if k >= 0 else None
            rows.append(
                {
                    "vehicle_id": v.id if v else "",
                    "plate": v.plate if v else "",
                    "vehicle": v.label if v else "allowance (private car)",
                    "roundtrip_id": int(self.trips.id[i]),
                    "start_time": self.trips.start_iso(i),
                    "end_time": self.trips.end_iso(i),
                    "distance_km": round(float(self.trips.distance[i]), 3),
                    "location": int(self.trips.location[i]),
                    "driven_before_by": str(self.trips.vehicle[i]),
                }
            )
        return rows

    def summary(self) -> dict[str, object]:
        cost = self.tco()
        return {
            "vehicles": len(self.fleet),
            "roundtrips": len(self.trips),
            "unallocated_trips": len(self.unallocated),
            "unallocated_km": round(self.unallocated_km, 1),
            "period_days": self.trips.days,
            "allocation_cost_dkk": round(self.cost_dkk, 2),
            "allocation_bound_dkk": round(self.bound_dkk, 2),
            "gap": round(self.gap, 6),
            "seconds": round(self.seconds, 3),
            **cost.as_dict(),
        }


def _pools(fleet: list[Vehicle], locations: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """Groups of locations joined by pool vehicles, with the vehicles that serve them."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for loc in np.unique(locations):
        find(int(loc))
    for v in fleet:
        homes = sorted(v.homes)
        for h in homes:
            find(h)
        for h in homes[1:]:
            parent[find(h)] = find(homes[0])
    groups: dict[int, list[int]] = {}
    for loc in parent:
        groups.setdefault(find(loc), []).append(loc)
    out = []
    for locs in groups.values():
        members = [k for k, v in enumerate(fleet) if v.homes & set(locs)]
        out.append((sorted(locs), members))
    return out


class _Pool:
    """One pool's allocation problem; clique matrices are cached per eligibility pattern."""

    def __init__(self, jobs: Jobs, idx: np.ndarray, settings: Settings, slack_s: float) -> None:
        order = np.argsort(jobs.start[idx], kind="stable")
        self.idx = idx[order]
        self.start = jobs.start[self.idx]
        self.end = jobs.end[self.idx]
        self.km = jobs.km[self.idx]
        self.slack_s = slack_s
        self.settings = settings
        self.local = Roundtrips(
            np.arange(len(self.idx)),
            self.start.astype(np.int64),
            self.end.astype(np.int64),
            self.km,
            jobs.location[self.idx],
            np.full(len(self.idx), "", dtype=object),
        )
        self._cliques: dict[bytes, tuple[np.ndarray, csr_matrix]] = {}

    def cliques(self, mask: np.ndarray) -> tuple[np.ndarray, csr_matrix]:
        """Jobs in ``mask`` and their maximal-clique matrix (cached; search asks for the same ones)."""
        key = np.packbits(mask).tobytes()
        if key not in self._cliques:
            if len(self._cliques) > CLIQUE_CACHE:
                self._cliques.clear()
            cols = np.flatnonzero(mask)
            self._cliques[key] = (cols, clique_matrix(self.start[cols], self.end[cols] + self.slack_s))
        return self._cliques[key]


def _types(pool: _Pool, fleet: list[Vehicle], members: list[int], prices: list[float]) -> list[VehicleType]:
    groups: dict[tuple[bytes, float], VehicleType] = {}
    for k in members:
        mask = eligible_mask(fleet[k], pool.local, pool.settings)
        key = (np.packbits(mask).tobytes(), round(prices[k], 9))
        if key not in groups:
            groups[key] = VehicleType(0, mask, prices[k])
        groups[key].members.append(k)
        groups[key].count += 1
    return list(groups.values())


def _segments(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Segment id per job (sorted by start): a new segment begins whenever no job is running."""
    if len(start) == 0:
        return np.zeros(0, dtype=np.int64)
    reach = np.maximum.accumulate(end)
    return np.concatenate([[0], np.cumsum(start[1:] >= reach[:-1])])


def _peak_per_segment(start: np.ndarray, end: np.ndarray, seg: np.ndarray, n_seg: int) -> np.ndarray:
    """Most jobs running at one instant, per segment."""
    peak = np.zeros(n_seg, dtype=np.int64)
    if len(start) == 0:
        return peak
    times = np.concatenate([start, end])
    delta = np.concatenate([np.ones(len(start)), -np.ones(len(end))])
    order = np.lexsort((delta, times))  # an end and a start at one instant do not overlap
    np.maximum.at(peak, np.concatenate([seg, seg])[order], np.cumsum(delta[order]).astype(np.int64))
    return peak


def presolve(pool: _Pool, types: list[VehicleType], allowance: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Solve the easy segments outright: (plan, mask of jobs still to solve, value of the solved part).

    Segments (stretches with a job running throughout) are independent. Where every job can have
    its own cheapest type without any type running more trips at once than it has vehicles, that
    choice is optimal.
    """
    n = len(pool.start)
    plan = np.full(n, -1)
    useful = [t for t in np.argsort([vt.price_km for vt in types], kind="stable")
              if types[t].price_km < allowance and types[t].count > 0]
    for t in reversed(useful):
        plan[types[t].mask] = t
    seg = _segments(pool.start, pool.end + pool.slack_s)
    n_seg = int(seg[-1]) + 1 if n else 0
    hard_seg = np.zeros(n_seg, dtype=bool)
    for t in useful:
        on = plan == t
        hard_seg |= _peak_per_segment(pool.start[on], pool.end[on] + pool.slack_s, seg[on], n_seg) > types[t].count
    hard = hard_seg[seg] if n else np.zeros(0, dtype=bool)
    value = float(sum((types[t].price_km - allowance) * pool.km[(plan == t) & ~hard].sum() for t in useful))
    plan[hard] = -1
    return plan, hard, value


class CountModel:
    """A pool's integer programme for fixed vehicle groups, kept warm in HiGHS.

    Columns ``y[i,g]`` exist for every job ``i`` a group ``g`` may take; clique rows of group ``g``
    have the group's vehicle count as upper bound. Changing counts or prices and solving again
    starts the dual simplex from the previous basis, which is what makes fleet search affordable.
    The LP relaxation is integral in practice; when it is not, branch and bound finishes the job.
    """

    def __init__(self, pool: _Pool, masks: list[np.ndarray]) -> None:
        self.pool = pool
        n = len(pool.start)
        col_job, col_group, row_group, blocks = [], [], [], []
        for g, mask in enumerate(masks):
            cols, cm = pool.cliques(mask)
            col_job.append(cols)
            col_group.append(np.full(len(cols), g))
            row_group.append(np.full(cm.shape[0], g))
            blocks.append(cm)
        self.col_job = np.concatenate(col_job) if col_job else np.zeros(0, dtype=np.int64)
        self.col_group = np.concatenate(col_group) if col_group else np.zeros(0, dtype=np.int64)
        self.row_group = np.concatenate(row_group) if row_group else np.zeros(0, dtype=np.int64)
        m = len(self.col_job)
        self.n_groups = len(masks)
        assign = coo_matrix((np.ones(m), (self.col_job, np.arange(m))), shape=(n, m))
        diag, offset = [], 0
        for cm in blocks:
            diag.append(hstack([csr_matrix((cm.shape[0], offset)), cm,
                                csr_matrix((cm.shape[0], m - offset - cm.shape[1]))]))
            offset += cm.shape[1]
        self.a = vstack([assign, *diag]).tocsc()
        self.n_jobs = n
        self.rows_of = [np.flatnonzero(self.row_group == g).astype(np.int32) + n for g in range(len(masks))]
        self.lp = highspy.HighsLp()
        self.lp.num_col_ = m
        self.lp.num_row_ = self.a.shape[0]
        self.lp.col_cost_ = np.zeros(m)
        self.lp.col_lower_ = np.zeros(m)
        self.lp.col_upper_ = np.ones(m)
        self.lp.row_lower_ = np.full(self.a.shape[0], -highspy.kHighsInf)
        self.lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(self.a.shape[0] - n)])
        self.lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        self.lp.a_matrix_.start_ = self.a.indptr
        self.lp.a_matrix_.index_ = self.a.indices
        self.lp.a_matrix_.value_ = self.a.data
        self.highs = _highs()
        self.highs.passModel(self.lp)
        self.counts = np.zeros(len(masks))
        self.cost = np.zeros(m)

    def solve(self, counts: np.ndarray, prices: np.ndarray, allowance: float, time_limit: float = 60.0,
              mip_gap: float = 1e-4) -> CountPlan:
        """Planned group per job and values relative to paying every job as allowance."""
        counts = np.asarray(counts, dtype=float)
        plan = np.full(self.n_jobs, -1)
        marginal = np.zeros(self.n_groups)
        if len(self.col_job) == 0:
            return CountPlan(plan, 0.0, 0.0, marginal, "nothing to allocate")
        cost = (np.asarray(prices, dtype=float)[self.col_group] - allowance) * self.pool.km[self.col_job]
        cost = np.minimum(cost, 0.0)  # a vehicle dearer than the allowance is never used
        h = self.highs
        if not np.array_equal(cost, self.cost):
            h.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
            self.cost = cost
        for g in np.flatnonzero(counts != self.counts):
            rows = self.rows_of[g]
            h.changeRowsBounds(len(rows), rows, np.full(len(rows), -highspy.kHighsInf), np.full(len(rows), counts[g]))
        self.counts = counts
        h.setOptionValue("time_limit", float(time_limit))
        h.run()
        x, status, bound = None, "no solution", float(cost.sum())
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            sol = h.getSolution()
            xs = np.asarray(sol.col_value)
            bound = float(cost @ xs)
            marginal = np.bincount(self.row_group, weights=np.asarray(sol.row_dual)[self.n_jobs:],
                                   minlength=self.n_groups)
            if np.all(np.minimum(xs, 1 - xs) < 1e-6):
                x, status = xs, "optimal (integral LP)"
        if x is None:
            x, status, bound = self._branch_and_bound(cost, counts, time_limit, mip_gap, bound)
        if x is None:
            return CountPlan(plan, 0.0, bound, marginal, status)
        chosen = x > 0.5
        plan[self.col_job[chosen]] = self.col_group[chosen]
        value = float(cost[chosen].sum())
        return CountPlan(plan, value, min(bound, value), marginal, status)

    def _branch_and_bound(self, cost: np.ndarray, counts: np.ndarray, time_limit: float, mip_gap: float,
                          lp_bound: float) -> tuple[np.ndarray | None, str, float]:
        lp = self.lp
        lp.col_cost_ = cost
        lp.row_upper_ = np.concatenate([np.ones(self.n_jobs), counts[self.row_group]])
        lp.integrality_ = [highspy.HighsVarType.kInteger] * len(cost)
        mip = _highs()
        mip.passModel(lp)
        mip.setOptionValue("time_limit", float(time_limit))
        mip.setOptionValue("mip_rel_gap", float(mip_gap))
        mip.run()
        lp.integrality_ = []
        info = mip.getInfo()
        if info.primal_solution_status != 2:  # no feasible point
            return None, f"no solution: {mip.modelStatusToString(mip.getModelStatus())}", lp_bound
        bound = max(lp_bound, float(info.mip_dual_bound))
        status = "optimal" if mip.getModelStatus() == highspy.HighsModelStatus.kOptimal else "time limit"
        return np.asarray(mip.getSolution().col_value), status, bound


def _highs() -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    return h


class _Schedule:
    """Per-vehicle logs being built, with the checks the decoder and the repair share."""

    def __init__(self, fleet: list[Vehicle], members: list[int], settings: Settings, slack_s: float) -> None:
        self.fleet = fleet
        self.settings = settings
        self.slack_s = slack_s
        self.batteries = {k: Battery.of(fleet[k], settings) for k in members}
        self.free_at = {k: -1e18 for k in members}
        self.logs: dict[int, list[int]] = {k: [] for k in members}

    def pick(self, candidates: list[int], s: float, km: float) -> int | None:
        best, best_used = None, np.inf
        for k in candidates:
            if self.free_at[k] <= s and self.batteries[k].can_drive(s, km):
                used = self.batteries[k].used_at(s)
                if used < best_used:
                    best, best_used = k, used
        return best

    def take(self, k: int, j: int, s: float, e: float, km: float) -> None:
        self.batteries[k].drive(s, e, km)
        self.free_at[k] = e + self.slack_s
        self.logs[k].append(j)


def _decode(
    pool: _Pool, types: list[VehicleType], plan: np.ndarray, fleet: list[Vehicle], prices: list[float]
) -> tuple[dict[int, list[int]], list[int]]:
    """Per-vehicle logs from planned types, in start order, and the jobs whose planned type had no
    vehicle with charge (they were re-inserted elsewhere or left to allowance)."""
    sched = _Schedule(fleet, [k for vt in types for k in vt.members], pool.settings, pool.slack_s)
    leftover: list[int] = []
    for j in range(len(pool.start)):
        t = plan[j]
        if t < 0:
            continue
        k = sched.pick(types[t].members, pool.start[j], pool.km[j])
        if k is None:
            leftover.append(j)
        else:
            sched.take(k, j, pool.start[j], pool.end[j], pool.km[j])
    if leftover:
        _repair(pool, types, sched, leftover, prices)
    return sched.logs, leftover


def _repair(pool: _Pool, types: list[VehicleType], sched: _Schedule, leftover: list[int], prices: list[float]) -> None:
    """Insert trips an EV could not take into any vehicle with room and charge, cheapest first."""
    slack = pool.slack_s
    by_price = sorted((k for vt in types for k in vt.members), key=lambda k: prices[k])
    for j in leftover:
        s, e = pool.start[j], pool.end[j]
        for k in by_price:
            if not _type_of(types, k).mask[j]:
                continue
            log_k = sched.logs[k]
            starts = [pool.start[x] for x in log_k]
            pos = bisect.bisect_left(starts, s)
            if pos > 0 and pool.end[log_k[pos - 1]] + slack > s:
                continue
            if pos < len(log_k) and e + slack > pool.start[log_k[pos]]:
                continue
            trial = [*log_k[:pos], j, *log_k[pos:]]
            if chain_feasible(
                sched.fleet[k],
                pool.settings,
                [pool.start[x] for x in trial],
                [pool.end[x] for x in trial],
                [pool.km[x] for x in trial],
            ):
                sched.logs[k] = trial
                break


def _type_of(types: list[VehicleType], k: int) -> VehicleType:
    return next(vt for vt in types if k in vt.members)


def _plan(pool: _Pool, jobs: Jobs, types: list[VehicleType], allowance: float, time_limit: float,
          mip_gap: float) -> tuple[np.ndarray, float, str]:
    """Planned type per job: easy segments outright, the rest by the count model."""
    plan, hard, bound = presolve(pool, types, allowance)
    status = "optimal (presolved)"
    if hard.any():
        sub = _Pool(jobs, pool.idx[hard], pool.settings, pool.slack_s)
        model = CountModel(sub, [vt.mask[hard] for vt in types])
        counts = model.solve(np.array([vt.count for vt in types]), np.array([vt.price_km for vt in types]),
                             allowance, time_limit, mip_gap)
        plan[hard] = counts.plan
        bound, status = bound + counts.bound, counts.status
    return plan, bound, status


def rest_aware_bound(pool: _Pool, types: list[VehicleType], fleet: list[Vehicle], allowance: float,
                     step_s: float = REST_STEP_S, time_limit: float = 60.0,
                     integer: bool = False) -> tuple[float, np.ndarray] | None:
    """A lower bound on the pool's allocation value (relative to all-allowance) that respects EV
    range under the ``sleep`` charging rule, and the plan (type per job, -1: allowance) of the best
    integer solution found; None where it does not apply.

    The count model plus, per EV type, *rest* variables ``w[k]`` (vehicles of the type resting in a
    window of ``sleep - slack - step`` from grid time ``k * step``) and an aggregate charge ``E``:
    every trip start draws its km from ``E``, every finished rest adds at most a full range,
    ``0 <= E <= n * range`` (all vehicles start full), and a resting vehicle is counted in the clique
    rows of the instants its window covers. Any real schedule maps onto it (a gap of ``sleep`` hours
    after the slack holds a grid window of that length, which ends before the next trip starts), so
    its optimum (solved as a MIP; its dual bound at the time limit) is a lower bound; unlike the
    count model it knows that an EV driven round the clock cannot recharge.
    """
    settings = pool.settings
    if settings.charging_model != "sleep" or len(pool.start) == 0:
        return None
    ev_types = {}
    for t, vt in enumerate(types):
        bats = [Battery.of(fleet[k], settings) for k in vt.members]
        rng = max(b.range_km for b in bats)
        window = min(b.sleep_s for b in bats) - pool.slack_s - step_s
        if np.isfinite(rng) and vt.count > 0 and window > 0:
            ev_types[t] = (rng, window)
    if not ev_types:
        return None
    n = len(pool.start)
    costs, col_job, col_type = [], [], []
    for t, vt in enumerate(types):
        js = np.flatnonzero(vt.mask)
        c = (vt.price_km - allowance) * pool.km[js]
        keep = (c < 0) & (vt.count > 0)
        costs.append(c[keep])
        col_job.append(js[keep])
        col_type.append(np.full(int(keep.sum()), t))
    cost = np.concatenate(costs)
    col_job = np.concatenate(col_job)
    col_type = np.concatenate(col_type)
    m = len(cost)
    if m == 0:
        return 0.0, np.full(n, -1)
    rows, cols, vals, upper = [], [], [], []
    n_rows = 0

    def add_row(cs: np.ndarray, vs: np.ndarray, ub: float) -> None:
        nonlocal n_rows
        rows.append(np.full(len(cs), n_rows))
        cols.append(np.asarray(cs, dtype=np.int64))
        vals.append(np.asarray(vs, dtype=float))
        upper.append(ub)
        n_rows += 1

    # every trip at most once
    rows.append(col_job.astype(np.int64))
    cols.append(np.arange(m, dtype=np.int64))
    vals.append(np.ones(m))
    upper.extend([1.0] * n)
    n_rows = n
    n_cols = m
    for t, vt in enumerate(types):
        mine = np.flatnonzero(col_type == t)
        if len(mine) == 0:
            continue
        job_to_col = np.full(n, -1)
        job_to_col[col_job[mine]] = mine
        sel = np.flatnonzero(job_to_col >= 0)
        cliques = maximal_cliques(pool.start[sel], pool.end[sel] + pool.slack_s)
        rest = ev_types.get(t)
        if rest is None:
            for cl in cliques:
                if len(cl) > vt.count:
                    add_row(job_to_col[sel[cl]], np.ones(len(cl)), float(vt.count))
            continue
        rng, window = rest
        t0 = np.floor(pool.start.min() / step_s) * step_s
        n_slots = int(np.ceil((pool.end.max() + pool.slack_s - t0) / step_s)) + 1
        w0 = n_cols  # rest variables w[k], k = 0..n_slots-1: window [t0 + k*step, t0 + k*step + window)
        n_cols += n_slots
        # at every trip start and just before every trip end (+ slack): vehicles driving + resting <= n
        st, en = pool.start[sel], pool.end[sel] + pool.slack_s
        instants = np.unique(np.concatenate([st, en - 1e-3]))
        by_start = np.argsort(st, kind="stable")
        for tau in instants:
            upto = by_start[: int(np.searchsorted(st[by_start], tau, side="right"))]
            running = upto[en[upto] > tau]
            hi = int(np.floor((tau - t0) / step_s))
            lo = max(0, int(np.floor((tau - window - t0) / step_s)) + 1)
            ks = np.arange(lo, min(hi, n_slots - 1) + 1)
            ks = ks[(t0 + ks * step_s <= tau) & (tau < t0 + ks * step_s + window)]
            if len(running) + len(ks) > vt.count:
                add_row(np.concatenate([job_to_col[sel[running]], w0 + ks]), np.ones(len(running) + len(ks)),
                        float(vt.count))
        # charge: events in time order (refills at window ends, draws at trip starts; a refill at the
        # same instant as a start counts first, as a rest ending at a start lets the battery be full)
        ev_time = np.concatenate([t0 + np.arange(n_slots) * step_s + window, pool.start[sel]])
        ev_kind = np.concatenate([np.zeros(n_slots), np.ones(len(sel))])
        ev_ref = np.concatenate([np.arange(n_slots), sel])
        order = np.lexsort((ev_kind, ev_time))
        e_prev = -1  # E before the first event: n * range (a constant)
        cap = vt.count * rng
        e_cols = []
        for q in order:
            e_cur = n_cols
            n_cols += 1
            e_cols.append(e_cur)
            if ev_kind[q] == 0:
                var, coef = w0 + int(ev_ref[q]), -rng
            else:
                var, coef = int(job_to_col[int(ev_ref[q])]), float(pool.km[int(ev_ref[q])])
            if e_prev < 0:  # E_cur + draw - refill <= cap
                add_row(np.array([e_cur, var]), np.array([1.0, coef]), cap)
            else:  # E_cur - E_prev + draw - refill <= 0
                add_row(np.array([e_cur, e_prev, var]), np.array([1.0, -1.0, coef]), 0.0)
            e_prev = e_cur
        ev_types[t] = (rng, window, w0, n_slots, np.array(e_cols), cap)
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                   shape=(n_rows, n_cols)).tocsc()
    col_cost = np.zeros(n_cols)
    col_cost[:m] = cost
    col_upper = np.full(n_cols, highspy.kHighsInf)
    col_upper[:m] = 1.0
    for t, spec in ev_types.items():
        if len(spec) == 6:
            _, _, w0, n_slots, e_cols, cap = spec
            col_upper[w0:w0 + n_slots] = float(types[t].count)
            col_upper[e_cols] = cap
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = col_cost
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = col_upper
    lp.row_lower_ = np.full(n_rows, -highspy.kHighsInf)
    lp.row_upper_ = np.asarray(upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    if integer:
        is_int = np.zeros(n_cols, dtype=bool)
        is_int[:m] = True
        for spec in ev_types.values():
            if len(spec) == 6:
                is_int[spec[2]:spec[2] + spec[3]] = True
        lp.integrality_ = [highspy.HighsVarType.kInteger if x else highspy.HighsVarType.kContinuous for x in is_int]
    h = _highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.passModel(lp)
    h.run()
    info = h.getInfo()
    if integer:
        bound = float(info.mip_dual_bound)
    elif h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        bound = float(info.objective_function_value)
    else:
        return None
    if not np.isfinite(bound):
        return None
    plan = np.full(n, -1)
    if info.primal_solution_status == 2:
        x = np.asarray(h.getSolution().col_value)[:m]
        chosen = x > 0.5
        plan[col_job[chosen]] = col_type[chosen]
    return bound, plan


def _allocate_pool(pool: _Pool, jobs: Jobs, types: list[VehicleType], fleet: list[Vehicle], prices: list[float],
                   allowance: float, time_limit: float, mip_gap: float) -> tuple[dict[int, list[int]], float, str]:
    """Logs, lower bound and status of one pool. When EV charge breaks the plan, the failed
    (job, type) pairs are forbidden and the plan is solved again; the cheapest decoding wins. The
    bound is the first plan's, which ignores range and so holds for the true problem."""
    plan, bound, status = _plan(pool, jobs, types, allowance, time_limit, mip_gap)
    logs, failed = _decode(pool, types, plan, fleet, prices)
    rest_plan = None
    if failed and len(pool.start) <= REST_MIP_MAX_JOBS:
        # range broke the plan: the count model's bound is weak, solve the rest-aware model
        rest = rest_aware_bound(pool, types, fleet, allowance, time_limit=min(time_limit, REST_MIP_SECONDS),
                                integer=True)
        if rest is not None:
            rest_plan = rest[1]
            if rest[0] > bound:
                bound, status = rest[0], f"{status}; rest-aware bound"

    def cost_of(lg: dict[int, list[int]]) -> float:
        return sum((prices[k] - allowance) * pool.km[j] for k, js in lg.items() for j in js)

    best = cost_of(logs)
    if rest_plan is not None:  # its plan knows about charging: decode it too
        trial, _ = _decode(pool, types, rest_plan, fleet, prices)
        if cost_of(trial) < best - 1e-9:
            logs, best = trial, cost_of(trial)
    masks = [vt.mask.copy() for vt in types]
    for _ in range(REPLAN_ROUNDS):
        if not failed:
            break
        for j in failed:
            masks[plan[j]][j] = False
        narrowed = [VehicleType(vt.count, m, vt.price_km, vt.members) for vt, m in zip(types, masks, strict=True)]
        plan, _, _ = _plan(pool, jobs, narrowed, allowance, time_limit, mip_gap)
        trial, failed = _decode(pool, types, plan, fleet, prices)
        if cost_of(trial) < best - 1e-9:
            logs, best = trial, cost_of(trial)
    return logs, bound, status


def allocate(
    trips: Roundtrips,
    fleet: list[Vehicle],
    settings: Settings,
    *,
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
    progress: ProgressFn | None = None,
) -> Allocation:
    """Allocate every roundtrip to ``fleet`` at least cost, pool by pool; see the module docstring."""
    t0 = clock.perf_counter()
    ids = [v.id for v in fleet]
    if len(set(ids)) != len(ids):
        raise ValueError("vehicle ids in a fleet must be unique")
    jobs = Jobs.of(trips, settings)
    co2_price = settings.vaerdisaetning_tons_co2
    allowance = allowance_km_rate(settings).priced(co2_price)
    prices = [vehicle_km_rate(v, settings).priced(co2_price) for v in fleet]
    job_vehicle = np.full(len(jobs.start), -1)
    pools_out: list[PoolResult] = []
    bound_total = 0.0
    pools = _pools(fleet, jobs.location)
    for n_pool, (locs, members) in enumerate(pools):
        tp = clock.perf_counter()
        idx = np.flatnonzero(np.isin(jobs.location, locs))
        if len(idx) == 0:
            continue
        pool = _Pool(jobs, idx, settings, settings.slack_min * 60.0)
        base = float(allowance * pool.km.sum())
        if members:
            types = _types(pool, fleet, members, prices)
            logs, bound, status = _allocate_pool(pool, jobs, types, fleet, prices, allowance, time_limit, mip_gap)
        else:
            logs, bound, status = {}, 0.0, "no vehicles"
        cost = base
        for k, log_k in logs.items():
            for j in log_k:
                job_vehicle[pool.idx[j]] = k
                cost += (prices[k] - allowance) * pool.km[j]
        bound_total += base + bound
        pools_out.append(PoolResult(locs, len(idx), base + bound, cost, clock.perf_counter() - tp, status))
        if progress:
            progress((n_pool + 1) / len(pools), f"pool {locs}: {len(idx)} jobs, {status}")
    assignment = np.full(len(trips), -1)
    for j, members_j in enumerate(jobs.members):
        assignment[members_j] = job_vehicle[j]
    alloc = Allocation(fleet, trips, assignment, settings, 0.0, 0.0, 0.0, pools_out)
    alloc.cost_dkk = allocation_cost(alloc)
    alloc.bound_dkk = min(bound_total, alloc.cost_dkk)
    alloc.seconds = clock.perf_counter() - t0
    return alloc


def allocation_cost(alloc: Allocation) -> float:
    """Energy + allowance + CO2e at the shadow price over the observed period (not annualised)."""
    settings = alloc.settings
    price = settings.vaerdisaetning_tons_co2
    per_km = np.array(
        [vehicle_km_rate(v, settings).priced(price) for v in alloc.fleet] + [allowance_km_rate(settings).priced(price)]
    )
    return float(np.sum(per_km[alloc.assignment] * alloc.trips.distance))
