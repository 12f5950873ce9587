"""InfluxDB back end: line protocol to the v1 ``/write`` endpoint, InfluxQL on ``/query``.

That path works on InfluxDB 1.x, on 2.x (v1 compatibility API with a DBRP mapping)
and on 3.x. With a token and org configured, writes go through ``influxdb-client``'s
v2 write API instead (InfluxDB 1.8+ / 2.x / 3.x).
"""

from __future__ import annotations

import logging
import math
import threading
from functools import lru_cache
from typing import Any

import httpx

from hub.store.base import Point, StoreError

log = logging.getLogger(__name__)


@lru_cache(maxsize=65536)
def _escape_key(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_measurement(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", r"\,").replace(" ", r"\ ")


def _field_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite float")
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


@lru_cache(maxsize=65536)
def _series_key(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    return _escape_measurement(measurement) + "".join(
        f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(tags) if v != ""
    )


def to_line(point: Point) -> str | None:
    """One line of line protocol, or None when the point has no writable field."""
    fields = []
    for key, value in point.fields.items():
        try:
            fields.append(f"{_escape_key(key)}={_field_value(value)}")
        except ValueError:
            continue
    if not fields:
        return None
    return f"{_series_key(point.measurement, tuple(point.tags.items()))} {','.join(fields)} {point.time_ns}"


class InfluxV1Store:
    """Writes and queries over InfluxDB's v1 HTTP API."""

    def __init__(
        self,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        create_database: bool = True,
        retention_policy: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self._auth = (username, password) if username else None
        self._timeout = timeout_s
        self._local = threading.local()
        if create_database:
            try:
                self.query(f'CREATE DATABASE "{database}"', write=True)
            except StoreError as exc:
                log.warning("could not create database yet", extra={"error": str(exc)})

    @property
    def _http(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.url, timeout=self._timeout, auth=self._auth)
            self._local.client = client
        return client

    def write(self, points: list[Point]) -> None:
        lines = [line for line in map(to_line, points) if line]
        if not lines:
            return
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            resp = self._http.post("/write", params=params, content="\n".join(lines).encode())
        except httpx.HTTPError as exc:
            raise StoreError(f"InfluxDB unreachable at {self.url}: {exc}") from exc
        if resp.status_code != 204:
            raise StoreError(f"InfluxDB write failed with {resp.status_code}: {resp.text[:300]}")

    def query(self, influxql: str, write: bool = False, epoch: str = "ms") -> list[dict[str, Any]]:
        """Run InfluxQL; returns the series of the first statement (``name``, ``tags``, ``columns``, ``values``)."""
        try:
            if write:
                resp = self._http.post("/query", data={"q": influxql, "db": self.database})
            else:
                resp = self._http.get("/query", params={"q": influxql, "db": self.database, "epoch": epoch})
        except httpx.HTTPError as exc:
            raise StoreError(f"InfluxDB unreachable at {self.url}: {exc}") from exc
        if resp.status_code != 200:
            raise StoreError(f"InfluxDB query failed with {resp.status_code}: {resp.text[:300]}")
        results = resp.json().get("results", [{}])
        if results and "error" in results[0]:
            raise StoreError(f"InfluxQL error: {results[0]['error']}")
        return results[0].get("series", []) if results else []

    def rows(self, influxql: str) -> list[dict[str, Any]]:
        """Query flattened to one dict per row (tags of GROUP BY included)."""
        out = []
        for series in self.query(influxql):
            for values in series.get("values", []):
                row = dict(zip(series["columns"], values, strict=False))
                row.update(series.get("tags") or {})
                out.append(row)
        return out

    def recent(self, measurement: str, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        safe_device = device_id.replace("'", "")
        safe_measurement = measurement.replace('"', "")
        return self.rows(
            f'SELECT * FROM "{safe_measurement}" WHERE "device_id" = \'{safe_device}\' '
            f"ORDER BY time DESC LIMIT {int(limit)}"
        )

    def ping(self) -> bool:
        try:
            return self._http.get("/ping").status_code == 204
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()


class InfluxV2Store(InfluxV1Store):
    """Writes through ``influxdb-client`` (v2 API, token auth); reads with InfluxQL via the v1 API."""

    def __init__(self, url: str, database: str, token: str, org: str, **kwargs: Any) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        super().__init__(url, database, create_database=False, **kwargs)
        self._client = InfluxDBClient(url=url, token=token, org=org)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._http.headers["Authorization"] = f"Token {token}"

    def write(self, points: list[Point]) -> None:
        lines = [line for line in map(to_line, points) if line]
        if not lines:
            return
        try:
            self._write_api.write(bucket=self.database, record=lines, write_precision="ns")
        except Exception as exc:  # the client raises several unrelated types
            raise StoreError(f"InfluxDB v2 write failed: {exc}") from exc

    def close(self) -> None:
        self._client.close()
        super().close()
