"""Hub side of traffic counting: keeps every count bin in SQLite (idempotent on the bin, so a re-sent
bin never counts twice) and serves counts for a device and period as JSON or CSV."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response

import protocol.streams.traffic  # noqa: F401  (registers the traffic streams)
from hub.domain import DomainService, HubContext
from protocol import Body, Envelope, Topic
from protocol.streams.traffic import TrafficCounts

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    device_id TEXT NOT NULL, site TEXT NOT NULL, line TEXT NOT NULL, bin_start INTEGER NOT NULL,
    bin_s INTEGER NOT NULL, class TEXT NOT NULL, direction TEXT NOT NULL, count INTEGER NOT NULL,
    flags TEXT NOT NULL, partial INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (device_id, line, bin_start, class, direction));
CREATE INDEX IF NOT EXISTS counts_time ON counts (device_id, bin_start);
"""
CSV_COLUMNS = ("device_id", "site", "line", "bin_start", "bin_s", "class", "direction", "count", "flagged", "flags",
               "partial")
MAX_RANGE_DAYS = 400


class CountBook:
    """SQLite repository of count bins; a bin sent twice (agent restart, outbox re-send) is stored once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        with self.lock:
            self.db.executescript(SCHEMA)

    def add(self, site: str, device_id: str, seq: int, body: TrafficCounts) -> None:
        rows = [
            (device_id, site, body.line, body.bin_start, body.bin_s, cls, direction, n, ",".join(body.flags),
             int(body.partial), seq)
            for cls, per_direction in body.counts.items()
            for direction, n in per_direction.items()
        ]
        with self.lock, self.db:
            self.db.executemany(
                "INSERT INTO counts VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "count=excluded.count, flags=excluded.flags, partial=excluded.partial, seq=excluded.seq",
                rows,
            )

    def query(self, device_id: str, start_ms: int, end_ms: int, line: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM counts WHERE device_id=? AND bin_start>=? AND bin_start<?"
        args: list[Any] = [device_id, start_ms, end_ms]
        if line:
            sql += " AND line=?"
            args.append(line)
        with self.lock:
            rows = self.db.execute(sql + " ORDER BY bin_start, line, class, direction", args).fetchall()
        return [dict(r) for r in rows]

    def devices(self) -> list[str]:
        with self.lock:
            return [r[0] for r in self.db.execute("SELECT DISTINCT device_id FROM counts ORDER BY device_id")]

    def close(self) -> None:
        with self.lock:
            self.db.close()


def parse_time(value: str, name: str) -> int:
    """ISO 8601 (``2026-01-05T08:00:00Z``; naive = UTC) or epoch milliseconds → epoch ms."""
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        detail = f"{name} must be an ISO 8601 time or epoch milliseconds, not {value!r}"
        raise HTTPException(422, detail=detail) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def totals(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """Sum per line → class → direction."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        per_dir = out.setdefault(r["line"], {}).setdefault(r["class"], {})
        per_dir[r["direction"]] = per_dir.get(r["direction"], 0) + r["count"]
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r["device_id"], r["site"], r["line"], iso(r["bin_start"]), r["bin_s"], r["class"],
                         r["direction"], r["count"], int(bool(r["flags"])), r["flags"], r["partial"]])
    return buf.getvalue()


class TrafficService(DomainService):
    """Traffic counts per device, line, class, direction and bin."""

    name = "traffic"
    streams = ("traffic/counts",)

    def __init__(self, ctx: HubContext) -> None:
        super().__init__(ctx)
        self.book = CountBook(Path(ctx.state_dir) / "traffic.sqlite")

    def handle(self, topic: Topic, envelope: Envelope, body: Body) -> None:
        if isinstance(body, TrafficCounts):
            self.book.add(topic.site, envelope.device_id, envelope.seq, body)

    def stop(self) -> None:
        self.book.close()

    def router(self) -> APIRouter:
        r = APIRouter(prefix="/traffic", tags=["traffic"])

        @r.get("/devices")
        def devices() -> list[str]:
            """Devices that have sent counts."""
            return self.book.devices()

        @r.get("/{device_id}/counts", response_model=None)
        def counts(
            device_id: str,
            start: str = Query(..., description="ISO 8601 time or epoch ms (inclusive)"),
            end: str = Query(..., description="ISO 8601 time or epoch ms (exclusive)"),
            line: str | None = Query(None, description="only this counting line"),
            format: Literal["json", "csv"] = Query("json", description="json or csv"),
        ) -> dict[str, Any] | Response:
            """Count bins of a device in ``[start, end)``: per line × class × direction, flagged when the
            camera's health was in doubt during the bin."""
            start_ms, end_ms = parse_time(start, "start"), parse_time(end, "end")
            if end_ms <= start_ms:
                raise HTTPException(422, detail="end must be after start")
            if end_ms - start_ms > MAX_RANGE_DAYS * 86_400_000:
                raise HTTPException(422, detail=f"ask for at most {MAX_RANGE_DAYS} days at a time")
            rows = self.book.query(device_id, start_ms, end_ms, line)
            if not rows and device_id not in self.book.devices():
                raise HTTPException(404, detail=f"no traffic counts from device {device_id!r}")
            if format == "csv":
                return Response(
                    to_csv(rows),
                    media_type="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=traffic-{device_id}.csv"},
                )
            return {
                "device_id": device_id,
                "start": iso(start_ms),
                "end": iso(end_ms),
                "totals": totals(rows),
                "flagged_bins": len({(r["line"], r["bin_start"]) for r in rows if r["flags"]}),
                "bins": [
                    {
                        "bin_start": iso(r["bin_start"]),
                        "bin_s": r["bin_s"],
                        "line": r["line"],
                        "class": r["class"],
                        "direction": r["direction"],
                        "count": r["count"],
                        "flagged": bool(r["flags"]),
                        "flags": [f for f in r["flags"].split(",") if f],
                        "partial": bool(r["partial"]),
                    }
                    for r in rows
                ],
            }

        return r
