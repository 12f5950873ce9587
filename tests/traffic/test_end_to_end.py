"""A traffic unit replaying real video → real Mosquitto → hub ingest → real InfluxDB and the traffic API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests import support
from tests.conftest import RunningHub, start_agent
from tests.services import Mosquitto
from tests.support import shared_path

pytestmark = pytest.mark.services


def wait_until(check: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    support.wait_until(check, timeout, what, interval=0.2)


def test_counts_reach_influxdb_and_the_api(
    hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str, tmp_path: Path, coco_tflite: Path,
    admin_headers: dict[str, str],
) -> None:
    clip = shared_path("media", "intel-car-detection.mp4")
    config = {
        "device_id": "lamp-e2e", "site": "testsite", "state_dir": str(tmp_path / "lamp"),
        "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port, "prefix": prefix, "ack_timeout_s": 3},
        "pipelines": [
            {"type": "system", "interval_s": 0.5},
            {"type": "traffic", "bin_s": 60, "anchor": "center",
             "source": {"uri": str(clip), "start_frame": 300, "replay_start": "2026-01-05T08:00:00Z"},
             "detector": {"extra_classes": {67: "car"}}, "speed": {"detect_every": 2, "roi": "full"},
             "lines": [{"name": "lane", "points": [[0, 0.5], [1, 0.5]], "positive": "down", "negative": "up"}]},
        ],
    }
    agent = start_agent(config)
    try:
        def rows() -> list[dict]:
            return hub_ingest.store.rows(
                "SELECT \"count\", \"flagged\" FROM \"traffic_counts\" WHERE \"device_id\" = 'lamp-e2e' "
                "AND \"class\" = 'car'"
            )

        wait_until(lambda: len(rows()) == 2, what="the replay's closing bin in InfluxDB (car × two directions)")
        assert sum(r["count"] for r in rows()) == 1  # one car crosses in this stretch (hand label 26.7 s)
        wait_until(lambda: hub_ingest.store.rows(
            "SELECT \"pipelines_traffic_fps\" FROM \"system_heartbeat\" WHERE \"device_id\" = 'lamp-e2e'") != [],
            what="a heartbeat with the traffic pipeline's figures")
        assert TestClient(hub_ingest.app).get("/traffic/devices").status_code == 401  # no token, no counts
        api = TestClient(hub_ingest.app, headers=admin_headers)
        got = api.get("/traffic/lamp-e2e/counts", params={"start": "2026-01-05T08:00:00Z",
                                                          "end": "2026-01-05T08:01:00Z"})
        assert got.status_code == 200, got.text
        assert got.json()["totals"]["lane"]["car"] == {"down": 1, "up": 0}
    finally:
        agent.stop()
