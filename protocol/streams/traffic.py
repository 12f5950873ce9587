"""Traffic counting streams: counts per line × class × direction per time bin, and zone occupancy.

Only numbers leave the lamp post: never boxes, tracks or pixels.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocol.streams.base import Body, Row, register_stream

TRAFFIC_CLASSES = ("pedestrian", "bicycle", "car", "motorcycle", "heavy")
TrafficClass = Literal["pedestrian", "bicycle", "car", "motorcycle", "heavy"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$"
HEALTH_FLAGS = ("covered", "defocus", "camera_moved", "too_dark")


@register_stream("traffic/counts")
class TrafficCounts(Body):
    """Crossings of one counting line during one bin ``[bin_start, bin_start + bin_s)``.

    ``counts[class][direction]`` holds every class × direction of the line, zeros included
    (a zero is information; a missing bin means the unit did not count). ``flags`` names the
    health conditions raised during the bin: such a bin is ``flagged`` and may be wrong.
    Example: ``{"line": "north-crossing", "bin_start": 1763900100000, "bin_s": 900,
    "counts": {"car": {"north": 31, "south": 28}, ...}, "flags": []}``
    """

    TAGS = ("line",)
    MAX_BYTES = 2048

    line: str = Field(pattern=NAME_PATTERN)
    bin_start: int = Field(ge=0, description="start of the bin, epoch ms UTC")
    bin_s: int = Field(gt=0, le=86_400, description="bin length in seconds")
    counts: dict[TrafficClass, dict[str, int]]
    flags: list[str] = Field(default_factory=list, max_length=len(HEALTH_FLAGS))
    partial: bool = Field(False, description="the bin did not run its full length (start, stop, end of replay)")

    @field_validator("counts")
    @classmethod
    def _non_negative(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for per_direction in value.values():
            if len(per_direction) > 2 or any(n < 0 for n in per_direction.values()):
                raise ValueError("counts hold at most two directions per class, none negative")
        return value

    def rows(self) -> list[Row]:
        """One row per class × direction: tags line, class, direction; fields count and flags."""
        flagged = bool(self.flags)
        return [
            Row(
                {"line": self.line, "class": cls, "direction": direction},
                {
                    "count": n,
                    "bin_start": self.bin_start,
                    "bin_s": self.bin_s,
                    "flagged": flagged,
                    "flags": ",".join(self.flags),
                    "partial": self.partial,
                },
            )
            for cls, per_direction in sorted(self.counts.items())
            for direction, n in sorted(per_direction.items())
        ]


class ZoneClassStats(BaseModel):
    """Occupancy and dwell of one class in one zone during a bin (not a stream of its own)."""

    model_config = ConfigDict(extra="forbid")

    entries: int = Field(ge=0, description="tracks that entered the zone")
    mean_occupancy: float = Field(ge=0, description="mean number present, over the frames seen")
    max_occupancy: int = Field(ge=0)
    mean_dwell_s: float = Field(ge=0, description="mean time in the zone of tracks that left it")


@register_stream("traffic/zone")
class TrafficZone(Body):
    """Occupancy and dwell time in one polygon zone during one bin, per class."""

    TAGS = ("zone",)
    MAX_BYTES = 2048

    zone: str = Field(pattern=NAME_PATTERN)
    bin_start: int = Field(ge=0)
    bin_s: int = Field(gt=0, le=86_400)
    classes: dict[TrafficClass, ZoneClassStats]
    flags: list[str] = Field(default_factory=list, max_length=len(HEALTH_FLAGS))
    partial: bool = False

    def rows(self) -> list[Row]:
        """One row per class: tags zone, class; fields the statistics."""
        return [
            Row(
                {"zone": self.zone, "class": cls},
                {**stats.model_dump(), "bin_start": self.bin_start, "flagged": bool(self.flags)},
            )
            for cls, stats in sorted(self.classes.items())
        ]
