"""KPIs as BOPTEST defines them, computed on EnergyPlus reference-building runs, with a synthetic Danish tariff.

These are "BOPTEST-defined KPIs on EnergyPlus reference buildings", not BOPTEST scores: the buildings, weather,
comfort bands and prices are ours.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

# Emission factors (kg CO2 per kWh): Danish grid average and district heating average (Energinet / DFF, rounded).
EMISSION_KG_PER_KWH = {"electricity": 0.135, "heat": 0.070}
DISTRICT_HEAT_DKK_PER_KWH = 0.65  # energy price of a typical Danish district-heating utility, incl. taxes
ELECTRICITY_TAX_DKK_PER_KWH = 0.72  # elafgift for non-process use (2025 level, rounded)
CO2_LIMIT_PPM = 1000.0


def electricity_price_dkk(when: dt.datetime) -> float:
    """Synthetic Danish hourly electricity price for a business customer, DKK/kWh.

    Spot price with a daily shape (cheap nights, morning and evening peaks, a deterministic day-to-day swing) plus a
    winter time-of-use grid tariff (peak 17–21) and the electricity tax.
    """
    h = when.hour
    shape = {
        range(0, 6): -0.25,
        range(6, 8): 0.10,
        range(8, 11): 0.25,
        range(11, 16): 0.05,
        range(16, 17): 0.15,
        range(17, 21): 0.45,
        range(21, 24): 0.0,
    }
    spot = 0.65 + next(v for r, v in shape.items() if h in r) + 0.15 * math.sin(when.toordinal() * 2.1)
    if when.weekday() >= 5:
        spot -= 0.10
    grid = 0.15 if h < 6 else (1.20 if 17 <= h < 21 else 0.40)
    return round(max(spot, 0.0) + grid + ELECTRICITY_TAX_DKK_PER_KWH, 4)


@dataclass(frozen=True)
class ComfortBand:
    """Zone comfort limits, EN 16798-1 category II in the heating season for rooms (20–24 °C operative; air
    temperature used here), and the model's own design temperature for circulation and service spaces."""

    occupied_low_c: float = 20.0
    occupied_high_c: float = 24.0
    unoccupied_low_c: float = 15.0
    unoccupied_high_c: float = 30.0


ROOM = ComfortBand()
SERVICE = ComfortBand(occupied_low_c=16.0, occupied_high_c=26.0)
SERVICE_ZONE_WORDS = ("corridor", "bath", "mech", "kitchen", "attic", "stair", "storage")


def band_for(zone: str) -> ComfortBand:
    return SERVICE if any(w in zone.lower() for w in SERVICE_ZONE_WORDS) else ROOM


@dataclass
class Sample:
    """One simulation step in domain units, the input of every KPI."""

    when: dt.datetime
    step_h: float
    electricity_kwh: float
    heat_kwh: float
    fan_kwh: float
    zone_temp_c: dict[str, float]
    zone_co2_ppm: dict[str, float]
    zone_occupied: dict[str, bool]


@dataclass
class KPIs:
    ener_tot: float  # kWh/m²
    cost_tot: float  # DKK/m²
    emis_tot: float  # kg CO2/m²
    tdis_tot: float  # K·h per zone
    idis_tot: float  # ppm·h per zone
    pele_tot: float  # peak electric demand, kW/m² (15-min average as BOPTEST)
    pheat_tot: float  # peak heat demand, kW/m²
    time_rat: float  # controller compute time / simulated time
    fan_kwh_m2: float
    electricity_kwh_m2: float
    heat_kwh_m2: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def compute_kpis(samples: list[Sample], floor_area_m2: float, controller_s: float = 0.0) -> KPIs:
    elec = sum(s.electricity_kwh for s in samples)
    heat = sum(s.heat_kwh for s in samples)
    fan = sum(s.fan_kwh for s in samples)
    cost = sum(
        s.electricity_kwh * electricity_price_dkk(s.when) + s.heat_kwh * DISTRICT_HEAT_DKK_PER_KWH for s in samples
    )
    emis = elec * EMISSION_KG_PER_KWH["electricity"] + heat * EMISSION_KG_PER_KWH["heat"]
    zones = list(samples[0].zone_temp_c) if samples else []
    tdis = idis = 0.0
    for s in samples:
        for z in zones:
            band = band_for(z)
            occ = s.zone_occupied[z]
            low = band.occupied_low_c if occ else band.unoccupied_low_c
            high = band.occupied_high_c if occ else band.unoccupied_high_c
            t = s.zone_temp_c[z]
            tdis += (max(0.0, low - t) + max(0.0, t - high)) * s.step_h
            idis += max(0.0, s.zone_co2_ppm[z] - CO2_LIMIT_PPM) * s.step_h
    n = max(len(zones), 1)
    sim_s = sum(s.step_h for s in samples) * 3600.0
    return KPIs(
        ener_tot=(elec + heat) / floor_area_m2,
        cost_tot=cost / floor_area_m2,
        emis_tot=emis / floor_area_m2,
        tdis_tot=tdis / n,
        idis_tot=idis / n,
        pele_tot=_peak_kw(samples, "electricity_kwh") / floor_area_m2,
        pheat_tot=_peak_kw(samples, "heat_kwh") / floor_area_m2,
        time_rat=controller_s / sim_s if sim_s else 0.0,
        fan_kwh_m2=fan / floor_area_m2,
        electricity_kwh_m2=elec / floor_area_m2,
        heat_kwh_m2=heat / floor_area_m2,
    )


def _peak_kw(samples: list[Sample], attr: str, window_h: float = 0.25) -> float:
    """Largest average demand over consecutive ``window_h`` blocks (BOPTEST uses 15-minute averages)."""
    best = acc_e = acc_h = 0.0
    for s in samples:
        acc_e += getattr(s, attr)
        acc_h += s.step_h
        if acc_h >= window_h - 1e-9:
            best = max(best, acc_e / acc_h)
            acc_e = acc_h = 0.0
    return best
