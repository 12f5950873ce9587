"""A hub API token of role ``care_staff`` (hub.security) on the care-staff endpoints of the production app:
refused unless the hub config opts in (``falls.accept_api_tokens``), then scoped to the token's care home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.services.falls import FallAlertService
from tests.falls_hub.conftest import Feeder, fall_event


def production_app(state_dir: Path, accept: bool) -> FastAPI:
    from hub.api.app import create_app
    from hub.runtime import Hub
    from hub.settings import HubSettings

    settings = HubSettings(
        state_dir=state_dir, store_url=f"sqlite:///{state_dir / 'ts.sqlite'}",
        service_settings={"falls": {"accept_api_tokens": accept}},
    )
    app = create_app(Hub.build(settings))
    falls(app).configure(falls(app).ctx.settings)  # what the service's start() does
    return app


def falls(app: FastAPI) -> FallAlertService:
    return next(s for s in app.state.hub.services if s.name == "falls")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    app = production_app(tmp_path, accept=True)
    yield app
    falls(app).stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_care_staff_token_sees_and_acknowledges_only_its_own_home(app: FastAPI) -> None:
    service = falls(app)
    Feeder(service)(fall_event(event_id="fall-sol", care_home="solhaven"))
    Feeder(service, device_id="cam-egebo-3")(fall_event(event_id="fall-ege", room="3", care_home="egebo"))
    sol = app.state.tokens.issue("tablet-solhaven", "care_staff", care_home="solhaven")
    ege = app.state.tokens.issue("tablet-egebo", "care_staff", care_home="egebo")
    client = TestClient(app)

    me = client.get("/falls/me", headers=bearer(sol))
    assert me.status_code == 200 and me.json()["care_home"] == "solhaven"
    mine = client.get("/falls/alerts", headers=bearer(sol)).json()
    theirs = client.get("/falls/alerts", headers=bearer(ege)).json()
    assert [(a["care_home"], a["room"]) for a in mine] == [("solhaven", "12")]
    assert [(a["care_home"], a["room"]) for a in theirs] == [("egebo", "3")]
    assert client.get(f"/falls/alerts/{theirs[0]['id']}", headers=bearer(sol)).status_code == 404
    assert client.post(f"/falls/alerts/{theirs[0]['id']}/ack", headers=bearer(sol)).status_code == 404

    acked = client.post(f"/falls/alerts/{mine[0]['id']}/ack", headers=bearer(sol))
    assert acked.status_code == 200
    assert (acked.json()["state"], acked.json()["acknowledged_by"]) == ("acknowledged", "tablet-solhaven")
    assert service.store.alert(theirs[0]["id"]).state == "open"  # type: ignore[union-attr]

    subscription = {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "k", "auth": "a"}}
    assert client.post("/falls/push/subscriptions", json=subscription, headers=bearer(sol)).status_code == 403
    assert client.patch("/falls/me", json={"on_shift": True}, headers=bearer(sol)).status_code == 403


def test_other_roles_and_revoked_tokens_are_refused(app: FastAPI) -> None:
    client = TestClient(app)
    for role in ("admin", "technical", "planner", "device"):
        token = app.state.tokens.issue(f"x-{role}", role)
        assert client.get("/falls/alerts", headers=bearer(token)).status_code == 401, role
    token = app.state.tokens.issue("old-tablet", "care_staff", care_home="solhaven")
    assert client.get("/falls/alerts", headers=bearer(token)).status_code == 200
    app.state.tokens.revoke("old-tablet")
    assert client.get("/falls/alerts", headers=bearer(token)).status_code == 401


def test_care_staff_tokens_are_refused_unless_the_hub_opts_in(tmp_path: Path) -> None:
    app = production_app(tmp_path, accept=False)
    try:
        token = app.state.tokens.issue("tablet", "care_staff", care_home="solhaven")
        assert TestClient(app).get("/falls/alerts", headers=bearer(token)).status_code == 401
    finally:
        falls(app).stop()
