"""SQLite repository of alerts, their history, processed messages, staff, sessions and push subscriptions."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hub.alerts.model import Alert

_SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS messages (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, received_at REAL NOT NULL, PRIMARY KEY (device_id, seq));
CREATE TABLE IF NOT EXISTS events (
    device_id TEXT NOT NULL, event_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    related_event_id TEXT, alert_id TEXT, received_at REAL NOT NULL, PRIMARY KEY (device_id, event_id));
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, care_home TEXT NOT NULL, room TEXT NOT NULL, device_id TEXT NOT NULL, site TEXT NOT NULL,
    kind TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL, text_da TEXT NOT NULL, text_en TEXT NOT NULL,
    event_id TEXT NOT NULL, started_ts INTEGER NOT NULL, opened_at REAL NOT NULL, resident TEXT,
    acknowledged_at REAL, acknowledged_by TEXT, resolved_at REAL, resolution TEXT,
    round INTEGER NOT NULL DEFAULT 0, muted INTEGER NOT NULL DEFAULT 0, clip TEXT, details TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_home ON alerts (care_home, state, opened_at);
CREATE TABLE IF NOT EXISTS alert_log (
    alert_id TEXT NOT NULL, ts REAL NOT NULL, action TEXT NOT NULL, actor TEXT, note TEXT);
CREATE INDEX IF NOT EXISTS alert_log_alert ON alert_log (alert_id, ts);
CREATE TABLE IF NOT EXISTS staff (
    id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL UNIQUE, care_home TEXT NOT NULL,
    name TEXT NOT NULL, password_hash TEXT NOT NULL, on_shift INTEGER NOT NULL DEFAULT 0,
    rooms TEXT NOT NULL DEFAULT '[]', language TEXT NOT NULL DEFAULT 'da');
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY, staff_id INTEGER NOT NULL, created REAL NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    endpoint TEXT PRIMARY KEY, staff_id INTEGER NOT NULL, p256dh TEXT NOT NULL, auth TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, round INTEGER NOT NULL, audience TEXT NOT NULL,
    staff_id INTEGER NOT NULL, endpoint TEXT NOT NULL, sent_at REAL NOT NULL, status TEXT NOT NULL);
"""

_ALERT_COLUMNS = tuple(f.name for f in fields(Alert))


