"""Fault hunting on hourly building readings: six rule-based detectors, each with the kWh and DKK per year at stake.

Detectors are pure: they take ``HourRecord``s (hourly meters, zone temperatures, occupancy, ventilation) and return
``Finding``s. Thresholds are physical or relative to the building's own learned night base, never to fault labels.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from edge.pipelines.energy.kpi import DISTRICT_HEAT_DKK_PER_KWH

ELECTRICITY_DKK_PER_KWH_AVG = 1.75  # annual average of the synthetic tariff, for ranking findings
HEATING_SEASON_HOURS = 5800.0  # Danish heating season, hours per year (about mid-Sep to mid-May)
YEAR_HOURS = 8760.0
NIGHT_HOURS = range(0, 5)
DEAD_OF_NIGHT = range(0, 3)  # before any optimal start: a room warm now was never set back


@dataclass
class HourRecord:
    """One hour of readings of a building."""

    start: dt.datetime
    outdoor_c: float
    electricity_kwh: float
    heat_kwh: float
    space_heat_kwh: float
    dhw_kwh: float
    fan_kwh: float
    cooling_kwh: float
    occupied: bool
    oa_fraction: float  # outdoor air delivered, share of design
    room_temp_c: dict[str, float] = field(default_factory=dict)
    room_heat_sp_c: dict[str, float] = field(default_factory=dict)
    room_cool_sp_c: dict[str, float] = field(default_factory=dict)  # thermostat cooling setpoints, where read


@dataclass
class Finding:
    """An open finding: what, where, since when, and what it costs per year if left alone."""

    kind: str
    zone: str | None
    first_seen: dt.datetime
    detected_at: dt.datetime
    kwh_per_year: float
    dkk_per_year: float
    evidence: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.zone or '-'}"


def _cost(elec_kwh: float, heat_kwh: float) -> float:
    return elec_kwh * ELECTRICITY_DKK_PER_KWH_AVG + heat_kwh * DISTRICT_HEAT_DKK_PER_KWH


@dataclass
class Thresholds:
    """Detector settings; defaults chosen from physics and fault-free runs, not from the injected faults."""

    run_hours: int = 3  # consecutive hours a symptom must last
    vent_oa_fraction: float = 0.2  # outdoor air share of design that counts as "ventilating"
    hc_min_kwh_per_m2: float = 0.0005  # heating and cooling each above this in one hour
    conflict_k: float = 1.0  # a room's cooling setpoint this far below another room's heating setpoint
    setback_margin_k: float = 2.0  # empty building warmer than setback + this
    overheat_k: float = 2.0  # a room this far above its heating setpoint in the heating season
    outlier_k: float = 1.5  # ... and this much further above the median room than it usually is
    learn_empty_hours: int = 20  # empty heating-season hours that teach each room's usual offset
    overheat_outdoor_c: float = 8.0
    base_rise: float = 0.08  # night base electricity above the learned base by this share
    dhw_rise: float = 0.5  # night hot-water energy above the learned base by this share
    learn_nights: int = 2


class FaultDetector:
    """Streaming detector: feed hours in order with ``observe``; it returns findings as they are confirmed."""

    def __init__(self, floor_area_m2: float, setback_c: float = 16.0, thresholds: Thresholds | None = None) -> None:
        self.area = floor_area_m2
        self.setback_c = setback_c
        self.t = thresholds or Thresholds()
        self.open: dict[str, Finding] = {}
        self._runs: dict[str, list[HourRecord]] = {}
        self._night_elec: list[float] = []
        self._night_dhw: list[float] = []
        self._tonight: list[HourRecord] = []
        self._offsets: dict[str, list[float]] = {}

    # -- helpers -----------------------------------------------------------------------------------
    def _streak(self, key: str, hour: HourRecord, symptom: bool) -> list[HourRecord] | None:
        run = self._runs.setdefault(key, [])
        if symptom:
            run.append(hour)
        else:
            run.clear()
        return list(run) if len(run) >= self.t.run_hours else None

    def _raise(
        self, kind: str, zone: str | None, run: list[HourRecord], kwh_e: float, kwh_h: float, text: str
    ) -> Finding | None:
        finding = Finding(
            kind,
            zone,
            run[0].start,
            run[-1].start + dt.timedelta(hours=1),
            round(kwh_e + kwh_h, 1),
            round(_cost(kwh_e, kwh_h), 0),
            text,
        )
        if finding.key in self.open:
            return None
        self.open[finding.key] = finding
        return finding

    # -- the six detectors ----------------------------------------------------------------------------
    def observe(self, hour: HourRecord) -> list[Finding]:
        found = [self._vent_outside_occupancy(hour), self._simultaneous(hour), self._setpoint_conflict(hour)]
        found.append(self._setback(hour))
        found += self._overheated_rooms(hour)
        found += self._night_base(hour)
        return [f for f in found if f is not None]

    def _vent_outside_occupancy(self, h: HourRecord) -> Finding | None:
        run = self._streak("vent", h, not h.occupied and h.oa_fraction >= self.t.vent_oa_fraction)
        if not run:
            return None
        fan = statistics.fmean(r.fan_kwh for r in run)
        heat = statistics.fmean(max(r.space_heat_kwh, 0.0) for r in run) * 0.5  # share driven by outdoor air
        empty_h = YEAR_HOURS - 2600.0
        return self._raise(
            "vent_night",
            None,
            run,
            fan * empty_h,
            heat * HEATING_SEASON_HOURS * 0.66,
            f"outdoor air at {run[-1].oa_fraction:.0%} of design for {len(run)} h with nobody in",
        )

    def _simultaneous(self, h: HourRecord) -> Finding | None:
        thr = self.t.hc_min_kwh_per_m2 * self.area
        run = self._streak("hc", h, h.cooling_kwh > thr and h.space_heat_kwh > thr and h.outdoor_c < 15.0)
        if not run:
            return None
        cool = statistics.fmean(r.cooling_kwh for r in run)
        heat = statistics.fmean(min(r.space_heat_kwh, 3 * r.cooling_kwh) for r in run)
        return self._raise(
            "simultaneous_heat_cool",
            None,
            run,
            cool * 2600.0,
            heat * 2600.0,
            f"heating and cooling together for {len(run)} h at {run[-1].outdoor_c:.0f} °C outside",
        )

    def _setpoint_conflict(self, h: HourRecord) -> Finding | None:
        """Rooms set to fight each other: one room's thermostat cools below the temperature another room's heats to.
        Reads the thermostats' setpoint points, so it works where the meters cannot tell heating and cooling apart
        (VAV reheat of over-cooled air) or where the mis-set room never reaches its cooling setpoint yet."""
        common = [z for z in h.room_cool_sp_c if z in h.room_heat_sp_c]
        symptom = False
        if len(common) >= 2 and h.outdoor_c < 15.0:
            heat_max = max(h.room_heat_sp_c[z] for z in common)
            cool_min = min(h.room_cool_sp_c[z] for z in common)
            symptom = cool_min <= heat_max - self.t.conflict_k
        run = self._streak("conflict", h, symptom)
        if not run:
            return None
        heat_max = max(h.room_heat_sp_c[z] for z in common)
        cool_min = min(h.room_cool_sp_c[z] for z in common)
        cooled = [z for z in common if h.room_cool_sp_c[z] < heat_max]
        heated = [z for z in common if h.room_heat_sp_c[z] > cool_min]
        # at stake: the heat the warm rooms get above 21 °C and the cooling the cooled rooms get (taken as the share
        # of the building's space heat the heated rooms use, a quarter of it wasted), over the working hours
        share = len(heated) / len(common)
        heat = statistics.fmean(r.space_heat_kwh for r in run) * share * 0.25
        cool = statistics.fmean(r.cooling_kwh for r in run)
        return self._raise(
            "simultaneous_heat_cool",
            None,
            run,
            cool * 2600.0,
            heat * 2600.0,
            f"{len(cooled)} rooms cool below {heat_max:.1f} °C while {len(heated)} rooms heat to it, {len(run)} h",
        )

    def _setback(self, h: HourRecord) -> Finding | None:
        if not h.room_temp_c:
            return None
        mean_t = statistics.median(h.room_temp_c.values())  # median: one overheated room is a valve, not this
        symptom = (
            not h.occupied
            and h.start.hour in DEAD_OF_NIGHT
            and h.outdoor_c < 10.0
            and mean_t > self.setback_c + self.t.setback_margin_k + 1.5
            and h.space_heat_kwh > 0
        )
        run = self._streak("setback", h, symptom)
        if not run:
            return None
        heat = statistics.fmean(r.space_heat_kwh for r in run) * 0.35  # share a setback would save
        return self._raise(
            "no_setback",
            None,
            run,
            0.0,
            heat * (HEATING_SEASON_HOURS - 1800.0),
            f"rooms held at {mean_t:.1f} °C through an empty night",
        )

    def _overheated_rooms(self, h: HourRecord) -> list[Finding]:
        out = []
        dark = h.start.hour < 6 or h.start.hour >= 20  # the sun and people warm rooms unevenly by day
        if h.outdoor_c > self.t.overheat_outdoor_c or h.occupied or not dark:
            for zone in h.room_temp_c:
                self._streak(f"valve:{zone}", h, False)
            return out
        median = statistics.median(h.room_temp_c.values())
        for zone, temp in h.room_temp_c.items():
            sp = h.room_heat_sp_c.get(zone, 21.0)
            # each room's usual place among the rooms on an empty night is learned first (a server room or an
            # inner room is always a little warmer); then a room clearly above it and above its setpoint is hot
            seen = self._offsets.setdefault(zone, [])
            if len(seen) < self.t.learn_empty_hours:
                seen.append(temp - median)
                continue
            usual = statistics.median(seen)
            hot = temp > sp + self.t.overheat_k and temp - median > usual + self.t.outlier_k
            run = self._streak(f"valve:{zone}", h, hot)
            if run:
                excess_k = statistics.fmean(r.room_temp_c[zone] - 21.0 for r in run)
                zone_share = 1.0 / max(len(h.room_temp_c), 1)
                heat = statistics.fmean(r.heat_kwh for r in run) * zone_share * min(max(excess_k, 1.0) / 10.0, 1.0)
                f = self._raise(
                    "stuck_valve",
                    zone,
                    run,
                    0.0,
                    heat * HEATING_SEASON_HOURS,
                    f"{zone} at {temp:.1f} °C, {temp - sp:.1f} K above its heating setpoint",
                )
                if f:
                    out.append(f)
        return out

    def _night_base(self, h: HourRecord) -> list[Finding]:
        """Night base load (electricity) and night hot-water energy against this building's learned nights."""
        out: list[Finding] = []
        if h.start.hour in NIGHT_HOURS and not h.occupied:
            self._tonight.append(h)
        if h.start.hour != NIGHT_HOURS.stop or not self._tonight:
            return out
        night, self._tonight = self._tonight, []
        # base load excludes fans (night-cycle heating) so a cold night is not taken for standby
        elec = statistics.fmean(r.electricity_kwh - r.fan_kwh for r in night)
        dhw = statistics.fmean(r.dhw_kwh for r in night)
        if len(self._night_elec) < self.t.learn_nights:
            self._night_elec.append(elec)
            self._night_dhw.append(dhw)
            return out
        base_e = statistics.median(self._night_elec)
        base_d = statistics.median(self._night_dhw)
        run = [night[0], night[-1]]
        if elec > base_e * (1 + self.t.base_rise) and elec - base_e > 0.0005 * self.area:
            f = self._raise(
                "plug_standby",
                None,
                run,
                (elec - base_e) * (YEAR_HOURS - 2600.0),
                0.0,
                f"night base load {elec:.1f} kWh/h vs learned {base_e:.1f} kWh/h",
            )
            if f:
                out.append(f)
        else:
            self._night_elec.append(elec)
        if dhw > base_d * (1 + self.t.dhw_rise) and dhw - base_d > 0.0002 * self.area:
            f = self._raise(
                "dhw_circulation",
                None,
                run,
                0.0,
                (dhw - base_d) * YEAR_HOURS,
                f"night hot-water energy {dhw:.2f} kWh/h vs learned {base_d:.2f} kWh/h",
            )
            if f:
                out.append(f)
        else:
            self._night_dhw.append(dhw)
        return out


def detect(hours: list[HourRecord], floor_area_m2: float, setback_c: float = 16.0) -> list[Finding]:
    """Run the detector over a whole record; findings in the order they were raised."""
    det = FaultDetector(floor_area_m2, setback_c)
    out: list[Finding] = []
    for hour in hours:
        out += det.observe(hour)
    return out


def rank(findings: list[Finding]) -> list[Finding]:
    """Most expensive first: DKK per year, then kWh per year."""
    return sorted(findings, key=lambda f: (-f.dkk_per_year, -f.kwh_per_year))
