"""The care dashboard's panels on real InfluxDB after the real hub path: events handled by the falls service,
an acknowledgement over the staff API, a night report. (``tests/dashboards`` runs every panel on seeded
events; messages cannot acknowledge, so the acknowledgement figures are checked here.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.services.falls import FallAlertService
from tests.falls_hub.conftest import PASSWORD, FakeClock, Feeder, add_staff, fall_event, hub_app, make_service
from tests.services import InfluxDB

REPO = Path(__file__).resolve().parents[2]
CARE = json.loads((REPO / "dashboards/json/care.json").read_text())
PANELS = {panel["id"]: panel for panel in CARE["panels"]}
MACROS = {"$timeFilter": "time > now() - 800d AND time < now() + 30d", "$__interval": "1h"}


def run_panel(store: Any, panel_id: int, care_home: str = ".*") -> list[dict[str, Any]]:
    """Rows of the panel's first query as ``{tag: value, column: value}``, the way Grafana renders them."""
    query = PANELS[panel_id]["targets"][0]["query"].replace("/^$care_home$/", f"/^{care_home}$/")
    for macro, value in MACROS.items():
        query = query.replace(macro, value)
    assert "$" not in query.replace(f"/^{care_home}$/", ""), query
    rows = []
    for series in store.query(query):
        for values in series.get("values", []):
            rows.append({**series.get("tags", {}), **dict(zip(series["columns"], values, strict=True))})
    return rows


@pytest.fixture
def influx_service(tmp_path: Path, influx: InfluxDB, influx_db: str) -> Any:
    from hub.store import make_store

    store = make_store(f"influx://127.0.0.1:{influx.port}/{influx_db}")
    clock = FakeClock()
    service = make_service(tmp_path / "falls", clock, store=store)
    yield service, clock, store
    service.stop()
    store.close()


@pytest.mark.services
def test_alert_and_night_report_figures_reach_the_care_dashboard(influx_service: Any) -> None:
    service: FallAlertService
    service, clock, store = influx_service
    add_staff(service, "anna", home="solhaven")
    feed = Feeder(service)
    other_home = Feeder(service, device_id="cam-egebo-3")
    feed(fall_event(event_id="fall-1"))
    other_home(fall_event(event_id="exit-1", kind="bed_exit_warning", room="3", care_home="egebo"))
    clock.advance(95)
    client = TestClient(hub_app(service))
    token = client.post("/falls/login", json={"username": "anna", "password": PASSWORD}).json()["token"]
    alert = client.get("/falls/alerts", headers={"Authorization": f"Bearer {token}"}).json()[0]
    assert client.post(f"/falls/alerts/{alert['id']}/ack", headers={"Authorization": f"Bearer {token}"}).is_success
    clock.advance(60)
    feed(fall_event(kind="got_up", event_id="up-1", related="fall-1"))
    report = fall_event(kind="night_report", event_id="night-1").model_copy(update={"details": {
        "night_of": "2025-11-22", "in_bed_min": 452, "observed_min": 570, "out_of_bed_episodes": 2,
        "out_of_room_min": 6, "restless_minutes": 31, "bed_exit_warnings": 1, "falls": 1, "on_floor": 0,
    }})
    feed(report)

    per_hour = [(r["care_home"], r["alerts"]) for r in run_panel(store, 1) if r["alerts"]]
    assert sorted(per_hour) == [("egebo", 1), ("solhaven", 1)]
    by_kind = {(r["care_home"], r["kind"]): r["alerts"] for r in run_panel(store, 2)}
    assert by_kind == {("egebo", "bed_exit_warning"): 1, ("solhaven", "fall"): 1}
    times = {(r["care_home"], r["outcome"]): r["median"] for r in run_panel(store, 3) if r["median"] is not None}
    assert times == {("solhaven", "acknowledged"): 95.0, ("solhaven", "resolved"): 155.0}
    response = {r["outcome"]: (r["alerts"], r["median s"]) for r in run_panel(store, 4)}
    assert response == {"acknowledged": (1, 95.0), "resolved": (1, 155.0)}
    nights = run_panel(store, 5)
    assert [(r["room"], r["night"], r["in bed min"], r["out of room min"], r["restless min"]) for r in nights] == [
        ("12", "2025-11-22", 452, 6, 31)
    ]
    assert run_panel(store, 3, care_home="egebo") == []  # the care-home variable scopes every panel
