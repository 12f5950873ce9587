"""Real Mosquitto and InfluxDB processes on loopback ports, for tests and benchmarks.

Each runs from its own temporary folder and can be killed hard and restarted on
the same port (the chaos test does exactly that).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def find_binary(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class ServiceProcess:
    binary_name = ""

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        self.port = port or free_port()
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix=f"kommune-{self.binary_name}-")
        self.dir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        binary = find_binary(self.binary_name)
        if binary is None:
            raise FileNotFoundError(f"{self.binary_name} is not installed (apt-get install {self.binary_name})")
        self.binary = binary

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        log = (self.dir / f"{self.binary_name}.log").open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, start_new_session=True)
        _wait(self.ready, timeout, f"{self.binary_name} on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        if self._tmp:
            self._tmp.cleanup()


class Mosquitto(ServiceProcess):
    binary_name = "mosquitto"

    def command(self) -> list[str]:
        conf = self.dir / "mosquitto.conf"
        (self.dir / "data").mkdir(exist_ok=True)
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\n"
            f"persistence_location {self.dir}/data/\nmax_queued_messages 1000000\nmax_inflight_messages 0\n"
        )
        return [self.binary, "-c", str(conf)]

    def ready(self) -> bool:
        return _port_open(self.port)

    @property
    def host(self) -> str:
        return "127.0.0.1"


class InfluxDB(ServiceProcess):
    binary_name = "influxd"

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        super().__init__(port, workdir)
        self.bind_port = free_port()
        self.db = "kommune_test"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        conf = self.dir / "influxdb.conf"
        conf.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{self.bind_port}"\n'
            f'[meta]\n  dir = "{self.dir}/meta"\n'
            f'[data]\n  dir = "{self.dir}/data"\n  wal-dir = "{self.dir}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            f'[monitor]\n  store-enabled = false\n'
        )
        return [self.binary, "-config", str(conf)]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=1).status_code == 204
        except httpx.HTTPError:
            return False

    def drop_database(self, name: str) -> None:
        httpx.post(f"{self.url}/query", data={"q": f'DROP DATABASE "{name}"'}, timeout=10)
