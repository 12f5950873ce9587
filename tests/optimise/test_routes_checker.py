"""The independent plan checker must catch every kind of violation it claims to check."""

from __future__ import annotations

import pytest

from hub.optimise.routes import check_plan, plan_day
from hub.optimise.routes.model import Plan, Problem
from hub.optimise.routes.synthetic import tiny_problem


@pytest.fixture(scope="module")
def planned() -> tuple[Problem, Plan]:
    problem = tiny_problem(seed=3)
    plan = plan_day(problem, budget_s=0.5, seed=1, engine="pyvrp")
    assert check_plan(problem, plan) == []
    return problem, plan


def _copy(plan: Plan) -> Plan:
    return Plan.model_validate(plan.model_dump())


def _first_visit(plan: Plan, predicate=lambda s: True):
    for route in plan.routes:
        for stop in route.stops:
            if stop.kind == "visit" and predicate(stop):
                return route, stop
    raise AssertionError("no matching stop")


def test_start_before_window_is_flagged(planned):
    problem, plan = planned
    bad = _copy(plan)
    visits = {v.id: v for v in problem.visits}
    _, stop = _first_visit(bad, lambda s: visits[s.visit_id].double is None)
    stop.start = visits[stop.visit_id].window_start - 5
    assert any("before its window" in e or "cannot arrive" in e for e in check_plan(problem, bad))


def test_late_start_is_flagged_with_hard_windows(planned):
    problem, plan = planned
    bad = _copy(plan)
    visits = {v.id: v for v in problem.visits}
    _, stop = _first_visit(bad, lambda s: visits[s.visit_id].double is None)
    shift = visits[stop.visit_id].window_end + 10 - stop.start
    stop.start += shift
    stop.end += shift
    errors = check_plan(problem, bad)
    assert any("after its window end" in e for e in errors)


def test_missing_skill_is_flagged(planned):
    problem, plan = planned
    bad = _copy(plan)
    nurse_visit = next(v for v in problem.visits if v.skill == "nurse" and v.id not in plan.unassigned)
    non_nurse = next(c for c in problem.carers if "nurse" not in c.skills)
    holder = next(r for r in bad.routes if any(s.visit_id == nurse_visit.id for s in r.stops))
    holder.carer_id = non_nurse.id
    assert any("lacks skill nurse" in e for e in check_plan(problem, bad))


def test_missing_break_is_flagged(planned):
    problem, plan = planned
    bad = _copy(plan)
    route = next(r for r in bad.routes if any(s.kind == "break" for s in r.stops))
    route.stops = [s for s in route.stops if s.kind != "break"]
    assert any("break" in e for e in check_plan(problem, bad))


def test_broken_synchronisation_is_flagged(planned):
    problem, plan = planned
    bad = _copy(plan)
    double = next(v for v in problem.visits if v.double is not None and v.double.mode == "simultaneous")
    assert double.id not in plan.unassigned
    _, stop = _first_visit(bad, lambda s: s.visit_id == double.id and s.part == 1)
    stop.start += 5
    stop.end += 5
    errors = check_plan(problem, bad)
    assert any("second start" in e for e in errors)


def test_dropped_visit_must_be_listed_unassigned(planned):
    problem, plan = planned
    bad = _copy(plan)
    route = next(r for r in bad.routes if any(s.kind == "visit" for s in r.stops))
    victim = next(s for s in route.stops if s.kind == "visit")
    route.stops = [s for s in route.stops if s.visit_id != victim.visit_id]
    assert any("unassigned list disagrees" in e or "of 2 carers" in e for e in check_plan(problem, bad))


def test_shift_end_and_misreported_travel_are_flagged(planned):
    problem, plan = planned
    bad = _copy(plan)
    route = bad.routes[0]
    route.return_time = 23 * 60.0
    route.travel_minutes += 30
    errors = check_plan(problem, bad)
    assert any("after shift end" in e for e in errors)
    assert any("travel minutes" in e for e in errors)


def test_soft_windows_require_correct_lateness(planned):
    problem, plan = planned
    soft = problem.model_copy(update={"weights": problem.weights.model_copy(update={"lateness": 1.0})})
    bad = _copy(plan)
    visits = {v.id: v for v in problem.visits}
    _, stop = _first_visit(bad, lambda s: visits[s.visit_id].double is None)
    stop.lateness = 7.0
    assert any("reports lateness" in e for e in check_plan(soft, bad))
