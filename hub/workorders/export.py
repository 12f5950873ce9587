"""Work orders as GeoJSON (for GIS and contractors' tools) and CSV (for spreadsheets)."""

from __future__ import annotations

import csv
import io
from typing import Any

CSV_COLUMNS = ("order_id", "status", "rdd_class", "severity", "priority", "lat", "lon", "sigma", "width", "length",
               "area", "road_class", "contractor", "created_ms", "sla_due_ms", "dispatched_ms", "done_ms", "closed_ms",
               "observations", "drives")


def orders_geojson(orders: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": o["order_id"],
                "geometry": {"type": "Point", "coordinates": [round(o["lon"], 7), round(o["lat"], 7)]},
                "properties": {k: o[k] for k in CSV_COLUMNS if k not in {"lat", "lon"}},
            }
            for o in orders
        ],
    }


def orders_csv(orders: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for o in orders:
        writer.writerow(o)
    return buf.getvalue()
