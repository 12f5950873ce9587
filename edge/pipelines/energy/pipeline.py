"""The building agent: reads the point map, controls within safety limits, obeys hub setpoints and manual overrides,
falls back to its own schedule when the hub is silent, hunts faults and reports energy against the M&V baseline."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from edge.pipelines.base import Pipeline, PipelineContext
from edge.pipelines.energy.config import EnergyConfig, Point
from edge.pipelines.energy.control import (
    BuildingController,
    BuildingState,
    Decision,
    apply_limits,
    clamp,
)
from edge.pipelines.energy.faults import FaultDetector, Finding, HourRecord
from edge.pipelines.energy.kpi import DISTRICT_HEAT_DKK_PER_KWH, electricity_price_dkk
from edge.pipelines.energy.mv import BaselineModel
from protocol import Command
from protocol.streams.energy import EnergyFinding, EnergyMeter, EnergyReading, PointValue, SetpointApplied

log = logging.getLogger(__name__)
READING_CHUNK = 60  # points per energy/reading message (long zone names stay under MAX_BYTES)
SETPOINT_KINDS = {"heat_setpoint": "heat_sp_c", "cool_setpoint": "cool_sp_c"}


@dataclass
class Hold:
    """A setpoint someone asked for, until it lapses."""

    value: float
    until: dt.datetime
    command_id: str | None = None


def sim_point_map(info: object) -> list[Point]:
    """The point map of a simulated building (names as ``edge.sources.building.sim_points`` produces them)."""
    zones: list[str] = info.zones  # type: ignore[attr-defined]
    ahus: list[str] = info.ahus  # type: ignore[attr-defined]
    pts = [Point(name="building.outdoor_temp", kind="outdoor_temp")]
    for kind in ("electricity_kw", "heat_kw", "fan_kw", "cooling_kw", "dhw_kw"):
        pts.append(Point(name=f"building.{kind}", kind=kind))  # type: ignore[arg-type]
    pts.append(Point(name="building.standby_cut", kind="standby_relay"))
    for z in zones:
        pts += [
            Point(name=f"{z}.temp", kind="zone_temp", zone=z),
            Point(name=f"{z}.co2", kind="co2", zone=z),
            Point(name=f"{z}.occupancy", kind="occupancy", zone=z),
            Point(name=f"{z}.heat_sp", kind="heat_setpoint", zone=z),
            Point(name=f"{z}.cool_sp", kind="cool_setpoint", zone=z),
            Point(name=f"{z}.lights_cap", kind="lights_cap", zone=z),
        ]
        if z in getattr(info, "box_min_fraction", {}):
            pts.append(Point(name=f"{z}.vent", kind="vent_speed", zone=z))  # the room's VAV box minimum flow
    for a in ahus:
        pts += [
            Point(name=f"{a}.vent", kind="vent_speed", zone=a),
            Point(name=f"{a}.supply_air", kind="supply_air", zone=a),
        ]
    return pts


def state_from_points(values: dict[str, float], points: list[Point], when: dt.datetime) -> BuildingState:
    """Readings → controller state; zones without a temperature reading are left out."""
    s = BuildingState(when=when, outdoor_c=10.0, zone_temp_c={}, zone_co2_ppm={}, zone_occupants={})
    for p in points:
        if p.name not in values:
            continue
        v = values[p.name]
        if p.kind == "zone_temp":
            s.zone_temp_c[p.zone] = v
        elif p.kind == "co2":
            s.zone_co2_ppm[p.zone] = v
        elif p.kind == "occupancy":
            s.zone_occupants[p.zone] = v
        elif p.kind == "outdoor_temp":
            s.outdoor_c = v
        elif p.kind == "heat_kw":
            s.heat_kw = v
    return s


def decision_writes(d: Decision, points: list[Point]) -> dict[str, float]:
    """Decision → point writes. Air handlers in "auto" get 0 (the unit's own thermostat runs the fan for heat)."""
    out: dict[str, float] = {}
    for p in points:
        value: float | None = None
        if p.kind == "heat_setpoint":
            value = d.heat_sp_c.get(p.zone)
        elif p.kind == "cool_setpoint":
            value = d.cool_sp_c.get(p.zone)
        elif p.kind == "vent_speed" and p.zone in d.vent_fraction:
            frac = d.vent_fraction[p.zone]
            value = None if frac is None else (frac if d.ahu_mode.get(p.zone) == "run" else 0.0)
        elif p.kind == "vent_speed" and p.zone in d.box_min_fraction:
            value = d.box_min_fraction[p.zone]  # a room's VAV box: minimum flow, of its design minimum
        elif p.kind == "supply_air" and p.zone in d.supply_air_c:
            value = d.supply_air_c[p.zone]  # only for units the controller was told to reset
        elif p.kind == "lights_cap" and p.zone in d.lights_fraction_cap:
            cap = d.lights_fraction_cap[p.zone]
            value = 1.0 if cap is None else cap
        elif p.kind == "standby_relay":
            value = 1.0 if d.standby_cut else 0.0
        if value is not None:
            out[p.name] = value
    return out


class EnergyPipeline(Pipeline):
    """One building. Example config: ``firmware_config/devices/building-school-01.yaml``."""

    type = "energy"
    config: EnergyConfig

    def __init__(self, config: EnergyConfig, ctx: PipelineContext) -> None:
        super().__init__(config, ctx)
        self._lock = threading.Lock()
        self.hub_holds: dict[tuple[str, str], Hold] = {}
        self.overrides: dict[tuple[str, str], Hold] = {}
        self.mode = config.mode
        self.controller: BuildingController | None = None
        self.detector = FaultDetector(config.floor_area_m2, config.control.heat_setback_c)
        self.baseline = BaselineModel(tuple(config.control.workdays))
        self._history: list[HourRecord] = []
        self._hour: list[tuple[dt.datetime, dict[str, float], float, bool]] = []
        self._last_hub = time.monotonic()
        self._now = dt.datetime.now()
        self.steps = 0
        self.findings_open = 0
        self.fallback = False
        self._air_handlers: dict[str, list[str]] = dict(config.air_handlers)

    # -- hub link ---------------------------------------------------------------------------------
    def _hub_alive(self) -> bool:
        status = self.ctx.extra.get("status")
        if callable(status):
            try:
                if status().get("connected"):
                    self._last_hub = time.monotonic()
            except Exception:  # the status snapshot must never stop control
                log.debug("status snapshot failed", exc_info=True)
        return time.monotonic() - self._last_hub <= self.config.hub_silence_s

    # -- commands ---------------------------------------------------------------------------------
    def on_command(self, command: Command) -> str | None:
        """``energy.setpoint`` {zone, heat_sp_c|cool_sp_c|vent_fraction, ttl_s}; ``energy.override`` {zone,
        heat_sp_c, duration_s} (manual, beats the hub); ``energy.release`` {zone}; ``energy.mode`` {mode}."""
        if not command.action.startswith("energy."):
            return None
        building = command.args.get("building")
        if building not in (None, self.config.building):
            return None
        self._last_hub = time.monotonic()
        with self._lock:
            return self._handle(command)

    def _handle(self, command: Command) -> str:
        args = command.args
        verb = command.action.removeprefix("energy.")
        if verb == "mode":
            if args.get("mode") not in ("control", "monitor"):
                raise ValueError("mode must be 'control' or 'monitor'")
            self.mode = args["mode"]
            return f"mode {self.mode}"
        zone = str(args.get("zone", ""))
        if verb == "release":
            dropped = [k for k in self.overrides if k[0] == zone]
            for k in dropped:
                del self.overrides[k]
            return f"released {len(dropped)} override(s) in {zone}"
        if verb not in ("setpoint", "override"):
            raise ValueError(f"unknown energy action {command.action!r}")
        results = []
        for field, kind in (
            ("heat_sp_c", "heat_setpoint"),
            ("cool_sp_c", "cool_setpoint"),
            ("vent_fraction", "vent_speed"),
        ):
            if field not in args:
                continue
            requested = float(args[field])
            applied = self._limit(kind, requested)
            seconds = float(args.get("duration_s" if verb == "override" else "ttl_s", 3600))
            hold = Hold(applied, self._now + dt.timedelta(seconds=seconds), command.id)
            (self.overrides if verb == "override" else self.hub_holds)[(zone, kind)] = hold
            self.ctx.emit(
                SetpointApplied(
                    building=self.config.building,
                    zone=zone,
                    kind=kind,  # type: ignore[arg-type]
                    source="override" if verb == "override" else "hub",
                    requested=requested,
                    applied=applied,
                    clamped=applied != requested,
                    command_id=command.id[:64],
                    until_ts=int(hold.until.replace(tzinfo=dt.UTC).timestamp() * 1000),
                ),
                priority=1,
            )
            results.append(
                f"{kind} {zone} {applied:g}" + (f" (asked {requested:g}, limited)" if applied != requested else "")
            )
        if not results:
            raise ValueError("give heat_sp_c, cool_sp_c or vent_fraction")
        return "; ".join(results)

    def _limit(self, kind: str, value: float) -> float:
        lim = self.config.limits
        if kind == "heat_setpoint":
            return clamp(value, lim.heat_min_c, lim.heat_max_c)
        if kind == "cool_setpoint":
            return clamp(value, lim.cool_min_c, lim.cool_max_c)
        return clamp(value, lim.vent_min_fraction, lim.vent_max_fraction)

    # -- one control step (pure apart from the holds) ------------------------------------------------
    def step_decision(self, state: BuildingState, hub_alive: bool) -> Decision:
        """Controller (or the model's own operation in monitor mode), then hub holds, then manual overrides,
        then the safety limits once more. Without the hub, hub holds lapse: the local schedule rules."""
        if self.controller is None:
            self.controller = BuildingController(self.config.control, self.config.limits, self.air_handlers)
        d = self.controller.decide(state) if self.mode == "control" else Decision(mode="monitor")
        self.fallback = not hub_alive
        with self._lock:
            for holds in (self.hub_holds, self.overrides):
                for key in [k for k, h in holds.items() if h.until <= state.when]:
                    del holds[key]
            if not hub_alive:
                self.hub_holds.clear()
            for holds in (self.hub_holds, self.overrides):
                for (zone, kind), hold in holds.items():
                    if kind == "vent_speed":
                        d.vent_fraction[zone] = hold.value
                        d.ahu_mode[zone] = "run" if hold.value > 0 else "auto"
                    else:
                        getattr(d, SETPOINT_KINDS[kind])[zone] = hold.value
        if not hub_alive and self.mode == "control":
            d.mode = f"fallback-{d.mode}"
        return apply_limits(d, self.config.limits)

    @property
    def air_handlers(self) -> dict[str, list[str]]:
        return self._air_handlers

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        driver = self._driver()
        points = list(self.config.points)
        try:
            while not self.ctx.stop.is_set():
                values = driver.read()
                if getattr(driver, "finished", None) is not None and not values:
                    break  # the simulation has ended
                if not points and getattr(driver, "info", None) is not None:
                    points = sim_point_map(driver.info)  # type: ignore[attr-defined]
                    self._air_handlers = self._air_handlers or dict(driver.info.ahu_zones)  # type: ignore[attr-defined]
                self._now = driver.now()
                state = state_from_points(values, points, self._now)
                decision = self.step_decision(state, self._hub_alive())
                if self.mode == "control":
                    for name, value in decision_writes(decision, points).items():
                        driver.write(name, value)
                driver.commit()
                self._report(values, points, decision, state)
                self.steps += 1
                if self.config.limit_steps and self.steps >= self.config.limit_steps:
                    return
                if self.config.interval_s:
                    self.ctx.stop.wait(self.config.interval_s)
        finally:
            driver.close()

    def _driver(self):
        from edge.sources import building

        cfg = self.config.driver
        if cfg.kind == "modbus":
            return building.ModbusDriver(cfg, self.config.points)
        if cfg.kind == "mqtt":
            return building.MqttDriver(cfg, self.config.points, client_id=f"{self.ctx.device_id}-energy")
        return building.SimulationDriver(cfg)

    def _report(self, values: dict[str, float], points: list[Point], d: Decision, state: BuildingState) -> None:
        ts = int(self._now.replace(tzinfo=dt.UTC).timestamp() * 1000)
        pvs = [
            PointValue(point=p.name, kind=p.kind, zone=p.zone, value=round(values[p.name], 3))
            for p in points
            if p.name in values
        ]
        for start in range(0, len(pvs), READING_CHUNK):  # big buildings: several messages, each under the cap
            self.ctx.emit(
                EnergyReading(
                    building=self.config.building,
                    mode=d.mode[:16],
                    hub_link=not self.fallback,
                    points=pvs[start : start + READING_CHUNK],
                ),
                ts=ts,
            )
        kinds = {p.name: p.kind for p in points}
        self._hour.append(
            (
                self._now,
                {kinds[n]: values[n] for n in values if n in kinds and kinds[n].endswith("_kw")}
                | {"outdoor": state.outdoor_c},
                0.0,
                any(v >= 0.5 for v in state.zone_occupants.values()),
            )
        )
        if len(self._hour) >= 2 and self._hour[-1][0].hour != self._hour[0][0].hour:
            self._close_hour(state, ts)

    def _close_hour(self, state: BuildingState, ts: int) -> None:
        rows, last = self._hour[:-1], self._hour[-1]
        self._hour = [last]
        span_h = max((last[0] - rows[0][0]).total_seconds() / 3600, 1e-6)
        per = span_h / len(rows)

        def kwh(kind: str) -> float:
            return sum(r[1].get(kind, 0.0) for r in rows) * per

        heat, dhw = kwh("heat_kw"), kwh("dhw_kw")
        record = HourRecord(
            start=rows[0][0].replace(minute=0, second=0, microsecond=0),
            outdoor_c=rows[-1][1]["outdoor"],
            electricity_kwh=kwh("electricity_kw"),
            heat_kwh=heat,
            space_heat_kwh=max(heat - dhw, 0.0),
            dhw_kwh=dhw,
            fan_kwh=kwh("fan_kw"),
            cooling_kwh=kwh("cooling_kw"),
            occupied=any(r[3] for r in rows),
            oa_fraction=0.0,
            room_temp_c=dict(state.zone_temp_c),
        )
        self._history.append(record)
        if (
            self.mode == "monitor"
            and len(self._history) >= self.config.baseline_days * 24
            and self.baseline.coef is None
        ):
            h = self._history
            self.baseline.fit(
                [r.start for r in h], [r.outdoor_c for r in h], [r.electricity_kwh + r.heat_kwh for r in h]
            )
        predicted = None
        if self.baseline.coef is not None:
            predicted = max(float(self.baseline.predict([record.start], [record.outdoor_c])[0]), 0.0)
        cost = record.electricity_kwh * electricity_price_dkk(record.start) + heat * DISTRICT_HEAT_DKK_PER_KWH
        self.ctx.emit(
            EnergyMeter(
                building=self.config.building,
                interval_s=round(span_h * 3600),
                electricity_kwh=record.electricity_kwh,
                heat_kwh=heat,
                baseline_kwh=predicted,
                outdoor_c=record.outdoor_c,
                cost_dkk=round(cost, 2),
                mean_zone_temp_c=(sum(state.zone_temp_c.values()) / len(state.zone_temp_c))
                if state.zone_temp_c
                else None,
                max_co2_ppm=max(state.zone_co2_ppm.values(), default=None),
            ),
            ts=ts,
        )
        for finding in self.detector.observe(record):
            self._emit_finding(finding)

    def _emit_finding(self, f: Finding) -> None:
        self.findings_open += 1
        self.ctx.emit(
            EnergyFinding(
                finding_id=f"{self.config.building}:{f.kind}:{f.zone or '-'}"[:96],
                building=self.config.building,
                kind=f.kind,
                zone=f.zone or "",
                state="raised",  # type: ignore[arg-type]
                first_seen_ts=int(f.first_seen.replace(tzinfo=dt.UTC).timestamp() * 1000),
                kwh_per_year=max(f.kwh_per_year, 0.0),
                dkk_per_year=max(f.dkk_per_year, 0.0),
                evidence=f.evidence[:300],
            ),
            ts=int(f.detected_at.replace(tzinfo=dt.UTC).timestamp() * 1000),
            priority=1,
        )

    def metrics(self) -> dict[str, float]:
        return {
            "steps": float(self.steps),
            "findings_open": float(self.findings_open),
            "fallback": float(self.fallback),
            "overrides": float(len(self.overrides)),
        }
