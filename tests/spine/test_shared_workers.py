"""Two hub ingest workers share the device streams through an MQTT shared subscription:
every message is stored exactly once and acknowledged, and both workers take part."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hub.ingest import Ingest, IngestSettings
from hub.registry import DeadLetterStore, DeviceRegistry
from hub.store import make_store
from tests.conftest import start_agent
from tests.services import InfluxDB, Mosquitto
from tests.spine.test_end_to_end import wait_until

pytestmark = pytest.mark.services


def test_two_workers_share_the_load_without_duplicates(
    mqtt_broker: Mosquitto, influx: InfluxDB, influx_db: str, prefix: str, tmp_path: Path
) -> None:
    store = make_store(f"influx://127.0.0.1:{influx.port}/{influx_db}")
    workers = []
    for i in range(2):
        settings = IngestSettings(host=mqtt_broker.host, port=mqtt_broker.port, prefix=prefix,
                                  client_id=f"hub-w{i}-{uuid.uuid4().hex[:4]}", share_group="hub")
        worker = Ingest(settings, store, DeviceRegistry(tmp_path / f"r{i}.sqlite"),
                        DeadLetterStore(tmp_path / f"r{i}.sqlite"))
        worker.start()
        assert worker.connected.wait(10)
        workers.append(worker)
    agents = [
        start_agent({"device_id": f"w-{k}", "site": "s", "state_dir": str(tmp_path / f"w-{k}"),
                     "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port, "prefix": prefix},
                     "pipelines": [{"type": "simulated", "interval_s": 0.005, "limit": 300}]})
        for k in range(3)
    ]
    try:
        wait_until(lambda: all(a.outbox.last_seq() == 300 and a.outbox.depth == 0 for a in agents),
                   what="all messages acknowledged")
        for k in range(3):
            rows = store.rows(f"SELECT \"seq\" FROM \"sim_reading\" WHERE \"device_id\" = 'w-{k}'")
            assert sorted(r["seq"] for r in rows) == list(range(1, 301))
        assert all(w.stored > 0 for w in workers), [w.stored for w in workers]
        assert sum(w.stored for w in workers) >= 900
    finally:
        for agent in agents:
            agent.stop()
        for worker in workers:
            worker.stop()
