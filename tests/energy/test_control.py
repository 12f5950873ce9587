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


def _room_state(
    temps: dict[str, float], co2: dict[str, float], people: dict[str, float], hour: int = 10
) -> BuildingState:
    return BuildingState(
        when=MONDAY.replace(hour=hour),
        outdoor_c=-5.0,
        zone_temp_c=temps,
        zone_co2_ppm=co2,
        zone_occupants=people,
    )


def test_vav_box_minimum_follows_co2_heat_need_and_presence() -> None:
    from edge.pipelines.energy.control import BOX_IDLE_FRACTION, BOX_LOW_CO2_FRACTION, BOX_MAX

    ctl = BuildingController(ControlSettings(), SafetyLimits(), {"ahu": ["Low", "High", "Cold", "Empty"]})
    d = ctl.decide(
        _room_state(
            {"Low": 21.5, "High": 21.5, "Cold": 19.0, "Empty": 21.5},
            {"Low": 500.0, "High": 1100.0, "Cold": 500.0, "Empty": 450.0},
            {"Low": 20.0, "High": 20.0, "Cold": 20.0, "Empty": 0.0},
        )
    )
    assert d.box_min_fraction["Low"] == pytest.approx(BOX_LOW_CO2_FRACTION)  # occupied, fresh air: turned down
    assert d.box_min_fraction["High"] == pytest.approx(BOX_MAX)  # CO2 above the limit: boosted above design
    assert d.box_min_fraction["Cold"] == pytest.approx(1.0)  # short of heat: the reheat coil needs the design flow
    assert d.box_min_fraction["Empty"] == pytest.approx(BOX_IDLE_FRACTION)


def test_supply_air_reset_only_on_units_we_may_reset() -> None:
    from edge.pipelines.energy.control import SAT_MAX_C, SAT_MIN_C

    ctl = BuildingController(ControlSettings(), SafetyLimits(), {"vav": ["A"], "psz": ["B"]}, sat_reset_ahus=["vav"])
    people = {"A": 20.0, "B": 20.0}
    mild = ctl.decide(_room_state({"A": 21.2, "B": 21.2}, {"A": 700.0, "B": 700.0}, people))
    assert mild.supply_air_c == {"vav": pytest.approx(SAT_MAX_C)}  # nobody needs cold air: no reheat of it
    warm = ctl.decide(_room_state({"A": 24.0, "B": 21.2}, {"A": 700.0, "B": 700.0}, people))
    assert warm.supply_air_c["vav"] == pytest.approx(SAT_MIN_C)  # a warm room pulls the supply air down


def test_no_co2_ventilation_once_everyone_left_and_nobody_is_expected() -> None:
    ctl = BuildingController(ControlSettings(), SafetyLimits(), {"ahu": ["A"]})
    busy = ctl.decide(_room_state({"A": 21.5}, {"A": 900.0}, {"A": 20.0}, hour=15))
    assert busy.ahu_mode["ahu"] == "run"
    late = ctl.decide(_room_state({"A": 21.5}, {"A": 900.0}, {"A": 0.0}, hour=22))
    assert late.ahu_mode["ahu"] == "auto"  # the morning purge flushes it, not the fans all evening
