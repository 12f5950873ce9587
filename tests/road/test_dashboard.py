"""Every panel query of the roads dashboard returns data from a real InfluxDB 1.x, seeded through the hub's
time-series mapping and the road service (which writes the work-order points)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hub.domain import HubContext
from hub.services.road import RoadService
from hub.store.base import points_from_message
from hub.store.influx import InfluxV1Store
from protocol import Envelope, Topic, now_ms
from protocol.privacy import image_like_reasons
from protocol.streams.road import DamageCrop
from tests.dashboards.seed_road import T0, messages

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "json" / "roads.json"


def expand(query: str, interval: str) -> str:
    return query.replace("$timeFilter", "time > now() - 30d").replace("$__interval", interval)


def test_seed_bodies_fit_their_streams() -> None:
    for body in messages():
        payload = body.model_dump_json().encode()
        assert len(payload) <= body.MAX_BYTES
        if not isinstance(body, DamageCrop):
            assert image_like_reasons(payload) == [], body.STREAM


@pytest.mark.services
def test_every_panel_query_returns_rows(influx, influx_db: str, tmp_path: Path) -> None:
    store = InfluxV1Store(influx.url, influx_db)
    service = RoadService(HubContext(tmp_path, "kommune", lambda *a: None, store, None, {}))
    shift = now_ms() - 20 * 86_400_000 - T0
    for seq, body in enumerate(messages()):
        device = "vehicle-park-07"
        ts = getattr(body, "passed_ts", None) or getattr(body, "end_ts", None) or T0
        env = Envelope(device_id=device, seq=seq, ts=ts + shift, body=json.loads(body.model_dump_json()))
        topic = Topic("kommune", "odense", device, body.STREAM)
        store.write(points_from_message(topic, env, body))
        service.handle(topic, env, body)
    service.dispatch_pending()
    time.sleep(0.2)
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "influxdb"
            series = store.query(expand(target["query"], panel.get("interval", "1h")))
            assert series and any(s.get("values") for s in series), f"panel {panel['title']!r} has no data"
    open_rows = store.rows('SELECT last("open") AS "open" FROM "road_workorder" GROUP BY "order_id"')
    assert len(open_rows) == 6  # six damages, each one order across three drives and two vehicles
