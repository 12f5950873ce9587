"""EnergyPlus testbed: prepares a DOE reference building for Nordic weather and steps it with a Python controller.

Uses the ``pyenergyplus-lbnl`` wheel (EnergyPlus 25.2 + DOE reference buildings). The IDF copy is edited in a
temporary folder: run period, site and design day from the EPW, CO2 balance switched on, reporting trimmed.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OUTDOOR_CO2_PPM = 420.0
SECONDS_PER_HOUR = 3600.0

# Reference buildings the testbed knows: file in the wheel's data/model folder plus the names the controller needs.
BUILDINGS: dict[str, dict[str, Any]] = {
    "PrimarySchool": {
        "file": "RefBldgPrimarySchoolNew2004_Chicago.idf",
        "equipment_schedule": "BLDG_EQUIP_SCH",
    },
    "SmallOffice": {
        "file": "RefBldgSmallOfficeNew2004_Chicago.idf",
        "equipment_schedule": "BLDG_EQUIP_SCH",
    },
}

# Objects dropped from the copy: US holidays/DST, reporting we do not read, and utility tariffs (we price ourselves).
_DROP_CLASSES = {
    "runperiodcontrol:specialdays",
    "runperiodcontrol:daylightsavingtime",
    "output:variable",
    "output:meter",
    "output:meter:meterfileonly",
    "output:table:monthly",
    "output:table:summaryreports",
    "output:sqlite",
    "outputcontrol:table:style",
    "utilitycost:tariff",
    "utilitycost:charge:simple",
    "utilitycost:charge:block",
    "utilitycost:ratchet",
    "utilitycost:qualify",
    "utilitycost:variable",
    "utilitycost:computation",
    "lifecyclecost:parameters",
    "lifecyclecost:usepriceescalation",
    "lifecyclecost:nonrecurringcost",
    "lifecyclecost:recurringcosts",
    "output:variabledictionary",
    "output:surfaces:drawing",
    "output:constructions",
    "output:diagnostics",
}


# ---------------------------------------------------------------------------------------------- IDF text handling
IdfObject = list[str]


def parse_idf(text: str) -> list[IdfObject]:
    """Split IDF text into objects (class name first, then fields), comments removed."""
    body = "\n".join(line.split("!", 1)[0] for line in text.splitlines())
    objects = []
    for chunk in body.split(";"):
        fields = [f.strip() for f in chunk.replace("\n", " ").split(",")]
        if fields and fields[0]:
            objects.append(fields)
    return objects


def dump_idf(objects: list[IdfObject]) -> str:
    return "\n".join(f"{o[0]},\n    " + ",\n    ".join(o[1:]) + ";\n" for o in objects)


def objects_of(objects: list[IdfObject], cls: str) -> list[IdfObject]:
    return [o for o in objects if o[0].lower() == cls.lower()]


@dataclass(frozen=True)
class Weather:
    """What the model preparation needs from an EPW file."""

    path: Path
    city: str
    latitude: float
    longitude: float
    timezone: float
    elevation: float
    heating_design_c: float  # ASHRAE 99.6 % heating dry bulb
    drybulb: list[float]  # 8760 hourly outdoor temperatures

    def daily_mean(self) -> list[float]:
        return [sum(self.drybulb[d * 24 : d * 24 + 24]) / 24 for d in range(len(self.drybulb) // 24)]


def read_epw(path: Path) -> Weather:
    lines = path.read_text(errors="replace").splitlines()
    loc = lines[0].split(",")
    design = lines[1].split(",")
    heating = -20.0
    if "Heating" in design:
        heating = float(design[design.index("Heating") + 2])
    drybulb = [float(line.split(",")[6]) for line in lines[8:] if line.count(",") > 20]
    return Weather(
        path=path,
        city=loc[1],
        latitude=float(loc[6]),
        longitude=float(loc[7]),
        timezone=float(loc[8]),
        elevation=float(loc[9]),
        heating_design_c=heating,
        drybulb=drybulb[:8760],
    )


def model_dir() -> Path:
    import pyenergyplus.dataset as dataset

    return Path(dataset.modeldir)


@dataclass(frozen=True)
class RunPeriod:
    """A simulated window. ``year`` fixes the weekdays (2025: 1 January is a Wednesday)."""

    start: dt.date
    days: int

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)


def prepare_model(
    building: str,
    weather: Weather,
    period: RunPeriod,
    workdir: Path,
    extra_objects: list[IdfObject] | None = None,
    edit: Callable[[list[IdfObject]], None] | None = None,
) -> Path:
    """Write an edited copy of the reference building into ``workdir`` and return its path."""
    objects = parse_idf((model_dir() / BUILDINGS[building]["file"]).read_text())
    objects = [o for o in objects if o[0].lower() not in _DROP_CLASSES]
    for obj in objects:
        cls = obj[0].lower()
        if cls == "simulationcontrol":
            obj[1:] = ["Yes", "Yes", "Yes", "No", "Yes", "No", "1"]
        elif cls == "runperiod":
            s, e = period.start, period.end
            obj[1:] = [
                "Scenario",
                str(s.month),
                str(s.day),
                str(s.year),
                str(e.month),
                str(e.day),
                str(e.year),
                "",
                "No",
                "No",
                "No",
                "Yes",
                "Yes",
                "No",
            ]
        elif cls == "site:location":
            obj[1:] = [
                weather.city,
                f"{weather.latitude}",
                f"{weather.longitude}",
                f"{weather.timezone}",
                f"{weather.elevation}",
            ]
        elif cls == "sizingperiod:designday" and obj[4].lower() == "winterdesignday":
            obj[5] = f"{weather.heating_design_c}"  # maximum dry-bulb of the heating design day
        elif cls == "building":
            obj[6] = "FullExterior"  # solar distribution: faster, same heat balance order of magnitude
    _per_fan_schedules(objects)
    objects.append(["ZoneAirContaminantBalance", "Yes", "Outdoor CO2", "No", ""])
    objects.append(["Schedule:Constant", "Outdoor CO2", "", f"{OUTDOOR_CO2_PPM}"])
    objects.append(["Output:Variable", "*", "Zone Air CO2 Concentration", "Timestep"])
    objects.extend(extra_objects or [])
    if edit:
        edit(objects)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{building}.idf"
    path.write_text(dump_idf(objects))
    return path


def fan_schedule(ahu: str) -> str:
    return f"{ahu} Fan Schedule"


def min_oa_schedule(ahu: str) -> str:
    return f"{ahu} Min OA Schedule"


def sat_schedule(ahu: str) -> str:
    """The air handler's own copy of its supply-air temperature setpoint schedule (VAV units)."""
    return f"{ahu} SAT Schedule"


