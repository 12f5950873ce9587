"""Seed messages for the fleet-health dashboard: heartbeats of three devices and a few health events.
The hub's own ``hub_stats`` points come from the running hub (the test writes one)."""

from __future__ import annotations

from protocol import Body
from protocol.streams.system import HealthEvent, Heartbeat


def messages() -> list[Body | tuple[Body, str]]:
    out: list[Body | tuple[Body, str]] = []
    for minute in range(30):
        for k, device_temp in enumerate((48.0, 55.5, None)):
            out.append((Heartbeat(
                uptime_s=60.0 * minute, cpu_percent=20.0 + 5 * k, mem_percent=35.0, mem_rss_mb=120.0,
                temperature_c=device_temp, disk_free_mb=9000.0, outbox_depth=(minute * 7) % 40 if k == 1 else 0,
                outbox_dropped=0, session=3,
            ), f"unit-{k}"))
    out.append(HealthEvent(pipeline="traffic", kind="camera_moved", state="raised", score=0.4, message="view shifted"))
    out.append(HealthEvent(pipeline="traffic", kind="camera_moved", state="cleared", score=0.05))
    return out
