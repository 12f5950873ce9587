"""Seed messages for the energy dashboard test: a school and an office with hourly meters against the baseline model,
zone temperature/CO2 readings, applied setpoints and open findings (every panel of dashboards/json/energy.json)."""

from __future__ import annotations

import math

from protocol import Body
from protocol.streams.energy import EnergyFinding, EnergyMeter, EnergyReading, PointValue, SetpointApplied

BUILDINGS = {"school-1": ("Class_1", "Class_2"), "office-2": ("Core_ZN", "Perimeter_ZN_1")}


def messages() -> list[Body]:
    out: list[Body] = []
    for b, zones in BUILDINGS.items():
        for hour in range(12):
            occupied = 2 <= hour <= 9
            elec, heat = (40.0, 55.0) if occupied else (12.0, 30.0)
            out.append(
                EnergyMeter(
                    building=b,
                    interval_s=3600,
                    electricity_kwh=elec,
                    heat_kwh=heat,
                    baseline_kwh=round((elec + heat) * 1.3, 1),
                    outdoor_c=-3.0 + 0.3 * hour,
                    cost_dkk=round(elec * 1.8 + heat * 0.65, 2),
                    mean_zone_temp_c=20.6 if occupied else 17.0,
                    max_co2_ppm=880.0 if occupied else 430.0,
                )
            )
            points = [
                PointValue(point="building.electricity_kw", kind="electricity_kw", value=elec),
                PointValue(point="building.heat_kw", kind="heat_kw", value=heat),
            ]
            for i, z in enumerate(zones):
                points += [
                    PointValue(point=f"{z}.temp", kind="zone_temp", zone=z, value=20.5 + 0.2 * i),
                    PointValue(
                        point=f"{z}.co2",
                        kind="co2",
                        zone=z,
                        value=round(450 + (400 * math.sin(hour / 3) ** 2 if occupied else 0), 1),
                    ),
                ]
            out.append(EnergyReading(building=b, mode="occupied" if occupied else "setback", points=points))
        out.append(
            SetpointApplied(
                building=b,
                zone=zones[0],
                kind="heat_setpoint",
                source="hub",
                requested=25.0,
                applied=23.0,
                clamped=True,
                command_id="seed-1",
            )
        )
    out.append(
        EnergyFinding(
            finding_id="school-1:vent_night:-",
            building="school-1",
            kind="vent_night",
            state="raised",
            first_seen_ts=1_740_000_000_000,
            kwh_per_year=52_000,
            dkk_per_year=41_000,
            evidence="outdoor air at 100% of design for 3 h with nobody in",
        )
    )
    out.append(
        EnergyFinding(
            finding_id="office-2:plug_standby:-",
            building="office-2",
            kind="plug_standby",
            state="raised",
            first_seen_ts=1_740_000_000_000,
            kwh_per_year=3_100,
            dkk_per_year=5_400,
            evidence="night base load 2.9 kWh/h vs learned 2.2 kWh/h",
        )
    )
    return out
