"""The CLI and the hub API router for fleet jobs, on a tiny fleet."""

from __future__ import annotations

import json
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.fleet import router
from hub.jobs import JobRunner
from hub.optimise.fleet.cli import main
from hub.optimise.fleet.io import vehicle_row, write_dataset
from hub.optimise.fleet.model import Dataset
from tests.optimise.fleet_cases import bike, ev, fossil, random_trips


def tiny() -> Dataset:
    trips = random_trips(11, n=40, locations=2, days=3)
    fleet = [ev("e1"), ev("e2"), fossil("f1"), fossil("f2", loc=2), ev("e3", loc=2)]
    cand = bike("cand-bike").model_copy(update={"test_vehicle": True, "location": None})
    return Dataset([*fleet, cand], trips, name="tiny")


def payload(data: Dataset) -> dict:
    t = data.roundtrips
    return {
        "vehicles": [vehicle_row(v) for v in data.vehicles],
        "roundtrips": [{"id": int(t.id[i]), "start_time": t.start_iso(i), "end_time": t.end_iso(i),
                        "distance": float(t.distance[i]), "start_location_id": int(t.location[i]),
                        "car_id": t.vehicle[i]} for i in range(len(t))],
        "settings": {"pris_el": 2.0},
    }


def test_cli_search_writes_exports(tmp_path, capsys) -> None:
    write_dataset(tiny(), tmp_path / "in")
    assert main(["search", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["recommended"]["tco_dkk"] <= summary["today"]["tco_dkk"]
    for name in ("report.html", "driving_log.csv", "recommended_fleet.csv", "recommended_fleet.json", "search.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_cli_errors_are_sentences(tmp_path, capsys) -> None:
    (tmp_path / "cars.csv").write_text("id,type\n1,7\n")
    (tmp_path / "roundtrips.csv").write_text("start_time,end_time,distance\n")
    assert main(["allocate", str(tmp_path)]) == 1
    assert "row 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0


@pytest.fixture()
def client():
    app = FastAPI()
    app.include_router(router)
    app.state.jobs = JobRunner()
    with TestClient(app) as c:
        yield c
    app.state.jobs.shutdown()


def wait(client: TestClient, job_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        info = client.get(f"/fleet/jobs/{job_id}").json()
        if info["status"] in ("done", "failed"):
            return info
        time.sleep(0.1)
    raise AssertionError("fleet job did not finish")


def test_api_search_job(client) -> None:
    r = client.post("/fleet/jobs", json={"mode": "search", "dataset": payload(tiny()), "co2e_prices": [0, 5000]})
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    assert wait(client, job_id)["status"] == "done"
    result = client.get(f"/fleet/jobs/{job_id}/result").json()
    assert result["summary"]["recommended_allocation"]["gap"] <= 0.01
    assert len(result["front"]) >= 1
    fleet_csv = client.get(f"/fleet/jobs/{job_id}/fleet.csv")
    assert fleet_csv.status_code == 200 and fleet_csv.text.startswith("id,plate")
    log_csv = client.get(f"/fleet/jobs/{job_id}/driving_log.csv").text
    assert len(log_csv.strip().splitlines()) == 41
    assert "<svg" in client.get(f"/fleet/jobs/{job_id}/report.html").text


def test_api_rejects_bad_input(client) -> None:
    bad = payload(tiny())
    bad["roundtrips"][3]["distance"] = "far"
    r = client.post("/fleet/jobs", json={"dataset": bad})
    assert r.status_code == 422
    assert "row 4" in r.json()["detail"]
    assert client.post("/fleet/jobs", json={"mode": "allocate"}).status_code == 422
    assert client.get("/fleet/jobs/nope").status_code == 404


def test_api_scenario_job(client) -> None:
    r = client.post("/fleet/jobs", json={"mode": "scenario", "dataset": payload(tiny()), "replace": ["f1", "f2"],
                                         "by": "cand-bike"})
    job_id = r.json()["job_id"]
    assert wait(client, job_id)["status"] == "done"
    delta = client.get(f"/fleet/jobs/{job_id}/result").json()["summary"]["delta"]
    assert delta["vehicles"] == 0
    assert delta["unallocated_trips"] >= 0
