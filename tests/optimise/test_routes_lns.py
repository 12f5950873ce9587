"""The ruin-and-recreate engine (soft windows, synchronised double visits), judged by the checker."""

from __future__ import annotations

import pytest

from hub.optimise.routes import check_plan, plan_day
from hub.optimise.routes.engine_lns import Deadlock, LnsState
from hub.optimise.routes.instance import compile_problem
from hub.optimise.routes.model import Carer, DoubleVisit, Location, Problem, Visit, Weights
from hub.optimise.routes.synthetic import tiny_problem


def _soft(problem: Problem, max_lateness: float = 0.0) -> Problem:
    carers = [c.model_copy(update={"breaks": []}) for c in problem.carers]
    weights = Weights(lateness=1.0, max_lateness=max_lateness, unassigned=10_000)
    return problem.model_copy(update={"carers": carers, "weights": weights})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lns_plans_pass_the_checker_with_pairs_in_sync(seed):
    problem = _soft(tiny_problem(seed, visits=20, carers=4), max_lateness=1.0)
    plan = plan_day(problem, budget_s=1.0, seed=seed)
    assert plan.engine == "lns"
    assert check_plan(problem, plan) == []  # windows, skills, shifts, synchronisation, lateness
    assert plan.unassigned == []
    where = plan.assignment()
    for v in problem.visits:
        if v.double is not None:
            assert where[(v.id, 0)] != where[(v.id, 1)]
    late = [s.lateness for r in plan.routes for s in r.stops if s.kind == "visit"]
    travel = sum(r.travel_minutes for r in plan.routes)
    assert plan.objective == pytest.approx(travel + sum(late) + max(late, default=0.0), abs=1e-2)


def _line_problem(order_a: list[str], order_b: list[str]) -> tuple[Problem, list[list[int]]]:
    """Two carers, two simultaneous double visits: the routes as given by visit ids."""
    visits = [
        Visit(
            id=name,
            location=Location(x=x, y=0.0),
            window_start=0,
            window_end=600,
            duration=30,
            double=DoubleVisit(mode="simultaneous"),
        )
        for name, x in (("p", 1.0), ("q", 2.0))
    ]
    carers = [Carer(id=c, shift_start=0, shift_end=900, start_location=Location(x=0.0, y=0.0)) for c in "ab"]
    problem = Problem(visits=visits, carers=carers, weights=Weights(lateness=1.0))
    ctx = compile_problem(problem)
    task = {v.id: ids for v, ids in zip(problem.visits, ctx.visit_tasks, strict=True)}
    routes = [[task[n][0] for n in order_a], [task[n][1] for n in order_b]]
    return problem, routes


def test_least_start_timing_synchronises_and_detects_deadlock():
    problem, routes = _line_problem(["p", "q"], ["p", "q"])
    state = LnsState(compile_problem(problem))
    state.restore(routes)
    starts = state.S
    a_p, a_q = routes[0]
    b_p, b_q = routes[1]
    assert starts[a_p] == pytest.approx(starts[b_p])
    assert starts[a_q] == pytest.approx(starts[b_q])
    assert starts[a_q] >= starts[a_p] + 30
    # opposite orders: each carer waits for the other forever
    problem, routes = _line_problem(["p", "q"], ["q", "p"])
    state = LnsState(compile_problem(problem))
    with pytest.raises(Deadlock):
        state.restore(routes)


def test_lns_engine_refuses_hard_windows():
    problem = tiny_problem(0)
    with pytest.raises(ValueError, match="soft"):
        plan_day(problem, budget_s=0.2, engine="lns")
