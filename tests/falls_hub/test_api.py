"""The staff API over HTTP: login, per-care-home scoping, acknowledgement, the live feed and the PWA files."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from hub.services.falls import FallAlertService
from tests.falls_hub.conftest import PASSWORD, FakeClock, Feeder, LiveHub, add_staff, fall_event, hub_app


@pytest.fixture
def client(service: FallAlertService) -> TestClient:
    return TestClient(hub_app(service))


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/falls/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_login_needs_the_right_password(service, client: TestClient) -> None:
    add_staff(service, "anna")
    assert client.post("/falls/login", json={"username": "anna", "password": "wrong"}).status_code == 401
    assert client.post("/falls/login", json={"username": "nobody", "password": PASSWORD}).status_code == 401
    assert client.get("/falls/alerts").status_code == 401
    assert client.get("/falls/alerts", headers={"Authorization": "Bearer made-up"}).status_code == 401
    me = client.get("/falls/me", headers=login(client, "anna")).json()
    assert (me["username"], me["care_home"]) == ("anna", "solhaven")


def test_guessing_passwords_is_throttled(service, client: TestClient, clock: FakeClock) -> None:
    add_staff(service, "anna")
    for _ in range(5):
        assert client.post("/falls/login", json={"username": "anna", "password": "guess"}).status_code == 401
    assert client.post("/falls/login", json={"username": "anna", "password": PASSWORD}).status_code == 429
    clock.advance(901)
    login(client, "anna")


def test_sessions_expire(service, client: TestClient, clock: FakeClock) -> None:
    add_staff(service, "anna")
    headers = login(client, "anna")
    clock.advance(service.settings.token_ttl_s + 1)
    assert client.get("/falls/me", headers=headers).status_code == 401


def test_staff_of_one_home_never_see_another_homes_alerts(service, client: TestClient, feed: Feeder) -> None:
    add_staff(service, "anna", home="solhaven")
    add_staff(service, "bo", home="egebo")
    feed(fall_event(event_id="a-1", care_home="solhaven", room="12"))
    feed(fall_event(event_id="b-1", care_home="egebo", room="3"))
    anna, bo = login(client, "anna"), login(client, "bo")

    anna_alerts = client.get("/falls/alerts", headers=anna).json()
    bo_alerts = client.get("/falls/alerts", headers=bo).json()
    assert [(a["care_home"], a["room"]) for a in anna_alerts] == [("solhaven", "12")]
    assert [(a["care_home"], a["room"]) for a in bo_alerts] == [("egebo", "3")]

    other = bo_alerts[0]["id"]
    for method, path in [("get", ""), ("post", "/ack"), ("post", "/resolve")]:
        response = client.request(method.upper(), f"/falls/alerts/{other}{path}", headers=anna)
        assert response.status_code == 404, (path, response.text)
        assert "egebo" not in response.text
    assert client.get(f"/falls/alerts/{other}", headers=bo).json()["state"] == "open"  # untouched by anna


def test_acknowledge_and_resolve_over_http(service, client: TestClient, feed: Feeder) -> None:
    add_staff(service, "anna")
    feed(fall_event())
    headers = login(client, "anna")
    alert_id = client.get("/falls/alerts", headers=headers).json()[0]["id"]
    acked = client.post(f"/falls/alerts/{alert_id}/ack", headers=headers).json()
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "Anna")
    assert [e["action"] for e in acked["log"]] == ["opened", "acknowledged"]
    resolved = client.post(f"/falls/alerts/{alert_id}/resolve", headers=headers).json()
    assert resolved["state"] == "resolved"
    assert client.post(f"/falls/alerts/{alert_id}/ack", headers=headers).status_code == 409
    assert client.get("/falls/alerts", headers=headers).json() == []
    history = client.get("/falls/alerts?state=history", headers=headers).json()
    assert [h["id"] for h in history] == [alert_id] and history[0]["clip"] is None  # list stays small


def test_clip_reaches_the_app_as_keypoints(service, client: TestClient, feed: Feeder) -> None:
    add_staff(service, "anna")
    feed(fall_event())
    alert = client.get("/falls/alerts", headers=login(client, "anna")).json()[0]
    frames = alert["clip"]["frames"]
    assert len(frames) == 30 and len(frames[0][0]) == 17 and len(frames[0][0][0]) == 3


def test_shift_and_push_subscription(service, client: TestClient) -> None:
    staff = add_staff(service, "anna", on_shift=False)
    headers = login(client, "anna")
    assert client.patch("/falls/me", json={"on_shift": True, "language": "en"}, headers=headers).json()["on_shift"]
    key = client.get("/falls/push/key").json()["public_key"]
    assert key == service.vapid_public_key and len(key) == 87  # 65-byte uncompressed P-256 point
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    sub = {"endpoint": endpoint, "keys": {"p256dh": "BP" + "A" * 85, "auth": "A" * 22}}
    assert client.post("/falls/push/subscriptions", json=sub, headers=headers).status_code == 201
    assert [s.endpoint for s in service.store.subscriptions_of(staff.id)] == [endpoint]
    for bad in (
        "file:///etc/passwd",
        "http://fcm.googleapis.com/x",
        "https://10.0.0.5/admin",
        "https://fcm.googleapis.com.evil.example/x",
        "https://evilfcm.googleapis.com.example/x",
    ):
        response = client.post("/falls/push/subscriptions", json=dict(sub, endpoint=bad), headers=headers)
        assert response.status_code == 422, bad
    assert len(service.store.subscriptions_of(staff.id)) == 1


def test_openapi_documents_the_staff_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/falls/login", "/falls/alerts", "/falls/alerts/{alert_id}/ack", "/falls/stream"} <= set(paths)
    assert not any(p.startswith("/app") for p in paths)


def test_pwa_files_are_served(client: TestClient) -> None:
    page = client.get("/app/")
    assert page.status_code == 200 and "<canvas" in page.text
    manifest = client.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    icons = manifest.json()["icons"]
    assert {"192x192", "512x512"} <= {i["sizes"] for i in icons}
    for icon in icons:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get("/app/sw.js")
    assert worker.headers["service-worker-allowed"] == "/app/" and "notificationclick" in worker.text
    assert client.get("/app/../services/falls.py").status_code == 404
    assert client.get("/app/__init__.py").status_code == 404
    assert client.get("/app/%2e%2e/alerts/api.py").status_code == 404
    for path in ("/app/", "/app/app.js", "/app/style.css"):  # no external CDNs
        assert "https://" not in client.get(path).text.replace("https://push", "")


def test_live_feed_streams_only_the_staff_members_home(service, live_hub: LiveHub, feed: Feeder) -> None:
    add_staff(service, "anna", home="solhaven")
    token = httpx.post(f"{live_hub.url}/falls/login", json={"username": "anna", "password": PASSWORD}).json()["token"]
    received: list[dict] = []
    ready, done = threading.Event(), threading.Event()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", f"{live_hub.url}/falls/stream", headers=headers, timeout=10) as response:
            event = None
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "hello":
                    ready.set()
                elif line.startswith("data:") and event == "alert":
                    received.append(json.loads(line[5:])["alert"])
                    done.set()
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10), "no hello on the live feed"
    feed(fall_event(event_id="other", care_home="egebo"))  # another home: must not arrive
    feed(fall_event(event_id="ours", care_home="solhaven", room="7"))
    assert done.wait(10), "the alert did not arrive on the live feed"
    assert [(a["care_home"], a["room"]) for a in received] == [("solhaven", "7")]
