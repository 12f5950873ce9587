"""Day plans, multi-day continuity and re-planning, every plan judged by the independent checker."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.optimise.routes import Disruption, Visit, check_plan, plan_day, plan_days, replan
from hub.optimise.routes.continuity import continuity_figures
from hub.optimise.routes.model import Carer, Location, Problem, Weights
from hub.optimise.routes.synthetic import municipality, tiny_problem


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
@pytest.mark.parametrize("seed", [0, 1])
def test_day_plan_is_feasible_and_complete(engine, seed):
    problem = tiny_problem(seed)
    calls = []
    plan = plan_day(problem, budget_s=0.4, seed=1, engine=engine, progress=lambda f, m: calls.append(f))
    assert check_plan(problem, plan) == []
    assert plan.kpis.visits == len(problem.visits)
    assert plan.kpis.assigned + plan.kpis.unassigned == len(problem.visits)
    assert plan.kpis.unassigned <= 2
    assert calls and calls[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in calls)
    assert 0 < plan.kpis.care_share < 1


def test_double_visits_get_two_carers_in_sync():
    problem = tiny_problem(5)
    plan = plan_day(problem, budget_s=0.6, seed=2)
    assert check_plan(problem, plan) == []
    where = plan.assignment()
    for v in problem.visits:
        if v.double is not None and v.id not in plan.unassigned:
            assert where[(v.id, 0)] != where[(v.id, 1)]


def test_soft_windows_report_lateness_instead_of_dropping():
    # one carer, two visits whose windows cannot both be met: lateness is cheaper than dropping
    place = Location(x=0.0, y=0.0)
    problem = Problem(
        visits=[
            Visit(id="a", location=Location(x=1.0, y=0.0), window_start=480, window_end=490, duration=60),
            Visit(id="b", location=Location(x=2.0, y=0.0), window_start=480, window_end=490, duration=30),
        ],
        carers=[Carer(id="k", shift_start=420, shift_end=900, start_location=place)],
        weights=Weights(lateness=1.0, unassigned=10_000),
    )
    for engine in ("auto", "ortools"):
        plan = plan_day(problem, budget_s=0.5, seed=1, engine=engine)
        assert plan.engine == ("lns" if engine == "auto" else "ortools")
        assert check_plan(problem, plan) == []
        assert plan.kpis.unassigned == 0
        assert plan.kpis.total_lateness > 20  # the shorter visit first: the other starts ~22 min late
        assert plan.kpis.late_visits == 1
    hard = problem.model_copy(update={"weights": Weights(unassigned=10_000)})
    hard_plan = plan_day(hard, budget_s=0.5, seed=1)
    assert check_plan(hard, hard_plan) == []
    assert hard_plan.kpis.unassigned == 1


def test_supplied_matrix_and_mandatory_visits():
    minutes = [[0, 10, 20], [10, 0, 15], [20, 15, 0]]
    problem = Problem(
        visits=[
            Visit(
                id="x", location=Location(matrix_index=1), window_start=0, window_end=600, duration=5, mandatory=True
            ),
            Visit(
                id="y", location=Location(matrix_index=2), window_start=0, window_end=600, duration=5, mandatory=True
            ),
        ],
        carers=[Carer(id="k", shift_start=0, shift_end=600, start_location=Location(matrix_index=0))],
        travel_minutes=minutes,
    )
    plan = plan_day(problem, budget_s=0.3, seed=1)
    assert check_plan(problem, plan) == []
    assert plan.kpis.travel_minutes == pytest.approx(45.0)


def test_matrix_requires_indices():
    with pytest.raises(ValidationError):
        Problem(
            visits=[Visit(id="x", location=Location(x=1, y=1))],
            carers=[Carer(id="k", start_location=Location(matrix_index=0))],
            travel_minutes=[[0]],
        )


def test_continuity_reduces_distinct_carers():
    days = municipality(30, days=4, seed=5)
    travel_only = plan_days(days, budget_s=0.4, seed=1, continuity=False)
    kept = plan_days(days, budget_s=0.4, seed=1, continuity=True)
    for problem, plan in zip(days, travel_only, strict=True):
        assert check_plan(problem, plan) == []
    assert continuity_figures(kept)[0] < continuity_figures(travel_only)[0]


def test_replan_moves_only_the_absent_carers_visits():
    problem = municipality(40, days=1, seed=9)[0]
    plan = plan_day(problem, budget_s=1.0, seed=1)
    assert check_plan(problem, plan) == []
    absent = plan.routes[0].carer_id
    orphans = {(s.visit_id, s.part) for s in plan.routes[0].stops if s.kind == "visit"}
    result = replan(problem, plan, Disruption(absent_carers=[absent]), budget_s=2.0)
    assert check_plan(result.problem, result.plan) == []
    assert absent not in {r.carer_id for r in result.plan.routes}
    moved = {(m.visit_id, m.part) for m in result.moved}
    assert orphans <= moved
    old, new = plan.assignment(), result.plan.assignment()
    kept = [k for k in old if k not in orphans]
    assert sum(1 for k in kept if new.get(k) != old[k]) <= len(orphans)
    assert result.changed_share == pytest.approx(len(result.moved) / len(old), abs=1e-3)


def test_replan_adds_and_cancels_visits():
    problem = tiny_problem(7, doubles=False)
    plan = plan_day(problem, budget_s=0.4, seed=1)
    new = Visit(id="new", location=Location(x=2.0, y=2.0), window_start=540, window_end=720, duration=15)
    gone = next(s.visit_id for r in plan.routes for s in r.stops if s.kind == "visit")
    result = replan(problem, plan, Disruption(cancelled_visits=[gone], added_visits=[new]), budget_s=1.0)
    assert check_plan(result.problem, result.plan) == []
    ids = {s.visit_id for r in result.plan.routes for s in r.stops}
    assert gone not in ids and "new" in ids


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), visits=st.integers(1, 14), carers=st.integers(1, 4))
def test_random_days_always_pass_the_checker(seed, visits, carers):
    problem = tiny_problem(seed, visits=visits, carers=carers)
    plan = plan_day(problem, budget_s=0.2, seed=seed % 7)
    assert check_plan(problem, plan) == []
