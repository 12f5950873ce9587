"""Hub energy service: idempotent ingest of findings and meters, findings ranked by money, commands on the cmd topic."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.domain import HubContext
from hub.services.energy import EnergyService
from protocol import Command, Envelope, Topic
from protocol.streams.energy import EnergyFinding, EnergyMeter


class Published:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        self.messages.append((topic, payload, retain))


@pytest.fixture
def service(tmp_path: Path) -> tuple[EnergyService, Published, TestClient]:
    published = Published()
    ctx = HubContext(state_dir=tmp_path, prefix="kommune", publish=published, store=None, jobs=None)
    svc = EnergyService(ctx)
    app = FastAPI()
    app.include_router(svc.router())
    return svc, published, TestClient(app)


def _deliver(svc: EnergyService, seq: int, body: object, device: str = "bldg-1") -> None:
    topic = Topic("kommune", "odense", device, body.STREAM)  # type: ignore[attr-defined]
    env = Envelope(device_id=device, seq=seq, ts=1_740_000_000_000 + seq, body=body.model_dump())  # type: ignore[attr-defined]
    svc.handle(topic, env, body)  # type: ignore[arg-type]


def _finding(kind: str, kwh: float, dkk: float, building: str = "school-1") -> EnergyFinding:
    return EnergyFinding(
        finding_id=f"{building}:{kind}:-",
        building=building,
        kind=kind,
        state="raised",  # type: ignore[arg-type]
        first_seen_ts=1_740_000_000_000,
        kwh_per_year=kwh,
        dkk_per_year=dkk,
        evidence="test",
    )


def test_findings_are_ranked_by_money_and_ingest_is_idempotent(service) -> None:
    svc, _, client = service
    _deliver(svc, 1, _finding("plug_standby", 9000, 15000))
    _deliver(svc, 2, _finding("vent_night", 40000, 30000))
    _deliver(svc, 3, _finding("dhw_circulation", 12000, 7800, building="office-2"))
    _deliver(svc, 2, _finding("vent_night", 40000, 30000))  # a re-sent message
    rows = client.get("/energy/findings").json()
    assert [r["kind"] for r in rows] == ["vent_night", "plug_standby", "dhw_circulation"]
    assert client.get("/energy/findings", params={"building": "office-2"}).json()[0]["dkk_per_year"] == 7800
    fid = rows[0]["finding_id"]
    assert client.post(f"/energy/findings/{fid}/status", json={"status": "fixed"}).status_code == 200
    assert [r["kind"] for r in client.get("/energy/findings").json()] == ["plug_standby", "dhw_circulation"]
    missing = client.post("/energy/findings/nope/status", json={"status": "fixed"})
    assert missing.status_code == 404 and "no finding" in missing.json()["detail"]


def test_savings_to_date_sum_modelled_hours_once(service) -> None:
    svc, _, client = service
    for seq in range(1, 4):
        _deliver(
            svc,
            seq,
            EnergyMeter(
                building="school-1", interval_s=3600, electricity_kwh=40, heat_kwh=60, baseline_kwh=130, cost_dkk=100
            ),
        )
    _deliver(
        svc,
        3,
        EnergyMeter(
            building="school-1", interval_s=3600, electricity_kwh=40, heat_kwh=60, baseline_kwh=130, cost_dkk=100
        ),
    )
    row = client.get("/energy/savings").json()[0]
    assert row["hours"] == 3 and row["saved_kwh"] == pytest.approx(90.0)
    assert row["saved_fraction"] == pytest.approx(90 / 390)


def test_setpoint_commands_go_to_the_device_cmd_topic(service) -> None:
    _, published, client = service
    resp = client.post(
        "/energy/commands",
        json={
            "site": "odense",
            "device_id": "bldg-1",
            "action": "setpoint",
            "zone": "Class1",
            "heat_sp_c": 21.5,
            "ttl_s": 1800,
        },
    )
    assert resp.status_code == 202
    topic, payload, retain = published.messages[-1]
    assert topic == "kommune/odense/bldg-1/cmd" and not retain
    cmd = Command.model_validate_json(payload)
    assert cmd.action == "energy.setpoint" and cmd.args == {"zone": "Class1", "heat_sp_c": 21.5, "ttl_s": 1800}
    bad = client.post(
        "/energy/commands", json={"site": "odense", "device_id": "bldg-1", "action": "setpoint", "zone": "Class1"}
    )
    assert bad.status_code == 422 and "heat_sp_c" in bad.json()["detail"]
