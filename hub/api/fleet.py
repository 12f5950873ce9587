"""Fleet optimisation endpoints: submit a job, follow it, fetch results as JSON, CSV or HTML."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from hub.api.deps import get_jobs
from hub.jobs import JobInfo, JobRunner, ProgressFn
from hub.optimise.fleet import synthetic
from hub.optimise.fleet.allocation import allocate
from hub.optimise.fleet.io import FleetDataError, dataset_from_json, vehicle_row, write_csv
from hub.optimise.fleet.model import Dataset
from hub.optimise.fleet.report import render_report
from hub.optimise.fleet.scenario import run_scenario
from hub.optimise.fleet.search import DEFAULT_CO2E_PRICES, DEFAULT_TIME_BUDGET_S, search_fleet

router = APIRouter(prefix="/fleet", tags=["fleet"])
JOB_KIND = "fleet"
UNPROCESSABLE = 422  # Starlette renamed the constant; the code is what clients see
PRESETS = {"synthetic": synthetic.MunicipalitySpec(), "holbaek-like": synthetic.HOLBAEK_LIKE,
           "aarhus-like": synthetic.AARHUS_LIKE}


class FleetJobRequest(BaseModel):
    """A fleet job. Give ``dataset`` (FleetOptimiser's tables as JSON) or a ``synthetic`` preset."""

    mode: Literal["search", "allocate", "scenario"] = "search"
    dataset: dict[str, Any] | None = Field(
        default=None, description='{"vehicles": [cars rows], "roundtrips": [rows], "settings": {name: value}}')
    synthetic: Literal["synthetic", "holbaek-like", "aarhus-like"] | None = None
    max_unallocated: int | Literal["today"] | None = Field(
        default="today", description="search: cap on unallocated roundtrips per pool; 'today' keeps today's level")
    co2e_prices: list[float] = Field(default_factory=lambda: list(DEFAULT_CO2E_PRICES))
    max_co2e_t: float | None = Field(default=None, description="search: cap on the fleet's t CO2e per year")
    time_budget_s: float | None = Field(default=DEFAULT_TIME_BUDGET_S,
                                        description="search: seconds of CPU time before the best so far is returned")
    replace: list[str] = Field(default_factory=list, description="scenario: ids or plates to replace")
    by: str | None = Field(default=None, description="scenario: candidate vehicle id; empty drops them")


class JobAccepted(BaseModel):
    job_id: str
    status_url: str
    result_url: str


def _dataset(req: FleetJobRequest) -> Dataset:
    if req.synthetic:
        return synthetic.generate(PRESETS[req.synthetic])
    if req.dataset is None:
        raise HTTPException(UNPROCESSABLE,
                            detail="Give a dataset (vehicles, roundtrips, settings) or a synthetic preset.")
    try:
        return dataset_from_json(req.dataset)
    except FleetDataError as exc:
        raise HTTPException(UNPROCESSABLE, detail=f"The dataset has errors: {exc}") from exc


def _run(req: FleetJobRequest, data: Dataset, progress: ProgressFn) -> dict[str, Any]:
    if req.mode == "allocate":
        alloc = allocate(data.roundtrips, data.fleet, data.settings, progress=progress)
        return {"mode": "allocate", "summary": alloc.summary(), "driving_log": alloc.driving_log(),
                "fleet": [vehicle_row(v) for v in data.fleet]}
    if req.mode == "scenario":
        result = run_scenario(data, req.replace, req.by, progress=progress)
        return {"mode": "scenario", "summary": result.summary(), "driving_log": result.after.driving_log(),
                "fleet": [vehicle_row(v) for v in result.after.fleet]}
    result = search_fleet(data, co2e_prices=req.co2e_prices, max_unallocated=req.max_unallocated,
                          max_co2e_t=req.max_co2e_t, time_budget_s=req.time_budget_s, workers=1,
                          progress=lambda f, m: progress(0.9 * f, m))
    fleet = result.fleet(result.recommended)
    progress(0.9, "allocating the recommended fleet")
    alloc = allocate(data.roundtrips, fleet, data.settings)
    price = result.co2e_price
    return {
        "mode": "search",
        "summary": {"today": result.today.as_dict(price), "recommended": result.recommended.as_dict(price),
                    "recommended_allocation": alloc.summary(),
                    "min_vehicles_all_trips": result.min_vehicles_all_trips,
                    "evaluations": result.evaluations, "seconds": round(result.seconds, 2)},
        "front": [o.as_dict(price) for o in sorted(result.front, key=lambda o: o.cash_dkk)],
        "fleet": [vehicle_row(v) for v in fleet],
        "driving_log": alloc.driving_log(),
        "report_html": render_report(result, f"Fleet optimisation: {data.name or 'submitted fleet'}", alloc),
    }


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
def submit_job(req: FleetJobRequest, jobs: JobRunner = Depends(get_jobs)) -> JobAccepted:
    """Check the input now (errors come back at once), then optimise in the background."""
    if req.mode == "scenario" and not req.replace:
        raise HTTPException(UNPROCESSABLE, detail="A scenario needs vehicles to replace.")
    data = _dataset(req)
    params = req.model_dump(exclude={"dataset"}) | {"vehicles": len(data.fleet), "roundtrips": len(data.roundtrips)}
    job_id = jobs.submit(JOB_KIND, lambda progress: _run(req, data, progress), params)
    return JobAccepted(job_id=job_id, status_url=f"/fleet/jobs/{job_id}", result_url=f"/fleet/jobs/{job_id}/result")


def _job(job_id: str, jobs: JobRunner) -> JobInfo:
    job = jobs.get(job_id)
    if job is None or job.kind != JOB_KIND:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"There is no fleet job {job_id}.")
    return job


