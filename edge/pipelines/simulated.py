"""A simulated sensor: a smooth daily curve plus noise, for tests, benchmarks and the demo."""

from __future__ import annotations

import math
import random
import time
from typing import Literal

from pydantic import Field

from edge.pipelines.base import Pipeline, PipelineConfig
from protocol.streams.system import SimulatedReading


class SimulatedConfig(PipelineConfig):
    type: Literal["simulated"] = "simulated"
    interval_s: float = Field(1.0, gt=0, description="seconds between readings")
    sensor: str = "temperature"
    base: float = 20.0
    amplitude: float = 3.0
    noise: float = 0.2
    seed: int | None = None
    limit: int | None = Field(None, ge=1, description="stop after this many readings (tests)")


class SimulatedPipeline(Pipeline):
    type = "simulated"
    config: SimulatedConfig

    def run(self) -> None:
        rng = random.Random(self.config.seed)
        sent = 0
        while not self.ctx.stop.is_set():
            phase = (time.time() % 86400) / 86400 * 2 * math.pi
            value = self.config.base + self.config.amplitude * math.sin(phase) + rng.gauss(0, self.config.noise)
            self.ctx.emit(SimulatedReading(sensor=self.config.sensor, value=round(value, 3)))
            sent += 1
            if self.config.limit and sent >= self.config.limit:
                return
            self.ctx.stop.wait(self.config.interval_s)
