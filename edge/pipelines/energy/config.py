"""Configuration of the building agent: driver, point map, control settings and safety limits (pydantic only)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.pipelines.base import PipelineConfig
from edge.pipelines.energy.control import ControlSettings, SafetyLimits
from protocol.streams.energy import PointKind

WRITABLE_KINDS = {"heat_setpoint", "cool_setpoint", "vent_speed", "lights_cap", "standby_relay", "supply_air"}


class Point(BaseModel):
    """One point of the building: what it measures or sets, where it sits, and the driver address.

    ``address`` is driver specific: an MQTT topic with a JSON field (``zigbee2mqtt/class-1b#temperature``), or a
    Modbus register (``hr:100`` holding, ``ir:30`` input, ``co:5`` coil). ``scale`` multiplies the raw value.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    kind: PointKind
    zone: str = Field("", description="zone (or air handler for supply_air / vent_speed)")
    address: str = ""
    scale: float = 1.0

    @property
    def writable(self) -> bool:
        return self.kind in WRITABLE_KINDS


class MqttDriverConfig(BaseModel):
    """Sensors and actuators on an MQTT broker, e.g. Zigbee2MQTT (``<base>/<device>`` JSON, writes to ``/set``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["mqtt"] = "mqtt"
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = Field(None, description="use ${ENV_VAR}")
    stale_s: float = Field(900.0, gt=0, description="a value older than this counts as missing")


class ModbusDriverConfig(BaseModel):
    """A BMS or controller speaking Modbus TCP."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["modbus"] = "modbus"
    host: str
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=247)
    timeout_s: float = Field(3.0, gt=0)


class SimulationDriverConfig(BaseModel):
    """An EnergyPlus reference building stepped in lock-step with the agent (demo, tests, bench).
    Its point map is derived from the model: ``<zone>.temp``, ``<zone>.co2``, ``<zone>.occupancy``,
    ``<zone>.heat_sp``, ``<ahu>.vent``, ``<ahu>.supply_air``, ``building.electricity_kw``, ``building.heat_kw``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["simulation"] = "simulation"
    building: Literal["PrimarySchool", "SmallOffice"] = "SmallOffice"
    weather: Literal["Helsinki", "Stockholm"] = "Helsinki"
    start: str = Field("2025-02-24", pattern=r"^\d{4}-\d{2}-\d{2}$")
    days: int = Field(14, ge=1, le=365)
    switchable_plug_fraction: float = Field(0.5, ge=0, le=1, description="plug load on switchable relays")


DriverConfig = Annotated[MqttDriverConfig | ModbusDriverConfig | SimulationDriverConfig, Field(discriminator="kind")]


class EnergyConfig(PipelineConfig):
    """The building agent: reads the point map every ``interval_s``, controls within ``limits``, and reports."""

    type: Literal["energy"] = "energy"
    building: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    driver: DriverConfig = Field(default_factory=SimulationDriverConfig)
    points: list[Point] = Field(default_factory=list)
    air_handlers: dict[str, list[str]] = Field(default_factory=dict, description="zones each air handler serves")
    mode: Literal["control", "monitor"] = Field("control", description="monitor: read and report, write nothing")
    interval_s: float = Field(60.0, ge=0, description="seconds between reads; 0 steps a simulation flat out")
    meter_interval_s: int = Field(3600, ge=60, description="energy/meter period")
    hub_silence_s: float = Field(
        900.0, gt=0, description="without the hub this long, hub setpoints lapse and the fallback schedule rules"
    )
    control: ControlSettings = Field(default_factory=ControlSettings)
    limits: SafetyLimits = Field(default_factory=SafetyLimits)
    floor_area_m2: float = Field(1000.0, gt=0)
    baseline_days: int = Field(28, ge=7, description="days of monitor data before the M&V baseline model is fitted")
    limit_steps: int | None = Field(None, ge=1, description="stop after this many reads (tests)")

    @model_validator(mode="after")
    def _points_unique(self) -> EnergyConfig:
        names = [p.name for p in self.points]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"point names must be unique; repeated: {dupes}")
        if self.driver.kind != "simulation" and not self.points:
            raise ValueError("a point map is required for mqtt and modbus drivers")
        return self
