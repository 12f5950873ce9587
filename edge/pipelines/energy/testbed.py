"""Scenarios, fault injection and the controller adapter for the EnergyPlus testbed (tests and ``bench/``).

The baseline is the reference model's own schedules and setpoints; "ours" is ``BuildingController`` acting through
EnergyPlus actuators. Faults are injected from an onset time into baseline operation (the building as a municipality
runs it before the platform takes over control), and the detectors see only readings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.pipelines.energy.control import BuildingController, BuildingState, ControlSettings, Decision, SafetyLimits
from edge.pipelines.energy.faults import HourRecord
from edge.pipelines.energy.kpi import KPIs, Sample, compute_kpis
from edge.sources.energyplus import (
    Actions,
    IdfObject,
    ModelInfo,
    RunPeriod,
    Step,
    Testbed,
    Trajectory,
    Weather,
    fan_schedule,
    min_oa_schedule,
    model_dir,
    objects_of,
    parse_idf,
)

J_PER_KWH = 3.6e6
BUILDINGS = ("PrimarySchool", "SmallOffice")
WEATHER_FILES = {"Helsinki": "FIN_Helsinki.029740_IWEC.epw", "Stockholm": "SWE_Stockholm.Arlanda.024600_IWEC.epw"}
SCENARIO_DAYS = 14
YEAR = 2025  # fixes weekdays; the IWEC weather is a typical year


@dataclass(frozen=True)
class Scenario:
    """A 14-day heating-season window; ``holiday`` days have nobody in the building."""

    name: str
    start: dt.date
    days: int = SCENARIO_DAYS
    holiday: tuple[dt.date, dt.date] | None = None

    def period(self) -> RunPeriod:
        return RunPeriod(self.start, self.days)

    def is_holiday(self, day: dt.date) -> bool:
        return self.holiday is not None and self.holiday[0] <= day <= self.holiday[1]


def _mondays(first: dt.date, last: dt.date) -> list[dt.date]:
    day = first + dt.timedelta(days=(7 - first.weekday()) % 7)
    out = []
    while day + dt.timedelta(days=SCENARIO_DAYS - 1) <= last:
        out.append(day)
        day += dt.timedelta(days=7)
    return out


def _window_mean(weather: Weather, start: dt.date) -> float:
    daily = weather.daily_mean()
    first = start.timetuple().tm_yday - 1
    return sum(daily[first : first + SCENARIO_DAYS]) / SCENARIO_DAYS


def scenarios(weather: Weather) -> list[Scenario]:
    """Peak (coldest fortnight Dec–Feb), typical (closest to the Nov–Mar mean), shoulder (closest to 6 °C in
    Mar–Apr/Oct) and a holiday fortnight (Danish winter-break week 7 followed by a school week)."""
    winter = _mondays(dt.date(YEAR, 1, 1), dt.date(YEAR, 2, 28)) + _mondays(dt.date(YEAR, 12, 1), dt.date(YEAR, 12, 31))
    season = _mondays(dt.date(YEAR, 1, 1), dt.date(YEAR, 3, 31)) + _mondays(dt.date(YEAR, 11, 1), dt.date(YEAR, 12, 31))
    shoulder = _mondays(dt.date(YEAR, 3, 1), dt.date(YEAR, 4, 30)) + _mondays(
        dt.date(YEAR, 10, 1), dt.date(YEAR, 10, 31)
    )
    means = {d: _window_mean(weather, d) for d in {*winter, *season, *shoulder}}
    season_mean = sum(means[d] for d in season) / len(season)
    peak = min(winter, key=lambda d: means[d])
    typical = min((d for d in season if d != peak), key=lambda d: abs(means[d] - season_mean))
    mild = min(shoulder, key=lambda d: abs(means[d] - 6.0))
    holiday_start = dt.date(YEAR, 2, 10)  # Monday of ISO week 7
    return [
        Scenario("peak", peak),
        Scenario("typical", typical),
        Scenario("shoulder", mild),
        Scenario("holiday", holiday_start, holiday=(holiday_start, holiday_start + dt.timedelta(days=6))),
    ]


def read_weather(city: str, data_dir: Path) -> Weather:
    from edge.sources.energyplus import read_epw

    return read_epw(data_dir / "weather" / WEATHER_FILES[city])


# ---------------------------------------------------------------------------------------------- world + faults
@dataclass
class ModelSchedules:
    """Schedule names of the reference model the scenarios and faults act on."""

    people: list[str]
    lights: list[str]
    equipment: list[str]

    @classmethod
    def of(cls, building: str) -> ModelSchedules:
        from edge.sources.energyplus import BUILDINGS as FILES

        objects = parse_idf((model_dir() / FILES[building]["file"]).read_text())
        return cls(
            people=sorted({o[3] for o in objects_of(objects, "People")}),
            lights=sorted({o[3] for o in objects_of(objects, "Lights")}),
            equipment=sorted({o[3] for o in objects_of(objects, "ElectricEquipment")}),
        )


FAULTS = ("vent_night", "simultaneous_heat_cool", "no_setback", "stuck_valve", "plug_standby", "dhw_circulation")
DHW_LOSS_W_PER_M2 = 1.0  # circulation heat loss of a 24/7 hot-water loop, per floor area
STUCK_RADIATOR_W = 4000.0  # full output of a classroom/office radiator whose valve is stuck open


@dataclass
class FaultPlan:
    kind: str
    onset: dt.datetime
    zone: str | None = None  # for the stuck valve

    def active(self, when: dt.datetime) -> bool:
        return when >= self.onset


def fault_objects(plan: FaultPlan | None, floor_area_m2: float) -> Callable[[list[IdfObject]], None] | None:
    """IDF edits a fault needs before the run: an extra draw on the hot-water loop (circulation loss), or a heat
    source in one room standing for a radiator whose valve is stuck open (heating fuel, so it meters as heat)."""
    if plan is None or plan.kind not in ("dhw_circulation", "stuck_valve"):
        return None
    if plan.kind == "stuck_valve":

        def valve(objects: list[IdfObject]) -> None:
            zone = plan.zone or objects_of(objects, "Zone")[1][1]
            objects.append(["Schedule:Constant", "Fault Stuck Valve", "", "0"])
            objects.append(
                [
                    "OtherEquipment",
                    "Fault Stuck Radiator",
                    "NaturalGas",
                    zone,
                    "Fault Stuck Valve",
                    "EquipmentLevel",
                    f"{STUCK_RADIATOR_W:.0f}",
                    "",
                    "",
                    "0",
                    "0.3",
                    "0",
                    "0",
                    "Radiator",
                ]
            )

        return valve
    flow_m3_s = DHW_LOSS_W_PER_M2 * floor_area_m2 / (4186.0 * 45.0) / 1000.0

    def edit(objects: list[IdfObject]) -> None:
        conn = objects_of(objects, "WaterUse:Connections")[0]
        zone = objects_of(objects, "Zone")[1][1]
        objects.append(["Schedule:Constant", "Fault DHW Circulation", "", "0"])
        objects.append(["Schedule:Constant", "Fault DHW Temp", "", "55"])
        objects.append(
            [
                "WaterUse:Equipment",
                "Fault DHW Circulation Loss",
                "Circulation",
                f"{flow_m3_s:.3e}",
                "Fault DHW Circulation",
                "Fault DHW Temp",
                "Fault DHW Temp",
                "",
                zone,
                "",
                "",
            ]
        )
        conn.append("Fault DHW Circulation Loss")

    return edit


def world_actions(
    step: Step, info: ModelInfo, scenario: Scenario, sched: ModelSchedules, fault: FaultPlan | None
) -> Actions:
    """What happens to the building regardless of the controller: holidays empty it; faults break it."""
    a = Actions()
    nxt = step.when + dt.timedelta(hours=step.step_h)
    if scenario.is_holiday(nxt.date()):
        for name in sched.people:
            a.schedules[name] = 0.0
        for name in sched.lights:
            a.schedules[name] = min(step.schedule_values.get(name, 0.2), 0.18)
        for name in sched.equipment:
            a.schedules[name] = min(step.schedule_values.get(name, 0.35), 0.4)
    elif scenario.holiday is not None:
        for name in (*sched.people, *sched.lights, *sched.equipment):
            a.schedules[name] = None
    if fault is None or not fault.active(nxt):
        return a
    rooms = [z for z in info.zones if z not in _service_zones(info)]
    if fault.kind == "vent_night":
        for ahu in info.ahus:
            a.schedules[fan_schedule(ahu)] = 1.0
            a.schedules[min_oa_schedule(ahu)] = 1.0
    elif fault.kind == "simultaneous_heat_cool":
        # during the working day neighbouring rooms fight: every other room heats to 23.5 °C, the rest have a
        # thermostat mis-set to cool from 20.5 °C (heating 19.5 °C)
        working = nxt.weekday() < 5 and 6 <= nxt.hour < 21
        for i, z in enumerate(rooms):
            if not working:
                a.heat_sp_c[z] = a.cool_sp_c[z] = None
            elif i % 2:
                a.heat_sp_c[z] = 23.5
            else:
                a.heat_sp_c[z], a.cool_sp_c[z] = 19.5, 20.5
    elif fault.kind == "no_setback":
        for z in rooms:
            a.heat_sp_c[z] = 21.0
    elif fault.kind == "stuck_valve":
        a.schedules["Fault Stuck Valve"] = 1.0
    elif fault.kind == "plug_standby":
        for name, (_zone, sch, design_w) in info.equipment.items():
            value = step.schedule_values.get(sch, 0.0)
            a.equipment_w[name] = design_w * value * (1.3 if value < 0.6 else 1.0)
    elif fault.kind == "dhw_circulation":
        a.schedules["Fault DHW Circulation"] = 1.0
    return a


def _service_zones(info: ModelInfo) -> set[str]:
    from edge.pipelines.energy.control import is_service_zone

    return {z for z in info.zones if is_service_zone(z)}


# ---------------------------------------------------------------------------------------------- controller adapter
def to_state(step: Step) -> BuildingState:
    return BuildingState(
        when=step.when,
        outdoor_c=step.outdoor_c,
        zone_temp_c=step.zone_temp_c,
        zone_co2_ppm=step.zone_co2_ppm,
        zone_occupants=step.zone_occupants,
        heat_kw=to_sample(step).heat_kwh / step.step_h,
    )


def decision_actions(d: Decision, step: Step, info: ModelInfo, settings: ControlSettings) -> Actions:
    """Translate a controller decision into EnergyPlus actuators through the agent's own path: decision → point
    writes on the simulated building's point map → simulation driver actuators."""
    from edge.pipelines.energy.pipeline import decision_writes, sim_point_map
    from edge.sources.building import sim_actions

    writes = decision_writes(d, sim_point_map(info))
    actions = sim_actions(writes, step, info, settings.standby_switchable_fraction)
    assert isinstance(actions, Actions)
    return actions


