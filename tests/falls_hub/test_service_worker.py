"""The PWA's service worker in a real headless Chromium: it installs, caches the app shell, and turns a
push message (delivered through the DevTools protocol, as a push service would) into a notification."""

from __future__ import annotations

import json

import pytest

from hub.services.falls import FallAlertService, push_payload
from tests.falls_hub.conftest import PASSWORD, PHONE, Feeder, LiveHub, add_staff, fall_event, wait_until

pytestmark = pytest.mark.browser


def test_push_message_becomes_a_notification(
    browser, service: FallAlertService, live_hub: LiveHub, feed: Feeder
) -> None:
    add_staff(service, "anna")
    context = browser.new_context(**PHONE)
    context.grant_permissions(["notifications"], origin=live_hub.url)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.goto(f"{live_hub.url}/app/")
    page.fill("input[name=username]", "anna")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#live[data-state=on]", timeout=10_000)
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.state)") == "activated"
    cached = page.evaluate("caches.open('omsorgsalarm-v1').then((c) => c.keys()).then((k) => k.length)")
    assert cached >= 5  # the app shell opens without the hub
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and manifest["url"].endswith("/app/manifest.webmanifest")
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Chrome would offer "Install app"; Playwright's throw-away profile counts as incognito, which is not ours.
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []

    feed(fall_event(room="12"))
    alert = service.store.alerts_of_home("solhaven", active=True)[0]
    payload = push_payload(alert, 1, "da")
    assert wait_until(lambda: any(r["scopeURL"].endswith("/app/") for r in registrations), timeout=5)
    registration = next(r for r in registrations if r["scopeURL"].endswith("/app/"))
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_hub.url, "registrationId": registration["registrationId"], "data": json.dumps(payload)},
    )
    shown = page.evaluate("""async () => {
        const registration = await navigator.serviceWorker.ready;
        for (let i = 0; i < 300; i++) {  // up to 30 s: CI machines are busy
            const list = await registration.getNotifications();
            if (list.length) return list.map((n) => ({title: n.title, body: n.body, tag: n.tag,
                                                      actions: n.actions.map((a) => a.action)}));
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return [];
    }""")
    assert shown == [
        {"title": "Fald – bolig 12 (påmindelse 1)", "body": alert.text_da, "tag": alert.id, "actions": ["ack"]}
    ]
    context.close()
