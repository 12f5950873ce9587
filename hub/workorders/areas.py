"""Contractor areas as GeoJSON polygons: which contractor a damage belongs to, and how to reach them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Ring = list[tuple[float, float]]  # (lon, lat) as GeoJSON orders them


@dataclass(frozen=True)
class ContractorArea:
    """One contractor's area. ``token`` authenticates the contractor's status calls (from an env var)."""

    contractor: str
    polygons: tuple[tuple[Ring, ...], ...]  # each polygon: outer ring, then holes
    webhook_url: str | None = None
    email: str | None = None
    token: str | None = None

    def contains(self, lat: float, lon: float) -> bool:
        return any(_in_polygon(lon, lat, poly) for poly in self.polygons)


def _in_ring(x: float, y: float, ring: Ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _in_polygon(x: float, y: float, polygon: tuple[Ring, ...]) -> bool:
    return bool(polygon) and _in_ring(x, y, polygon[0]) and not any(_in_ring(x, y, hole) for hole in polygon[1:])


def _env(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), value) or None
    return value


def parse_areas(doc: dict[str, Any]) -> list[ContractorArea]:
    """Areas from a GeoJSON FeatureCollection; ``properties``: contractor, webhook_url, email, token
    (``${ENV}`` references are resolved, so tokens stay out of the file)."""
    out = []
    for feature in doc.get("features", []):
        geom, props = feature.get("geometry") or {}, feature.get("properties") or {}
        coords = geom.get("coordinates", [])
        if geom.get("type") == "Polygon":
            polys = [coords]
        elif geom.get("type") == "MultiPolygon":
            polys = coords
        else:
            continue
        polygons = tuple(tuple([(float(p[0]), float(p[1])) for p in ring] for ring in poly) for poly in polys)
        out.append(ContractorArea(str(props["contractor"]), polygons, _env(props.get("webhook_url")),
                                  _env(props.get("email")), _env(props.get("token"))))
    return out


def load_areas(path: Path | str | None) -> list[ContractorArea]:
    if not path:
        return []
    return parse_areas(json.loads(Path(path).read_text()))


def area_for(areas: list[ContractorArea], lat: float, lon: float) -> ContractorArea | None:
    return next((a for a in areas if a.contains(lat, lon)), None)
