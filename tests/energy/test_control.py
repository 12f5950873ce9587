"""Pure control logic: demand-controlled ventilation, safety limits, learned warm-up, occupancy and setback."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.pipelines.energy.control import (
    BuildingController,
    BuildingState,
    ControlSettings,
    Decision,
    HeatingResponse,
    OccupancyModel,
    SafetyLimits,
    apply_limits,
    dcv_fraction,
)

MONDAY = dt.datetime(2025, 2, 24)


def test_dcv_follows_co2_and_occupancy() -> None:
    s = ControlSettings()
    assert dcv_fraction(450, occupied=False, s=s) == 0.0
    assert dcv_fraction(450, occupied=True, s=s) == pytest.approx(s.vent_min_fraction)
    mid = (s.co2_target_ppm + s.co2_limit_ppm) / 2
    assert dcv_fraction(mid, occupied=True, s=s) == pytest.approx(0.5)
    assert dcv_fraction(s.co2_limit_ppm, occupied=True, s=s) == pytest.approx(1.0)
    assert dcv_fraction(5000, occupied=True, s=s) == pytest.approx(s.vent_max_fraction)
    assert dcv_fraction(900, occupied=False, s=s) > 0  # stale air is purged even when the room has emptied


def test_safety_limits_clamp_and_keep_a_deadband() -> None:
    lim = SafetyLimits(heat_max_c=23.0, cool_min_c=22.0, min_deadband_k=1.0, vent_max_fraction=1.2)
    d = Decision(heat_sp_c={"a": 30.0, "b": 5.0}, cool_sp_c={"a": 22.0, "b": 40.0}, vent_fraction={"ahu": 3.0})
    apply_limits(d, lim)
    assert d.heat_sp_c == {"a": 23.0, "b": lim.heat_min_c}
    assert d.cool_sp_c["a"] == 24.0  # pushed up to keep 1 K above the clamped heating setpoint
    assert d.cool_sp_c["b"] == lim.cool_max_c
    assert d.vent_fraction["ahu"] == 1.2


def test_heating_response_learns_a_slower_building() -> None:
    r = HeatingResponse(rate_at_0c=2.0, slope_per_k=0.0)
    for outdoor in (-10, -5, 0, 5, -8, 2, -3, 4) * 3:
        r.update(outdoor, 0.8 + 0.05 * outdoor)  # the real building warms 0.8 K/h at 0 °C
    assert r.rate_k_per_h(0.0) == pytest.approx(0.8, abs=0.1)
    assert r.preheat_hours(16.0, 21.0, 0.0) == pytest.approx(5.0 / r.rate_k_per_h(0.0))
    assert r.preheat_hours(22.0, 21.0, 0.0) == 0.0


def test_occupancy_model_learns_arrival_and_spots_a_holiday() -> None:
    occ = OccupancyModel(ControlSettings(workday_start_h=8.0, workday_end_h=17.0))
    day = MONDAY
    for minute in range(0, 24 * 60, 10):
        t = day + dt.timedelta(minutes=minute)
        occ.observe(t, 7 <= t.hour < 15)
    occ.observe(day + dt.timedelta(days=1), False)  # closes Monday
    assert occ.start_h == pytest.approx(7.0)  # earlier arrival adopted at once
    assert occ.expected(day + dt.timedelta(days=1, hours=7, minutes=30))
    for minute in range(0, 24 * 60, 10):  # Tuesday: nobody came
        occ.observe(day + dt.timedelta(days=1, minutes=minute), False)
    occ.observe(day + dt.timedelta(days=2), False)
    assert not occ.last_workday_occupied
    assert not occ.expected(day + dt.timedelta(days=2, hours=9))


def _state(when: dt.datetime, temp: float, people: float, co2: float = 500.0) -> BuildingState:
    return BuildingState(
        when=when,
        outdoor_c=-5.0,
        zone_temp_c={"Class1": temp, "Corridor1": 17.0},
        zone_co2_ppm={"Class1": co2, "Corridor1": 450.0},
        zone_occupants={"Class1": people, "Corridor1": 0.0},
    )


def test_controller_sets_back_an_empty_night_and_preheats_before_arrival() -> None:
    s = ControlSettings(workday_start_h=8.0)
    ctl = BuildingController(s, SafetyLimits(), {"AHU1": ["Class1", "Corridor1"]})
    night = ctl.decide(_state(MONDAY + dt.timedelta(hours=1), 17.0, 0.0))
    assert night.heat_sp_c["Class1"] == s.heat_setback_c
    assert night.heat_sp_c["Corridor1"] is None  # service zones keep the building's own schedule
    assert night.standby_cut and night.ahu_mode["AHU1"] == "auto"
    assert night.lights_fraction_cap["Class1"] == s.lights_unoccupied_fraction
    early = ctl.decide(_state(MONDAY + dt.timedelta(hours=5, minutes=30), 17.0, 0.0))
    assert early.heat_sp_c["Class1"] == s.heat_occupied_c and early.mode == "preheat"
    busy = ctl.decide(_state(MONDAY + dt.timedelta(hours=10), 21.0, 20.0, co2=1200.0))
    assert busy.ahu_mode["AHU1"] == "run" and busy.vent_fraction["AHU1"] > 1.0
    assert not busy.standby_cut and busy.lights_fraction_cap["Class1"] is None
