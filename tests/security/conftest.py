"""A real Mosquitto with the production TLS config, started per test module on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hub.broker_config import BrokerSettings, write
from hub.pki import HUB_IDENTITY, CertificateAuthority
from tests.support import missing

PREFIX = "kommune"
DEVICES = ("lamp-001", "lamp-002", "care-001")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_running(proc: subprocess.Popen, log: Path, timeout: float = 10.0) -> None:
    """Mosquitto opens its socket before loading the TLS files; "running" in its log means all loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {proc.returncode}:\n{text[-2000:]}")
        if " running" in text:
            return
        time.sleep(0.05)
    raise TimeoutError(f"mosquitto did not report running within {timeout} s")


@dataclass
class Session:
    """A connected (or refused) MQTT client and what it received."""

    client: mqtt.Client
    connected: bool
    reason: str
    received: list[tuple[str, bytes]] = field(default_factory=list)
    suback: list[int] = field(default_factory=list)
    _event: threading.Event = field(default_factory=threading.Event)

    def subscribe(self, topic: str, timeout: float = 3.0) -> int:
        """Subscribe and return the SUBACK code (0-2 granted QoS, 128 refused)."""
        self._event.clear()
        self.client.subscribe(topic, qos=1)
        assert self._event.wait(timeout), f"no SUBACK for {topic}"
        return self.suback[-1]

    def publish(self, topic: str, payload: bytes, timeout: float = 3.0) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class TLSBroker:
    """Handle on the running broker: the CA, its port and helpers to connect as an identity."""

    ca: CertificateAuthority
    port: int
    conf: Path
    log: Path
    proc: subprocess.Popen

    def connect(self, identity: str | None, *, tls: bool = True, timeout: float = 5.0) -> Session:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{identity}-{time.monotonic_ns()}")
        if tls:
            client.tls_set(
                ca_certs=str(self.ca.ca_cert_path),
                certfile=str(self.ca.cert_path(identity)) if identity else None,
                keyfile=str(self.ca.key_path(identity)) if identity else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        done = threading.Event()
        session = Session(client, False, "no CONNACK")

        def on_connect(_c, _u, _f, reason, _p):
            session.connected = not reason.is_failure
            session.reason = str(reason)
            done.set()

        def on_disconnect(_c, _u, _f, reason, _p):
            session.reason = f"disconnected: {reason}"
            done.set()

        def on_message(_c, _u, msg):
            session.received.append((msg.topic, msg.payload))

        def on_subscribe(_c, _u, _mid, codes, _p):
            session.suback.append(codes[0].value)
            session._event.set()

        client.on_connect, client.on_disconnect = on_connect, on_disconnect
        client.on_message, client.on_subscribe = on_message, on_subscribe
        try:
            client.connect("127.0.0.1", self.port, keepalive=10)
        except (OSError, ssl.SSLError) as exc:
            session.reason = f"{type(exc).__name__}: {exc}"
            return session
        client.loop_start()
        done.wait(timeout)
        if not session.connected:
            client.loop_stop()
        return session

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its config, ACL and certificate files."""
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert self.proc.poll() is None, f"mosquitto died on SIGHUP:\n{self.log.read_text()[-2000:]}"


def _start(conf: Path, log: Path) -> subprocess.Popen:
    with log.with_suffix(".out").open("ab") as sink:
        proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=sink, stderr=subprocess.STDOUT)
    wait_until_running(proc, log)
    return proc


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TLSBroker]:
    if not shutil.which("mosquitto"):
        missing("mosquitto binary (apt-get install -y mosquitto)")
    ca = CertificateAuthority(tmp_path / "pki")
    ca.init("test-kommune")
    ca.issue("127.0.0.1", "server", hostnames=("127.0.0.1", "localhost"))
    ca.issue(HUB_IDENTITY, "hub")
    for device in DEVICES:
        ca.issue(device, "device")
    port = free_port()
    (tmp_path / "mq").mkdir()
    log = tmp_path / "mosquitto.log"
    settings = BrokerSettings(
        hub_mosquitto_cafile=ca.ca_cert_path,
        hub_mosquitto_certfile=ca.cert_path("127.0.0.1"),
        hub_mosquitto_keyfile=ca.key_path("127.0.0.1"),
        hub_mosquitto_crlfile=ca.crl_path,
        hub_mosquitto_acl_file=tmp_path / "mosquitto.acl",
        hub_mosquitto_persistence_dir=tmp_path / "mq",
        hub_mosquitto_tls_port=port,
        hub_mosquitto_bind_address="127.0.0.1",
        hub_mosquitto_run_user="root" if os.geteuid() == 0 else None,
        hub_mosquitto_log_dest=[f"file {log}"],
        hub_mqtt_prefix=PREFIX,
    )
    conf = write(settings, tmp_path / "mosquitto.conf")
    proc = _start(conf, log)
    broker = TLSBroker(ca, port, conf, log, proc)
    try:
        yield broker
    finally:
        broker.proc.terminate()
        try:
            broker.proc.wait(5)
        except subprocess.TimeoutExpired:
            broker.proc.kill()
