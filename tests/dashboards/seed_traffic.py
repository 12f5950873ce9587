"""Seed messages for the traffic dashboard test: two lamp-post units with a day of 15-minute count bins on
two lines, a flagged (covered) period with its health events, zone occupancy, and heartbeats carrying the
traffic pipeline's figures (every panel of dashboards/json/traffic.json)."""

from __future__ import annotations

import math

from protocol import Body
from protocol.streams.system import HealthEvent, Heartbeat
from protocol.streams.traffic import TRAFFIC_CLASSES, TrafficCounts, TrafficZone, ZoneClassStats

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z, a bin boundary
BIN_S = 900
SHARE = {"pedestrian": 0.25, "bicycle": 0.3, "car": 0.35, "motorcycle": 0.03, "heavy": 0.07}


def _counts(bin_index: int, scale: float) -> dict[str, dict[str, int]]:
    rush = 1.0 + 1.5 * math.exp(-(((bin_index % 96) - 8) ** 2) / 8.0)
    return {
        cls: {"north": round(40 * scale * rush * SHARE[cls]), "south": round(32 * scale * rush * SHARE[cls])}
        for cls in TRAFFIC_CLASSES
    }


def messages() -> list[Body]:
    out: list[Body] = []
    for bin_index in range(16):
        start = T0 + bin_index * BIN_S * 1000
        flags = ["covered"] if bin_index in (5, 6) else []
        for line, scale in (("north-crossing", 1.0), ("cycle-path", 0.6)):
            out.append(TrafficCounts(line=line, bin_start=start, bin_s=BIN_S, counts=_counts(bin_index, scale),
                                     flags=flags))
        out.append(
            TrafficZone(
                zone="bus-stop", bin_start=start, bin_s=BIN_S, flags=flags,
                classes={
                    "pedestrian": ZoneClassStats(entries=6 + bin_index % 4, mean_occupancy=1.4, max_occupancy=5,
                                                 mean_dwell_s=95.0),
                    "bicycle": ZoneClassStats(entries=1, mean_occupancy=0.1, max_occupancy=1, mean_dwell_s=12.0),
                },
            )
        )
        out.append(
            Heartbeat(uptime_s=3600.0 + bin_index * BIN_S, cpu_percent=71.0, mem_percent=38.0, mem_rss_mb=310.0,
                      outbox_depth=0, outbox_dropped=0, session=1,
                      pipelines={"traffic": {"fps": 11.5 - 0.1 * bin_index, "dropped_frames": 3.0 * bin_index,
                                             "detector_ms": 205.0, "frames": 10_000.0 * bin_index}})
        )
    out.append(HealthEvent(pipeline="traffic", kind="covered", state="raised", score=0.12,
                           message="camera view: covered raised; counts of this period are flagged"))
    out.append(HealthEvent(pipeline="traffic", kind="covered", state="cleared",
                           message="camera view: covered cleared; counts of this period are flagged"))
    return out
