"""What every pipeline is: a config section, a blocking ``run`` that emits protocol bodies, metrics.

A pipeline runs in its own thread. It reads its source, does its work and calls
``ctx.emit(body)``; the agent stamps device id, seq and time, and puts the message
in the durable outbox. Heavy imports (OpenCV, model runtimes) belong inside
``run``/``__init__`` so that loading and validating a config stays fast.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from protocol import Body, Command


class Emit(Protocol):
    def __call__(self, body: Body, *, ts: int | None = None, priority: int = 0) -> int:
        """Queue ``body`` on its stream; returns the message's seq. ``ts`` defaults to now (epoch ms);
        higher ``priority`` messages are dropped last when the outbox is full."""
        ...


class PipelineConfig(BaseModel):
    """Fields every pipeline section has. Subclasses add ``type: Literal["name"]``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    name: str | None = None  # defaults to the type; lets a device run two of one kind


@dataclass
class PipelineContext:
    """What the agent hands a pipeline."""

    device_id: str
    site: str
    emit: Emit
    stop: threading.Event
    state_dir: Path
    extra: dict[str, object] = field(default_factory=dict)


class Pipeline(ABC):
    """Base class; one subclass per use case."""

    type: ClassVar[str]

    def __init__(self, config: PipelineConfig, ctx: PipelineContext) -> None:
        self.config = config
        self.ctx = ctx

    @property
    def name(self) -> str:
        return self.config.name or self.type

    @abstractmethod
    def run(self) -> None:
        """Work until ``self.ctx.stop`` is set. Exceptions are reported as health events and
        the agent restarts the pipeline after a back-off."""

    def metrics(self) -> dict[str, float]:
        """Figures for the heartbeat (fps, latency, ...)."""
        return {}

    def on_command(self, command: Command) -> str | None:
        """Handle a hub command addressed to this pipeline; return a message, or None if not handled."""
        return None
