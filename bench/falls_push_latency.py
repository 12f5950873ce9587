"""Alert latency: a fall event published on the broker → the Web Push request accepted by a push receiver.

Starts its own Mosquitto, runs the real hub in this process (ingest → SQLite time series → falls
service → pywebpush), and a local push receiver that verifies VAPID and decrypts every push
(tests/falls_hub/push_receiver.py, in its own process). Each event opens a new alert in its own room, so every event
causes exactly one push to the nurse on shift.

The peer, measured in the same run on the same broker: plain MQTT delivery of the same payload to
a bare paho subscriber (what any alerting needs at least).

    python -m bench.falls_push_latency --events 200 --interval 0.1
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import paho.mqtt.client as mqtt

from hub.alerts.auth import hash_password
from hub.alerts.store import Subscription
from hub.runtime import Hub
from hub.services.falls import FallAlertService
from hub.settings import HubMQTT, HubSettings
from protocol import encode_envelope
from protocol.streams.falls import FallEvent
from tests.falls_hub.conftest import fall_clip
from tests.falls_hub.push_receiver import PushReceiver
from tests.services import Mosquitto

PREFIX = "bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def event(room: int) -> FallEvent:
    return FallEvent(
        event_id=f"fall-{room}",
        kind="fall",
        room=str(room),
        care_home="solhaven",
        severity="critical",
        text_da=f"Beboer i bolig {room} er faldet",
        text_en=f"Resident in room {room} has fallen",
        started_ts=int(time.time() * 1000),
        clip=fall_clip(),
    )


def mqtt_client(broker: Mosquitto) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def serve_receiver(conn: Connection, events: int) -> None:
    """The push service and the phone, in their own process (as they would be: not sharing the hub's GIL)."""
    receiver = PushReceiver()
    conn.send(receiver.subscribe("anna-phone"))
    conn.recv()  # all events published
    receiver.wait_for(events, timeout=30)
    conn.send(([(r.payload["body"], r.at) for r in receiver.received], len(receiver.rejected)))
    receiver.close()


def run(events: int, interval: float) -> dict[str, list[float]]:
    broker = Mosquitto()
    broker.start()
    conn, child_conn = mp.Pipe()
    receiver = mp.Process(target=serve_receiver, args=(child_conn, events), daemon=True)
    receiver.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = HubSettings(
            state_dir=Path(tmp) / "hub",
            store_url=f"sqlite:///{tmp}/ts.sqlite",
            mqtt=HubMQTT(host=broker.host, port=broker.port, prefix=PREFIX, client_id="bench-hub"),
            services=["hub.services.falls:FallAlertService"],
        )
        hub = Hub.build(settings)
        hub.start()
        assert hub.ingest.connected.wait(10)
        service = next(s for s in hub.services if isinstance(s, FallAlertService))
        nurse = service.store.add_staff("anna", "solhaven", "Anna", hash_password("x"), [])
        service.store.update_staff(nurse.id, on_shift=True)
        info = conn.recv()
        service.store.add_subscription(Subscription(info["endpoint"], nurse.id, **info["keys"]), time.time())

        peer_got: dict[str, float] = {}
        peer = mqtt_client(broker)
        peer.on_message = lambda c, u, msg: peer_got.setdefault(msg.topic, time.time())
        peer.subscribe("peer/+/falls/event", qos=1)
        device = mqtt_client(broker)
        time.sleep(0.5)

        sent: dict[str, float] = {}
        peer_sent: dict[str, float] = {}
        for seq in range(1, events + 1):
            payload = encode_envelope("care-cam-1", seq, int(time.time() * 1000), event(seq).model_dump_json())
            sent[f"Beboer i bolig {seq} er faldet"] = time.time()
            device.publish(f"{PREFIX}/solhaven/care-cam-1/falls/event", payload, qos=1)
            peer_sent[f"peer/{seq}/falls/event"] = time.time()
            device.publish(f"peer/{seq}/falls/event", payload, qos=1)
            time.sleep(interval)
        conn.send("published")
        received, rejected = conn.recv()
        deadline = time.time() + 10
        while len(peer_got) < events and time.time() < deadline:
            time.sleep(0.05)
        push_ms = [(at - sent[body]) * 1000 for body, at in received]
        opened = {a.text_da: a.opened_at for a in service.store.alerts_of_home("solhaven", True, limit=events)}
        handle_ms = [(opened[body] - sent[body]) * 1000 for body, _ in received]
        deliver_ms = [(at - opened[body]) * 1000 for body, at in received]
        peer_ms = [(peer_got[t] - peer_sent[t]) * 1000 for t in peer_got]
        for client in (device, peer):
            client.loop_stop()
            client.disconnect()
        hub.stop()
    receiver.join(10)
    broker.close()
    if rejected:
        raise SystemExit(f"{rejected} pushes were rejected by the receiver")
    return {"push": push_ms, "handle": handle_ms, "deliver": deliver_ms, "mqtt": peer_ms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="fall events, one new alert each (default 200)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between events (default 0.1)")
    args = parser.parse_args(argv)
    result = run(args.events, args.interval)
    print(f"events {args.events}, interval {args.interval} s, pushes received {len(result['push'])}")
    rows = [
        ("broker → push accepted (hub)", result["push"]),
        ("  of which broker → alert open", result["handle"]),
        ("  of which alert open → push", result["deliver"]),
        ("broker → subscriber (peer)", result["mqtt"]),
    ]
    for name, values in rows:
        print(
            f"{name:32s} p50 {statistics.median(values):7.1f} ms  p95 {percentile(values, 95):7.1f} ms  "
            f"p99 {percentile(values, 99):7.1f} ms  max {max(values):7.1f} ms  n {len(values)}"
        )
    ratio = percentile(result["push"], 99) / max(percentile(result["mqtt"], 99), 1e-3)
    print(f"p99 ratio hub push / bare MQTT: {ratio:.1f}x   (goal: push p99 <= 250 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