def merge(first: Actions, second: Actions) -> Actions:
    """``second`` wins where both set a value (a fault overrides the controller, as a broken valve would)."""
    out = Actions()
    for name in (
        "heat_sp_c",
        "cool_sp_c",
        "oa_kg_s",
        "schedules",
        "equipment_w",
        "lights_w",
        "ahu_availability",
    ):
        merged = dict(getattr(first, name))
        merged.update({k: v for k, v in getattr(second, name).items() if v is not None or k not in merged})
        setattr(out, name, merged)
    return out


# ---------------------------------------------------------------------------------------------- runs
@dataclass
class RunResult:
    building: str
    scenario: str
    controller: str
    kpis: KPIs
    samples: list[Sample]
    hours: list[HourRecord]
    info: ModelInfo
    wall_s: float
    fault: FaultPlan | None = None
    decisions: dict[str, int] = field(default_factory=dict)


def building_settings(building: str) -> ControlSettings:
    """The controller's fallback opening hours per reference building (what a caretaker would enter)."""
    # occupied cooling at 24 °C: the top of the EN 16798-1 cat. II winter band the KPIs use (and the models' own value)
    if building == "PrimarySchool":
        return ControlSettings(workday_start_h=8.0, workday_end_h=21.0, cool_occupied_c=24.0)
    return ControlSettings(workday_start_h=6.0, workday_end_h=20.0, workdays=[0, 1, 2, 3, 4, 5], cool_occupied_c=24.0)


