"""The heartbeat pipeline: CPU, memory, temperature, disk and outbox state every few seconds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.pipelines.base import Pipeline, PipelineConfig
from protocol.streams.system import Heartbeat


class SystemConfig(PipelineConfig):
    type: Literal["system"] = "system"
    interval_s: float = Field(10.0, gt=0, description="seconds between heartbeats")


def read_temperature_c() -> float | None:
    """SoC temperature on a Raspberry Pi / Jetson (thermal zone 0), or None where there is none."""
    zone = Path("/sys/class/thermal/thermal_zone0/temp")
    try:
        return int(zone.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


class SystemPipeline(Pipeline):
    type = "system"
    config: SystemConfig

    def run(self) -> None:
        import psutil

        process = psutil.Process()
        started = time.monotonic()
        psutil.cpu_percent(None)
        status = self.ctx.extra["status"]
        while not self.ctx.stop.is_set():
            disk = psutil.disk_usage(str(self.ctx.state_dir))
            snapshot = status()  # type: ignore[operator]
            body = Heartbeat(
                uptime_s=round(time.monotonic() - started, 1),
                cpu_percent=psutil.cpu_percent(None),
                mem_percent=psutil.virtual_memory().percent,
                mem_rss_mb=round(process.memory_info().rss / 2**20, 1),
                temperature_c=read_temperature_c(),
                disk_free_mb=round(disk.free / 2**20, 1),
                outbox_depth=snapshot["outbox_depth"],
                outbox_dropped=snapshot["outbox_dropped"],
                session=snapshot["session"],
                pipelines=snapshot["pipelines"],
            )
            self.ctx.emit(body)
            self.ctx.stop.wait(self.config.interval_s)
