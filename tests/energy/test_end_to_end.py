"""End to end on real services: an agent steps the EnergyPlus office over MQTT into the hub (Mosquitto + InfluxDB);
readings and hourly meters land in InfluxDB, the hub's energy service totals them, and a setpoint sent through the
hub API comes back clamped from the device."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests import support
from tests.conftest import RunningHub, start_agent
from tests.services import Mosquitto
from tests.support import missing, shared_path

pytestmark = [pytest.mark.services, pytest.mark.slow]


def wait_until(check: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    support.wait_until(check, timeout, what, interval=0.2)


def test_building_agent_through_the_hub(
    hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str, tmp_path: Path, admin_headers: dict[str, str]
) -> None:
    shared_path("weather", "FIN_Helsinki.029740_IWEC.epw")
    try:
        import pyenergyplus.api  # noqa: F401
    except ImportError:
        missing("pyenergyplus-lbnl (dev extra) is not installed")
    agent = start_agent(
        {
            "device_id": "bldg-e2e",
            "site": "testsite",
            "state_dir": str(tmp_path / "bldg"),
            "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port, "prefix": prefix, "ack_timeout_s": 3},
            "pipelines": [
                {
                    "type": "energy",
                    "building": "office-e2e",
                    "floor_area_m2": 511,
                    "interval_s": 0.05,
                    "driver": {"kind": "simulation", "building": "SmallOffice", "start": "2025-02-24", "days": 2},
                }
            ],
        }
    )
    client = TestClient(hub_ingest.app, headers=admin_headers)
    store = hub_ingest.store
    try:
        wait_until(lambda: store.rows('SELECT count("value") FROM "energy_reading"') != [], what="readings stored")
        resp = client.post(
            "/energy/commands",
            json={
                "site": "testsite",
                "device_id": "bldg-e2e",
                "action": "setpoint",
                "zone": "Core_ZN",
                "heat_sp_c": 28.0,
                "ttl_s": 600,
            },
        )
        assert resp.status_code == 202, resp.text

        def applied() -> list[dict]:
            return client.get("/energy/setpoints", params={"building": "office-e2e"}).json()

        wait_until(lambda: applied() != [], what="the device to report the applied setpoint")
        row = applied()[0]
        assert row["requested"] == 28.0 and row["applied"] == 23.0 and row["clamped"] == 1
        wait_until(
            lambda: (client.get("/energy/savings").json() or [{}])[0].get("hours", 0) >= 6,
            what="hourly meters totalled by the hub",
        )
        meters = store.rows(
            'SELECT "electricity_kwh", "heat_kwh" FROM "energy_meter" WHERE "building" = \'office-e2e\''
        )
        assert meters and all(m["electricity_kwh"] > 0 for m in meters)
        temps = store.rows('SELECT "value" FROM "energy_reading" WHERE "kind" = \'zone_temp\' LIMIT 50')
        assert temps and all(10 < t["value"] < 30 for t in temps)
    finally:
        agent.stop()
