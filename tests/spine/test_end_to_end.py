"""Device agent → real Mosquitto → hub ingest → real InfluxDB, acknowledgements and dead letters."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from protocol import Status, encode_envelope
from tests.conftest import RunningHub, start_agent
from tests.services import Mosquitto
from tests.support import wait_until

pytestmark = pytest.mark.services


def device_config(broker: Mosquitto, prefix: str, tmp_path: Path, device: str, limit: int) -> dict:
    return {
        "device_id": device, "site": "testsite", "state_dir": str(tmp_path / device),
        "mqtt": {"host": broker.host, "port": broker.port, "prefix": prefix, "ack_timeout_s": 3},
        "pipelines": [{"type": "simulated", "interval_s": 0.01, "limit": limit, "seed": 1},
                      {"type": "system", "interval_s": 0.5}],
    }


def stored_seqs(running: RunningHub, device: str, measurement: str = "sim_reading") -> list[int]:
    rows = running.store.rows(f"SELECT \"seq\" FROM \"{measurement}\" WHERE \"device_id\" = '{device}'")
    return [r["seq"] for r in rows]


def raw_client(broker: Mosquitto) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"raw-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_messages_are_stored_acknowledged_and_the_device_is_online(
    hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str, tmp_path: Path
) -> None:
    agent = start_agent(device_config(mqtt_broker, prefix, tmp_path, "dev-a", limit=60))
    try:
        wait_until(lambda: len(stored_seqs(hub_ingest, "dev-a")) == 60, what="60 readings in InfluxDB")
        wait_until(lambda: agent.outbox.depth <= 1, what="outbox drained by acknowledgements")
        wait_until(lambda: stored_seqs(hub_ingest, "dev-a", "system_heartbeat") != [], what="a heartbeat")
        # last-seen bookkeeping is flushed about once a second
        wait_until(lambda: hub_ingest.hub.registry.get("dev-a")["messages"] >= 60, what="the registry's count")
        device = hub_ingest.hub.registry.get("dev-a")
        assert device and device["liveness"] == "online" and device["session"] == agent.link.session
        assert device["pipelines"] == ["simulated", "system"]
        seqs = stored_seqs(hub_ingest, "dev-a")
        assert len(set(seqs)) == 60
    finally:
        agent.stop()
    wait_until(lambda: hub_ingest.hub.registry.get("dev-a")["liveness"] == "offline", what="offline after stop")


def test_backlog_after_an_outage_is_marked_historical(
    hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str, tmp_path: Path
) -> None:
    hub_ingest.hub.ingest.stop()  # the hub is away
    agent = start_agent(device_config(mqtt_broker, prefix, tmp_path, "dev-b", limit=30))
    try:
        simulated = agent._running["simulated"].thread
        wait_until(lambda: simulated is not None and not simulated.is_alive(), what="all 30 readings emitted")
        from hub.ingest import Ingest

        old = hub_ingest.hub.ingest
        hub_ingest.hub.ingest = Ingest(old.s, old.store, old.registry, old.dead_letters, [], old.metrics)
        hub_ingest.hub.ingest.start()
        wait_until(lambda: len(stored_seqs(hub_ingest, "dev-b")) == 30, timeout=30, what="backlog stored")
        rows = hub_ingest.store.rows(
            "SELECT \"seq\", \"historical\" FROM \"sim_reading\" WHERE \"device_id\" = 'dev-b'"
        )
        assert all(r["historical"] for r in rows), f"messages re-sent after the outage must be historical: {rows}"
        live = hub_ingest.store.rows(
            "SELECT \"historical\" FROM \"system_heartbeat\" WHERE \"device_id\" = 'dev-b' ORDER BY time DESC LIMIT 1"
        )
        wait_until(lambda: not hub_ingest.store.rows(
            "SELECT \"historical\" FROM \"system_heartbeat\" WHERE \"device_id\" = 'dev-b' ORDER BY time DESC LIMIT 1"
        )[0]["historical"], what="a live heartbeat after the backlog")
        assert live is not None
    finally:
        agent.stop()


def test_bad_messages_go_to_dead_letters_and_ingest_keeps_running(
    hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str, admin_headers: dict[str, str]
) -> None:
    client = raw_client(mqtt_broker)
    good_body = json.dumps({"sensor": "t", "value": 1.0})
    cases = {
        f"{prefix}/s/dev-c/sim/reading": b"{not json",
        f"{prefix}/s/dev-c/sim/reading ": encode_envelope("dev-c", 1, 1, good_body).encode(),
        f"{prefix}/s/dev-d/sim/reading": encode_envelope("dev-c", 2, 1, good_body).encode(),
        f"{prefix}/s/dev-c/nosuch/stream": encode_envelope("dev-c", 3, 1, good_body).encode(),
        f"{prefix}/s/dev-c/system/heartbeat": encode_envelope("dev-c", 4, 1, good_body).encode(),
        f"{prefix}/s/dev-c/sim/reading\u00e6": b"{}",
    }
    oversized = encode_envelope("dev-c", 5, 1, json.dumps({"sensor": "x" * 5000, "value": 1})).encode()
    for topic, payload in cases.items():
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.publish(f"{prefix}/s/dev-c/sim/reading", oversized, qos=1).wait_for_publish(5)
    client.publish(f"{prefix}/s/dev-c/sim/reading", encode_envelope("dev-c", 6, int(time.time() * 1000),
                                                                      good_body).encode(), qos=1)
    wait_until(lambda: stored_seqs(hub_ingest, "dev-c") == [6], what="the valid message after the bad ones")
    api = TestClient(hub_ingest.app, headers=admin_headers)
    letters = api.get("/dead-letters").json()
    reasons = " | ".join(item["reason"] for item in letters["items"])
    assert letters["total"] >= 6
    for expected in ("invalid envelope", "does not match the topic", "unknown stream", "invalid system/heartbeat",
                     "exceed"):
        assert expected in reasons, f"no dead letter for {expected!r}: {reasons}"
    assert any(item["payload_text"].startswith("{not json") for item in letters["items"])
    client.loop_stop()


def test_stale_last_will_is_ignored(hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str) -> None:
    client = raw_client(mqtt_broker)
    topic = f"{prefix}/s/dev-e/status"
    client.publish(topic, Status(device_id="dev-e", state="online", session=5, ts=1).encode(), qos=1, retain=True)
    wait_until(lambda: (hub_ingest.hub.registry.get("dev-e") or {}).get("liveness") == "online", what="online")
    client.publish(topic, Status(device_id="dev-e", state="offline", session=4, ts=2).encode(), qos=1, retain=True)
    client.publish(f"{prefix}/s/dev-e/sim/reading", encode_envelope(
        "dev-e", 1, int(time.time() * 1000), json.dumps({"value": 2.0})).encode(), qos=1)
    wait_until(lambda: stored_seqs(hub_ingest, "dev-e") == [1], what="a message after the stale will")
    assert hub_ingest.hub.registry.get("dev-e")["liveness"] == "online"
    client.publish(topic, Status(device_id="dev-e", state="offline", session=5, ts=3).encode(), qos=1, retain=True)
    wait_until(lambda: hub_ingest.hub.registry.get("dev-e")["liveness"] == "offline", what="current will applies")
    client.publish(topic, b"", retain=True)
    client.loop_stop()


def test_api_answers_and_explains_bad_requests(
    hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str, admin_headers: dict[str, str]
) -> None:
    client = raw_client(mqtt_broker)
    client.publish(f"{prefix}/s/dev-f/sim/reading", encode_envelope(
        "dev-f", 1, int(time.time() * 1000), json.dumps({"value": 3.5})).encode(), qos=1)
    wait_until(lambda: stored_seqs(hub_ingest, "dev-f") == [1], what="one reading")
    assert TestClient(hub_ingest.app).get("/devices").status_code == 401  # no token, no data
    api = TestClient(hub_ingest.app, headers=admin_headers)
    assert api.get("/health").json()["status"] == "ok"
    assert any(d["device_id"] == "dev-f" for d in api.get("/devices").json())
    rows = api.get("/devices/dev-f/measurements", params={"stream": "sim/reading"}).json()
    assert rows[0]["value"] == 3.5
    missing = api.get("/devices/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
    bad_stream = api.get("/devices/dev-f/measurements", params={"stream": "no/such"})
    assert bad_stream.status_code == 400 and "Unknown stream" in bad_stream.json()["detail"]
    bad_limit = api.get("/devices/dev-f/measurements", params={"stream": "sim/reading", "limit": 0})
    assert bad_limit.status_code == 422 and "limit" in bad_limit.json()["detail"]
    metrics = api.get("/metrics").text
    assert "hub_ingest_messages_total" in metrics and "hub_devices_online" in metrics
    assert api.get("/openapi.json").json()["info"]["title"] == "kommune-edge hub"
    client.loop_stop()
