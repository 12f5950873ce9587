"""Grey-box RC model fit and the price-aware MPC heating plan (LP)."""

from __future__ import annotations

import math
import random

import pytest

from edge.pipelines.energy.thermal import RCModel, plan_heating

TRUE = RCModel(a=0.05, b=0.02, c=0.1, d=0.0, q_max_kw=100.0, rmse_k=0.0)


def _history(hours: int = 24 * 10, seed: int = 3) -> tuple[list[float], list[float], list[float], list[bool]]:
    rng = random.Random(seed)
    outdoor = [-5 + 5 * math.sin(h / 24 * 2 * math.pi) + rng.gauss(0, 0.5) for h in range(hours)]
    occupied = [h % 24 in range(8, 16) and (h // 24) % 7 < 5 for h in range(hours)]
    heat = [
        rng.choice([0.0, 30.0, 60.0, 90.0]) if h % 24 in range(5, 17) else rng.choice([0.0, 20.0]) for h in range(hours)
    ]
    temps = TRUE.simulate(18.0, outdoor, heat, occupied)[:hours]
    temps = [t + rng.gauss(0, 0.02) for t in temps]
    return temps, outdoor, heat, occupied


def test_fit_recovers_the_building_from_readings() -> None:
    model = RCModel.fit(*_history())
    assert model.a == pytest.approx(TRUE.a, rel=0.15)
    assert model.b == pytest.approx(TRUE.b, rel=0.15)
    assert model.time_constant_h == pytest.approx(20.0, rel=0.2)
    assert model.rmse_k < 0.1


def test_fit_refuses_data_that_cannot_identify_it() -> None:
    with pytest.raises(ValueError):
        RCModel.fit([20.0] * 10, [0.0] * 10, [0.0] * 10, [False] * 10)


def test_plan_preheats_before_occupancy_and_in_cheap_hours() -> None:
    hours = 24
    occupied = [8 <= h < 16 for h in range(hours)]
    outdoor = [-5.0] * hours
    flat = plan_heating(TRUE, 16.0, outdoor, occupied, [1.0] * hours)
    assert flat.comfort_shortfall_kh == pytest.approx(0.0, abs=1e-6)
    assert all(t >= 20.5 - 1e-6 for t, occ in zip(flat.temp_c[:hours], occupied, strict=True) if occ)
    assert sum(flat.heat_kw[:8]) > 0  # must heat before 08:00 to be warm at 08:00
    cheap_night = [0.3 if h < 5 else 1.0 for h in range(hours)]
    shifted = plan_heating(TRUE, 16.0, outdoor, occupied, cheap_night)
    assert sum(shifted.heat_kw[:5]) > sum(flat.heat_kw[:5])  # buys heat while it is cheap
    assert shifted.cost <= sum(p * q for p, q in zip(cheap_night, flat.heat_kw, strict=True)) + 1e-6


def test_controller_mpc_fits_from_readings_and_times_the_morning_start() -> None:
    import datetime as dt

    from edge.pipelines.energy.control import BuildingState, ControlSettings, PreheatPlanner

    s = ControlSettings(mpc=True, mpc_fit_hours=48, workday_start_h=8.0)
    planner = PreheatPlanner(s.mpc_fit_hours)
    temps, outdoor, heat, occupied = _history(hours=24 * 4)
    start = dt.datetime(2025, 2, 24)
    for h in range(len(temps)):
        state = BuildingState(
            when=start + dt.timedelta(hours=h),
            outdoor_c=outdoor[h],
            zone_temp_c={"Class": temps[h]},
            zone_co2_ppm={"Class": 500.0},
            zone_occupants={"Class": 10.0 if occupied[h] else 0.0},
            heat_kw=heat[h],
        )
        planner.observe(state, ["Class"])
    assert isinstance(planner.model, RCModel) and planner.model.a == pytest.approx(TRUE.a, rel=0.3)
    cold = BuildingState(
        when=start, outdoor_c=-5.0, zone_temp_c={"Class": 16.0}, zone_co2_ppm={}, zone_occupants={}, heat_kw=0.0
    )
    assert planner.preheat_now(cold, to_start=1.0, s=s) is True
    warm = BuildingState(
        when=start, outdoor_c=-5.0, zone_temp_c={"Class": 21.5}, zone_co2_ppm={}, zone_occupants={}, heat_kw=0.0
    )
    assert planner.preheat_now(warm, to_start=3.0, s=s) is False
    assert planner.preheat_now(cold, to_start=float("inf"), s=s) is None