def box_min_schedule(zone: str) -> str:
    """The zone's VAV box minimum air-flow fraction schedule."""
    return f"{zone} VAV Min Flow"


def _per_fan_schedules(objects: list[IdfObject]) -> None:
    """Give each air handler's fan (and its night-cycle manager) and its outdoor-air controller their own copies of the
    shared operation and minimum outdoor-air schedules, so a controller can run and ventilate one unit without the
    others. Identical values: the baseline behaves exactly as before."""
    compact = {o[1]: o for o in objects_of(objects, "Schedule:Compact")}
    for obj in objects:
        cls = obj[0].lower()
        if cls.startswith("fan:") and obj[2] in compact:
            ahu, idx = obj[1].rsplit("_Fan", 1)[0], 2
        elif cls == "availabilitymanager:nightcycle" and obj[3] in compact:
            ahu, idx = obj[1].removesuffix(" Availability Manager"), 3
        elif cls == "controller:outdoorair" and len(obj) > 17 and obj[17] in compact:
            ahu, idx = obj[1].removesuffix("_OA_Controller"), 17
        else:
            continue
        name = min_oa_schedule(ahu) if cls == "controller:outdoorair" else fan_schedule(ahu)
        if name not in compact:
            compact[name] = ["Schedule:Compact", name, *compact[obj[idx]][2:]]
            objects.append(compact[name])
        obj[idx] = name
    for obj in objects_of(objects, "SetpointManager:Scheduled"):
        if obj[2].lower() == "temperature" and obj[3] in compact and obj[1].endswith(" SAT setpoint"):
            name = sat_schedule(obj[1].removesuffix(" SAT setpoint"))
            if name not in compact:
                compact[name] = ["Schedule:Compact", name, *compact[obj[3]][2:]]
                objects.append(compact[name])
            obj[3] = name
    # VAV boxes with a constant minimum flow fraction get a constant schedule of the same value, so a controller can
    # turn the box minimum down when the room is empty or its CO2 low (identical values: the baseline is unchanged)
    for obj in objects_of(objects, "AirTerminal:SingleDuct:VAV:Reheat"):
        if obj[6].lower() != "constant" or not obj[1].endswith(" VAV Box Component"):
            continue
        try:
            fraction = float(obj[7])
        except ValueError:
            continue  # autosized minimum: left to the model
        name = box_min_schedule(obj[1].removesuffix(" VAV Box Component"))
        objects.append(["Schedule:Constant", name, "", f"{fraction}"])
        obj[6], obj[9] = "Scheduled", name


