"""Building energy streams: point readings, hourly meters with the M&V baseline, applied setpoints, fault findings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.streams.base import Body, Row, register_stream

PointKind = Literal[
    "zone_temp",
    "co2",
    "occupancy",
    "supply_air",
    "heating_valve",
    "vent_speed",
    "outdoor_temp",
    "heat_setpoint",
    "cool_setpoint",
    "electricity_kw",
    "heat_kw",
    "electricity_kwh",
    "heat_kwh",
    "override",
    "lights_cap",
    "standby_relay",
    "fan_kw",
    "cooling_kw",
    "dhw_kw",
]


class PointValue(BaseModel):
    """One point of the building's point map, as read this interval."""

    model_config = ConfigDict(extra="forbid")

    point: str = Field(max_length=64)
    kind: PointKind
    zone: str = Field("", max_length=64, description="zone or air handler the point belongs to; empty for meters")
    value: float


@register_stream("energy/reading")
class EnergyReading(Body):
    """All points of one building read in one interval; one time-series row per point."""

    TAGS = ("building",)
    MAX_BYTES = 16_384

    building: str = Field(max_length=64)
    mode: str = Field("auto", max_length=16, description="controller mode: occupied, preheat, setback, monitor, ...")
    hub_link: bool = Field(True, description="False while the agent runs on its fallback schedule")
    points: list[PointValue] = Field(max_length=200)

    def rows(self) -> list[Row]:
        tags = {"building": self.building}
        return [
            Row({**tags, "point": p.point, "kind": p.kind, "zone": p.zone or "-"}, {"value": p.value})
            for p in self.points
        ]


@register_stream("energy/meter")
class EnergyMeter(Body):
    """Energy of one building over one interval (normally an hour) next to what the savings-verification
    baseline model predicts for the same interval and weather."""

    TAGS = ("building",)
    MAX_BYTES = 1024

    building: str = Field(max_length=64)
    interval_s: int = Field(gt=0)
    electricity_kwh: float = Field(ge=0)
    heat_kwh: float = Field(ge=0, description="district heating (or the heating fuel of a simulated building)")
    baseline_kwh: float | None = Field(None, ge=0, description="ASHRAE G14 baseline model prediction, if fitted")
    outdoor_c: float | None = None
    cost_dkk: float | None = Field(None, ge=0)
    mean_zone_temp_c: float | None = None
    max_co2_ppm: float | None = None


@register_stream("energy/setpoint")
class SetpointApplied(Body):
    """A setpoint the agent applied: who asked (hub command, manual override, controller, fallback), what was
    requested and what was written after the safety limits."""

    TAGS = ("building", "source")
    MAX_BYTES = 1024

    building: str = Field(max_length=64)
    zone: str = Field(max_length=64)
    kind: Literal["heat_setpoint", "cool_setpoint", "vent_speed"]
    source: Literal["hub", "override", "controller", "fallback"]
    requested: float
    applied: float
    clamped: bool
    command_id: str | None = Field(None, max_length=64)
    until_ts: int | None = Field(None, ge=0, description="epoch ms when the setpoint lapses")


@register_stream("energy/finding")
class EnergyFinding(Body):
    """A fault finding, raised or cleared, with the energy and money per year it costs if left open."""

    TAGS = ("building", "kind", "state")
    MAX_BYTES = 2048

    finding_id: str = Field(max_length=96, description="stable per building and fault: '<building>:<kind>:<zone>'")
    building: str = Field(max_length=64)
    kind: Literal[
        "vent_night", "simultaneous_heat_cool", "no_setback", "stuck_valve", "plug_standby", "dhw_circulation"
    ]
    zone: str = Field("", max_length=64)
    state: Literal["raised", "cleared"]
    first_seen_ts: int = Field(ge=0)
    kwh_per_year: float = Field(ge=0)
    dkk_per_year: float = Field(ge=0)
    evidence: str = Field("", max_length=300)
