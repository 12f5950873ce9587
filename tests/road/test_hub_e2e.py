"""Road messages from two vehicles through the real broker, hub ingest, InfluxDB and the road service: one order."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from protocol.streams.road import DamageObservation
from tests.conftest import start_agent

LAT, LON = 55.3959, 10.3883


def _obs(drive: str, dn_m: float) -> DamageObservation:
    return DamageObservation(
        observation_id=f"{drive}-00001", drive_id=drive, rdd_class="D40", severity="high", lat=LAT + dn_m / 111_195,
        lon=LON, position_sigma_m=1.2, width_m=0.9, length_m=0.7, area_m2=0.49, confidence=0.8, frames=6,
        distance_min_m=4.0, first_ts=int(time.time() * 1000) - 4000, passed_ts=int(time.time() * 1000),
        heading_deg=10.0, road_class="arterial",
    )


@pytest.mark.services
def test_two_vehicles_one_work_order(admin_headers, hub_ingest, mqtt_broker, prefix: str, tmp_path) -> None:
    agents = []
    for i, device in enumerate(("vehicle-a", "vehicle-b")):
        agent = start_agent({"device_id": device, "site": "odense", "state_dir": str(tmp_path / device),
                             "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port, "prefix": prefix}},
                            outbox_fsync=False)
        agent.emit(_obs(f"{device}-drive", 1.5 * i))
        agents.append(agent)
    client = TestClient(hub_ingest.app)
    deadline = time.time() + 20
    orders: list = []
    while time.time() < deadline:
        resp = client.get("/road/orders", headers=admin_headers)
        assert resp.status_code == 200, resp.text
        orders = resp.json()
        if orders and orders[0]["observations"] == 2:
            break
        time.sleep(0.3)
    for agent in agents:
        agent.stop()
    assert len(orders) == 1 and orders[0]["observations"] == 2 and orders[0]["drives"] == 2
    assert orders[0]["priority"] == 1  # a large pothole on an arterial road
    rows = hub_ingest.store.rows('SELECT count("confidence") FROM "road_observation"')
    assert rows and rows[0]["count"] == 2