def to_sample(step: Step) -> Sample:
    m = step.meters_j
    elec = m["Electricity:Building"] + m["Electricity:HVAC"] + m["Electricity:Plant"] + m["ExteriorLights:Electricity"]
    return Sample(
        when=step.when,
        step_h=step.step_h,
        electricity_kwh=elec / J_PER_KWH,
        heat_kwh=m["NaturalGas:Facility"] / J_PER_KWH,
        fan_kwh=m["Fans:Electricity"] / J_PER_KWH,
        zone_temp_c=step.zone_temp_c,
        zone_co2_ppm=step.zone_co2_ppm,
        zone_occupied={z: n >= 0.5 for z, n in step.zone_occupants.items()},
    )


def run_scenario(
    building: str,
    weather: Weather,
    scenario: Scenario,
    controller: str = "baseline",
    fault: FaultPlan | None = None,
    settings: ControlSettings | None = None,
    limits: SafetyLimits | None = None,
) -> RunResult:
    """Run one building × scenario with ``controller`` "baseline" (the model's own), "ours" or "ours-mpc"."""
    settings = settings or building_settings(building)
    if controller == "ours-mpc":
        settings = settings.model_copy(update={"mpc": True})
    limits = limits or SafetyLimits()
    sched = ModelSchedules.of(building)
    area_guess = {"PrimarySchool": 6871.0, "SmallOffice": 511.0}[building]
    bed = Testbed(building, weather, scenario.period(), edit=fault_objects(fault, area_guess))
    state: dict[str, object] = {}
    modes: dict[str, int] = {}

    def control(step: Step, info: ModelInfo) -> Actions:
        world = world_actions(step, info, scenario, sched, fault)
        if controller == "baseline":
            return world
        ctl = state.get("ctl")
        if ctl is None:
            ctl = state["ctl"] = BuildingController(settings, limits, info.ahu_zones, info.sat_ahus)
        assert isinstance(ctl, BuildingController)
        decision = ctl.decide(to_state(step))
        modes[decision.mode] = modes.get(decision.mode, 0) + 1
        return merge(decision_actions(decision, step, info, settings), world)

    traj = bed.run(control)
    return summarise(traj, building, scenario.name, controller, fault, modes)