@dataclass
class Staff:
    """A care-staff account; it sees only its own care home."""

    id: int
    username: str
    care_home: str
    name: str
    on_shift: bool
    rooms: list[str] = field(default_factory=list)
    language: str = "da"

    def public(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Subscription:
    """A browser's Web Push subscription (the PushSubscription JSON, flattened)."""

    endpoint: str
    staff_id: int
    p256dh: str
    auth: str

    def info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class AlertStore:
    """One SQLite file; every method is thread-safe (ingest, API and timer threads share it)."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    # messages and events (idempotency) --------------------------------------------------
    def remember_message(self, device_id: str, seq: int, now: float) -> bool:
        """Record ``(device_id, seq)``; False when it was seen before."""
        cur = self._run("INSERT OR IGNORE INTO messages VALUES (?, ?, ?)", (device_id, seq, now))
        return cur.rowcount == 1

    def event(self, device_id: str, event_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM events WHERE device_id=? AND event_id=?", (device_id, event_id))

    def events_relating_to(self, device_id: str, event_id: str) -> list[sqlite3.Row]:
        return self._all(
            "SELECT * FROM events WHERE device_id=? AND related_event_id=? ORDER BY seq", (device_id, event_id)
        )

    def add_event(
        self, device_id: str, event_id: str, seq: int, kind: str, related: str | None, alert_id: str | None, now: float
    ) -> None:
        self._run(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", (device_id, event_id, seq, kind, related, alert_id, now)
        )

    # alerts --------------------------------------------------------------------------------
    def save_alert(self, alert: Alert) -> None:
        values = [getattr(alert, name) for name in _ALERT_COLUMNS]
        values[_ALERT_COLUMNS.index("clip")] = json.dumps(alert.clip) if alert.clip is not None else None
        values[_ALERT_COLUMNS.index("details")] = json.dumps(alert.details)
        values[_ALERT_COLUMNS.index("muted")] = int(alert.muted)
        marks = ", ".join("?" * len(values))
        self._run(f"INSERT OR REPLACE INTO alerts ({', '.join(_ALERT_COLUMNS)}) VALUES ({marks})", tuple(values))

    @staticmethod
    def _alert(row: sqlite3.Row | None) -> Alert | None:
        if row is None:
            return None
        data = dict(row)
        data["clip"] = json.loads(data["clip"]) if data["clip"] else None
        data["details"] = json.loads(data["details"])
        data["muted"] = bool(data["muted"])
        return Alert(**data)

    def alert(self, alert_id: str) -> Alert | None:
        return self._alert(self._one("SELECT * FROM alerts WHERE id=?", (alert_id,)))

    def unresolved_in_room(self, device_id: str, room: str) -> list[Alert]:
        rows = self._all(
            "SELECT * FROM alerts WHERE device_id=? AND room=? AND state!='resolved' ORDER BY opened_at",
            (device_id, room),
        )
        return [a for a in map(self._alert, rows) if a is not None]

    def alerts_to_escalate(self) -> list[Alert]:
        rows = self._all("SELECT * FROM alerts WHERE state='open' AND muted=0 ORDER BY opened_at")
        return [a for a in map(self._alert, rows) if a is not None]

    def alerts_of_home(self, care_home: str, active: bool, limit: int = 100) -> list[Alert]:
        where = "state!='resolved'" if active else "state='resolved'"
        order = "opened_at ASC" if active else "COALESCE(resolved_at, opened_at) DESC"
        rows = self._all(
            f"SELECT * FROM alerts WHERE care_home=? AND {where} ORDER BY {order} LIMIT ?", (care_home, limit)
        )
        return [a for a in map(self._alert, rows) if a is not None]

    def log(self, alert_id: str, ts: float, action: str, actor: str | None = None, note: str | None = None) -> None:
        self._run("INSERT INTO alert_log VALUES (?, ?, ?, ?, ?)", (alert_id, ts, action, actor, note))

    def alert_log(self, alert_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT ts, action, actor, note FROM alert_log WHERE alert_id=? ORDER BY ts, rowid", (alert_id,)
        )
        return [dict(r) for r in rows]

    # staff and sessions ----------------------------------------------------------------------
    @staticmethod
    def _staff(row: sqlite3.Row | None) -> Staff | None:
        if row is None:
            return None
        return Staff(
            id=row["id"],
            username=row["username"],
            care_home=row["care_home"],
            name=row["name"],
            on_shift=bool(row["on_shift"]),
            rooms=json.loads(row["rooms"]),
            language=row["language"],
        )

    def add_staff(
        self, username: str, care_home: str, name: str, password_hash: str, rooms: list[str], language: str = "da"
    ) -> Staff:
        cur = self._run(
            "INSERT INTO staff (username, care_home, name, password_hash, rooms, language) VALUES (?, ?, ?, ?, ?, ?)",
            (username, care_home, name, password_hash, json.dumps(rooms), language),
        )
        staff = self.staff(int(cur.lastrowid or 0))
        assert staff is not None
        return staff

    def staff(self, staff_id: int) -> Staff | None:
        return self._staff(self._one("SELECT * FROM staff WHERE id=?", (staff_id,)))

    def staff_login(self, username: str) -> tuple[Staff, str] | None:
        row = self._one("SELECT * FROM staff WHERE username=?", (username,))
        staff = self._staff(row)
        return None if staff is None or row is None else (staff, row["password_hash"])

    def update_staff(self, staff_id: int, on_shift: bool | None = None, language: str | None = None) -> None:
        if on_shift is not None:
            self._run("UPDATE staff SET on_shift=? WHERE id=?", (int(on_shift), staff_id))
        if language is not None:
            self._run("UPDATE staff SET language=? WHERE id=?", (language, staff_id))

    def staff_of_home(self, care_home: str) -> list[Staff]:
        rows = self._all("SELECT * FROM staff WHERE care_home=? ORDER BY id", (care_home,))
        return [s for s in map(self._staff, rows) if s is not None]

    def add_token(self, digest: str, staff_id: int, now: float, expires: float) -> None:
        self._run("INSERT INTO tokens VALUES (?, ?, ?, ?)", (digest, staff_id, now, expires))

    def staff_for_token(self, digest: str, now: float) -> Staff | None:
        row = self._one("SELECT staff_id FROM tokens WHERE digest=? AND expires>?", (digest, now))
        return None if row is None else self.staff(row["staff_id"])

    def drop_token(self, digest: str) -> None:
        self._run("DELETE FROM tokens WHERE digest=?", (digest,))

    # push ----------------------------------------------------------------------------------------
    def add_subscription(self, sub: Subscription, now: float) -> None:
        self._run(
            "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?)",
            (sub.endpoint, sub.staff_id, sub.p256dh, sub.auth, now),
        )

    def subscriptions_of(self, staff_id: int) -> list[Subscription]:
        rows = self._all("SELECT endpoint, staff_id, p256dh, auth FROM subscriptions WHERE staff_id=?", (staff_id,))
        return [Subscription(**dict(r)) for r in rows]

    def drop_subscription(self, endpoint: str, staff_id: int | None = None) -> None:
        if staff_id is None:
            self._run("DELETE FROM subscriptions WHERE endpoint=?", (endpoint,))
        else:
            self._run("DELETE FROM subscriptions WHERE endpoint=? AND staff_id=?", (endpoint, staff_id))

    def add_notification(
        self, alert_id: str, round_no: int, audience: str, staff_id: int, endpoint: str, sent_at: float, status: str
    ) -> None:
        """Record one push after the push service answered (off the alert's critical path)."""
        self._run(
            "INSERT INTO notifications (alert_id, round, audience, staff_id, endpoint, sent_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (alert_id, round_no, audience, staff_id, endpoint, sent_at, status),
        )

    def notifications(self, alert_id: str) -> list[dict[str, Any]]:
        """Who was pushed what and when, with the push service's answer (the alert's audit trail)."""
        rows = self._all(
            "SELECT n.round, n.audience, s.name AS staff, n.sent_at, n.status FROM notifications n "
            "JOIN staff s ON s.id = n.staff_id WHERE n.alert_id=? ORDER BY n.sent_at, n.id",
            (alert_id,),
        )
        return [dict(r) for r in rows]

    def purge(self, before: float) -> int:
        """Delete resolved alerts (with their log, pushes and events) resolved before ``before``, and
        idempotency records and sessions older than that; returns how many alerts went."""
        with self.transaction():
            old = "SELECT id FROM alerts WHERE state='resolved' AND resolved_at < ?"
            for table, column in (("alert_log", "alert_id"), ("notifications", "alert_id"), ("events", "alert_id")):
                self._run(f"DELETE FROM {table} WHERE {column} IN ({old})", (before,))
            gone = self._run("DELETE FROM alerts WHERE state='resolved' AND resolved_at < ?", (before,)).rowcount
            self._run("DELETE FROM events WHERE alert_id IS NULL AND received_at < ?", (before,))
            self._run("DELETE FROM messages WHERE received_at < ?", (before,))
            self._run("DELETE FROM tokens WHERE expires < ?", (before,))
        return gone
