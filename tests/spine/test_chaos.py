"""Zero loss under chaos: the broker is SIGKILLed, the hub is SIGKILLed and restarted, and InfluxDB
is stopped for 30 s while several devices stream. Counted by unique (device_id, seq) in the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hub.store.influx import InfluxV1Store
from tests.conftest import start_agent
from tests.services import InfluxDB, Mosquitto, free_port

pytestmark = [pytest.mark.services, pytest.mark.slow]

DEVICES = 4
MESSAGES_PER_DEVICE = 1100
INTERVAL_S = 0.05  # 4 devices x 20 msg/s for ~55 s


def start_hub(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run", "--config", str(config), "--log-level", "WARNING"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def test_zero_loss_zero_duplicates_under_chaos(tmp_path: Path) -> None:
    try:
        broker, influx = Mosquitto(workdir=tmp_path / "mq"), InfluxDB(workdir=tmp_path / "influx")
    except FileNotFoundError as exc:
        from tests.support import missing

        missing(str(exc))
    broker.start()
    influx.start(timeout=60)
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(tmp_path / "hub"), "store_url": f"influx://127.0.0.1:{influx.port}/chaos",
        "api_port": free_port(), "mqtt": {"host": "127.0.0.1", "port": broker.port, "prefix": "chaos"},
    }))
    hub = start_hub(config, tmp_path / "hub.log")
    agents = []
    try:
        for i in range(DEVICES):
            device = f"chaos-{i}"
            agents.append(start_agent({
                "device_id": device, "site": "lab", "state_dir": str(tmp_path / device),
                "mqtt": {"host": "127.0.0.1", "port": broker.port, "prefix": "chaos", "ack_timeout_s": 5,
                         "reconnect_max_s": 2},
                "pipelines": [{"type": "simulated", "interval_s": INTERVAL_S, "limit": MESSAGES_PER_DEVICE}],
            }))
        time.sleep(6)
        broker.kill()  # loses whatever it had acknowledged but not persisted
        time.sleep(2)
        broker.start()
        time.sleep(6)
        os.killpg(hub.pid, signal.SIGKILL)  # the hub dies mid-batch
        hub.wait(10)
        time.sleep(2)
        hub = start_hub(config, tmp_path / "hub.log")
        time.sleep(5)
        influx.stop()  # the database is away for 32 s
        time.sleep(32)
        influx.start(timeout=60)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and any(
            a.outbox.depth or a.outbox.last_seq() < MESSAGES_PER_DEVICE for a in agents
        ):
            time.sleep(1)
        depths = [a.outbox.depth for a in agents]
        assert depths == [0] * DEVICES, f"outboxes not drained: {depths}; see {tmp_path / 'hub.log'}"
        store = InfluxV1Store(influx.url, "chaos", create_database=False)
        for i in range(DEVICES):
            rows = store.rows(f"SELECT \"seq\" FROM \"sim_reading\" WHERE \"device_id\" = 'chaos-{i}'")
            seqs = [r["seq"] for r in rows]
            lost = set(range(1, MESSAGES_PER_DEVICE + 1)) - set(seqs)
            duplicated = len(seqs) - len(set(seqs))
            assert not lost, f"chaos-{i} lost {len(lost)} messages, e.g. {sorted(lost)[:10]}"
            assert duplicated == 0, f"chaos-{i} has {duplicated} duplicated messages"
        historical = store.rows('SELECT count("seq") FROM "sim_reading" WHERE "historical" = true')
        assert historical and historical[0]["count"] > 0, "the outage backlog should have been replayed"
    finally:
        for agent in agents:
            agent.stop()
        if hub.poll() is None:
            os.killpg(hub.pid, signal.SIGTERM)
            hub.wait(15)
        broker.close()
        influx.close()
