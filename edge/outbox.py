"""Durable outbox: every message stays in SQLite until the hub acknowledges its seq.

SQLite in WAL mode with ``synchronous=FULL`` fsyncs every commit, so a message the
agent has accepted survives a power cut. Sequence numbers come from an
AUTOINCREMENT key and are never reused, also across restarts.

Drop policy when the cap is reached: the oldest message of the lowest priority is
dropped first (telemetry before alerts), and ``dropped`` counts every loss; the
count is persisted and reported in the heartbeat.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    body TEXT NOT NULL,
    ts INTEGER NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_priority ON messages (priority, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    seq: int
    stream: str
    body: str  # JSON text of the body
    ts: int


class Outbox:
    """A durable FIFO keyed by seq. Thread-safe."""

    def __init__(self, path: Path | str, max_messages: int = 500_000, fsync: bool = True) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self._depth = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    # -- writing -------------------------------------------------------------------------------
    def put(self, stream: str, body: str, ts: int, priority: int = 0) -> int:
        return self.put_many([(stream, body, ts, priority)])[0]

    def put_many(self, items: Sequence[tuple[str, str, int, int]]) -> list[int]:
        """Store messages in one transaction (one fsync); returns their seqs."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                overflow = self._depth + len(items) - self.max_messages
                if overflow > 0:
                    self._drop(overflow)
                seqs = []
                for stream, body, ts, priority in items:
                    cur = self._db.execute(
                        "INSERT INTO messages (stream, body, ts, priority) VALUES (?,?,?,?)",
                        (stream, body, ts, priority),
                    )
                    seqs.append(int(cur.lastrowid or 0))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth += len(items)
            return seqs

    def _drop(self, n: int) -> None:
        cur = self._db.execute(
            "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages ORDER BY priority, seq LIMIT ?)", (n,)
        )
        dropped = cur.rowcount
        self._depth -= dropped
        self._bump("dropped", dropped)

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete acknowledged messages; returns how many were still here."""
        batch = [(s,) for s in seqs]
        if not batch:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany("DELETE FROM messages WHERE seq = ?", batch)
            removed = self._db.total_changes - before
            self._db.execute("COMMIT")
            self._depth -= removed
            return removed

    # -- reading -------------------------------------------------------------------------------
    def after(self, seq: int, limit: int, upto: int | None = None) -> list[OutboxMessage]:
        """Messages with seq > ``seq`` (and ≤ ``upto``), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, stream, body, ts FROM messages WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (seq, upto if upto is not None else 2**62, limit),
            ).fetchall()
        return [OutboxMessage(*row) for row in rows]

    def get(self, seqs: Iterable[int]) -> list[OutboxMessage]:
        wanted = list(seqs)
        out: list[OutboxMessage] = []
        with self._lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                out += [
                    OutboxMessage(*row)
                    for row in self._db.execute(
                        f"SELECT seq, stream, body, ts FROM messages WHERE seq IN ({marks}) ORDER BY seq", chunk
                    )
                ]
        return out

    def last_seq(self) -> int:
        """Highest seq ever issued (also when that message is already acknowledged)."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='messages'").fetchone()
        return int(row[0]) if row else 0

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def dropped(self) -> int:
        return self._meta("dropped")

    # -- session counter (for birth / last will) -------------------------------------------------
    def next_session(self) -> int:
        with self._lock:
            self._bump("session", 1)
        return self._meta("session")

    def _meta(self, key: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, key: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + ?",
            (key, by, by),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
