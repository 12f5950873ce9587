"""A broker for laptops and the demo: the local Mosquitto binary when installed, else amqtt in-process."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class EmbeddedBroker:
    """``with EmbeddedBroker() as broker: broker.port``. Binds to loopback only."""

    def __init__(self, port: int | None = None, prefer_mosquitto: bool = True) -> None:
        self.port = port or free_port()
        self.kind = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._prefer_mosquitto = prefer_mosquitto

    def __enter__(self) -> EmbeddedBroker:
        mosquitto = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if self._prefer_mosquitto and mosquitto:
            self._start_mosquitto(mosquitto)
        else:
            self._start_amqtt()
        wait_for_port(self.port)
        log.info("broker started", extra={"kind": self.kind, "port": self.port})
        return self

    def _start_mosquitto(self, binary: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="kommune-mq-")
        conf = Path(self._tmp.name) / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser root\n"
            f"persistence true\npersistence_location {self._tmp.name}/\nmax_queued_messages 100000\n"
        )
        self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.kind = "mosquitto"

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            broker = Broker(config, loop=loop)
            loop.run_until_complete(broker.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(broker.shutdown())

        self._thread = threading.Thread(target=serve, name="amqtt", daemon=True)
        self._thread.start()
        ready.wait(10)
        self.kind = "amqtt"

    def __exit__(self, *exc: object) -> None:
        if self._proc:
            self._proc.terminate()
            self._proc.wait(5)
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread:
                self._thread.join(5)
        if self._tmp:
            self._tmp.cleanup()
