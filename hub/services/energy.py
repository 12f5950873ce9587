"""Hub side of building energy: findings ranked by kWh and DKK per year, savings to date per building, and setpoint
commands sent to building agents on ``<prefix>/<site>/<device>/cmd``."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

import protocol.streams.energy  # noqa: F401  (registers the energy streams)
from hub.domain import DomainService, HubContext
from protocol import Body, Command, Envelope, Topic
from protocol.envelope import DEVICE_ID_PATTERN
from protocol.streams.energy import EnergyFinding, EnergyMeter, SetpointApplied

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (device_id TEXT, seq INTEGER, PRIMARY KEY (device_id, seq));
CREATE TABLE IF NOT EXISTS findings (
    finding_id TEXT PRIMARY KEY, device_id TEXT, site TEXT, building TEXT, kind TEXT, zone TEXT,
    status TEXT, first_seen_ts INTEGER, updated_ts INTEGER, kwh_per_year REAL, dkk_per_year REAL, evidence TEXT);
CREATE TABLE IF NOT EXISTS savings (
    building TEXT PRIMARY KEY, device_id TEXT, site TEXT, hours REAL, actual_kwh REAL, baseline_kwh REAL,
    modelled_hours REAL, cost_dkk REAL, last_ts INTEGER);
CREATE TABLE IF NOT EXISTS setpoints (
    device_id TEXT, seq INTEGER, ts INTEGER, building TEXT, zone TEXT, kind TEXT, source TEXT, requested REAL,
    applied REAL, clamped INTEGER, command_id TEXT, PRIMARY KEY (device_id, seq));
"""


class EnergyBook:
    """SQLite repository of findings, savings and applied setpoints; every write is idempotent on (device, seq)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        with self.lock:
            self.db.executescript(SCHEMA)

    def _first_time(self, device_id: str, seq: int) -> bool:
        cur = self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (device_id, seq))
        return cur.rowcount == 1

    def add_finding(self, site: str, device_id: str, seq: int, ts: int, f: EnergyFinding) -> None:
        with self.lock, self.db:
            if not self._first_time(device_id, seq):
                return
            status = "open" if f.state == "raised" else "cleared"
            self.db.execute(
                """INSERT INTO findings VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(finding_id) DO UPDATE SET status=excluded.status, updated_ts=excluded.updated_ts,
                   kwh_per_year=excluded.kwh_per_year, dkk_per_year=excluded.dkk_per_year, evidence=excluded.evidence
                   WHERE excluded.updated_ts >= findings.updated_ts""",
                (
                    f.finding_id,
                    device_id,
                    site,
                    f.building,
                    f.kind,
                    f.zone,
                    status,
                    f.first_seen_ts,
                    ts,
                    f.kwh_per_year,
                    f.dkk_per_year,
                    f.evidence,
                ),
            )

    def add_meter(self, site: str, device_id: str, seq: int, ts: int, m: EnergyMeter) -> None:
        with self.lock, self.db:
            if not self._first_time(device_id, seq):
                return
            actual = m.electricity_kwh + m.heat_kwh
            modelled = m.baseline_kwh is not None
            self.db.execute(
                """INSERT INTO savings VALUES (?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(building) DO UPDATE SET hours=hours+excluded.hours,
                   actual_kwh=actual_kwh+excluded.actual_kwh, baseline_kwh=baseline_kwh+excluded.baseline_kwh,
                   modelled_hours=modelled_hours+excluded.modelled_hours, cost_dkk=cost_dkk+excluded.cost_dkk,
                   last_ts=max(last_ts, excluded.last_ts)""",
                (
                    m.building,
                    device_id,
                    site,
                    m.interval_s / 3600,
                    actual if modelled else 0.0,
                    m.baseline_kwh or 0.0,
                    m.interval_s / 3600 if modelled else 0.0,
                    m.cost_dkk or 0.0,
                    ts,
                ),
            )

    def add_setpoint(self, device_id: str, seq: int, ts: int, s: SetpointApplied) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO setpoints VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    device_id,
                    seq,
                    ts,
                    s.building,
                    s.zone,
                    s.kind,
                    s.source,
                    s.requested,
                    s.applied,
                    int(s.clamped),
                    s.command_id,
                ),
            )

    def findings(self, status: str | None, building: str | None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM findings WHERE 1=1", []
        if status:
            sql += " AND status = ?"
            args.append(status)
        if building:
            sql += " AND building = ?"
            args.append(building)
        sql += " ORDER BY dkk_per_year DESC, kwh_per_year DESC"
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args)]

    def set_status(self, finding_id: str, status: str) -> bool:
        with self.lock, self.db:
            cur = self.db.execute(
                "UPDATE findings SET status=?, updated_ts=? WHERE finding_id=?",
                (status, int(time.time() * 1000), finding_id),
            )
            return cur.rowcount == 1

    def savings(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = [dict(r) for r in self.db.execute("SELECT * FROM savings ORDER BY building")]
        for r in rows:
            r["saved_kwh"] = r["baseline_kwh"] - r["actual_kwh"]
            r["saved_fraction"] = r["saved_kwh"] / r["baseline_kwh"] if r["baseline_kwh"] else None
        return rows

    def setpoints(self, building: str | None, limit: int) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM setpoints", []
        if building:
            sql += " WHERE building = ?"
            args.append(building)
        sql += " ORDER BY ts DESC LIMIT ?"
        args.append(limit)
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args)]


class CommandRequest(BaseModel):
    """A setpoint (with a time to live), a manual override, its release, or a mode change for one building."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(pattern=DEVICE_ID_PATTERN)
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    action: Literal["setpoint", "override", "release", "mode"]
    building: str | None = None
    zone: str | None = None
    heat_sp_c: float | None = Field(None, ge=5, le=30)
    cool_sp_c: float | None = Field(None, ge=15, le=35)
    vent_fraction: float | None = Field(None, ge=0, le=2)
    ttl_s: int = Field(3600, ge=60, le=7 * 86400)
    mode: Literal["control", "monitor"] | None = None


class FindingStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "acknowledged", "fixed", "dismissed"]


