"""A hub restart loses no alert: real Mosquitto, real ingest, the falls service, two hub lifetimes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hub.runtime import Hub
from hub.services.falls import FallAlertService
from hub.settings import HubMQTT, HubSettings
from protocol import encode_envelope
from tests.falls_hub.conftest import fall_event, wait_until
from tests.services import Mosquitto

pytestmark = pytest.mark.services


def start_hub(broker: Mosquitto, prefix: str, state: Path) -> tuple[Hub, FallAlertService]:
    settings = HubSettings(
        state_dir=state,
        store_url=f"sqlite:///{state / 'ts.sqlite'}",
        mqtt=HubMQTT(host=broker.host, port=broker.port, prefix=prefix, client_id=f"hub-{uuid.uuid4().hex[:6]}"),
        services=["hub.services.falls:FallAlertService"],
    )
    hub = Hub.build(settings)
    hub.start()
    assert hub.ingest.connected.wait(10)
    return hub, next(s for s in hub.services if isinstance(s, FallAlertService))


def test_alerts_and_escalation_survive_a_hub_restart(mqtt_broker: Mosquitto, prefix: str, tmp_path: Path) -> None:
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cam-{uuid.uuid4().hex[:6]}")
    device.connect(mqtt_broker.host, mqtt_broker.port)
    device.loop_start()

    def send(seq: int, event) -> None:
        payload = encode_envelope("care-cam-1", seq, int(time.time() * 1000), event.model_dump_json())
        device.publish(f"{prefix}/solhaven/care-cam-1/falls/event", payload, qos=1).wait_for_publish(5)

    hub, service = start_hub(mqtt_broker, prefix, tmp_path / "hub")
    send(1, fall_event(event_id="fall-1", room="12"))
    send(2, fall_event(kind="bed_exit_warning", event_id="bed-1", room="7"))
    assert wait_until(lambda: len(service.store.alerts_of_home("solhaven", active=True)) == 2)
    before = {a.room: a for a in service.store.alerts_of_home("solhaven", active=True)}
    hub.stop()

    hub, service = start_hub(mqtt_broker, prefix, tmp_path / "hub")
    try:
        after = {a.room: a for a in service.store.alerts_of_home("solhaven", active=True)}
        assert {room: (a.id, a.state, a.opened_at) for room, a in after.items()} == {
            room: (a.id, a.state, a.opened_at) for room, a in before.items()
        }
        send(1, fall_event(event_id="fall-1", room="12"))  # the device re-sends what was not acked in time
        send(3, fall_event(kind="got_up", event_id="up-1", room="12", related="fall-1"))
        assert wait_until(lambda: [a.room for a in service.store.alerts_of_home("solhaven", active=True)] == ["7"])
        assert len(service.store.alerts_of_home("solhaven", active=False)) == 1  # no duplicate of the fall
        opened = after["7"].opened_at
        service.clock = lambda: opened + 125  # two minutes later, by the service's clock
        service.tick()  # (or the service's own timer, whichever comes first)
        reminded = service.store.alert(after["7"].id)
        assert (reminded.round, reminded.state) == (1, "open")
        assert [e["action"] for e in service.store.alert_log(reminded.id)] == ["opened", "reminded"]
    finally:
        hub.stop()
        device.loop_stop()
        device.disconnect()
