"""systemd notifications for the agent: READY=1 once running, WATCHDOG=1 while its main loop is alive.

The unit (ansible ``roles/edge_agent``) has ``Type=notify`` and ``WatchdogSec``; when the pings stop,
systemd kills and restarts the agent. Outside systemd (``$NOTIFY_SOCKET`` unset) every call is a no-op.
The agent calls :meth:`SystemdNotifier.ready` after ``start()`` and :meth:`SystemdNotifier.ping` from its
main loop, e.g. ``while not stop.wait(notifier.interval_s(1.0)): notifier.ping()``.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends sd_notify datagrams to ``$NOTIFY_SOCKET`` (no libsystemd needed)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # an abstract socket is written with a leading '@' and addressed with a leading NUL
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and mine else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def interval_s(self, default: float) -> float:
        """How often to ping: half the watchdog period (systemd's advice), or ``default`` without one."""
        return min(default, self.watchdog_s / 2) if self.watchdog_s else default

    def notify(self, message: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall(message.encode())
            return True
        except OSError as exc:
            log.warning("sd_notify failed", extra={"error": str(exc)})
            return False

    def ready(self, status: str = "running") -> bool:
        return self.notify(f"READY=1\nSTATUS={status}")

    def ping(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
