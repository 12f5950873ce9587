"""The agent's systemd notifier against a real datagram socket standing in for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from edge.watchdog import SystemdNotifier


def test_ready_and_pings_reach_the_notify_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(2)
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}
        notifier = SystemdNotifier(env)
        assert notifier.ready() and notifier.ping() and notifier.stopping()
        received = [server.recv(256).decode() for _ in range(3)]
    assert received == ["READY=1\nSTATUS=running", "WATCHDOG=1", "STOPPING=1"]
    assert notifier.interval_s(10.0) == 10.0
    assert notifier.interval_s(60.0) == 30.0


def test_abstract_socket_address(tmp_path: Path) -> None:
    name = f"kommune-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(2)
        assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).ping()
        assert server.recv(64) == b"WATCHDOG=1"


def test_outside_systemd_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.ping()
    assert notifier.interval_s(1.0) == 1.0


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    assert notifier.watchdog_s is None
    assert not notifier.ping()  # the socket does not exist: logged, not raised
