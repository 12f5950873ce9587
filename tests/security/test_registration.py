"""With ``require_registration`` the hub binds each device to the site it was registered at.

The broker ACL confines a device to its own device-id level, but the site level is a wildcard
there; these tests prove the hub refuses a registered device publishing under another site, and
that a status message from the wrong site cannot move the device either.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from protocol import Status, encode_envelope
from tests.conftest import RunningHub
from tests.services import InfluxDB, Mosquitto
from tests.spine.test_end_to_end import raw_client, stored_seqs, wait_until

pytestmark = pytest.mark.services


@pytest.fixture
def strict_hub(
    mqtt_broker: Mosquitto, influx: InfluxDB, influx_db: str, prefix: str, tmp_path: Path
) -> Iterator[RunningHub]:
    from hub.api.app import create_app
    from hub.runtime import Hub
    from hub.settings import HubMQTT, HubSettings

    settings = HubSettings(
        state_dir=tmp_path / "hub",
        store_url=f"influx://127.0.0.1:{influx.port}/{influx_db}",
        require_registration=True,
        mqtt=HubMQTT(host=mqtt_broker.host, port=mqtt_broker.port, prefix=prefix,
                     client_id=f"hub-{uuid.uuid4().hex[:6]}"),
    )
    hub = Hub.build(settings)
    hub.start()
    assert hub.ingest.connected.wait(10)
    yield RunningHub(hub, create_app(hub))
    hub.stop()


def reading(device: str, seq: int) -> bytes:
    body = json.dumps({"sensor": "t", "value": float(seq)})
    return encode_envelope(device, seq, int(time.time() * 1000), body).encode()


def test_registered_device_is_accepted_only_under_its_own_site(
    strict_hub: RunningHub, mqtt_broker: Mosquitto, prefix: str, admin_headers: dict[str, str]
) -> None:
    api = TestClient(strict_hub.app, headers=admin_headers)
    answer = api.put("/devices/lamp-7", json={"site": "odense-c"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["site"] == "odense-c"

    client = raw_client(mqtt_broker)
    client.publish(f"{prefix}/other-site/lamp-7/sim/reading", reading("lamp-7", 1), qos=1).wait_for_publish(5)
    client.publish(f"{prefix}/odense-c/stranger/sim/reading", reading("stranger", 1), qos=1).wait_for_publish(5)
    client.publish(
        f"{prefix}/other-site/lamp-7/status",
        Status(device_id="lamp-7", state="online", session=1, ts=1).encode(), qos=1,
    ).wait_for_publish(5)
    client.publish(f"{prefix}/odense-c/lamp-7/sim/reading", reading("lamp-7", 2), qos=1).wait_for_publish(5)
    wait_until(lambda: stored_seqs(strict_hub, "lamp-7") == [2], what="the reading under the registered site")

    wait_until(lambda: strict_hub.hub.dead_letters.total() >= 3, what="three dead letters")
    reasons = [item["reason"] for item in api.get("/dead-letters").json()["items"]]
    assert sum("registered at site 'odense-c' but published under site 'other-site'" in r for r in reasons) == 2
    assert any("'stranger' is not registered" in r for r in reasons)
    assert stored_seqs(strict_hub, "stranger") == []
    assert api.get("/devices/lamp-7").json()["site"] == "odense-c"
    client.loop_stop()


def test_registration_is_admin_only_and_validated(
    strict_hub: RunningHub, admin_headers: dict[str, str]
) -> None:
    api = TestClient(strict_hub.app)
    assert api.put("/devices/lamp-8", json={"site": "odense-c"}).status_code == 401
    bad = api.put("/devices/lamp-8", json={"site": "Odense C"}, headers=admin_headers)
    assert bad.status_code == 422 and "site" in bad.json()["detail"]
    assert api.put("/devices/Lamp 8", json={"site": "odense-c"}, headers=admin_headers).status_code == 400
