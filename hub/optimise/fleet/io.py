"""Import fleets in FleetOptimiser's shape (a folder of its tables, CSV or JSON) with per-row errors."""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from hub.optimise.fleet.model import (
    BikeRules,
    Dataset,
    Fuel,
    Location,
    Roundtrips,
    Settings,
    Shift,
    Vehicle,
)

log = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 25
_EPOCH_DT = datetime(1970, 1, 1)
ROUNDTRIP_REQUIRED = ("start_time", "end_time", "distance")


class FleetDataError(ValueError):
    """Input that cannot be used; ``errors`` holds one human sentence per bad row or field."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        shown = "; ".join(errors[:MAX_REPORTED_ERRORS])
        more = f" (and {len(errors) - MAX_REPORTED_ERRORS} more)" if len(errors) > MAX_REPORTED_ERRORS else ""
        super().__init__(f"{source}: {shown}{more}")


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.csv", f"{stem}.csv.gz", f"{stem}.json"):
        if (folder / name).exists():
            return folder / name
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k.strip(): (None if _blank(v) else v) for k, v in row.items() if k is not None}


# ---------------------------------------------------------------- vehicles

VEHICLE_FIELDS = {
    "id",
    "plate",
    "make",
    "model",
    "type",
    "fuel",
    "wltp_fossil",
    "wltp_el",
    "range",
    "capacity_decrease",
    "co2_pr_km",
    "omkostning_aar",
    "km_aar",
    "sleep",
    "location",
    "extra_locations",
    "department",
    "end_leasing",
    "test_vehicle",
}


def _vehicle_from_row(row: dict[str, Any]) -> Vehicle | None:
    row = _clean(row)
    if str(row.get("deleted") or "0") in {"1", "True", "true"} or str(row.get("disabled") or "0") in {
        "1",
        "True",
        "true",
    }:
        return None
    data = {k: v for k, v in row.items() if k in VEHICLE_FIELDS and v is not None}
    for key in ("location", "fuel"):
        if isinstance(data.get(key), str):
            data[key] = int(float(data[key]))
    if isinstance(data.get("extra_locations"), str):
        data["extra_locations"] = tuple(
            int(x) for x in data["extra_locations"].replace(",", ";").split(";") if x.strip()
        )
    if "test_vehicle" in data:
        data["test_vehicle"] = str(data["test_vehicle"]).strip().lower() in {"1", "true", "yes"}
    data["id"] = str(data.get("id", "")).strip()
    data.setdefault("plate", "")
    return Vehicle.model_validate(data)


def parse_vehicles(rows: Iterable[dict[str, Any]], source: str = "vehicles") -> list[Vehicle]:
    """Vehicles from FleetOptimiser ``cars`` rows; deleted/disabled rows are left out."""
    vehicles: list[Vehicle] = []
    errors: list[str] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        try:
            vehicle = _vehicle_from_row(row)
        except (ValidationError, ValueError, TypeError) as exc:
            errors.append(f"row {n}: {_explain(exc)}")
            continue
        if vehicle is None:
            continue
        if not vehicle.id:
            errors.append(f"row {n}: the vehicle has no id")
        elif vehicle.id in seen:
            errors.append(f"row {n}: vehicle id {vehicle.id!r} appears twice")
        seen.add(vehicle.id)
        vehicles.append(vehicle)
    if errors:
        raise FleetDataError(source, errors)
    return vehicles


def _explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "value"
            parts.append(f"{where} {err.get('input')!r}: {err['msg']}")
        return "; ".join(parts)
    return str(exc)


# ---------------------------------------------------------------- roundtrips


def _seconds(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip().replace("T", " ")
    return int((datetime.fromisoformat(text[:26]) - _EPOCH_DT).total_seconds())


def parse_roundtrips(rows: Iterable[dict[str, Any]], source: str = "roundtrips") -> Roundtrips:
    """Roundtrips from FleetOptimiser rows (``start_time, end_time, distance, start_location_id, car_id``)."""
    ids: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    dists: list[float] = []
    locs: list[int] = []
    cars: list[str] = []
    drivers: list[str] = []
    errors: list[str] = []
    for n, raw in enumerate(rows, start=1):
        row = _clean(raw)
        missing = [k for k in ROUNDTRIP_REQUIRED if row.get(k) is None]
        if missing:
            errors.append(f"row {n}: missing {', '.join(missing)}")
            continue
        try:
            start, end = _seconds(row["start_time"]), _seconds(row["end_time"])
        except ValueError:
            errors.append(
                f"row {n}: start_time {row['start_time']!r} or end_time {row['end_time']!r} "
                "is not a date and time like 2026-03-03 07:11:13"
            )
            continue
        try:
            dist = float(row["distance"])
        except ValueError:
            errors.append(f"row {n}: distance {row['distance']!r} is not a number of km")
            continue
        if end <= start:
            errors.append(f"row {n}: end_time {row['end_time']} is not after start_time {row['start_time']}")
            continue
        if not dist >= 0:
            errors.append(f"row {n}: distance {dist} km is negative")
            continue
        loc = row.get("start_location_id", row.get("location"))
        try:
            loc_id = int(float(loc)) if loc is not None else -1
        except ValueError:
            errors.append(f"row {n}: start_location_id {loc!r} is not a location id")
            continue
        ids.append(int(float(row.get("id") or n)))
        starts.append(start)
        ends.append(end)
        dists.append(dist)
        locs.append(loc_id)
        car = row.get("car_id", row.get("vehicle"))
        cars.append("" if car is None else str(car))
        drivers.append(str(row.get("driver_name") or ""))
    if errors:
        raise FleetDataError(source, errors)
    return Roundtrips(
        id=np.asarray(ids, dtype=np.int64),
        start=np.asarray(starts, dtype=np.int64),
        end=np.asarray(ends, dtype=np.int64),
        distance=np.asarray(dists, dtype=np.float64),
        location=np.asarray(locs, dtype=np.int64),
        vehicle=np.asarray(cars, dtype=object),
        driver=np.asarray(drivers, dtype=object),
    )


# ---------------------------------------------------------------- settings

_SETTING_NAMES = {
    "high": "allowance_high_km_rate",
    "low": "allowance_low_km_rate",
    "slack": "slack_min",
    "undriven_wltp": "undriven_wltp",
}


def _literal(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def _hms(text: str) -> time:
    return time.fromisoformat(str(text).strip())


def parse_settings(values: dict[str, Any], source: str = "settings") -> Settings:
    """Settings from FleetOptimiser names (``pris_el``, ``vagt_dashboard``, ``bike_settings`` …) or ours."""
    data: dict[str, Any] = {}
    errors: list[str] = []
    fields = Settings.model_fields
    for name, raw in values.items():
        key = _SETTING_NAMES.get(name, name)
        try:
            if name == "vagt_dashboard":
                shifts = _literal(raw) or []
                data["shifts"] = [Shift(start=_hms(s["shift_start"]), end=_hms(s["shift_end"])) for s in shifts]
            elif name == "bike_settings":
                b = _literal(raw) or {}
                data["bike"] = BikeRules(
                    max_km_per_trip=float(b.get("bike-max-km-per-trip", 15)),
                    windows=[
                        (_hms(a), _hms(z))
                        for a, z in zip(
                            b.get("bike_start", ["07:00:00"]), b.get("bike_end", ["15:30:00"]), strict=False
                        )
                    ],
                    bike_speed_kmh=float(b.get("bike_speed", 20)),
                    ebike_speed_kmh=float(b.get("electrical_bike_speed", 30)),
                )
            elif name == "undriven_type":
                data["undriven_fuel"] = {"benzin": Fuel.PETROL, "diesel": Fuel.DIESEL, "hvo": Fuel.HVO}.get(
                    str(raw).strip().lower(), Fuel.PETROL
                )
            elif key in fields:
                data[key] = _literal(raw) if key in {"shifts", "bike"} else raw
        except (ValueError, TypeError, KeyError) as exc:
            errors.append(f"setting {name!r} = {raw!r}: {exc}")
    if errors:
        raise FleetDataError(source, errors)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise FleetDataError(source, [_explain(exc)]) from exc


# ---------------------------------------------------------------- files


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".json":
        payload = json.loads(path.read_text(encoding="utf-8"))
        yield from payload if isinstance(payload, list) else payload.get("rows", [])
        return
    with _open_text(path) as fh:
        yield from csv.DictReader(fh)


def read_vehicles(path: Path) -> list[Vehicle]:
    return parse_vehicles(_read_rows(path), source=path.name)


def read_roundtrips(path: Path) -> Roundtrips:
    return parse_roundtrips(_read_rows(path), source=path.name)


def read_settings(path: Path) -> Settings:
    if path.suffix == ".json":
        return parse_settings(json.loads(path.read_text(encoding="utf-8")), source=path.name)
    return parse_settings({r["name"]: r["value"] for r in _read_rows(path)}, source=path.name)


def read_locations(path: Path) -> list[Location]:
    out = []
    for n, row in enumerate(_read_rows(path), start=1):
        try:
            out.append(
                Location(
                    id=int(row["id"]),
                    address=str(row.get("address") or ""),
                    latitude=float(row.get("latitude") or 0),
                    longitude=float(row.get("longitude") or 0),
                )
            )
        except (KeyError, ValueError) as exc:
            raise FleetDataError(path.name, [f"row {n}: {exc}"]) from exc
    return out


def read_dataset(path: str | Path) -> Dataset:
    """Read a FleetOptimiser export: a folder with ``cars``, ``roundtrips``, ``simulation_settings`` and
    ``allowed_starts`` tables (CSV, CSV.gz or JSON), or one JSON file with those keys."""
    path = Path(path)
    if path.is_file():
        return dataset_from_json(json.loads(path.read_text(encoding="utf-8")), name=path.stem)
    cars = _find(path, "cars") or _find(path, "vehicles")
    trips = _find(path, "roundtrips")
    if cars is None or trips is None:
        raise FleetDataError(str(path), ["needs a cars (or vehicles) table and a roundtrips table"])
    settings_file = _find(path, "simulation_settings") or _find(path, "settings")
    starts = _find(path, "allowed_starts")
    return Dataset(
        vehicles=read_vehicles(cars),
        roundtrips=read_roundtrips(trips),
        settings=read_settings(settings_file) if settings_file else Settings(),
        locations=read_locations(starts) if starts else [],
        name=path.name,
    )


def dataset_from_json(payload: dict[str, Any], name: str = "") -> Dataset:
    """A dataset from ``{"vehicles"|"cars": [...], "roundtrips": [...], "settings": {...}}``."""
    if not isinstance(payload, dict):
        raise FleetDataError(name or "json", ["expected an object with vehicles and roundtrips"])
    vehicles = parse_vehicles(payload.get("vehicles", payload.get("cars", [])), source="vehicles")
    trips = parse_roundtrips(payload.get("roundtrips", []), source="roundtrips")
    settings = parse_settings(payload.get("settings", {}) or {}, source="settings")
    locations = [Location(id=int(x["id"]), address=str(x.get("address", ""))) for x in payload.get("locations", [])]
    return Dataset(
        vehicles=vehicles, roundtrips=trips, settings=settings, locations=locations, name=str(payload.get("name", name))
    )


def vehicle_row(v: Vehicle) -> dict[str, Any]:
    """A vehicle as a FleetOptimiser ``cars`` row (for CSV/JSON export)."""
    return {
        "id": v.id,
        "plate": v.plate,
        "make": v.make,
        "model": v.model,
        "type": int(v.type),
        "fuel": v.fuel,
        "wltp_fossil": v.wltp_fossil,
        "wltp_el": v.wltp_el,
        "range": v.range_km,
        "capacity_decrease": v.capacity_decrease,
        "co2_pr_km": v.co2_pr_km,
        "omkostning_aar": v.omkostning_aar,
        "km_aar": v.km_aar,
        "sleep": v.sleep,
        "location": v.location,
        "extra_locations": ";".join(str(x) for x in v.extra_locations),
        "department": v.department,
        "end_leasing": v.end_leasing.isoformat() if v.end_leasing else None,
        "test_vehicle": int(v.test_vehicle),
    }


def write_csv(rows: list[dict[str, Any]], path: Path | None = None) -> str:
    """Rows as CSV text (header from the first row's keys); also written to ``path`` when given."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def write_dataset(data: Dataset, folder: str | Path) -> None:
    """Write ``data`` as FleetOptimiser-shaped tables (``cars.csv``, ``roundtrips.csv``) plus
    ``settings.json`` and ``allowed_starts.csv``, readable again by :func:`read_dataset`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_csv([vehicle_row(v) for v in data.vehicles], folder / "cars.csv")
    trips = data.roundtrips
    write_csv([{"id": int(trips.id[i]), "start_time": trips.start_iso(i).replace("T", " "),
                "end_time": trips.end_iso(i).replace("T", " "), "distance": float(trips.distance[i]),
                "start_location_id": int(trips.location[i]), "car_id": trips.vehicle[i],
                "driver_name": trips.driver[i]} for i in range(len(trips))], folder / "roundtrips.csv")
    write_csv([{"id": loc.id, "address": loc.address, "latitude": loc.latitude, "longitude": loc.longitude}
               for loc in data.locations], folder / "allowed_starts.csv")
    (folder / "settings.json").write_text(data.settings.model_dump_json(indent=2), encoding="utf-8")
