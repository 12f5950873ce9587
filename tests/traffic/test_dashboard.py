"""Every panel query of the traffic dashboard returns data from a real InfluxDB 1.x seeded with the
dashboard's seed messages, written the way the hub writes them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hub.store.base import points_from_message
from hub.store.influx import InfluxV1Store
from protocol import Envelope, Topic, now_ms
from tests.dashboards.seed_traffic import messages

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "json" / "traffic.json"


def expand(query: str) -> str:
    return query.replace("$timeFilter", "time > now() - 30d").replace("$__interval", "15m")


@pytest.mark.services
def test_every_panel_query_returns_rows(influx, influx_db: str) -> None:
    store = InfluxV1Store(influx.url, influx_db)
    base = now_ms() - 6 * 3600 * 1000
    for seq, body in enumerate(messages()):
        device = "lamp-017" if seq % 2 else "lamp-018"
        ts = getattr(body, "bin_start", 0) - 1_767_600_000_000 + base if hasattr(body, "bin_start") else base + seq
        env = Envelope(device_id=device, seq=seq, ts=ts, body=json.loads(body.model_dump_json()))
        store.write(points_from_message(Topic("kommune", "odense", device, body.STREAM), env, body))
    time.sleep(0.2)
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "influxdb"
            series = store.query(expand(target["query"]))
            assert series and any(s.get("values") for s in series), f"panel {panel['title']!r} has no data"
