"""Build a store from a URL: ``sqlite:///path/to/file.sqlite``, ``influx://host:8086/db`` (v1 API),
``influx+https://user:pass@host/db``, or ``influx2://host:8086/bucket?org=..&token=..``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from hub.store.base import TimeSeriesStore


def make_store(url: str) -> TimeSeriesStore:
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme == "sqlite":
        from hub.store.sqlite import SQLiteStore

        return SQLiteStore(parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path)
    if scheme in {"influx", "influx+http", "influx+https", "influx2"}:
        from hub.store.influx import InfluxV1Store, InfluxV2Store

        http = "https" if scheme.endswith("https") else "http"
        host = parsed.hostname or "localhost"
        port = f":{parsed.port}" if parsed.port else ""
        base = f"{http}://{host}{port}"
        database = parsed.path.strip("/") or "kommune"
        if scheme == "influx2":
            query = parse_qs(parsed.query)
            return InfluxV2Store(base, database, token=query["token"][0], org=query.get("org", ["kommune"])[0])
        return InfluxV1Store(base, database, username=parsed.username, password=parsed.password)
    raise ValueError(f"unknown store URL scheme {scheme!r}; use sqlite:///file, influx://host:port/db or influx2://")
