"""Real benchmark instances through the home-care layer: Solomon (VRPTW) and Mankowska (home care)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from hub.optimise.routes import check_plan, plan_day
from tests.support import shared_path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("instance", "max_gap"), [("C101", 0.5), ("R101", 3.0)])
def test_solomon_through_the_home_care_layer(instance, max_gap):
    vrptw = _bench("routes_vrptw")
    path = shared_path("routing", "solomon", f"{instance}.vrp")
    inst = vrptw.load(path)
    problem = vrptw.to_problem(inst)
    plan = plan_day(problem, budget_s=3.0, seed=1)
    assert check_plan(problem, plan) == []
    assert plan.unassigned == []
    cost = sum(r.travel_minutes for r in plan.routes)
    gap = 100 * (cost - vrptw.best_known(path)) / vrptw.best_known(path)
    assert -1e-6 <= gap <= max_gap


def test_mankowska_validator_and_synchronisation():
    mank = _bench("routes_mankowska")
    path = shared_path("routing", "mankowska", "InstanzCPLEX_HCSRP_10_1.json")
    inst = json.loads(path.read_text())
    problem = mank.to_problem(inst, path.stem)
    plan = plan_day(problem, budget_s=2.0, seed=1)
    errors, dist, total, worst = mank.validate(inst, plan)
    assert errors == []
    assert check_plan(problem, plan) == []
    cost = (dist + total + worst) / 3
    best = mank.best_known()[path.stem]
    assert cost >= best - 1e-3
    assert cost <= best * 1.05
    # the validator is not a rubber stamp: break one synchronisation and it must object
    route = next(r for r in plan.routes if any(s.part == 1 for s in r.stops))
    stop = next(s for s in route.stops if s.part == 1)
    stop.start += 3
    assert any("synchronisation" in e for e in mank.validate(inst, plan)[0])
