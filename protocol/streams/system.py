"""Streams every device has: heartbeat, simulated sensor, command results, health events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from protocol.streams.base import Body, register_stream


@register_stream("system/heartbeat")
class Heartbeat(Body):
    """Periodic device health. Pipelines add their own figures under ``pipelines``
    (e.g. ``{"traffic": {"fps": 11.2, "dropped_frames": 0, "detector_ms": 61.0}}``)."""

    MAX_BYTES = 4096

    uptime_s: float = Field(ge=0)
    cpu_percent: float = Field(ge=0)
    mem_percent: float = Field(ge=0, le=100)
    mem_rss_mb: float = Field(ge=0)
    temperature_c: float | None = None
    disk_free_mb: float | None = None
    outbox_depth: int = Field(ge=0)
    outbox_dropped: int = Field(ge=0)
    session: int = Field(ge=0)
    pipelines: dict[str, dict[str, float]] = Field(default_factory=dict)


@register_stream("sim/reading")
class SimulatedReading(Body):
    """A simulated sensor value, for tests, benchmarks and the demo."""

    TAGS = ("sensor",)
    MAX_BYTES = 1024

    sensor: str = "sim"
    value: float


@register_stream("system/health")
class HealthEvent(Body):
    """A device health event (tamper, defocus, camera moved, too dark, pipeline error)."""

    TAGS = ("pipeline", "kind")
    MAX_BYTES = 2048

    pipeline: str
    kind: str
    state: Literal["raised", "cleared"]
    severity: Literal["info", "warning", "critical"] = "warning"
    score: float | None = None
    message: str = ""


@register_stream("cmd/result")
class CommandResult(Body):
    """The device's answer to a hub command."""

    TAGS = ("action",)
    MAX_BYTES = 4096

    command_id: str
    action: str
    ok: bool
    message: str = ""
