"""The store interface, the point type and the message → points mapping every back end shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from protocol import Body, Topic, WireEnvelope

Scalar = int | float | bool | str
SEQ_SLOTS = 1_000_000  # ns offset per message so two messages in one ms never share a timestamp


class StoreError(RuntimeError):
    """The store could not take or answer a request (down, refused, bad query)."""


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, Scalar]
    time_ns: int


class TimeSeriesStore(Protocol):
    def write(self, points: list[Point]) -> None:
        """Write points; the same point written twice is stored once. Raises StoreError."""
        ...

    def recent(self, measurement: str, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest rows first: ``{"time": epoch_ms, <tags>, <fields>}``."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def measurement_of(stream: str) -> str:
    return stream.replace("/", "_")


def message_time_ns(envelope: WireEnvelope) -> int:
    """Unique per (device, seq) and stable across re-sends: the write is idempotent."""
    return envelope.ts * 1_000_000 + envelope.seq % SEQ_SLOTS


def points_from_message(topic: Topic, envelope: WireEnvelope, body: Body) -> list[Point]:
    base = {"device_id": envelope.device_id, "site": topic.site}
    measurement = measurement_of(topic.stream)
    time_ns = message_time_ns(envelope)
    out = []
    for row in body.rows():
        fields: dict[str, Scalar] = dict(row.fields)
        fields["seq"] = envelope.seq
        fields["historical"] = envelope.historical
        out.append(Point(measurement, {**base, **row.tags}, fields, time_ns))
    return out
