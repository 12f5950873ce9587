"""The building agent: commands within safety limits, manual override over the hub, fallback without the hub, and a
lock-step run on the EnergyPlus simulation driver emitting protocol bodies within their size caps."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from edge.pipelines.base import PipelineContext
from edge.pipelines.energy.config import EnergyConfig, SimulationDriverConfig
from edge.pipelines.energy.control import BuildingState
from edge.pipelines.energy.pipeline import EnergyPipeline
from protocol import Body, Command
from protocol.streams.energy import EnergyMeter, EnergyReading, SetpointApplied
from tests.support import shared_path

NOW = dt.datetime(2025, 2, 24, 10, 0)


class Sink:
    """Collects what the pipeline emits (the agent's outbox is tested in the spine)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[Body, int | None]] = []

    def __call__(self, body: Body, *, ts: int | None = None, priority: int = 0) -> int:
        text = body.model_dump_json(exclude_none=True)
        assert len(text) <= body.MAX_BYTES, f"{body.STREAM} body of {len(text)} bytes"
        self.bodies.append((body, ts))
        return len(self.bodies)

    def of(self, cls: type[Body]) -> list[Body]:
        return [b for b, _ in self.bodies if isinstance(b, cls)]


def _pipeline(tmp_path: Path, connected: bool = True, **cfg: object) -> tuple[EnergyPipeline, Sink]:
    sink = Sink()
    ctx = PipelineContext(
        device_id="bldg-1",
        site="odense",
        emit=sink,
        stop=threading.Event(),
        state_dir=tmp_path,
        extra={"status": lambda: {"connected": connected}},
    )
    config = EnergyConfig(building="school-1", air_handlers={"AHU1": ["Class1"]}, **cfg)  # type: ignore[arg-type]
    pipe = EnergyPipeline(config, ctx)
    pipe._now = NOW
    return pipe, sink


def _state(when: dt.datetime = NOW) -> BuildingState:
    return BuildingState(
        when=when,
        outdoor_c=-2.0,
        zone_temp_c={"Class1": 20.8},
        zone_co2_ppm={"Class1": 700.0},
        zone_occupants={"Class1": 18.0},
    )


def test_hub_setpoint_is_clamped_and_reported(tmp_path: Path) -> None:
    pipe, sink = _pipeline(tmp_path)
    msg = pipe.on_command(Command(id="c1", action="energy.setpoint", args={"zone": "Class1", "heat_sp_c": 28.0}))
    assert msg is not None and "limited" in msg
    applied = sink.of(SetpointApplied)[0]
    assert applied.requested == 28.0 and applied.applied == pipe.config.limits.heat_max_c and applied.clamped
    d = pipe.step_decision(_state(), hub_alive=True)
    assert d.heat_sp_c["Class1"] == pipe.config.limits.heat_max_c


def test_manual_override_beats_the_hub_and_lapses(tmp_path: Path) -> None:
    pipe, _ = _pipeline(tmp_path)
    pipe.on_command(Command(id="c1", action="energy.setpoint", args={"zone": "Class1", "heat_sp_c": 22.0}))
    pipe.on_command(
        Command(id="c2", action="energy.override", args={"zone": "Class1", "heat_sp_c": 19.0, "duration_s": 600})
    )
    assert pipe.step_decision(_state(), hub_alive=True).heat_sp_c["Class1"] == 19.0
    later = pipe.step_decision(_state(NOW + dt.timedelta(minutes=11)), hub_alive=True)
    assert later.heat_sp_c["Class1"] == 22.0  # override lapsed, the hub's setpoint (1 h) still holds
    pipe.on_command(Command(id="c3", action="energy.release", args={"zone": "Class1"}))


def test_without_the_hub_its_setpoints_lapse_and_the_fallback_schedule_rules(tmp_path: Path) -> None:
    pipe, _ = _pipeline(tmp_path)
    pipe.on_command(Command(id="c1", action="energy.setpoint", args={"zone": "Class1", "heat_sp_c": 23.0}))
    d = pipe.step_decision(_state(), hub_alive=False)
    assert d.heat_sp_c["Class1"] == pipe.config.control.heat_occupied_c
    assert d.mode.startswith("fallback") and pipe.metrics()["fallback"] == 1.0


def test_unknown_commands_are_left_to_other_pipelines(tmp_path: Path) -> None:
    pipe, _ = _pipeline(tmp_path)
    assert pipe.on_command(Command(id="x", action="traffic.recount")) is None
    assert pipe.on_command(Command(id="y", action="energy.mode", args={"mode": "monitor", "building": "other"})) is None
    with pytest.raises(ValueError):
        pipe.on_command(Command(id="z", action="energy.setpoint", args={"zone": "Class1"}))


def test_agent_runs_lock_step_on_energyplus(tmp_path: Path) -> None:
    shared_path("weather", "FIN_Helsinki.029740_IWEC.epw")
    pytest.importorskip("pyenergyplus.api", reason="pyenergyplus-lbnl (dev extra)")
    driver = SimulationDriverConfig(building="SmallOffice", start="2025-02-24", days=2)
    pipe, sink = _pipeline(tmp_path, driver=driver, interval_s=0, floor_area_m2=511.0)
    pipe.config.air_handlers.clear()
    pipe._air_handlers = {}
    pipe.run()
    readings = sink.of(EnergyReading)
    meters = sink.of(EnergyMeter)
    assert len(readings) == 2 * 24 * 6  # one per 10-minute zone step
    assert 40 <= len(meters) <= 48
    co2 = [p.value for r in readings for p in r.points if p.kind == "co2"]
    assert max(co2) > 600 and min(co2) > 380  # the CO2 balance is on: occupants raise it
    modes = {r.mode for r in readings}
    assert {"occupied", "setback"} <= modes
    office_hours = [
        m
        for m, (_, ts) in zip(meters, [x for x in sink.bodies if isinstance(x[0], EnergyMeter)], strict=True)
        if ts and 10 <= dt.datetime.utcfromtimestamp(ts / 1000).hour < 15
    ]
    assert office_hours and all(m.mean_zone_temp_c is not None and m.mean_zone_temp_c >= 20.0 for m in office_hours)


def test_a_large_school_reading_is_split_under_the_size_cap(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from edge.pipelines.energy.control import Decision
    from edge.pipelines.energy.pipeline import sim_point_map

    zones = [f"Corner_Class_{i}_Pod_{i % 3}_ZN_1_FLR_1" for i in range(25)]
    info = SimpleNamespace(zones=zones, ahus=[f"VAV_POD_{i}" for i in range(7)])
    points = sim_point_map(info)
    values = {p.name: 21.123456 for p in points}
    pipe, sink = _pipeline(tmp_path)
    pipe._report(values, points, Decision(mode="occupied"), _state())  # Sink enforces MAX_BYTES
    readings = sink.of(EnergyReading)
    assert len(readings) >= 2
    assert sum(len(r.points) for r in readings) == len(values)