def summarise(
    traj: Trajectory, building: str, scenario: str, controller: str, fault: FaultPlan | None, modes: dict[str, int]
) -> RunResult:
    samples = [to_sample(s) for s in traj.steps]
    # time_rat counts only our controller's compute; the baseline has none (the world actions are the testbed's)
    ctl_s = traj.controller_s if controller != "baseline" else 0.0
    kpis = compute_kpis(samples, traj.info.floor_area_m2, ctl_s)
    return RunResult(
        building=building,
        scenario=scenario,
        controller=controller,
        kpis=kpis,
        samples=samples,
        hours=hourly_records(traj),
        info=traj.info,
        wall_s=traj.wall_s,
        fault=fault,
        decisions=modes,
    )


def hourly_records(traj: Trajectory) -> list[HourRecord]:
    """Aggregate steps into the hourly readings the fault detectors and the M&V model consume."""
    from edge.pipelines.energy.control import is_service_zone

    out: list[HourRecord] = []
    bucket: list[Step] = []
    for step in traj.steps:
        bucket.append(step)
        end = step.when + dt.timedelta(hours=step.step_h)
        if end.minute == 0 and abs(sum(s.step_h for s in bucket) - 1.0) < 1e-6:
            out.append(_hour(bucket, traj.info, is_service_zone))
            bucket = []
    return out


def _hour(steps: list[Step], info: ModelInfo, is_service: Callable[[str], bool]) -> HourRecord:
    def total(meter: str) -> float:
        return sum(s.meters_j[meter] for s in steps) / J_PER_KWH

    rooms = [z for z in info.zones if not is_service(z)]
    n = len(steps)
    elec = sum(to_sample(s).electricity_kwh for s in steps)
    design_oa = sum(info.ahu_oa_design_kg_s.values()) or 1.0
    return HourRecord(
        start=steps[0].when,
        outdoor_c=sum(s.outdoor_c for s in steps) / n,
        electricity_kwh=elec,
        heat_kwh=total("NaturalGas:Facility"),
        space_heat_kwh=total("Heating:NaturalGas"),
        dhw_kwh=total("WaterSystems:NaturalGas"),
        fan_kwh=total("Fans:Electricity"),
        cooling_kwh=total("Cooling:Electricity"),
        occupied=any(max(s.zone_occupants.values()) >= 0.5 for s in steps),
        oa_fraction=sum(sum(s.ahu_oa_kg_s.values()) for s in steps) / n / design_oa,
        room_temp_c={z: sum(s.zone_temp_c[z] for s in steps) / n for z in rooms},
        room_heat_sp_c={z: sum(s.zone_heat_sp_c[z] for s in steps) / n for z in rooms},
        room_cool_sp_c={z: sum(s.zone_cool_sp_c[z] for s in steps) / n for z in rooms if z in steps[0].zone_cool_sp_c},
    )
