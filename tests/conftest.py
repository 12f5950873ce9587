"""Session-wide real services: one Mosquitto and one InfluxDB on loopback ports.

``scripts/test`` (and CI) install them; with ``CI=true`` a missing one fails the
run, elsewhere tests that need them skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.services import InfluxDB, Mosquitto
from tests.support import missing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from edge.agent import Agent
    from hub.runtime import Hub


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[Mosquitto]:
    try:
        broker = Mosquitto()
    except FileNotFoundError as exc:
        missing(str(exc))
    broker.start()
    yield broker
    broker.close()


@pytest.fixture(scope="session")
def influx() -> Iterator[InfluxDB]:
    try:
        server = InfluxDB()
    except FileNotFoundError as exc:
        missing(str(exc))
    server.start(timeout=60)
    yield server
    server.close()


@pytest.fixture
def influx_db(influx: InfluxDB) -> Iterator[str]:
    """A fresh database name per test."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    influx.drop_database(name)


@pytest.fixture
def admin_headers(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Authorization headers of a bootstrap admin token (set through the environment, as in production)."""
    token = f"test-admin-{uuid.uuid4().hex}"
    monkeypatch.setenv("KOMMUNE_HUB_ADMIN_TOKEN", token)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def prefix() -> str:
    """A topic prefix unique to the test, so tests sharing the broker never see each other's messages."""
    return f"t{uuid.uuid4().hex[:8]}"


class RunningHub:
    """A real hub (ingest + store + services) in this process, for end-to-end tests."""

    def __init__(self, hub: Hub, app: FastAPI) -> None:
        self.hub = hub
        self.app = app

    @property
    def store(self) -> Any:
        return self.hub.store


@pytest.fixture
def hub_ingest(
    mqtt_broker: Mosquitto, influx: InfluxDB, influx_db: str, prefix: str, tmp_path: Path
) -> Iterator[RunningHub]:
    """Hub ingest connected to the test broker and writing to a fresh InfluxDB database.

    Yields a RunningHub: ``.hub`` (hub.runtime.Hub with ingest, store, registry,
    services) and ``.app`` (the FastAPI app, for ``fastapi.testclient.TestClient``).
    The topic prefix is the ``prefix`` fixture.
    """
    from hub.api.app import create_app
    from hub.runtime import Hub
    from hub.settings import HubMQTT, HubSettings

    settings = HubSettings(
        state_dir=tmp_path / "hub",
        store_url=f"influx://127.0.0.1:{influx.port}/{influx_db}",
        mqtt=HubMQTT(host=mqtt_broker.host, port=mqtt_broker.port, prefix=prefix,
                     client_id=f"hub-{uuid.uuid4().hex[:6]}"),
    )
    hub = Hub.build(settings)
    hub.start()
    assert hub.ingest.connected.wait(10), "hub ingest could not connect to the test broker"
    yield RunningHub(hub, create_app(hub))
    hub.stop()


def start_agent(config_dict: dict[str, Any], **kwargs: Any) -> Agent:
    """Build and start an edge Agent from a dict config (helper for tests)."""
    from edge.agent import Agent
    from edge.config import parse_config

    agent = Agent(parse_config(config_dict), **kwargs)
    agent.start()
    return agent


