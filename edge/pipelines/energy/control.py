"""Building control logic, pure and testable: demand-controlled ventilation, setback with optimal start from a learned
heating response, occupancy-driven lighting and standby cut, all clamped to safety limits.

The controller sees readings in domain units (``BuildingState``) and returns a ``Decision``; drivers translate the
decision into points (Modbus registers, MQTT topics or EnergyPlus actuators).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from edge.pipelines.energy.kpi import SERVICE_ZONE_WORDS

OCCUPIED_PERSONS = 0.5  # a PIR / people count at or above this means "someone is there"

# Air-side resets (VAV units). Module constants, not settings, until the device schema carries them.
SAT_MIN_C = 12.8  # supply-air temperature when rooms need cooling (the reference design value)
SAT_MAX_C = 18.0  # supply-air temperature when no room needs cooling: less reheat of over-cooled air
SAT_RESET_SPAN_K = 1.5  # rooms this far above (heating setpoint + 1 K) pull the supply air down to SAT_MIN_C
BOX_IDLE_FRACTION = 0.3  # VAV box minimum, of its design minimum, in an empty room that needs no heat
BOX_LOW_CO2_FRACTION = 0.5  # ... in an occupied room at low CO2 (DCV at the box)
BOX_MAX = 1.3  # ... above the CO2 limit (boost; 2.0 halves idis again at about 4 % more energy in the school)


class ControlSettings(BaseModel):
    """Setpoints and limits of the building controller. Temperatures in °C, CO2 in ppm."""

    model_config = ConfigDict(extra="forbid")

    heat_occupied_c: float = Field(
        21.0, description="heating setpoint while occupied: EN 16798 cat. II low (20) + the 1 K fan-cycling band"
    )
    cool_occupied_c: float = Field(25.0, description="cooling setpoint while occupied")
    heat_setback_c: float = Field(16.0, description="heating setpoint when empty")
    cool_setback_c: float = Field(28.0, description="cooling setpoint when empty")
    co2_target_ppm: float = Field(650.0, description="DCV starts adding outdoor air above this")
    co2_limit_ppm: float = Field(900.0, description="full design outdoor air at this CO2")
    vent_min_fraction: float = Field(0.15, ge=0, le=1, description="outdoor air floor while ventilating, of design")
    free_cooling_below_c: float = Field(
        15.0, description="use outdoor air to cool warm rooms below this outdoor temperature"
    )
    cycling_band_k: float = Field(0.3, ge=0, description="run the fan continuously when this far below setpoint")
    vent_off_ppm: float = Field(600.0, description="an air handler in demand mode stops ventilating below this")
    vent_max_fraction: float = Field(1.5, ge=0, le=2, description="outdoor air ceiling, of design (boost)")
    purge_minutes: int = Field(30, ge=0, description="ventilate this long before expected occupancy")
    workday_start_h: float = Field(8.0, description="fallback: first occupancy on a workday, until learned")
    workday_end_h: float = Field(17.0, description="fallback: last occupancy on a workday, until learned")
    workdays: list[int] = Field([0, 1, 2, 3, 4], description="weekday numbers (Monday 0) with expected occupancy")
    max_preheat_h: float = Field(4.0, gt=0, description="never start heating earlier than this before occupancy")
    preheat_safety: float = Field(1.0, ge=1, description="factor on the predicted warm-up time")
    standby_switchable_fraction: float = Field(
        0.5, ge=0, le=1, description="share of plug load on switchable circuits, cut when the building is empty"
    )
    lights_unoccupied_fraction: float = Field(0.05, ge=0, le=1, description="lighting left on in empty zones")
    vacancy_minutes: int = Field(20, ge=0, description="a zone counts as empty this long after its last presence")
    mpc: bool = Field(False, description="plan preheat with the fitted grey-box model (LP) instead of the warm-up rate")
    mpc_fit_hours: int = Field(72, ge=24, description="hours of readings before the grey-box model is fitted")


class SafetyLimits(BaseModel):
    """Hard limits every setpoint is clamped to, whatever the controller or the hub asks."""

    model_config = ConfigDict(extra="forbid")

    heat_min_c: float = 12.0
    heat_max_c: float = 23.0
    cool_min_c: float = 22.0
    cool_max_c: float = 30.0
    vent_min_fraction: float = 0.0
    vent_max_fraction: float = 1.5
    min_deadband_k: float = 1.0

    # supply-air temperature setpoints are clamped to the design range of the reset (not a config field yet)
    @property
    def supply_air_range_c(self) -> tuple[float, float]:
        return (SAT_MIN_C, SAT_MAX_C)


@dataclass
class BuildingState:
    """Readings of one control step."""

    when: dt.datetime
    outdoor_c: float
    zone_temp_c: dict[str, float]
    zone_co2_ppm: dict[str, float]
    zone_occupants: dict[str, float]
    heat_kw: float | None = None  # building heat demand, for the optional MPC


@dataclass
class Decision:
    """What to write. ``None`` means "leave it to the building's own automation"."""

    heat_sp_c: dict[str, float | None] = field(default_factory=dict)
    cool_sp_c: dict[str, float | None] = field(default_factory=dict)
    vent_fraction: dict[str, float | None] = field(default_factory=dict)  # per air handler, of design outdoor air
    ahu_mode: dict[str, str] = field(default_factory=dict)  # "run": ventilate; "auto": fan only on heat demand
    lights_fraction_cap: dict[str, float | None] = field(default_factory=dict)  # per zone
    box_min_fraction: dict[str, float] = field(default_factory=dict)  # per zone: VAV box minimum, of design minimum
    supply_air_c: dict[str, float] = field(default_factory=dict)  # per air handler: supply-air temperature setpoint
    standby_cut: bool = False
    mode: str = "auto"


def is_service_zone(zone: str) -> bool:
    return any(w in zone.lower() for w in SERVICE_ZONE_WORDS)


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def dcv_fraction(co2_ppm: float, occupied: bool, s: ControlSettings) -> float:
    """Outdoor-air fraction of design for one zone: floor while occupied, proportional between target and limit,
    boost above the limit; zero when empty and CO2 is low."""
    if not occupied and co2_ppm < s.co2_target_ppm:
        return 0.0
    span = max(s.co2_limit_ppm - s.co2_target_ppm, 1.0)
    demand = (co2_ppm - s.co2_target_ppm) / span
    if demand > 1.0:
        demand = 1.0 + (demand - 1.0) * 4.0
    return clamp(demand, s.vent_min_fraction if occupied else 0.0, s.vent_max_fraction)


def apply_limits(decision: Decision, limits: SafetyLimits) -> Decision:
    """Clamp every setpoint and keep a heating/cooling dead band, so nothing unsafe reaches a driver."""
    for zone, heat in decision.heat_sp_c.items():
        if heat is not None:
            decision.heat_sp_c[zone] = clamp(heat, limits.heat_min_c, limits.heat_max_c)
    for zone, cool in decision.cool_sp_c.items():
        if cool is None:
            continue
        cool = clamp(cool, limits.cool_min_c, limits.cool_max_c)
        heat = decision.heat_sp_c.get(zone)
        if heat is not None and cool - heat < limits.min_deadband_k:
            cool = heat + limits.min_deadband_k
        decision.cool_sp_c[zone] = cool
    for ahu, frac in decision.vent_fraction.items():
        if frac is not None:
            decision.vent_fraction[ahu] = clamp(frac, limits.vent_min_fraction, limits.vent_max_fraction)
    for zone, frac in decision.box_min_fraction.items():
        decision.box_min_fraction[zone] = clamp(frac, 0.0, BOX_MAX)
    low, high = limits.supply_air_range_c
    for ahu, sat in decision.supply_air_c.items():
        decision.supply_air_c[ahu] = clamp(sat, low, high)
    return decision


class HeatingResponse:
    """The building's learned warm-up rate (K/h) as a linear function of outdoor temperature, fitted by recursive
    least squares on observed morning recoveries. Starts from a conservative prior."""

    def __init__(self, rate_at_0c: float = 1.0, slope_per_k: float = 0.04, forgetting: float = 0.98) -> None:
        self.theta = [rate_at_0c, slope_per_k]
        self.p = [[10.0, 0.0], [0.0, 0.01]]
        self.lam = forgetting
        self.samples = 0
        self.max_rate = 3.0  # K/h: never trust a faster recovery than this

    def rate_k_per_h(self, outdoor_c: float) -> float:
        return min(max(0.3, self.theta[0] + self.theta[1] * outdoor_c), self.max_rate)

    def update(self, outdoor_c: float, observed_rate: float) -> None:
        x = [1.0, outdoor_c]
        px = [self.p[0][0] * x[0] + self.p[0][1] * x[1], self.p[1][0] * x[0] + self.p[1][1] * x[1]]
        denom = self.lam + x[0] * px[0] + x[1] * px[1]
        k = [px[0] / denom, px[1] / denom]
        err = observed_rate - (self.theta[0] + self.theta[1] * outdoor_c)
        self.theta = [self.theta[0] + k[0] * err, self.theta[1] + k[1] * err]
        self.p = [[(self.p[i][j] - k[i] * px[j]) / self.lam for j in range(2)] for i in range(2)]
        self.samples += 1

    def preheat_hours(self, zone_c: float, target_c: float, outdoor_c: float, forecast_c: float | None = None) -> float:
        """Hours needed to bring the zone from ``zone_c`` to ``target_c``; uses the forecast mean if given."""
        deficit = target_c - zone_c
        if deficit <= 0:
            return 0.0
        ambient = outdoor_c if forecast_c is None else 0.5 * (outdoor_c + forecast_c)
        return deficit / self.rate_k_per_h(ambient)


class OccupancyModel:
    """Expected occupancy: a workday window learned from presence (earliest arrival, latest departure per weekday
    type, smoothed), a fallback until learned, and "the last expected workday was empty" as a holiday signal."""

    def __init__(self, s: ControlSettings) -> None:
        self.s = s
        self.start_h = s.workday_start_h
        self.end_h = s.workday_end_h
        self._day: dt.date | None = None
        self._first: float | None = None
        self._last: float | None = None
        self.last_workday_occupied = True

    def observe(self, when: dt.datetime, occupied: bool) -> None:
        day = when.date()
        if day != self._day:
            self._close_day()
            self._day, self._first, self._last = day, None, None
        if occupied:
            hour = when.hour + when.minute / 60
            self._first = hour if self._first is None else self._first
            self._last = hour

    def _close_day(self) -> None:
        if self._day is None or self._day.weekday() not in self.s.workdays:
            return
        self.last_workday_occupied = self._first is not None
        if self._first is not None and self._last is not None:
            # arrivals earlier than expected are adopted at once (comfort first); later ones slowly (energy)
            self.start_h = self._first if self._first < self.start_h else 0.8 * self.start_h + 0.2 * self._first
            self.end_h = self._last if self._last > self.end_h else 0.8 * self.end_h + 0.2 * self._last

    def likely_open(self, when: dt.datetime) -> bool:
        """A workday, and either the last workday saw people or a rest day came in between (the first day after a
        weekend is always prepared for: a holiday week only shows from its second day)."""
        if when.weekday() not in self.s.workdays:
            return False
        after_rest_day = (when - dt.timedelta(days=1)).weekday() not in self.s.workdays
        return self.last_workday_occupied or after_rest_day

    def expected(self, when: dt.datetime) -> bool:
        if not self.likely_open(when):
            return False
        hour = when.hour + when.minute / 60
        return self.start_h <= hour < self.end_h

    def hours_to_next_start(self, when: dt.datetime) -> float:
        """Hours until the next expected arrival (inf when none expected within a day)."""
        hour = when.hour + when.minute / 60
        if self.likely_open(when) and hour < self.start_h:
            return self.start_h - hour
        return math.inf


class BuildingController:
    """Rule-based supervisory controller with learned occupancy and warm-up response.

    Example::

        ctl = BuildingController(ControlSettings(), SafetyLimits(), {"AHU1": ["Class1"]})
        decision = ctl.decide(state)
    """

    def __init__(
        self,
        settings: ControlSettings,
        limits: SafetyLimits,
        ahu_zones: dict[str, list[str]],
        sat_reset_ahus: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.s = settings
        self.limits = limits
        self.ahu_zones = ahu_zones
        self.sat_reset_ahus = set(sat_reset_ahus)  # VAV units whose supply-air temperature we may reset
        self.occupancy = OccupancyModel(settings)
        self.response = HeatingResponse()
        self._last_seen: dict[str, dt.datetime] = {}
        self._ventilating: dict[str, bool] = {}
        self._heating_run: dict[str, bool] = {}
        self._preheat_day: dt.date | None = None
        self._mpc = PreheatPlanner(settings.mpc_fit_hours)
        self._recovery: tuple[dt.datetime, float, float] | None = None  # start, mean temp, outdoor

    def zone_occupied(self, zone: str, state: BuildingState) -> bool:
        if state.zone_occupants.get(zone, 0.0) >= OCCUPIED_PERSONS:
            self._last_seen[zone] = state.when
            return True
        seen = self._last_seen.get(zone)
        return seen is not None and state.when - seen < dt.timedelta(minutes=self.s.vacancy_minutes)

    def decide(self, state: BuildingState) -> Decision:
        rooms = [z for z in state.zone_temp_c if not is_service_zone(z)]
        occupied = {z: self.zone_occupied(z, state) for z in state.zone_temp_c}
        anyone = any(occupied.values())
        self.occupancy.observe(state.when, anyone)
        expected = self.occupancy.expected(state.when)
        to_start = self.occupancy.hours_to_next_start(state.when)
        coldest = min((state.zone_temp_c[z] for z in rooms), default=self.s.heat_occupied_c)
        need_h = min(
            self.response.preheat_hours(coldest, self.s.heat_occupied_c, state.outdoor_c), self.s.max_preheat_h
        )
        preheat = to_start <= need_h * self.s.preheat_safety + 0.25
        if self.s.mpc:
            self._mpc.observe(state, rooms)
            planned = self._mpc.preheat_now(state, to_start, self.s)
            preheat = preheat if planned is None else planned
        if preheat:
            self._preheat_day = state.when.date()  # latched: warm walls, not just air, before people arrive
        elif self._preheat_day == state.when.date() and math.isfinite(to_start):
            preheat = True
        self._learn_recovery(state, rooms, preheat or expected or anyone)
        d = Decision()
        for zone in state.zone_temp_c:
            if is_service_zone(zone):
                d.heat_sp_c[zone] = None
                d.cool_sp_c[zone] = None
                continue
            comfort = occupied[zone] or preheat or expected
            d.heat_sp_c[zone] = self.s.heat_occupied_c if comfort else self.s.heat_setback_c
            d.cool_sp_c[zone] = self.s.cool_occupied_c if comfort else self.s.cool_setback_c
            d.lights_fraction_cap[zone] = None if occupied[zone] else self.s.lights_unoccupied_fraction
            d.box_min_fraction[zone] = self._box_min(zone, state, occupied[zone], d.heat_sp_c[zone] or 0.0)
        purge = to_start * 60 <= self.s.purge_minutes
        for ahu, zones in self.ahu_zones.items():
            co2 = max((state.zone_co2_ppm.get(z, 400.0) for z in zones), default=400.0)
            running = self._ventilating.get(ahu, False)
            # ventilate for CO2 only while someone is (or is expected to be) served: air left stale by the evening's
            # last users is flushed by the purge before the next arrival, not by running the fans all evening
            served = expected or any(occupied.get(z, False) for z in zones)
            running = served and (co2 >= self.s.co2_target_ppm or (running and co2 > self.s.vent_off_ppm))
            running = running or purge
            self._ventilating[ahu] = running
            # in comfort mode a unit heats continuously once a room falls short, until gains lift every room
            # above the setpoint: thermostat cycling (1 K band) would let rooms sag below the comfort band
            # the same in setback: the unit's own night-cycle manager waits until a room is 1 K under the setback,
            # which lets the coldest corner rooms drop out of the 15 °C band on cold weekends
            comfort = [z for z in zones if d.heat_sp_c.get(z) == self.s.heat_occupied_c]
            heated = [(state.zone_temp_c.get(z, 99.0), sp) for z in zones if (sp := d.heat_sp_c.get(z)) is not None]
            heating = self._heating_run.get(ahu, False)
            if any(t < sp - self.s.cycling_band_k for t, sp in heated):
                heating = True
            elif all(t >= sp + (self.s.cycling_band_k if sp >= self.s.heat_occupied_c else 0.0) for t, sp in heated):
                heating = False
            self._heating_run[ahu] = heating
            running = running or heating
            fracs = [dcv_fraction(state.zone_co2_ppm.get(z, 400.0), occupied.get(z, False), self.s) for z in zones]
            # free cooling: a warm room gets cold outdoor air before any compressor runs
            warm = max((state.zone_temp_c.get(z, 0.0) - self.s.heat_occupied_c - 1.0 for z in comfort), default=0.0)
            if warm > 0 and state.outdoor_c < self.s.free_cooling_below_c:
                fracs.append(min(warm / 2.0, 1.0))
                running = True
            # a room warming towards its cooling setpoint in comfort mode gets the fan (and the unit's cooling) now,
            # not only once the unit's own night-cycle manager sees it 1 K past the setpoint
            cool_sp = self.s.cool_occupied_c - 0.5
            if any(state.zone_temp_c.get(z, 0.0) >= cool_sp for z in comfort):
                running = True
            frac = max([*fracs, self.s.vent_min_fraction if running else 0.0])
            d.vent_fraction[ahu] = frac
            d.ahu_mode[ahu] = "run" if running else "auto"
            if ahu in self.sat_reset_ahus:
                # supply-air temperature reset on the warmest served room: cold supply air only when a room needs it
                # (and always in warm weather), otherwise warm air that the boxes need not reheat
                served_rooms = [z for z in zones if not is_service_zone(z)]
                warm_by = self.s.heat_occupied_c + 1.0
                warmest = max((state.zone_temp_c.get(z, 0.0) - warm_by for z in served_rooms), default=0.0)
                pull = clamp(warmest / SAT_RESET_SPAN_K, 0.0, 1.0)
                if state.outdoor_c >= self.s.free_cooling_below_c:
                    pull = 1.0
                d.supply_air_c[ahu] = SAT_MAX_C - (SAT_MAX_C - SAT_MIN_C) * pull
        d.standby_cut = not anyone and not expected  # plug loads need not wait for the rooms to warm up
        d.mode = "occupied" if anyone else ("preheat" if preheat else ("expected" if expected else "setback"))
        return apply_limits(d, self.limits)

    def _box_min(self, zone: str, state: BuildingState, occupied: bool, heat_sp: float) -> float:
        """VAV box minimum flow, as a multiple of its design minimum (the reference boxes: 30 % of maximum): full when
        the room is short of heat (the reheat coil heats at the minimum flow), following CO2 while occupied (low at
        low CO2, above design up to ``BOX_MAX`` when CO2 nears the limit), lowest when the room is empty."""
        need_heat = state.zone_temp_c.get(zone, 99.0) < heat_sp - self.s.cycling_band_k
        co2 = state.zone_co2_ppm.get(zone, 400.0)
        low = BOX_LOW_CO2_FRACTION if occupied else BOX_IDLE_FRACTION
        span = max(self.s.co2_limit_ppm - self.s.co2_target_ppm, 1.0)
        demand = (co2 - self.s.co2_target_ppm) / span  # 0 at the target, 1 at the limit
        frac = clamp(low + (1.0 - low) * demand if demand <= 1.0 else 1.0 + (demand - 1.0) * 4.0, low, BOX_MAX)
        return max(frac, 1.0) if need_heat else frac

    def _learn_recovery(self, state: BuildingState, rooms: list[str], heating_up: bool) -> None:
        """Measure each morning's warm-up rate and feed it to the response model."""
        if not rooms:
            return
        mean_t = sum(state.zone_temp_c[z] for z in rooms) / len(rooms)
        if heating_up and self._recovery is None and mean_t < self.s.heat_occupied_c - 1.0:
            self._recovery = (state.when, mean_t, state.outdoor_c)
        elif self._recovery is not None and (mean_t >= self.s.heat_occupied_c - 0.2 or not heating_up):
            start, t0, out0 = self._recovery
            hours = (state.when - start).total_seconds() / 3600
            if heating_up and hours > 0.2:
                self.response.update(0.5 * (out0 + state.outdoor_c), (mean_t - t0) / hours)
            self._recovery = None


