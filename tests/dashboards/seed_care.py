"""Seed messages for the care dashboard test: fall, on-floor and bed-exit events from two care homes,
the resident getting up (resolves), staff arriving (suppresses), and two morning night reports.

The bodies are built by the edge pipeline's own message code (``fall_event_body``); the dashboard panels
read the ``falls_alert`` and ``falls_night`` points that the hub's falls service writes while it turns
these events into alerts (the service must be loaded, as it is by default). Acknowledgement times need a
staff action, which messages cannot carry: ``tests/falls_hub/test_care_dashboard.py`` acknowledges
through the real API and checks those panels.
"""

from __future__ import annotations

from datetime import UTC, datetime

from edge.pipelines.falls.config import RoomConfig
from edge.pipelines.falls.logic import RoomEvent
from edge.pipelines.falls.messages import fall_event_body
from protocol import Body

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
HOMES = {"Solhaven": ("cam-solhaven-12", "12"), "Egebo": ("cam-egebo-3", "3")}


def _body(home: str, kind: str, severity: str, n: int, related: str | None = None, **details: object) -> Body:
    room_no = HOMES[home][1]
    room = RoomConfig(room=room_no, care_home=home)
    ts = T0 + n * 60_000
    event = RoomEvent(kind, ts, ts - 2000, severity, f"{room_no}-{kind}-{n}", 1, related, details=dict(details))
    return fall_event_body(event, room, datetime.fromtimestamp(ts / 1000, UTC))


def messages() -> list[tuple[Body, str]]:
    out: list[tuple[Body, str]] = []
    for home, (device, _) in HOMES.items():
        out += [
            (_body(home, "bed_exit_warning", "warning", 1, position="bed_edge"), device),
            (_body(home, "got_up", "info", 2, related=f"{HOMES[home][1]}-bed_exit_warning-1"), device),
            (_body(home, "fall", "critical", 3), device),
            (_body(home, "got_up", "info", 4, related=f"{HOMES[home][1]}-fall-3"), device),
            (_body(home, "on_floor", "critical", 5, on_floor_s=30), device),
            (_body(home, "staff_present", "info", 6, related=f"{HOMES[home][1]}-on_floor-5"), device),
            (_body(home, "night_report", "info", 7, night_of="2026-01-04", in_bed_min=452, observed_min=570,
                   out_of_bed_episodes=2, out_of_room_min=6, restless_minutes=31, bed_exit_warnings=1, falls=0,
                   on_floor=0), device),
        ]
    return out
