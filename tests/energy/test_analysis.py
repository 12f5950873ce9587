"""Pure analyses on synthetic hourly data: fault detectors, ranking, Guideline 14 M&V and BOPTEST-defined KPIs."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from edge.pipelines.energy.faults import FaultDetector, HourRecord, detect, rank
from edge.pipelines.energy.kpi import Sample, compute_kpis, electricity_price_dkk
from edge.pipelines.energy.mv import BaselineModel, verified_savings

START = dt.datetime(2025, 1, 6)  # a Monday
AREA = 1000.0


def building_hours(days: int, seed: int = 1, fault: str | None = None, onset_day: int = 3) -> list[HourRecord]:
    """A plausible school: heating follows outdoor temperature, ventilation and plug loads follow the timetable."""
    rng = random.Random(seed)
    out = []
    for h in range(days * 24):
        t = START + dt.timedelta(hours=h)
        work = t.weekday() < 5 and 7 <= t.hour < 17
        outdoor = -3 + 4 * math.sin(h / 24 * 2 * math.pi / 5) + rng.gauss(0, 1)
        faulty = fault is not None and h >= onset_day * 24
        oa = 0.8 if work or (faulty and fault == "vent_night") else 0.0
        heat = max(0.0, (18 - outdoor) * (6.0 if work else 3.0) + oa * 40 + rng.gauss(0, 3))
        elec = (25.0 if work else 8.0) * (1.3 if faulty and fault == "plug_standby" and not work else 1.0)
        rooms = {name: 21.0 if work else 16.5 + rng.random() for name in "ABCDE"}
        if faulty and fault == "no_setback":
            rooms = dict.fromkeys(rooms, 21.0)
        if faulty and fault == "stuck_valve":
            rooms["B"] = 27.0
        heat_sp = dict.fromkeys(rooms, 21.0 if work else 16.0)
        cool_sp = dict.fromkeys(rooms, 24.0 if work else 27.0)
        if faulty and fault == "simultaneous_heat_cool" and work:
            # neighbours fight: two rooms heat to 23.5 °C, the others' thermostats are mis-set to cool from 20.5 °C
            for i, name in enumerate(rooms):
                heat_sp[name], cool_sp[name] = (23.5, 24.5) if i in (0, 2) else (19.5, 20.5)
        out.append(
            HourRecord(
                start=t,
                outdoor_c=outdoor,
                electricity_kwh=elec + rng.gauss(0, 0.2),
                heat_kwh=heat,
                space_heat_kwh=heat,
                dhw_kwh=0.5,
                fan_kwh=oa * 6,
                cooling_kwh=0.0,
                occupied=work,
                oa_fraction=oa,
                room_temp_c=rooms,
                room_heat_sp_c=heat_sp,
                room_cool_sp_c=cool_sp,
            )
        )
    return out


@pytest.mark.parametrize("fault", ["vent_night", "plug_standby", "stuck_valve", "no_setback", "simultaneous_heat_cool"])
def test_detectors_find_the_fault_within_48_hours(fault: str) -> None:
    found = detect(building_hours(7, fault=fault), AREA)
    onset = START + dt.timedelta(days=3)
    hits = [f for f in found if f.kind == fault]
    assert hits, f"{fault} not detected: {found}"
    assert onset <= hits[0].detected_at <= onset + dt.timedelta(hours=48)
    assert hits[0].kwh_per_year > 0 and hits[0].dkk_per_year > 0
    assert all(f.kind == fault for f in found), found


def test_no_findings_on_a_healthy_building() -> None:
    assert detect(building_hours(28, seed=2), AREA) == []


def test_findings_rank_by_money_then_energy() -> None:
    det = FaultDetector(AREA)
    found = []
    for hour in building_hours(7, fault="vent_night"):
        found += det.observe(hour)
    for hour in building_hours(7, seed=3, fault="plug_standby"):
        found += det.observe(hour)
    ranked = rank(found)
    assert [f.dkk_per_year for f in ranked] == sorted((f.dkk_per_year for f in found), reverse=True)


def test_baseline_model_meets_guideline_14_and_verifies_known_savings() -> None:
    train = building_hours(28, seed=4)
    model = BaselineModel().fit(
        [h.start for h in train], [h.outdoor_c for h in train], [h.electricity_kwh + h.heat_kwh for h in train]
    )
    assert model.fit_stats is not None and model.fit_stats.meets_guideline14(0.15, 0.05), model.fit_stats
    report = building_hours(14, seed=5)
    actual = [(h.electricity_kwh + h.heat_kwh) * 0.8 for h in report]  # a true 20 % saving
    s = verified_savings(model, [h.start for h in report], [h.outdoor_c for h in report], actual)
    true_saved = sum(h.electricity_kwh + h.heat_kwh for h in report) * 0.2
    assert abs(s.saved_kwh - true_saved) <= s.ci_kwh + 0.03 * true_saved
    assert 0.15 < s.saved_fraction < 0.25 and s.ci_kwh > 0


def _sample(hour: int, temp: float, co2: float, occupied: bool, elec: float = 1.0, heat: float = 2.0) -> Sample:
    return Sample(
        when=START + dt.timedelta(hours=hour),
        step_h=1.0,
        electricity_kwh=elec,
        heat_kwh=heat,
        fan_kwh=0.1,
        zone_temp_c={"Class": temp, "Corridor": temp},
        zone_co2_ppm={"Class": co2, "Corridor": 400.0},
        zone_occupied={"Class": occupied, "Corridor": occupied},
    )


def test_kpis_follow_the_boptest_definitions() -> None:
    samples = [_sample(9, 19.0, 1200.0, True), _sample(10, 21.0, 900.0, True), _sample(2, 14.0, 450.0, False)]
    k = compute_kpis(samples, floor_area_m2=10.0, controller_s=0.54)
    assert k.ener_tot == pytest.approx(0.9)
    # Class: 1 K·h (19 < 20) + 1 K·h (14 < 15 empty); Corridor (service, 16 °C when occupied): 1 K·h at night only
    assert k.tdis_tot == pytest.approx((2.0 + 1.0) / 2)
    assert k.idis_tot == pytest.approx(200.0 / 2)
    expected_cost = sum(electricity_price_dkk(s.when) * 1.0 + 0.65 * 2.0 for s in samples) / 10.0
    assert k.cost_tot == pytest.approx(expected_cost)
    assert k.time_rat == pytest.approx(0.54 / (3 * 3600))


def test_synthetic_price_is_highest_in_the_evening_peak() -> None:
    day = dt.datetime(2025, 2, 25)
    prices = [electricity_price_dkk(day + dt.timedelta(hours=h)) for h in range(24)]
    assert max(range(24), key=prices.__getitem__) in range(17, 21)
    assert min(range(24), key=prices.__getitem__) in range(0, 6)