class PreheatPlanner:
    """Optional MPC for the morning start: hourly readings fit a 1R1C model (``thermal.RCModel``); before expected
    arrival an LP plan (``thermal.plan_heating``, persistence forecast) says whether heat is needed in this hour."""

    def __init__(self, fit_hours: int) -> None:
        self.fit_hours = fit_hours
        self.rows: list[tuple[float, float, float, bool]] = []  # hour-start mean room °C, outdoor, heat kW, occupied
        self._acc: list[tuple[float, float, float, bool]] = []
        self._hour: dt.datetime | None = None
        self.model: object | None = None
        self._fitted_at = 0

    def observe(self, state: BuildingState, rooms: list[str]) -> None:
        if not rooms or state.heat_kw is None:
            return
        hour = state.when.replace(minute=0, second=0, microsecond=0)
        if self._hour is not None and hour != self._hour and self._acc:
            n = len(self._acc)
            self.rows.append(
                (
                    self._acc[0][0],
                    sum(r[1] for r in self._acc) / n,
                    sum(r[2] for r in self._acc) / n,
                    any(r[3] for r in self._acc),
                )
            )
            self._acc = []
        self._hour = hour
        mean_t = sum(state.zone_temp_c[z] for z in rooms) / len(rooms)
        occupied = any(v >= OCCUPIED_PERSONS for v in state.zone_occupants.values())
        self._acc.append((mean_t, state.outdoor_c, state.heat_kw, occupied))
        if len(self.rows) >= self.fit_hours and len(self.rows) - self._fitted_at >= 24:
            self._fit()

    def _fit(self) -> None:
        from edge.pipelines.energy.thermal import RCModel

        rows = self.rows[-24 * 14 :]
        try:
            self.model = RCModel.fit(
                [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
            )
        except ValueError:
            self.model = None
        self._fitted_at = len(self.rows)

    def preheat_now(self, state: BuildingState, to_start: float, s: ControlSettings) -> bool | None:
        """True/False when the model decides; None when there is no model or no arrival within the horizon."""
        from edge.pipelines.energy.thermal import RCModel, plan_heating

        if not isinstance(self.model, RCModel) or not math.isfinite(to_start) or to_start > s.max_preheat_h:
            return None
        horizon = math.ceil(to_start) + 3
        occupied = [k >= to_start for k in range(horizon)]
        rooms = [z for z in state.zone_temp_c if not is_service_zone(z)]
        t0 = sum(state.zone_temp_c[z] for z in rooms) / len(rooms)
        plan = plan_heating(
            self.model,
            t0,
            [state.outdoor_c] * horizon,
            occupied,
            [1.0] * horizon,
            low_occupied_c=s.heat_occupied_c - 0.5,
            low_empty_c=s.heat_setback_c - 1.0,
        )
        return plan.heat_kw[0] > 0.05 * self.model.q_max_kw
