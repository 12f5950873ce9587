"""Embedded SQLite time-series back end for laptops and the demo (same interface as InfluxDB)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from hub.store.base import Point, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    tags TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    device_id TEXT,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, tags, time_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_device ON points (measurement, device_id, time_ns);
"""


class SQLiteStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def write(self, points: list[Point]) -> None:
        rows = [
            (
                p.measurement,
                json.dumps(p.tags, sort_keys=True),
                p.time_ns,
                p.tags.get("device_id"),
                json.dumps(p.fields),
            )
            for p in points
        ]
        try:
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT INTO points VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET fields=excluded.fields", rows
                )
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite write failed: {exc}") from exc

    def recent(self, measurement: str, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT time_ns, tags, fields FROM points WHERE measurement=? AND device_id=? "
                "ORDER BY time_ns DESC LIMIT ?",
                (measurement, device_id, limit),
            ).fetchall()
        return [{"time": t // 1_000_000, **json.loads(tags), **json.loads(fields)} for t, tags, fields in rows]

    def select(self, measurement: str, start_ns: int = 0, end_ns: int = 2**63 - 1) -> list[dict[str, Any]]:
        """All rows of a measurement in a time range, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time_ns, tags, fields FROM points WHERE measurement=? AND time_ns BETWEEN ? AND ? "
                "ORDER BY time_ns",
                (measurement, start_ns, end_ns),
            ).fetchall()
        return [{"time": t // 1_000_000, **json.loads(tags), **json.loads(fields)} for t, tags, fields in rows]

    def count(self, measurement: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM points WHERE measurement=?", (measurement,)).fetchone()[0]

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
