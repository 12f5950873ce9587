"""Home-care planning endpoints: submit a planning job, poll its status, fetch the plan.

Planning runs as a background job (``hub.jobs``) so the API stays responsive; every plan is
checked by the independent checker before it is stored, and the violations (normally none) are
returned with it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from hub.api.deps import get_jobs
from hub.jobs import JobRunner
from hub.optimise.routes.checker import check_plan
from hub.optimise.routes.continuity import continuity_figures
from hub.optimise.routes.io import day_sheets_html, plan_csv
from hub.optimise.routes.model import Plan, Problem
from hub.optimise.routes.replanning import Disruption, replan
from hub.optimise.routes.solver import plan_day, plan_days

router = APIRouter(prefix="/planning", tags=["planning"])

MAX_BUDGET_S = 600.0
KINDS = ("routes.day", "routes.days", "routes.replan")


class DayRequest(BaseModel):
    """Plan one day."""

    problem: Problem
    budget_s: float = Field(default=10.0, gt=0, le=MAX_BUDGET_S, description="search seconds")
    seed: int = 1
    engine: Literal["auto", "pyvrp", "ortools", "lns", "portfolio"] = "auto"


class DaysRequest(BaseModel):
    """Plan consecutive days with continuity of care."""

    problems: list[Problem] = Field(min_length=1)
    budget_s: float = Field(default=10.0, gt=0, le=MAX_BUDGET_S, description="search seconds per day")
    seed: int = 1
    continuity: bool = True


class ReplanRequest(BaseModel):
    """Repair a plan after a disruption."""

    problem: Problem
    plan: Plan
    disruption: Disruption
    budget_s: float = Field(default=5.0, gt=0, le=MAX_BUDGET_S)


class JobAccepted(BaseModel):
    job_id: str
    status_url: str
    plan_url: str


class JobStatus(BaseModel):
    id: str
    kind: str
    status: str
    progress: float
    message: str
    error: str | None = None


def _accepted(job_id: str) -> JobAccepted:
    return JobAccepted(job_id=job_id, status_url=f"/planning/jobs/{job_id}", plan_url=f"/planning/jobs/{job_id}/plan")


@router.post("/jobs/day", status_code=202, response_model=JobAccepted)
def submit_day(req: DayRequest, jobs: JobRunner = Depends(get_jobs)) -> JobAccepted:
    """Start planning one day; poll ``status_url`` and fetch ``plan_url`` when done."""
    if not req.problem.visits:
        raise HTTPException(422, detail="The problem has no visits to plan.")
    if not req.problem.carers:
        raise HTTPException(422, detail="The problem has no carers to plan with.")

    def work(progress) -> dict[str, Any]:
        plan = plan_day(req.problem, budget_s=req.budget_s, seed=req.seed, progress=progress, engine=req.engine)
        return {"plans": [plan.model_dump()], "violations": check_plan(req.problem, plan)}

    params = {"day": req.problem.day, "visits": len(req.problem.visits), "budget_s": req.budget_s}
    return _accepted(jobs.submit("routes.day", work, params))


@router.post("/jobs/days", status_code=202, response_model=JobAccepted)
def submit_days(req: DaysRequest, jobs: JobRunner = Depends(get_jobs)) -> JobAccepted:
    """Start planning several days in order, carrying continuity of care from day to day."""

    def work(progress) -> dict[str, Any]:
        plans = plan_days(
            req.problems, budget_s=req.budget_s, seed=req.seed, progress=progress, continuity=req.continuity
        )
        violations = [v for pr, pl in zip(req.problems, plans, strict=True) for v in check_plan(pr, pl)]
        distinct, top = continuity_figures(plans)
        return {
            "plans": [p.model_dump() for p in plans],
            "violations": violations,
            "continuity": {"distinct_carers_per_citizen": distinct, "top_carer_share": top},
        }

    params = {"days": len(req.problems), "budget_s": req.budget_s, "continuity": req.continuity}
    return _accepted(jobs.submit("routes.days", work, params))


@router.post("/jobs/replan", status_code=202, response_model=JobAccepted)
def submit_replan(req: ReplanRequest, jobs: JobRunner = Depends(get_jobs)) -> JobAccepted:
    """Start re-planning after carers fall ill or visits are added or cancelled."""
    known = {c.id for c in req.problem.carers}
    unknown = [c for c in req.disruption.absent_carers if c not in known]
    if unknown:
        raise HTTPException(422, detail=f"Unknown carers in the disruption: {', '.join(unknown)}.")

    def work(progress) -> dict[str, Any]:
        result = replan(req.problem, req.plan, req.disruption, budget_s=req.budget_s, progress=progress)
        return {
            "plans": [result.plan.model_dump()],
            "violations": check_plan(result.problem, result.plan),
            "moved": [m.model_dump() for m in result.moved],
            "changed_share": result.changed_share,
        }

    params = {"absent": req.disruption.absent_carers, "budget_s": req.budget_s}
    return _accepted(jobs.submit("routes.replan", work, params))


def _job(job_id: str, jobs: JobRunner):
    job = jobs.get(job_id)
    if job is None or job.kind not in KINDS:
        raise HTTPException(404, detail=f"No planning job with id {job_id}.")
    return job


def _result(job_id: str, jobs: JobRunner) -> dict[str, Any]:
    job = _job(job_id, jobs)
    if job.status == "failed":
        raise HTTPException(409, detail=f"The planning job failed: {job.error}")
    if job.status != "done":
        raise HTTPException(409, detail=f"The planning job is still {job.status}; poll its status and try again.")
    return job.result


@router.get("/jobs/{job_id}", response_model=JobStatus)
def job_status(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> JobStatus:
    """Status and progress (0..1) of a planning job."""
    job = _job(job_id, jobs)
    return JobStatus(
        id=job.id, kind=job.kind, status=job.status, progress=job.progress, message=job.message, error=job.error
    )


@router.get("/jobs/{job_id}/plan")
def job_plan(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    """The finished result: ``plans`` (one per day), checker ``violations`` and job extras."""
    return _result(job_id, jobs)


@router.get("/jobs/{job_id}/plan.csv", response_class=PlainTextResponse)
def job_plan_csv(job_id: str, day: int = 0, jobs: JobRunner = Depends(get_jobs)) -> str:
    """One row per stop of day ``day`` (0-based) as CSV."""
    return plan_csv(_day_plan(job_id, day, jobs))


@router.get("/jobs/{job_id}/sheet", response_class=HTMLResponse)
def job_sheet(job_id: str, day: int = 0, jobs: JobRunner = Depends(get_jobs)) -> str:
    """Printable per-carer day sheets (HTML) of day ``day`` (0-based)."""
    return day_sheets_html(_day_plan(job_id, day, jobs))


def _day_plan(job_id: str, day: int, jobs: JobRunner) -> Plan:
    plans = _result(job_id, jobs)["plans"]
    if not 0 <= day < len(plans):
        raise HTTPException(404, detail=f"The job has {len(plans)} day plan(s); day {day} does not exist.")
    return Plan.model_validate(plans[day])
