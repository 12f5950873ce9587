"""Planning API: submit a job, poll it, fetch the plan, CSV and day sheets; errors are sentences."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.routes_planning import router
from hub.jobs import JobRunner
from hub.optimise.routes import check_plan
from hub.optimise.routes.model import Plan
from hub.optimise.routes.synthetic import tiny_problem


@pytest.fixture()
def client():
    app = FastAPI()
    app.state.jobs = JobRunner()
    app.include_router(router)
    with TestClient(app) as c:
        yield c
    app.state.jobs.shutdown()


def _wait(client: TestClient, url: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.get(url).json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_submit_poll_and_fetch_day_plan(client):
    problem = tiny_problem(2)
    r = client.post("/planning/jobs/day", json={"problem": problem.model_dump(), "budget_s": 0.5})
    assert r.status_code == 202
    body = r.json()
    status = _wait(client, body["status_url"])
    assert status["status"] == "done" and status["progress"] == 1.0
    result = client.get(body["plan_url"]).json()
    assert result["violations"] == []
    plan = Plan.model_validate(result["plans"][0])
    assert check_plan(problem, plan) == []
    csv_text = client.get(f"{body['status_url']}/plan.csv").text
    assert csv_text.startswith("carer_id,seq,kind")
    sheet = client.get(f"{body['status_url']}/sheet").text
    assert "<table>" in sheet and plan.routes[0].carer_id in sheet


def test_replan_job_reports_moves(client):
    problem = tiny_problem(4, doubles=False)
    r = client.post("/planning/jobs/day", json={"problem": problem.model_dump(), "budget_s": 0.4})
    _wait(client, r.json()["status_url"])
    plan = client.get(r.json()["plan_url"]).json()["plans"][0]
    absent = plan["routes"][0]["carer_id"]
    r = client.post(
        "/planning/jobs/replan",
        json={"problem": problem.model_dump(), "plan": plan, "disruption": {"absent_carers": [absent]}},
    )
    assert r.status_code == 202
    _wait(client, r.json()["status_url"])
    result = client.get(r.json()["plan_url"]).json()
    assert result["violations"] == []
    assert result["moved"] and all(m["from_carer"] == absent for m in result["moved"])


def test_errors_are_sentences(client):
    r = client.get("/planning/jobs/nope")
    assert r.status_code == 404 and r.json()["detail"].endswith(".")
    problem = tiny_problem(1)
    empty = problem.model_copy(update={"visits": []})
    r = client.post("/planning/jobs/day", json={"problem": empty.model_dump()})
    assert r.status_code == 422 and "no visits" in r.json()["detail"]
    r = client.post("/planning/jobs/day", json={"problem": problem.model_dump(), "budget_s": 2})
    early = client.get(r.json()["plan_url"])
    assert early.status_code in (200, 409)
    if early.status_code == 409:
        assert "still" in early.json()["detail"]
    _wait(client, r.json()["status_url"])
