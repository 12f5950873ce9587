"""How a use case plugs into the hub: a domain service that sees its streams after they are stored.

Ingest calls ``handle`` for every new message on the service's ``streams`` *after*
the time-series write returned and *before* the device is acknowledged, so domain
state (alerts, work orders, findings) survives a hub restart. ``handle`` must be
idempotent on ``(device_id, seq)`` (a message can arrive twice). An exception in
``handle`` dead-letters the message with the reason; ingest keeps running.
"""

from __future__ import annotations

import importlib
from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from fastapi import APIRouter

from protocol import Body, Topic, WireEnvelope


@dataclass
class HubContext:
    """What the hub hands each domain service."""

    state_dir: Path  # SQLite files of domain state live here
    prefix: str  # MQTT topic prefix
    publish: Callable[[str, bytes, bool], None]  # (topic, payload, retain): hub → device messages
    store: Any  # hub.store.TimeSeriesStore
    jobs: Any  # hub.jobs.JobRunner
    settings: dict[str, Any] = field(default_factory=dict)  # the service's own section of the hub config


class DomainService(ABC):
    """Base class for a use case's hub side."""

    name: ClassVar[str]
    streams: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx

    def handle(self, topic: Topic, envelope: WireEnvelope, body: Body) -> None:  # noqa: B027
        """Called once per stored message of ``streams``."""

    def router(self) -> APIRouter | None:
        """FastAPI routes of this service, mounted by the hub app."""
        return None

    def start(self) -> None:  # noqa: B027
        """Start background work (timers, escalation)."""

    def stop(self) -> None:  # noqa: B027
        """Stop background work."""


# "module:Class" of every domain service; imported when the hub starts.
SERVICES: list[str] = [
    "hub.services.energy:EnergyService",
    "hub.services.falls:FallAlertService",
    "hub.services.road:RoadService",
    "hub.services.traffic:TrafficService",
    "hub.rollout:RolloutService",
]


def load_services(
    ctx: HubContext, names: list[str] | None = None, sections: dict[str, dict[str, Any]] | None = None
) -> list[DomainService]:
    """Instantiate services; each gets its own context carrying its own section of the hub config."""
    out = []
    for ref in SERVICES if names is None else names:
        module_name, _, attr = ref.partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
        out.append(cls(replace(ctx, settings=dict((sections or {}).get(cls.name, {})))))
    return out
