"""Domain state of the spine in SQLite: the device registry and the dead-letter store."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol import Status

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'unknown',
    session INTEGER NOT NULL DEFAULT 0,
    state_changed REAL,
    agent_version TEXT NOT NULL DEFAULT '',
    pipelines TEXT NOT NULL DEFAULT '[]',
    messages INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT 0,
    outbox_depth INTEGER,
    outbox_dropped INTEGER,
    registered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    device_id TEXT,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _connect(path: Path | str) -> sqlite3.Connection:
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes of the process
    db.executescript(_SCHEMA)
    return db


@dataclass
class Liveness:
    device_id: str
    online: bool
    state: str  # online | offline | stale | unknown
    last_seen_age_s: float


class DeviceRegistry:
    """Birth, last seen, online/offline from status messages (stale last wills ignored) and staleness."""

    def __init__(self, path: Path | str, stale_after_s: float = 120.0) -> None:
        self._db = _connect(path)
        self._lock = threading.Lock()
        self.stale_after_s = stale_after_s

    def register(self, device_id: str, site: str) -> None:
        """Pre-register a device (when registration is required, unknown devices are dead-lettered)."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO devices (device_id, site, first_seen, last_seen, registered) VALUES (?,?,?,?,1) "
                "ON CONFLICT(device_id) DO UPDATE SET registered=1, site=excluded.site",
                (device_id, site, now, 0),
            )

    def is_registered(self, device_id: str) -> bool:
        return self.registered_site(device_id) is not None

    def registered_site(self, device_id: str) -> str | None:
        """The site a pre-registered device belongs to; None when it was never registered."""
        with self._lock:
            row = self._db.execute("SELECT registered, site FROM devices WHERE device_id=?", (device_id,)).fetchone()
        return row["site"] if row and row["registered"] else None

    def on_status(self, site: str, status: Status) -> bool:
        """Apply a birth or last will. Returns False when it was ignored as stale."""
        now = time.time()
        with self._lock, self._db:
            row = self._db.execute("SELECT session FROM devices WHERE device_id=?", (status.device_id,)).fetchone()
            if row and status.session < row["session"]:
                return False
            self._db.execute(
                "INSERT INTO devices (device_id, site, first_seen, last_seen, state, session, state_changed, "
                "agent_version, pipelines) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(device_id) DO UPDATE SET "
                "state=excluded.state, session=excluded.session, state_changed=excluded.state_changed, "
                "site=CASE WHEN registered = 1 THEN site ELSE excluded.site END, "
                "agent_version=CASE WHEN excluded.agent_version != '' "
                "THEN excluded.agent_version ELSE agent_version END, "
                "pipelines=CASE WHEN excluded.pipelines != '[]' THEN excluded.pipelines ELSE pipelines END, "
                "last_seen=CASE WHEN excluded.state = 'online' THEN excluded.last_seen ELSE last_seen END",
                (
                    status.device_id,
                    site,
                    now,
                    now,
                    status.state,
                    status.session,
                    now,
                    status.agent_version,
                    json.dumps(status.pipelines),
                ),
            )
        return True

    def seen(self, batch: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Record traffic: ``{(device_id, site): (message count, highest seq)}``."""
        now = time.time()
        with self._lock, self._db:
            for (device_id, site), (count, last_seq) in batch.items():
                self._db.execute(
                    "INSERT INTO devices (device_id, site, first_seen, last_seen, messages, last_seq) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT(device_id) DO UPDATE SET last_seen=excluded.last_seen, "
                    "messages=messages+excluded.messages, last_seq=MAX(last_seq, excluded.last_seq)",
                    (device_id, site, now, now, count, last_seq),
                )

    def outbox(self, device_id: str, depth: int, dropped: int) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE devices SET outbox_depth=?, outbox_dropped=? WHERE device_id=?", (depth, dropped, device_id)
            )

    def liveness(self, row: sqlite3.Row | dict[str, Any], now: float | None = None) -> Liveness:
        now = time.time() if now is None else now
        age = now - row["last_seen"] if row["last_seen"] else float("inf")
        state = row["state"]
        if state == "online" and age > self.stale_after_s:
            state = "stale"
        return Liveness(row["device_id"], state == "online", state, round(age, 1))

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM devices ORDER BY site, device_id").fetchall()
        return [self._public(r) for r in rows]

    def get(self, device_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM devices WHERE device_id=?", (device_id,)).fetchone()
        return self._public(row) if row else None

    def _public(self, row: sqlite3.Row) -> dict[str, Any]:
        data = dict(row)
        data["pipelines"] = json.loads(data["pipelines"])
        data["registered"] = bool(data["registered"])
        live = self.liveness(row)
        data["liveness"] = live.state
        data["last_seen_age_s"] = live.last_seen_age_s
        return data

    def close(self) -> None:
        self._db.close()


class DeadLetterStore:
    """Malformed messages with the reason and the raw bytes (bounded), newest kept."""

    def __init__(self, path: Path | str, max_rows: int = 100_000, max_payload: int = 64 * 1024) -> None:
        self._db = _connect(path)
        self._lock = threading.Lock()
        self.max_rows = max_rows
        self.max_payload = max_payload
        self._inserted = 0

    def add(self, topic: str, payload: bytes, reason: str, device_id: str | None = None) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO dead_letters (received, topic, reason, device_id, size, payload) VALUES (?,?,?,?,?,?)",
                (time.time(), topic[:512], reason[:1000], device_id, len(payload), payload[: self.max_payload]),
            )
            self._db.execute(
                "INSERT INTO counters VALUES ('dead_letters', 1) ON CONFLICT(key) DO UPDATE SET value=value+1"
            )
            self._inserted += 1
            if self._inserted % 1000 == 0:
                self._db.execute(
                    "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?", (self.max_rows,)
                )

    def list(self, limit: int = 100, device_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM dead_letters WHERE (? IS NULL OR device_id = ?) ORDER BY id DESC LIMIT ?",
                (device_id, device_id, limit),
            ).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            raw: bytes = item.pop("payload")
            item["payload_text"] = raw.decode("utf-8", errors="replace")[:4096]
            item["truncated"] = item["size"] > len(raw)
            out.append(item)
        return out

    def total(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE key='dead_letters'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._db.close()
