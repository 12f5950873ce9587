"""Fleet search, scenario mode and the baseline, on the 7-vehicle shared fleet and tiny instances."""

from __future__ import annotations

import numpy as np
import pytest

from bench.fleet_baseline import greedy_first_fit, run_baseline
from hub.optimise.fleet.allocation import allocate
from hub.optimise.fleet.check import check_allocation, recompute_cost
from hub.optimise.fleet.io import read_dataset
from hub.optimise.fleet.model import VehicleKind
from hub.optimise.fleet.scenario import fossil_plates, run_scenario
from hub.optimise.fleet.search import PoolEvaluator, _neighbours, pool_groups, search_fleet
from tests.optimise.fleet_cases import ev, fossil, random_trips, settings
from tests.support import shared_path


@pytest.fixture(scope="module")
def seed_data():
    return read_dataset(shared_path("fleet", "seed_default"))


@pytest.fixture(scope="module")
def seed_search(seed_data):
    return search_fleet(seed_data, workers=1)


def test_front_is_non_dominated_and_large(seed_search) -> None:
    front = seed_search.front
    assert len(front) >= 10
    for a in front:
        for b in front:
            dominated = b.cash_dkk <= a.cash_dkk and b.co2e_t <= a.co2e_t and (
                b.cash_dkk < a.cash_dkk or b.co2e_t < a.co2e_t)
            assert not dominated


def test_recommendation_beats_today_and_keeps_service(seed_data, seed_search) -> None:
    price = seed_search.co2e_price
    rec, today = seed_search.recommended, seed_search.today
    assert rec.tco(price) <= today.tco(price)
    assert rec.unallocated_trips <= today.unallocated_trips
    fleet = seed_search.fleet(rec)
    assert len(fleet) == rec.vehicles
    alloc = allocate(seed_data.roundtrips, fleet, seed_data.settings)
    assert check_allocation(alloc.fleet, alloc.trips, alloc.assignment, alloc.settings) == []
    # the search's figure is the exact allocation of that fleet, not an estimate
    assert alloc.tco(price).tco_dkk == pytest.approx(rec.tco(price), rel=1e-6)


def test_changes_match_counts(seed_search) -> None:
    rec = seed_search.recommended
    added = sum(int(line.split(" ")[1]) for line in rec.changes if line.startswith("add"))
    dropped = sum(int(line.split(" ")[1]) for line in rec.changes if line.startswith("drop"))
    assert seed_search.today.vehicles + added - dropped == rec.vehicles


def test_dual_bounds_never_overestimate() -> None:
    trips = random_trips(7, n=60, days=3)
    fleet = [ev("e1"), ev("e2"), fossil("f1"), fossil("f2"), fossil("f3")]
    groups = pool_groups(fleet, [ev("cand", range_km=300.0)], [1])
    evaluator = PoolEvaluator(trips, groups, settings(), trips.days)
    start = tuple(len(g.existing) for g in groups)
    point, marginal = evaluator.evaluate(start, 1500.0)
    base = point.objective() - point.fixed_dkk
    for nb in _neighbours(start, groups, max_add=2):
        bound = evaluator.fixed(nb) + base + float(marginal @ (np.asarray(nb) - np.asarray(start)))
        assert bound <= evaluator.evaluate(nb, 1500.0)[0].objective() + 1e-6


def test_scenario_replacing_fossil_cars(seed_data) -> None:
    plates = fossil_plates(seed_data)
    assert plates
    cand = next(v for v in seed_data.candidates if v.type == VehicleKind.EV)
    result = run_scenario(seed_data, plates, cand.id)
    assert len(result.after.fleet) == len(result.before.fleet)
    assert not any(v.type == VehicleKind.FOSSIL for v in result.after.fleet)
    for alloc in (result.before, result.after):
        assert check_allocation(alloc.fleet, alloc.trips, alloc.assignment, alloc.settings) == []
    s = result.summary()
    assert s["delta"]["co2e_t"] == pytest.approx(result.after.tco().co2e_t - result.before.tco().co2e_t, abs=1e-3)
    with pytest.raises(ValueError, match="no vehicle"):
        run_scenario(seed_data, ["no-such-plate"], cand.id)


def test_baseline_greedy_is_valid_and_never_beats_exact(seed_data) -> None:
    fleet = seed_data.fleet
    greedy = greedy_first_fit(seed_data.roundtrips, fleet, seed_data.settings)
    assert check_allocation(fleet, seed_data.roundtrips, greedy, seed_data.settings) == []
    exact = allocate(seed_data.roundtrips, fleet, seed_data.settings)
    assert exact.cost_dkk <= recompute_cost(fleet, seed_data.roundtrips, greedy, seed_data.settings) + 1e-6


def test_baseline_runs_per_location(seed_data) -> None:
    base = run_baseline(seed_data)
    totals = base.totals(seed_data.settings.vaerdisaetning_tons_co2)
    assert totals["vehicles"] == len(base.fleet())
    assert totals["tco_dkk"] > 0