def box_min_fractions(objects: list[IdfObject]) -> dict[str, float]:
    """Zone -> design minimum flow fraction of its (scheduled) VAV box."""
    const = {o[1]: o[3] for o in objects_of(objects, "Schedule:Constant")}
    out = {}
    for obj in objects_of(objects, "AirTerminal:SingleDuct:VAV:Reheat"):
        if obj[6].lower() == "scheduled" and obj[9] in const and obj[1].endswith(" VAV Box Component"):
            out[obj[1].removesuffix(" VAV Box Component")] = float(const[obj[9]])
    return out


# ---------------------------------------------------------------------------------------------- runtime
@dataclass
class Step:
    """What the testbed hands the controller each zone timestep (values of the step just finished)."""

    when: dt.datetime
    step_h: float
    outdoor_c: float
    zone_temp_c: dict[str, float]
    zone_co2_ppm: dict[str, float]
    zone_occupants: dict[str, float]
    zone_heat_sp_c: dict[str, float]
    meters_j: dict[str, float]
    ahu_oa_kg_s: dict[str, float]
    ahu_supply_c: dict[str, float]
    schedule_values: dict[str, float]
    zone_cool_sp_c: dict[str, float] = field(default_factory=dict)


@dataclass
class Actions:
    """Actuator values the controller sets; ``None`` leaves the model's own schedule in charge."""

    heat_sp_c: dict[str, float | None] = field(default_factory=dict)
    cool_sp_c: dict[str, float | None] = field(default_factory=dict)
    oa_kg_s: dict[str, float | None] = field(default_factory=dict)
    schedules: dict[str, float | None] = field(default_factory=dict)  # schedule name -> value
    equipment_w: dict[str, float | None] = field(default_factory=dict)  # ElectricEquipment name -> W
    lights_w: dict[str, float | None] = field(default_factory=dict)  # Lights name -> W
    ahu_availability: dict[str, int | None] = field(default_factory=dict)  # 0 auto, 1 off, 2 run


Controller = Callable[[Step, "ModelInfo"], Actions]


@dataclass
class ModelInfo:
    """Static facts of the prepared model, read once the EnergyPlus data are ready."""

    building: str
    zones: list[str]
    zone_area_m2: dict[str, float]
    zone_volume_m3: dict[str, float]
    zone_people_max: dict[str, float]
    ahus: list[str]
    ahu_zones: dict[str, list[str]]
    ahu_oa_controller: dict[str, str]
    ahu_oa_design_kg_s: dict[str, float]
    floor_area_m2: float
    equipment: dict[str, tuple[str, str, float]]  # ElectricEquipment name -> (zone, schedule, design W)
    lights: dict[str, tuple[str, str, float]]  # Lights name -> (zone, schedule, design W)
    schedules: list[str]
    box_min_fraction: dict[str, float] = field(default_factory=dict)  # zone -> design VAV box minimum flow fraction
    sat_ahus: list[str] = field(default_factory=list)  # air handlers with a scheduled supply-air temperature


METERS = (
    "Electricity:Facility",
    "NaturalGas:Facility",
    "Fans:Electricity",
    "Heating:NaturalGas",
    "Cooling:Electricity",
    "InteriorEquipment:Electricity",
    "InteriorLights:Electricity",
    "WaterSystems:NaturalGas",
    "Pumps:Electricity",
    "Electricity:Building",
    "Electricity:HVAC",
    "Electricity:Plant",
    "ExteriorLights:Electricity",
    "Heating:Electricity",
    "InteriorEquipment:NaturalGas",
)


@dataclass
class Trajectory:
    """Per-step record of a run, enough for every KPI and for the fault and M&V analyses."""

    info: ModelInfo
    steps: list[Step] = field(default_factory=list)
    controller_s: float = 0.0
    wall_s: float = 0.0

    @property
    def simulated_s(self) -> float:
        return sum(s.step_h for s in self.steps) * SECONDS_PER_HOUR