def _finished(job_id: str, jobs: JobRunner) -> dict[str, Any]:
    job = _job(job_id, jobs)
    if job.status == "failed":
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"The fleet job failed: {job.error}")
    if job.status != "done":
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail=f"The fleet job is {job.status} ({100 * job.progress:.0f} %); try again later.")
    return job.result


@router.get("/jobs/{job_id}")
def job_status(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    """Status and progress (0..1) of a fleet job."""
    return _job(job_id, jobs).summary()


@router.get("/jobs/{job_id}/result")
def job_result(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    """Summary, Pareto front and recommended fleet (no driving log: fetch it as CSV)."""
    result = _finished(job_id, jobs)
    return {k: v for k, v in result.items() if k not in ("driving_log", "report_html")}


@router.get("/jobs/{job_id}/fleet.csv", response_class=PlainTextResponse)
def job_fleet_csv(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> PlainTextResponse:
    """The recommended (or scenario) fleet in FleetOptimiser's ``cars`` columns."""
    return PlainTextResponse(write_csv(_finished(job_id, jobs)["fleet"]), media_type="text/csv")


@router.get("/jobs/{job_id}/driving_log.csv", response_class=PlainTextResponse)
def job_driving_log_csv(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> PlainTextResponse:
    """One row per roundtrip: which vehicle drives it (or allowance)."""
    return PlainTextResponse(write_csv(_finished(job_id, jobs)["driving_log"]), media_type="text/csv")


@router.get("/jobs/{job_id}/driving_log.json")
def job_driving_log_json(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> list[dict[str, Any]]:
    return _finished(job_id, jobs)["driving_log"]


@router.get("/jobs/{job_id}/report.html", response_class=HTMLResponse)
def job_report(job_id: str, jobs: JobRunner = Depends(get_jobs)) -> HTMLResponse:
    """The HTML report with the Pareto chart (search jobs)."""
    result = _finished(job_id, jobs)
    if "report_html" not in result:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Only search jobs have a report.")
    return HTMLResponse(result["report_html"])
