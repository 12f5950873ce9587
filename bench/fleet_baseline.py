"""Baseline: OS2 FleetOptimiser's documented method, written from its description only (not its code).

1. Simulation: a greedy first-fit. Roundtrips in start order; vehicles sorted by CO2e per km, then
   cost per km; each roundtrip goes to the first vehicle that is free, allowed (bikes: short daytime
   trips; home location) and, for an EV, has range left (the same charging physics as ours, from the
   settings). What no vehicle takes is paid as mileage allowance.
2. Automatic mode: a genetic algorithm per location over vehicle-type counts with a static per-km
   surrogate fitness (the year's km are handed to the types in the same CO2e/cost order, each vehicle
   taking at most its ``km_aar``; bikes only the bike-eligible share); only its hall of fame is
   simulated, and the best simulated fleet at the given CO2e price wins.
Money and CO2e come from the same TCO function as ours (``hub.optimise.fleet.tco``).
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass

import numpy as np

from hub.optimise.fleet.allocation import Battery, bike_eligible
from hub.optimise.fleet.model import Dataset, Roundtrips, Settings, Vehicle
from hub.optimise.fleet.search import Group, pool_groups
from hub.optimise.fleet.tco import DAYS_PER_YEAR, allowance_km_rate, vehicle_km_rate


def greedy_first_fit(trips: Roundtrips, fleet: list[Vehicle], settings: Settings) -> np.ndarray:
    """FleetOptimiser-style simulation: index into ``fleet`` per roundtrip, -1 for allowance."""
    order_v = sorted(range(len(fleet)), key=lambda k: (vehicle_km_rate(fleet[k], settings).co2e_kg,
                                                       vehicle_km_rate(fleet[k], settings).dkk))
    homes = [fleet[k].homes for k in range(len(fleet))]
    bike_ok = {False: bike_eligible(trips, settings, electric=False), True: bike_eligible(trips, settings, True)}
    batteries = [Battery.of(v, settings) for v in fleet]
    free_at = [-1e18] * len(fleet)
    slack = settings.slack_min * 60.0
    out = np.full(len(trips), -1)
    for i in np.argsort(trips.start, kind="stable"):
        s, e, km, loc = float(trips.start[i]), float(trips.end[i]), float(trips.distance[i]), int(trips.location[i])
        for k in order_v:
            v = fleet[k]
            if free_at[k] > s or loc not in homes[k]:
                continue
            if v.type.is_bike and not bike_ok[v.type == 2][i]:
                continue
            if not batteries[k].can_drive(s, km):
                continue
            batteries[k].drive(s, e, km)
            free_at[k] = e + slack
            out[i] = k
            break
    return out


@dataclass
class SimResult:
    counts: tuple[int, ...]
    fleet: list[Vehicle]
    assignment: np.ndarray
    cash_dkk: float
    co2e_t: float
    unallocated_trips: int

    def tco(self, mu: float) -> float:
        return self.cash_dkk + mu * self.co2e_t


def _fleet(groups: list[Group], counts: tuple[int, ...]) -> list[Vehicle]:
    out = []
    for g, n in zip(groups, counts, strict=True):
        for k in range(n):
            out.append(g.spec.model_copy(update={"id": f"{g.key}#{k}"}))
    return out


def simulate(trips: Roundtrips, groups: list[Group], counts: tuple[int, ...], settings: Settings,
             period_days: float) -> SimResult:
    fleet = _fleet(groups, counts)
    assignment = greedy_first_fit(trips, fleet, settings)
    scale = DAYS_PER_YEAR / period_days
    allow = allowance_km_rate(settings)
    cash = sum(v.omkostning_aar for v in fleet)
    co2 = 0.0
    km_by = np.bincount(assignment[assignment >= 0], weights=trips.distance[assignment >= 0], minlength=len(fleet))
    for v, km in zip(fleet, km_by, strict=True):
        r = vehicle_km_rate(v, settings)
        cash += r.dkk * km * scale
        co2 += r.co2e_kg * km * scale
    un_km = float(trips.distance[assignment < 0].sum()) * scale
    cash += allow.dkk * un_km
    co2 += allow.co2e_kg * un_km
    return SimResult(counts, fleet, assignment, cash, co2 / 1000.0, int((assignment < 0).sum()))


class Surrogate:
    """The static per-km fitness: no timing, no concurrency, only annual km against km allowances."""

    def __init__(self, trips: Roundtrips, groups: list[Group], settings: Settings, period_days: float,
                 mu: float) -> None:
        scale = DAYS_PER_YEAR / period_days
        self.km_year = float(trips.distance.sum()) * scale
        self.bike_share = float(trips.distance[bike_eligible(trips, settings, False)].sum()) * scale
        self.groups = groups
        self.rates = [vehicle_km_rate(g.spec, settings) for g in groups]
        self.order = sorted(range(len(groups)), key=lambda g: (self.rates[g].co2e_kg, self.rates[g].dkk))
        self.allow = allowance_km_rate(settings).priced(mu)
        self.mu = mu

    def __call__(self, counts: tuple[int, ...]) -> float:
        left, bike_left, cost = self.km_year, self.bike_share, 0.0
        for g in self.order:
            n = counts[g]
            if n == 0:
                continue
            spec = self.groups[g].spec
            cap = n * (spec.km_aar or 20000.0)
            take = min(cap, bike_left if spec.type.is_bike else left)
            if spec.type.is_bike:
                bike_left -= take
            left -= take
            bike_left = min(bike_left, left)
            cost += n * spec.omkostning_aar + take * self.rates[g].priced(self.mu)
        return cost + left * self.allow


@dataclass
class BaselineResult:
    best: list[SimResult]
    locations: list[list[int]]
    groups: list[list[Group]]
    seconds: float

    def totals(self, mu: float) -> dict[str, float]:
        return {"vehicles": sum(len(r.fleet) for r in self.best), "cash_dkk": sum(r.cash_dkk for r in self.best),
                "co2e_t": sum(r.co2e_t for r in self.best), "tco_dkk": sum(r.tco(mu) for r in self.best),
                "unallocated_trips": sum(r.unallocated_trips for r in self.best)}

    def fleet(self) -> list[Vehicle]:
        out = []
        for r in self.best:
            out.extend(r.fleet)
        return out


def genetic_search(surrogate: Surrogate, today: tuple[int, ...], rng: np.random.Generator, *, population: int = 40,
                   generations: int = 40, hall_of_fame: int = 10, max_extra: int = 3) -> list[tuple[int, ...]]:
    """GA over type counts with the surrogate; returns the hall of fame (best distinct by surrogate)."""
    upper = np.array(today) + max_extra
    pop = [tuple(int(x) for x in rng.integers(0, upper + 1)) for _ in range(population - 1)] + [today]
    seen: dict[tuple[int, ...], float] = {}

    def fit(c: tuple[int, ...]) -> float:
        if c not in seen:
            seen[c] = surrogate(c)
        return seen[c]

    for _ in range(generations):
        scored = sorted(pop, key=fit)
        nxt = scored[:2]
        while len(nxt) < population:
            a, b = (min(rng.choice(len(pop), 3, replace=False), key=lambda i: fit(pop[i])) for _ in range(2))
            mask = rng.random(len(today)) < 0.5
            child = np.where(mask, pop[a], pop[b])
            mutate = rng.random(len(today)) < 1.0 / max(1, len(today))
            child = np.clip(child + mutate * rng.choice([-1, 1], len(today)), 0, upper)
            nxt.append(tuple(int(x) for x in child))
        pop = nxt
    return sorted(seen, key=seen.__getitem__)[:hall_of_fame]


def run_baseline(data: Dataset, mu: float | None = None, seed: int = 1) -> BaselineResult:
    """FleetOptimiser's automatic mode per location at CO2e price ``mu`` (default: the settings')."""
    t0 = clock.perf_counter()
    settings = data.settings
    mu = settings.vaerdisaetning_tons_co2 if mu is None else mu
    period = data.roundtrips.days
    rng = np.random.default_rng(seed)
    locs_all = sorted({int(x) for x in data.roundtrips.location} | {h for v in data.fleet for h in v.homes})
    best, locations, groups_all = [], [], []
    for loc in locs_all:
        trips = data.roundtrips.subset(data.roundtrips.location == loc)
        groups = pool_groups([v for v in data.fleet if v.location == loc], data.candidates, [loc])
        today = tuple(len(g.existing) for g in groups)
        sur = Surrogate(trips, groups, settings, period, mu)
        hof = genetic_search(sur, today, rng)
        sims = [simulate(trips, groups, c, settings, period) for c in hof]
        best.append(min(sims, key=lambda r: r.tco(mu)))
        locations.append([loc])
        groups_all.append(groups)
    return BaselineResult(best, locations, groups_all, clock.perf_counter() - t0)
