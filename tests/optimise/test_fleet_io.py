"""Importers in FleetOptimiser's shape, per-row errors, export round trip, and the roundtrip builder."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from hub.optimise.fleet.io import FleetDataError, dataset_from_json, read_dataset, write_dataset
from hub.optimise.fleet.model import Dataset, VehicleKind
from hub.optimise.fleet.roundtrips import GpsTrip, HomeLocation, build_roundtrips
from tests.optimise.fleet_cases import ev, fossil, random_trips
from tests.support import shared_path


def test_reads_shared_fleet_unchanged() -> None:
    data = read_dataset(shared_path("fleet", "seed_default"))
    assert len(data.vehicles) == 7
    assert len(data.roundtrips) == 252
    assert {v.type for v in data.candidates} == {VehicleKind.BIKE, VehicleKind.EV}
    assert data.settings.pris_el == pytest.approx(2.13)
    assert data.settings.bike.max_km_per_trip == pytest.approx(15)
    assert len(data.settings.shifts) == 3
    assert (data.roundtrips.end > data.roundtrips.start).all()


def test_bad_roundtrip_rows_are_named(tmp_path) -> None:
    (tmp_path / "cars.csv").write_text("id,type,location,omkostning_aar\n1,4,1,45000\n")
    (tmp_path / "roundtrips.csv").write_text(
        "id,start_time,end_time,distance,start_location_id,car_id\n"
        "1,2026-01-05 08:00:00,2026-01-05 09:00:00,12.5,1,1\n"
        "2,2026-01-05 08:00:00,2026-01-05 09:00:00,twelve,1,1\n"
        "3,2026-01-05 10:00:00,2026-01-05 09:00:00,3,1,1\n"
        "4,yesterday,2026-01-05 09:00:00,3,1,1\n")
    with pytest.raises(FleetDataError) as err:
        read_dataset(tmp_path)
    text = str(err.value)
    assert "row 2: distance 'twelve'" in text
    assert "row 3: end_time" in text
    assert "row 4: start_time 'yesterday'" in text
    assert "row 1" not in text


def test_bad_vehicle_rows_are_named() -> None:
    with pytest.raises(FleetDataError, match="row 2"):
        dataset_from_json({"vehicles": [{"id": "a", "type": 3}, {"id": "b", "type": 9}], "roundtrips": []})
    with pytest.raises(FleetDataError, match="appears twice"):
        dataset_from_json({"vehicles": [{"id": "a", "type": 3}, {"id": "a", "type": 4}], "roundtrips": []})


def test_export_and_read_back(tmp_path) -> None:
    trips = random_trips(3, n=30, locations=2, days=2)
    data = Dataset([ev("e1"), fossil("f1", loc=2, extra_locations=(1,))], trips, name="t")
    data.settings.bike.max_km_per_trip = 9.0
    write_dataset(data, tmp_path)
    back = read_dataset(tmp_path)
    assert [v.id for v in back.vehicles] == ["e1", "f1"]
    assert back.vehicles[1].homes == {1, 2}
    assert len(back.roundtrips) == 30
    assert (back.roundtrips.start == trips.start).all()
    assert back.settings.bike.max_km_per_trip == 9.0


def _trip(vehicle, t0, hours, a, b, km):
    (la1, lo1), (la2, lo2) = a, b
    return GpsTrip(vehicle, t0, t0 + timedelta(hours=hours), la1, lo1, la2, lo2, km)


def test_roundtrip_builder_chains_home_to_home() -> None:
    home, other, away = (55.7, 11.7), (55.8, 11.9), (55.6, 11.5)
    homes = [HomeLocation(1, *home), HomeLocation(2, *other)]
    t = datetime(2026, 3, 2, 8)
    trips = [
        _trip("car", t, 0.5, home, away, 10),
        _trip("car", t + timedelta(hours=1), 0.5, away, home, 11),      # back: roundtrip 1 (21 km)
        _trip("car", t + timedelta(hours=2), 0.2, away, home, 3),       # does not start at a home
        _trip("car", t + timedelta(hours=3), 0.5, home, other, 7),      # other home: not back yet
        _trip("car", t + timedelta(hours=4), 0.5, other, home, 7),      # back: roundtrip 2 (14 km)
        _trip("car", t + timedelta(hours=5), 0.5, home, away, 40),      # never comes back
    ]
    rt, report = build_roundtrips(trips, homes)
    assert len(rt) == 2
    assert list(rt.distance) == [21, 14]
    assert list(rt.location) == [1, 1]
    assert report.trips_not_from_home == 1
    assert report.chains_dropped == 1
    assert GpsTrip.from_dict({"vehicle_id": "v", "start_time": "2026-03-02T08:00:00Z",
                              "end_time": "2026-03-02T09:00:00Z", "start_lat": 1, "start_lon": 2,
                              "end_lat": 1, "end_lon": 2, "distance_km": 5}).distance_km == 5


def test_synthetic_municipality_is_seeded_and_realistic(tmp_path) -> None:
    from hub.optimise.fleet.synthetic import MunicipalitySpec, generate

    spec = MunicipalitySpec(vehicles=30, days=28, locations=4, seed=5)
    a, b = generate(spec), generate(spec)
    assert (a.roundtrips.start == b.roundtrips.start).all() and len(a.roundtrips) > 500
    assert 5.0 <= float(np.median(a.roundtrips.distance)) <= 10.0
    minutes = (a.roundtrips.end - a.roundtrips.start) / 60
    assert 35 <= float(np.median(minutes)) <= 65
    night = (a.roundtrips.start % 86400) < 5 * 3600
    assert night.any() and a.roundtrips.distance[night].mean() > a.roundtrips.distance[~night].mean()
    assert len(a.fleet) == 30 and a.candidates
    write_dataset(a, tmp_path)
    assert len(read_dataset(tmp_path).roundtrips) == len(a.roundtrips)