def build_command(req: CommandRequest) -> Command:
    """The protocol command for a request; raises ValueError with a sentence when the request is incomplete."""
    args: dict[str, Any] = {}
    if req.building:
        args["building"] = req.building
    if req.action == "mode":
        if req.mode is None:
            raise ValueError("a mode change needs 'mode' (control or monitor)")
        args["mode"] = req.mode
    else:
        if not req.zone:
            raise ValueError(f"'{req.action}' needs the zone (or air handler) it applies to")
        args["zone"] = req.zone
    if req.action in ("setpoint", "override"):
        values = {k: v for k in ("heat_sp_c", "cool_sp_c", "vent_fraction") if (v := getattr(req, k)) is not None}
        if not values:
            raise ValueError("give heat_sp_c, cool_sp_c or vent_fraction")
        args.update(values)
        args["ttl_s" if req.action == "setpoint" else "duration_s"] = req.ttl_s
    return Command(id=uuid.uuid4().hex[:16], action=f"energy.{req.action}", args=args, ts=int(time.time() * 1000))


class EnergyService(DomainService):
    """Findings ranked by money at stake, savings to date and setpoint commands for building agents."""

    name = "energy"
    streams = ("energy/finding", "energy/meter", "energy/setpoint")

    def __init__(self, ctx: HubContext) -> None:
        super().__init__(ctx)
        self.book = EnergyBook(Path(ctx.state_dir) / "energy.sqlite")

    def handle(self, topic: Topic, envelope: Envelope, body: Body) -> None:
        if isinstance(body, EnergyFinding):
            self.book.add_finding(topic.site, envelope.device_id, envelope.seq, envelope.ts, body)
        elif isinstance(body, EnergyMeter):
            self.book.add_meter(topic.site, envelope.device_id, envelope.seq, envelope.ts, body)
        elif isinstance(body, SetpointApplied):
            self.book.add_setpoint(envelope.device_id, envelope.seq, envelope.ts, body)

    def send(self, req: CommandRequest) -> Command:
        command = build_command(req)
        topic = Topic(self.ctx.prefix, req.site, req.device_id, "cmd")
        self.ctx.publish(str(topic), command.encode(), False)
        log.info("energy command sent", extra={"topic": str(topic), "action": command.action, "id": command.id})
        return command

    def router(self) -> APIRouter:
        r = APIRouter(prefix="/energy", tags=["energy"])

        @r.get("/findings")
        def findings(status: str | None = "open", building: str | None = None) -> list[dict[str, Any]]:
            """Findings, most expensive first (DKK per year, then kWh per year)."""
            return self.book.findings(status or None, building)

        @r.post("/findings/{finding_id}/status")
        def set_status(finding_id: str, body: FindingStatus) -> dict[str, str]:
            if not self.book.set_status(finding_id, body.status):
                raise HTTPException(404, detail=f"There is no finding {finding_id!r}.")
            return {"finding_id": finding_id, "status": body.status}

        @r.get("/savings")
        def savings() -> list[dict[str, Any]]:
            """Energy per building since the baseline model was fitted, against what it predicts."""
            return self.book.savings()

        @r.get("/setpoints")
        def setpoints(building: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
            return self.book.setpoints(building, min(max(limit, 1), 1000))

        @r.post("/commands", status_code=202)
        def command(req: CommandRequest) -> dict[str, Any]:
            """Send a setpoint, manual override, release or mode change; the agent clamps to its safety limits and
            answers on ``cmd/result`` and ``energy/setpoint``."""
            try:
                cmd = self.send(req)
            except ValueError as exc:
                raise HTTPException(422, detail=str(exc)) from None
            return {"command_id": cmd.id, "action": cmd.action, "args": cmd.args}

        return r
