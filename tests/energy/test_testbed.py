"""EnergyPlus testbed (pyenergyplus-lbnl, DOE SmallOffice, Helsinki weather): CO2 balance on, the controller beats the
model's own schedules, and injected faults are found from readings alone. Annual runs live in bench/energy_kpis.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from edge.pipelines.energy import faults as fd
from edge.pipelines.energy import testbed as tb
from models.registry import data_dir
from tests.support import missing, shared_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def weather() -> tb.Weather:
    shared_path("weather", tb.WEATHER_FILES["Helsinki"])
    try:
        import pyenergyplus.api  # noqa: F401
    except ImportError:
        missing("pyenergyplus-lbnl (dev extra) is not installed")
    return tb.read_weather("Helsinki", data_dir())


@pytest.fixture(scope="module")
def typical(weather: tb.Weather) -> tb.Scenario:
    return {s.name: s for s in tb.scenarios(weather)}["typical"]


@pytest.fixture(scope="module")
def office_runs(weather: tb.Weather, typical: tb.Scenario) -> dict[str, tb.RunResult]:
    return {ctl: tb.run_scenario("SmallOffice", weather, typical, ctl) for ctl in ("baseline", "ours")}


def test_scenarios_are_heating_season_fortnights_starting_monday(weather: tb.Weather) -> None:
    scs = {s.name: s for s in tb.scenarios(weather)}
    assert set(scs) == {"peak", "typical", "shoulder", "holiday"}
    means = {n: tb._window_mean(weather, s.start) for n, s in scs.items()}
    assert means["peak"] < means["typical"] < means["shoulder"] < 12.0
    assert all(s.start.weekday() == 0 and s.days == 14 for s in scs.values())


def test_model_has_real_co2_and_nordic_design(office_runs: dict[str, tb.RunResult]) -> None:
    base = office_runs["baseline"]
    assert base.info.floor_area_m2 == pytest.approx(511.2, abs=1.0)
    co2 = [c for s in base.samples for c in s.zone_co2_ppm.values()]
    assert min(co2) >= 400 and max(co2) > 600  # people generate CO2; without the balance it would stay at 0
    assert len(base.samples) == 14 * 24 * 6


def test_controller_beats_the_model_schedules_without_hurting_comfort(office_runs: dict[str, tb.RunResult]) -> None:
    base, ours = office_runs["baseline"].kpis, office_runs["ours"].kpis
    assert ours.ener_tot < 0.95 * base.ener_tot, (base, ours)
    assert ours.cost_tot < base.cost_tot
    assert ours.tdis_tot <= base.tdis_tot + 0.5, (base.tdis_tot, ours.tdis_tot)
    assert ours.idis_tot <= base.idis_tot + 1.0
    assert ours.time_rat < 1e-2  # generous here; bench/energy_kpis.py reports the figure


def test_faults_are_found_within_48_hours_and_healthy_runs_stay_quiet(
    weather: tb.Weather, office_runs: dict[str, tb.RunResult]
) -> None:
    for run in office_runs.values():
        assert fd.detect(run.hours, run.info.floor_area_m2) == [], run.controller
    sc = tb.Scenario("vent", dt.date(2025, 2, 24), days=5)
    onset = dt.datetime(2025, 2, 26)
    faulty = tb.run_scenario("SmallOffice", weather, sc, "baseline", tb.FaultPlan("vent_night", onset))
    found = fd.detect(faulty.hours, faulty.info.floor_area_m2)
    assert [f.kind for f in found] == ["vent_night"], found
    assert onset <= found[0].detected_at <= onset + dt.timedelta(hours=48)
    assert found[0].dkk_per_year > 0


def test_a_failing_controller_fails_the_run_instead_of_passing_for_the_baseline(weather: tb.Weather) -> None:
    from edge.sources.energyplus import RunPeriod, Testbed

    def broken(step: object, info: object) -> None:
        raise ZeroDivisionError("controller bug")

    with pytest.raises(RuntimeError, match="controller failed"):
        Testbed("SmallOffice", weather, RunPeriod(dt.date(2025, 2, 24), 1)).run(broken)  # type: ignore[arg-type]


def test_school_model_gets_box_and_supply_air_actuators_with_the_design_values(
    weather: tb.Weather, tmp_path: Path
) -> None:
    from edge.sources import energyplus as ep

    path = ep.prepare_model("PrimarySchool", weather, ep.RunPeriod(dt.date(2025, 1, 6), 1), tmp_path)
    objects = ep.parse_idf(path.read_text())
    original = ep.parse_idf((ep.model_dir() / ep.BUILDINGS["PrimarySchool"]["file"]).read_text())
    design = {
        o[1].removesuffix(" VAV Box Component"): float(o[7])
        for o in ep.objects_of(original, "AirTerminal:SingleDuct:VAV:Reheat")
        if o[6].lower() == "constant" and o[7].replace(".", "", 1).isdigit()
    }
    boxes = ep.box_min_fractions(objects)
    assert design and boxes == design  # same minimum flows as the reference model: the baseline is unchanged
    compact = {o[1]: o[2:] for o in ep.objects_of(objects, "Schedule:Compact")}
    managers = ep.objects_of(objects, "SetpointManager:Scheduled")
    sat = [m for m in managers if m[1].endswith(" SAT setpoint")]
    assert len(sat) == 4 and all(m[3] == ep.sat_schedule(m[1].removesuffix(" SAT setpoint")) for m in sat)
    assert all(compact[m[3]] == compact["Seasonal-Reset-Supply-Air-Temp-Sch"] for m in sat)
