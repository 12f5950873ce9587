"""End to end in a real headless Chromium: a fall event published on MQTT goes through the real hub
ingest into the care-staff app, the stick figure is drawn, and acknowledging stops the escalation."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hub.services.falls import FallAlertService
from protocol import encode_envelope
from tests.conftest import RunningHub
from tests.falls_hub.conftest import PASSWORD, PHONE, FakeClock, add_staff, fall_event, serve, wait_until
from tests.falls_hub.push_receiver import PushReceiver
from tests.services import Mosquitto

pytestmark = [pytest.mark.browser, pytest.mark.services]

FIGURE_BACKGROUND = (0x1D, 0x2B, 0x38)


def falls_service(running: RunningHub) -> FallAlertService:
    found = [s for s in running.hub.services if isinstance(s, FallAlertService)]
    assert found, "the falls service is not registered in hub.domain.SERVICES"
    return found[0]


def publish_event(broker: Mosquitto, prefix: str, device: str, seq: int, event) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cam-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    payload = encode_envelope(device, seq, int(time.time() * 1000), event.model_dump_json())
    client.publish(f"{prefix}/solhaven/{device}/falls/event", payload, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def figure_pixels(page, selector: str) -> int:
    """How many pixels of the canvas differ from its plain background: 0 means nothing was drawn."""
    return page.evaluate(
        """([selector, bg]) => {
            const canvas = document.querySelector(selector);
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let drawn = 0;
            for (let i = 0; i < data.length; i += 4) {
                const diff = Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]);
                if (diff > 60) drawn++;
            }
            return drawn;
        }""",
        [selector, list(FIGURE_BACKGROUND)],
    )


def keep_screenshot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("FALLS_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)


def test_fall_on_mqtt_appears_animates_and_acknowledging_stops_escalation(
    browser, hub_ingest: RunningHub, mqtt_broker: Mosquitto, prefix: str, tmp_path: Path
) -> None:
    service = falls_service(hub_ingest)
    clock = FakeClock(time.time())
    service.clock = clock  # escalation minutes pass when the test says so
    anna = add_staff(service, "anna", home="solhaven", rooms=("12",))
    add_staff(service, "bo", home="egebo")
    receiver = PushReceiver()
    info = receiver.subscribe("anna-phone")
    from hub.alerts.store import Subscription

    service.store.add_subscription(Subscription(info["endpoint"], anna.id, **info["keys"]), clock())

    with serve(hub_ingest.app) as hub:
        context = browser.new_context(**PHONE, locale="da-DK")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{hub.url}/app/")
        page.fill("input[name=username]", "anna")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#live[data-state=on]", timeout=10_000)  # the live feed is open
        keep_screenshot(page, tmp_path, "falls-empty.png")

        publish_event(mqtt_broker, prefix, "care-cam-12", 1, fall_event(event_id="fall-1", room="12"))
        publish_event(mqtt_broker, prefix, "care-cam-3", 1, fall_event(event_id="fall-x", care_home="egebo", room="3"))
        card = page.wait_for_selector("#alerts li.alert[data-state=open]", timeout=10_000)
        assert "Beboer i bolig 12 er faldet" in card.inner_text()
        assert page.locator("#alerts li.alert").count() == 1  # egebo's fall is not shown to solhaven staff
        alert_id = card.get_attribute("data-id")
        assert wait_until(lambda: figure_pixels(page, f"#alert-{alert_id} canvas") > 200, timeout=5)
        first = figure_pixels(page, f"#alert-{alert_id} canvas")
        keep_screenshot(page, tmp_path, "falls-alert.png")

        assert [r.name for r in receiver.wait_for(1)] == ["anna-phone"]
        clock.advance(125)
        assert wait_until(lambda: len(receiver.received) == 2), "no reminder after two minutes"
        page.wait_for_function("document.querySelector('.meta').textContent.includes('påmindelse 1')")

        page.click(f"#alert-{alert_id} button.ack")
        page.wait_for_selector(f"#alert-{alert_id}[data-state=acknowledged]", timeout=5_000)
        assert service.store.alert(alert_id).acknowledged_by == "Anna"
        keep_screenshot(page, tmp_path, "falls-acknowledged.png")
        clock.advance(600)
        time.sleep(2.5 * service.settings.tick_s)  # the escalation timer runs on its own thread
        assert service.tick() == []
        assert len(receiver.received) == 2, "escalation went on after the acknowledgement"
        assert receiver.rejected == []

        page.click("button[data-view=history]")
        assert page.locator("#history li.alert").count() == 0  # acknowledged is still active, not history
        page.click("button[data-view=active]")
        assert figure_pixels(page, f"#alert-{alert_id} canvas") > 0 and first > 0
        assert errors == []
        context.close()
    receiver.close()