def _airloop_zones(objects: list[IdfObject]) -> dict[str, list[str]]:
    """Which zones each air loop serves, from the zone splitter outlet nodes."""
    node_zone: dict[str, str] = {}
    for conn in objects_of(objects, "ZoneHVAC:EquipmentConnections"):
        node_list = conn[3]
        nodes = next((n[2:] for n in objects_of(objects, "NodeList") if n[1] == node_list), [node_list])
        for node in nodes:
            node_zone[node.lower()] = conn[1]
    # air terminals: their outlet node is a zone inlet node; their inlet comes from the splitter
    term_in_zone: dict[str, str] = {}
    for cls, in_idx, out_idx in (
        ("AirTerminal:SingleDuct:VAV:Reheat", 4, 14),
        ("AirTerminal:SingleDuct:ConstantVolume:NoReheat", 3, 4),
    ):
        for term in objects_of(objects, cls):
            zone = node_zone.get(term[out_idx].lower())
            if zone:
                term_in_zone[term[in_idx].lower()] = zone
    for adu in objects_of(objects, "ZoneHVAC:AirDistributionUnit"):
        zone = node_zone.get(adu[2].lower())
        if zone:
            for term in objects_of(objects, adu[3]):
                if term[1] == adu[4]:
                    idx = 4 if adu[3].lower().endswith("reheat") else 3
                    term_in_zone[term[idx].lower()] = zone
    out: dict[str, list[str]] = {}
    for loop in objects_of(objects, "AirLoopHVAC"):
        name = loop[1]
        splitters = [
            s for s in objects_of(objects, "AirLoopHVAC:ZoneSplitter") if s[1].lower().startswith(name.lower())
        ]
        zones = []
        for splitter in splitters:
            zones += [term_in_zone[n.lower()] for n in splitter[3:] if n.lower() in term_in_zone]
        out[name] = sorted(set(zones))
    return out


