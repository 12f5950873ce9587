"""Hub traffic service: bins stored once however often they arrive; counts as JSON and CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.domain import HubContext
from hub.services.traffic import TrafficService
from protocol import Envelope, Topic
from protocol.streams.traffic import TRAFFIC_CLASSES, TrafficCounts

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z


def counts(car_north: int) -> dict:
    c = {cls: {"north": 0, "south": 0} for cls in TRAFFIC_CLASSES}
    c["car"]["north"] = car_north
    c["bicycle"]["south"] = 2
    return c


@pytest.fixture
def service(tmp_path: Path) -> TrafficService:
    ctx = HubContext(state_dir=tmp_path, prefix="kommune", publish=lambda *a: None, store=None, jobs=None)
    return TrafficService(ctx)


def deliver(service: TrafficService, seq: int, body: TrafficCounts, device: str = "lamp-017") -> None:
    topic = Topic(prefix="kommune", site="odense", device_id=device, stream="traffic/counts")
    env = Envelope(device_id=device, seq=seq, ts=body.bin_start, body=body.model_dump())
    service.handle(topic, env, body)


def client(service: TrafficService) -> TestClient:
    app = FastAPI()
    app.include_router(service.router())
    return TestClient(app)


def test_counts_as_json_and_csv_with_flags(service: TrafficService) -> None:
    second = TrafficCounts(line="north", bin_start=T0 + 900_000, bin_s=900, counts=counts(3), flags=["covered"])
    deliver(service, 1, TrafficCounts(line="north", bin_start=T0, bin_s=900, counts=counts(5)))
    deliver(service, 2, second)
    deliver(service, 2, second)  # re-sent after a lost ack
    deliver(service, 9, second)  # re-emitted by the device after a crash: the same bin again
    api = client(service)
    got = api.get("/traffic/lamp-017/counts", params={"start": "2026-01-05T08:00:00Z", "end": "2026-01-05T09:00:00Z"})
    assert got.status_code == 200
    doc = got.json()
    assert doc["totals"]["north"]["car"]["north"] == 8
    assert doc["totals"]["north"]["bicycle"]["south"] == 4
    assert doc["flagged_bins"] == 1
    assert len(doc["bins"]) == 2 * len(TRAFFIC_CLASSES) * 2
    flagged = [b for b in doc["bins"] if b["flagged"]]
    assert {b["bin_start"] for b in flagged} == {"2026-01-05T08:15:00Z"} and flagged[0]["flags"] == ["covered"]

    text = api.get("/traffic/lamp-017/counts", params={"start": T0, "end": T0 + 900_000, "format": "csv"})
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert len(rows) == len(TRAFFIC_CLASSES) * 2
    car = next(r for r in rows if r["class"] == "car" and r["direction"] == "north")
    assert car["count"] == "5" and car["bin_start"] == "2026-01-05T08:00:00Z" and car["flagged"] == "0"


def test_errors_are_sentences(service: TrafficService) -> None:
    api = client(service)
    unknown = api.get("/traffic/lamp-999/counts", params={"start": T0, "end": T0 + 1})
    assert unknown.status_code == 404 and "lamp-999" in unknown.json()["detail"]
    bad = api.get("/traffic/lamp-017/counts", params={"start": "yesterday", "end": T0})
    assert bad.status_code == 422 and "ISO 8601" in bad.json()["detail"]
    deliver(service, 1, TrafficCounts(line="north", bin_start=T0, bin_s=900, counts=counts(1)))
    backwards = api.get("/traffic/lamp-017/counts", params={"start": T0 + 10, "end": T0})
    assert backwards.status_code == 422