class Testbed:
    """Runs one prepared model with a controller called every zone timestep.

    Example::

        bed = Testbed("SmallOffice", read_epw(epw), RunPeriod(dt.date(2025, 1, 13), 14))
        traj = bed.run(controller=None)  # baseline: the model's own schedules
    """

    def __init__(
        self,
        building: str,
        weather: Weather,
        period: RunPeriod,
        extra_objects: list[IdfObject] | None = None,
        edit: Callable[[list[IdfObject]], None] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.building = building
        self.weather = weather
        self.period = period
        self.extra_objects = extra_objects
        self.edit = edit
        self.workdir = workdir

    def run(self, controller: Controller | None) -> Trajectory:
        from pyenergyplus.api import EnergyPlusAPI

        tmp = tempfile.TemporaryDirectory(prefix="eplus-") if self.workdir is None else None
        workdir = Path(tmp.name) if tmp else self.workdir
        assert workdir is not None
        objects_path = prepare_model(self.building, self.weather, self.period, workdir, self.extra_objects, self.edit)
        objects = parse_idf(objects_path.read_text())
        api = EnergyPlusAPI()
        state = api.state_manager.new_state()
        api.runtime.set_console_output_status(state, False)
        ex = api.exchange
        zones = [z[1] for z in objects_of(objects, "Zone") if (z[13] if len(z) > 13 else "Yes").lower() != "no"]
        ahu_zones = _airloop_zones(objects)
        oa_controllers = {o[1]: o[1] for o in objects_of(objects, "Controller:OutdoorAir")}
        ahu_oa = {ahu: next((c for c in oa_controllers if c.startswith(ahu + "_")), "") for ahu in ahu_zones}
        supply_nodes = {loop[1]: loop[10] for loop in objects_of(objects, "AirLoopHVAC")}
        equipment = {e[1]: (e[2], e[3]) for e in objects_of(objects, "ElectricEquipment") if e[2] in zones}
        lights = {e[1]: (e[2], e[3]) for e in objects_of(objects, "Lights") if e[2] in zones}
        watched = sorted({v[1] for v in (*equipment.values(), *lights.values())})
        for sched in watched:
            ex.request_variable(state, "Schedule Value", sched)
        schedules = [s[1] for s in objects_of(objects, "Schedule:Compact") + objects_of(objects, "Schedule:Constant")]
        for zone in zones:
            for var in (
                "Zone Mean Air Temperature",
                "Zone Air CO2 Concentration",
                "Zone People Occupant Count",
                "Zone Thermostat Heating Setpoint Temperature",
                "Zone Thermostat Cooling Setpoint Temperature",
            ):
                ex.request_variable(state, var, zone)
        ex.request_variable(state, "Site Outdoor Air Drybulb Temperature", "Environment")
        for ahu, node in supply_nodes.items():
            ex.request_variable(state, "System Node Temperature", node)
            ex.request_variable(state, "Air System Outdoor Air Mass Flow Rate", ahu)
        traj: Trajectory | None = None
        handles: dict[str, Any] = {}
        timing = {"controller": 0.0}

        def setup() -> ModelInfo:
            h: dict[str, Any] = {"zone": {}, "act": {}}
            for zone in zones:
                h["zone"][zone] = (
                    ex.get_variable_handle(state, "Zone Mean Air Temperature", zone),
                    ex.get_variable_handle(state, "Zone Air CO2 Concentration", zone),
                    ex.get_variable_handle(state, "Zone People Occupant Count", zone),
                    ex.get_variable_handle(state, "Zone Thermostat Heating Setpoint Temperature", zone),
                    ex.get_variable_handle(state, "Zone Thermostat Cooling Setpoint Temperature", zone),
                )
            h["oat"] = ex.get_variable_handle(state, "Site Outdoor Air Drybulb Temperature", "Environment")
            h["meters"] = {m: ex.get_meter_handle(state, m) for m in METERS}
            h["ahu"] = {
                ahu: (
                    ex.get_variable_handle(state, "Air System Outdoor Air Mass Flow Rate", ahu),
                    ex.get_variable_handle(state, "System Node Temperature", supply_nodes[ahu]),
                )
                for ahu in ahu_zones
            }
            area = {
                z: ex.get_internal_variable_value(state, ex.get_internal_variable_handle(state, "Zone Floor Area", z))
                for z in zones
            }
            volume = {
                z: ex.get_internal_variable_value(state, ex.get_internal_variable_handle(state, "Zone Air Volume", z))
                for z in zones
            }
            people = {}
            for p in objects_of(objects, "People"):
                hp = ex.get_internal_variable_handle(state, "People Count Design Level", p[1])
                if hp >= 0 and p[2] in area:
                    people[p[2]] = people.get(p[2], 0.0) + ex.get_internal_variable_value(state, hp)
            oa_design = {}
            for ahu, ctrl in ahu_oa.items():
                hmin = ex.get_internal_variable_handle(state, "Outdoor Air Controller Minimum Mass Flow Rate", ctrl)
                oa_design[ahu] = ex.get_internal_variable_value(state, hmin) if hmin >= 0 else 0.0
            h["sched"] = {sc: ex.get_variable_handle(state, "Schedule Value", sc) for sc in watched}

            def design(kind: str, items: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str, float]]:
                out = {}
                for name, (zone, sched) in items.items():
                    hd = ex.get_internal_variable_handle(state, kind, name)
                    out[name] = (zone, sched, ex.get_internal_variable_value(state, hd) if hd >= 0 else 0.0)
                return out

            handles.update(h)
            return ModelInfo(
                building=self.building,
                zones=zones,
                zone_area_m2=area,
                zone_volume_m3=volume,
                zone_people_max=people,
                ahus=list(ahu_zones),
                ahu_zones=ahu_zones,
                ahu_oa_controller=ahu_oa,
                ahu_oa_design_kg_s=oa_design,
                floor_area_m2=sum(area.values()),
                equipment=design("Plug and Process Power Design Level", equipment),
                lights=design("Lighting Power Design Level", lights),
                schedules=schedules,
                box_min_fraction={z: f for z, f in box_min_fractions(objects).items() if z in zones},
                sat_ahus=[a for a in ahu_zones if sat_schedule(a) in schedules],
            )

        def actuator(kind: str, control: str, key: str) -> int:
            cache = handles["act"]
            if (kind, control, key) not in cache:
                cache[(kind, control, key)] = ex.get_actuator_handle(state, kind, control, key)
                if cache[(kind, control, key)] < 0:
                    raise KeyError(f"no actuator {kind}/{control}/{key}")
            return cache[(kind, control, key)]

        def apply(actions: Actions) -> None:
            groups = (
                (actions.heat_sp_c, "Zone Temperature Control", "Heating Setpoint"),
                (actions.cool_sp_c, "Zone Temperature Control", "Cooling Setpoint"),
                (actions.equipment_w, "ElectricEquipment", "Electricity Rate"),
                (actions.lights_w, "Lights", "Electricity Rate"),
                (actions.ahu_availability, "AirLoopHVAC", "Availability Status"),
            )
            for values, kind, control in groups:
                for key, value in values.items():
                    h = actuator(kind, control, key)
                    if value is None:
                        ex.reset_actuator(state, h)
                    else:
                        ex.set_actuator_value(state, h, value)
            for ahu, value in actions.oa_kg_s.items():
                h = actuator("Outdoor Air Controller", "Air Mass Flow Rate", ahu_oa[ahu])
                if value is None:
                    ex.reset_actuator(state, h)
                else:
                    ex.set_actuator_value(state, h, value)
            for name, value in actions.schedules.items():
                kind = "Schedule:Constant" if name in const_schedules else "Schedule:Compact"
                h = actuator(kind, "Schedule Value", name)
                if value is None:
                    ex.reset_actuator(state, h)
                else:
                    ex.set_actuator_value(state, h, value)

        const_schedules = {s[1] for s in objects_of(objects, "Schedule:Constant")}

        failure: list[BaseException] = []

        def on_step(st: Any) -> None:
            # ctypes swallows exceptions raised in a callback: keep the first, stop EnergyPlus, re-raise after the
            # run, so a broken controller can never pass for the model's own operation
            if failure:
                return
            try:
                step_once(st)
            except Exception as exc:
                failure.append(exc)
                api.runtime.stop_simulation(st)

        def step_once(st: Any) -> None:
            nonlocal traj
            if not ex.api_data_fully_ready(st) or ex.warmup_flag(st) or ex.kind_of_sim(st) != 3:
                return
            if traj is None:
                traj = Trajectory(info=setup())
            zh = handles["zone"]
            step_h = ex.zone_time_step(st)
            # one call per zone timestep of the weather run: stamp each step with its start time
            when = dt.datetime.combine(self.period.start, dt.time()) + dt.timedelta(hours=step_h * len(traj.steps))
            step = Step(
                when=when,
                step_h=step_h,
                outdoor_c=ex.get_variable_value(st, handles["oat"]),
                zone_temp_c={z: ex.get_variable_value(st, hs[0]) for z, hs in zh.items()},
                zone_co2_ppm={z: ex.get_variable_value(st, hs[1]) for z, hs in zh.items()},
                zone_occupants={z: ex.get_variable_value(st, hs[2]) for z, hs in zh.items()},
                zone_heat_sp_c={z: ex.get_variable_value(st, hs[3]) for z, hs in zh.items()},
                meters_j={m: ex.get_meter_value(st, h) for m, h in handles["meters"].items()},
                ahu_oa_kg_s={a: ex.get_variable_value(st, hs[0]) for a, hs in handles["ahu"].items()},
                ahu_supply_c={a: ex.get_variable_value(st, hs[1]) for a, hs in handles["ahu"].items()},
                schedule_values={sc: ex.get_variable_value(st, hs) for sc, hs in handles["sched"].items()},
                zone_cool_sp_c={z: ex.get_variable_value(st, hs[4]) for z, hs in zh.items()},
            )
            traj.steps.append(step)
            if controller is not None:
                t0 = time.perf_counter()
                actions = controller(step, traj.info)
                timing["controller"] += time.perf_counter() - t0
                apply(actions)

        api.runtime.callback_end_zone_timestep_after_zone_reporting(state, on_step)
        t0 = time.perf_counter()
        code = api.runtime.run_energyplus(
            state, ["-w", str(self.weather.path), "-d", str(workdir / "out"), str(objects_path)]
        )
        wall = time.perf_counter() - t0
        api.state_manager.delete_state(state)
        if failure:
            if tmp:
                tmp.cleanup()
            raise RuntimeError(f"controller failed inside EnergyPlus: {failure[0]!r}") from failure[0]
        if code != 0 or traj is None:
            err = (workdir / "out" / "eplusout.err").read_text(errors="replace")[-3000:]
            if tmp:
                tmp.cleanup()
            raise RuntimeError(f"EnergyPlus failed (exit {code}):\n{err}")
        if tmp:
            tmp.cleanup()
        traj.controller_s = timing["controller"]
        traj.wall_s = wall
        log.info("energyplus run", extra={"building": self.building, "steps": len(traj.steps), "wall_s": wall})
        return traj


def hour_of_week(when: dt.datetime) -> int:
    return when.weekday() * 24 + when.hour
