"""The work-order book: observations from all drives and vehicles clustered into one order per damage (SQLite).

Order life cycle: open → dispatched → done (contractor) → verified (a later drive passed with good frames
and saw nothing). Seen again after done/closed → reopened. An order never marked done that good passes
keep missing is closed as repaired.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.workorders.rules import priority_for, sla_due_ms

ACTIVE = ("open", "dispatched", "reopened")
CLOSED = ("verified", "repaired")
STATUSES = (*ACTIVE, "done", *CLOSED)
DAY_MS = 86_400_000
EARTH_RADIUS_M = 6_371_008.8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
  order_id INTEGER PRIMARY KEY AUTOINCREMENT, status TEXT NOT NULL, rdd_class TEXT NOT NULL, severity TEXT NOT NULL,
  lat REAL NOT NULL, lon REAL NOT NULL, sigma REAL NOT NULL, extent_m REAL DEFAULT 0,
  width REAL, length REAL, area REAL, road_class TEXT,
  priority INTEGER, sla_due_ms INTEGER, contractor TEXT, created_ms INTEGER, updated_ms INTEGER,
  first_passed_ms INTEGER, last_seen_ms INTEGER, observations INTEGER DEFAULT 0, drives INTEGER DEFAULT 0,
  clean_passes INTEGER DEFAULT 0, dispatch_pending INTEGER DEFAULT 0, dispatch_due_passed_ms INTEGER,
  dispatched_ms INTEGER, done_ms INTEGER, closed_ms INTEGER, note TEXT);
CREATE TABLE IF NOT EXISTS observations (
  device_id TEXT NOT NULL, seq INTEGER NOT NULL, observation_id TEXT NOT NULL, drive_id TEXT NOT NULL,
  order_id INTEGER, passed_ms INTEGER, lat REAL, lon REAL, sigma REAL, rdd_class TEXT, severity TEXT,
  width REAL, length REAL, area REAL, road_class TEXT, confidence REAL, heading REAL, PRIMARY KEY (device_id, seq));
CREATE INDEX IF NOT EXISTS obs_order ON observations(order_id);
CREATE INDEX IF NOT EXISTS obs_lat ON observations(lat);
CREATE TABLE IF NOT EXISTS crops (
  device_id TEXT NOT NULL, observation_id TEXT NOT NULL, jpeg BLOB NOT NULL, blurred_regions INTEGER,
  PRIMARY KEY (device_id, observation_id));
CREATE TABLE IF NOT EXISTS passes (
  order_id INTEGER NOT NULL, drive_id TEXT NOT NULL, device_id TEXT NOT NULL, ts_ms INTEGER, clean INTEGER,
  PRIMARY KEY (order_id, drive_id));
CREATE TABLE IF NOT EXISTS handled (device_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (device_id, seq));
CREATE TABLE IF NOT EXISTS events (order_id INTEGER, ts_ms INTEGER, kind TEXT, detail TEXT);
"""


def ground_distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = math.radians(lat2 - lat1) * EARTH_RADIUS_M
    dx = math.radians(lon2 - lon1) * EARTH_RADIUS_M * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def footprint_gap_m(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Clearance between two observed damage footprints: rectangles ``length`` long along the driving direction
    (``heading``, degrees) and ``width`` wide across it, centred on ``lat``/``lon``. 0 when they overlap."""
    dn = math.radians(b["lat"] - a["lat"]) * EARTH_RADIUS_M
    de = math.radians(b["lon"] - a["lon"]) * EARTH_RADIUS_M * math.cos(math.radians((a["lat"] + b["lat"]) / 2))
    heading = a.get("heading") if a.get("heading") is not None else b.get("heading")
    if heading is None:  # rows from before headings were stored: discs of the mean size
        reach = (a["width"] + a["length"] + b["width"] + b["length"]) / 4
        return max(0.0, math.hypot(de, dn) - reach)
    h = math.radians(heading)
    along = de * math.sin(h) + dn * math.cos(h)
    across = de * math.cos(h) - dn * math.sin(h)
    d_fwd = abs(along) - (a["length"] + b["length"]) / 2
    d_lat = abs(across) - (a["width"] + b["width"]) / 2
    return math.hypot(max(0.0, d_fwd), max(0.0, d_lat))


def class_family(rdd_class: str) -> str:
    """Potholes cluster with potholes; the crack classes with each other (a crack's class can flicker)."""
    return "pothole" if rdd_class == "D40" else "crack"


@dataclass(frozen=True)
class ClusterSettings:
    radius_m: float = 6.0  # footprint clearance always tolerated across drives/vehicles (fusion + long footprints)
    max_radius_m: float = 10.0  # no observation joins an order whose every observation is farther than this
    join_m: float = 2.0  # potholes this close form one repair job
    reopen_window_days: float = 180.0
    clean_passes_to_close_open: int = 2


class WorkOrderBook:
    """SQLite-backed orders; every public method is one transaction and safe to call from several threads."""

    def __init__(self, path: Path | str, settings: ClusterSettings | None = None) -> None:
        self.s = settings or ClusterSettings()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(observations)")}
        if "heading" not in columns:  # a book created before footprints were oriented
            self._db.execute("ALTER TABLE observations ADD COLUMN heading REAL")
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ reads

    def _rows(self, sql: str, args: tuple | list = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def order(self, order_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM orders WHERE order_id=?", (order_id,))
        return rows[0] if rows else None

    def orders(self, statuses: Iterable[str] | None = None, contractor: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM orders WHERE 1=1", []
        if statuses:
            sts = list(statuses)
            sql += f" AND status IN ({','.join('?' * len(sts))})"
            args += sts
        if contractor:
            sql += " AND contractor=?"
            args.append(contractor)
        return self._rows(sql + " ORDER BY order_id", args)

    def events(self, order_id: int) -> list[dict[str, Any]]:
        return self._rows("SELECT ts_ms, kind, detail FROM events WHERE order_id=? ORDER BY rowid", (order_id,))

    def crop(self, order_id: int) -> bytes | None:
        rows = self._rows(
            "SELECT c.jpeg FROM crops c JOIN observations o ON o.device_id=c.device_id "
            "AND o.observation_id=c.observation_id WHERE o.order_id=? ORDER BY o.confidence DESC LIMIT 1",
            (order_id,))
        return bytes(rows[0]["jpeg"]) if rows else None

    def pending_dispatch(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM orders WHERE dispatch_pending=1 ORDER BY order_id")

    # ------------------------------------------------------------------ writes

    def _event(self, order_id: int, ts_ms: int, kind: str, detail: str = "") -> None:
        self._db.execute("INSERT INTO events VALUES (?,?,?,?)", (order_id, ts_ms, kind, detail))

    def add_observation(self, device_id: str, seq: int, obs: dict[str, Any], now_ms: int) -> tuple[int, str] | None:
        """Cluster one observation into an order; returns (order_id, what happened) or None for a duplicate."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = self._add_observation(device_id, seq, obs, now_ms)
                self._db.execute("COMMIT")
                return result
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _add_observation(self, device_id: str, seq: int, obs: dict[str, Any], now_ms: int) -> tuple[int, str] | None:
        if self._db.execute("SELECT 1 FROM observations WHERE device_id=? AND (seq=? OR observation_id=?)",
                            (device_id, seq, obs["observation_id"])).fetchone():
            return None
        order = self._nearest_order(device_id, obs, now_ms)
        if order is None:
            cur = self._db.execute(
                "INSERT INTO orders (status, rdd_class, severity, lat, lon, sigma, width, length, area, road_class, "
                "created_ms, updated_ms, first_passed_ms, last_seen_ms, dispatch_pending, dispatch_due_passed_ms) "
                "VALUES ('open',?,?,?,?,?,?,?,?,?,?,?,?,?,1,?)",
                (obs["rdd_class"], obs["severity"], obs["lat"], obs["lon"], obs["position_sigma_m"], obs["width_m"],
                 obs["length_m"], obs["area_m2"], obs["road_class"], now_ms, now_ms, obs["passed_ts"],
                 obs["passed_ts"], obs["passed_ts"]))
            order_id, what = int(cur.lastrowid or 0), "created"
            self._event(order_id, now_ms, "created", obs["observation_id"])
        else:
            order_id, what = int(order["order_id"]), "merged"
            if order["status"] == "done" or order["status"] in CLOSED:
                what = "reopened"
                self._db.execute(
                    "UPDATE orders SET status='reopened', dispatch_pending=1, dispatch_due_passed_ms=?, closed_ms=NULL,"
                    " clean_passes=0 WHERE order_id=?", (obs["passed_ts"], order_id))
                self._event(order_id, now_ms, "reopened", f"seen again by {device_id} ({obs['drive_id']})")
            else:
                self._db.execute("UPDATE orders SET clean_passes=0 WHERE order_id=?", (order_id,))
        self._db.execute(
            "INSERT INTO observations (device_id, seq, observation_id, drive_id, order_id, passed_ms, lat, lon, sigma,"
            " rdd_class, severity, width, length, area, road_class, confidence, heading)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (device_id, seq, obs["observation_id"], obs["drive_id"], order_id, obs["passed_ts"], obs["lat"],
             obs["lon"], obs["position_sigma_m"], obs["rdd_class"], obs["severity"], obs["width_m"], obs["length_m"],
             obs["area_m2"], obs["road_class"], obs["confidence"], obs.get("heading_deg")))
        self._db.execute("INSERT OR REPLACE INTO passes VALUES (?,?,?,?,0)",
                         (order_id, obs["drive_id"], device_id, obs["passed_ts"]))
        self._refresh(order_id, now_ms)
        return order_id, what

    def _nearest_order(self, device_id: str, obs: dict[str, Any], now_ms: int) -> dict[str, Any] | None:
        """The order this observation belongs to, by single linkage on damage footprints (not on order centres).

        An observation joins an order when its footprint comes within ``join_m`` (+ placement error) of the
        footprint of one of the order's observations. Damages seen on the same drive of the same vehicle are
        placed relative to each other to a few decimetres (one GNSS offset for both), so there the measured gap
        decides alone (<= ``join_m``). Across drives and vehicles a clearance of ``radius_m`` is tolerated (GNSS
        fusion error plus the along-road uncertainty of long footprints), more where 2 sigma of the combined
        position uncertainty says so (at most ``max_radius_m``). Of several candidates the nearest order wins.
        Comparing footprints, not a centre with a growing reach, keeps a large damage area from swallowing a
        separate pothole a few metres before it, and keeps the area itself one order."""
        this = {"lat": obs["lat"], "lon": obs["lon"], "width": obs["width_m"], "length": obs["length_m"],
                "heading": obs.get("heading_deg")}
        dlat = self.s.max_radius_m / 111_000
        dlon = dlat / max(0.2, math.cos(math.radians(obs["lat"])))
        rows = self._db.execute(
            "SELECT o.order_id AS oid, o.device_id, o.drive_id, o.lat, o.lon, o.sigma, o.width, o.length, o.heading,"
            " r.rdd_class AS order_class FROM observations o JOIN orders r ON r.order_id=o.order_id"
            " WHERE o.lat BETWEEN ? AND ? AND o.lon BETWEEN ? AND ? AND (r.closed_ms IS NULL OR r.closed_ms > ?)",
            (obs["lat"] - dlat, obs["lat"] + dlat, obs["lon"] - dlon, obs["lon"] + dlon,
             now_ms - self.s.reopen_window_days * DAY_MS)).fetchall()
        best_id, best_score = None, (math.inf, math.inf)
        for row in rows:
            if class_family(row["order_class"]) != class_family(obs["rdd_class"]):
                continue
            centre_m = ground_distance_m(obs["lat"], obs["lon"], row["lat"], row["lon"])
            if centre_m > self.s.max_radius_m:
                continue
            gap = footprint_gap_m(this, dict(row))
            if row["device_id"] == device_id and row["drive_id"] == obs["drive_id"]:
                allowance = self.s.join_m  # one frame of reference: the repair-job rule applies as measured
            else:
                sigma = math.hypot(obs["position_sigma_m"], row["sigma"])
                allowance = min(self.s.max_radius_m, max(self.s.radius_m, self.s.join_m + 2.0 * sigma))
            score = (gap / allowance, centre_m)  # overlapping footprints (gap 0): the nearer centre wins
            if score[0] <= 1.0 and score < best_score:
                best_id, best_score = int(row["oid"]), score
        return None if best_id is None else self.order(best_id)

    def _refresh(self, order_id: int, now_ms: int) -> None:
        """Recompute position (inverse-variance mean), size, class, priority and SLA from its observations."""
        obs = [dict(r) for r in self._db.execute("SELECT * FROM observations WHERE order_id=?", (order_id,))]
        weights = [1.0 / max(0.25, o["sigma"]) ** 2 for o in obs]
        total = sum(weights)
        lat = sum(w * o["lat"] for w, o in zip(weights, obs, strict=True)) / total
        lon = sum(w * o["lon"] for w, o in zip(weights, obs, strict=True)) / total
        sigma = 1.0 / math.sqrt(total)
        extent = max(ground_distance_m(lat, lon, o["lat"], o["lon"]) + max(o["width"], o["length"]) / 2 for o in obs)
        votes: dict[str, float] = {}
        for o in obs:
            votes[o["rdd_class"]] = votes.get(o["rdd_class"], 0.0) + o["confidence"]
        rdd_class = max(votes, key=votes.__getitem__)
        width = sorted(o["width"] for o in obs)[len(obs) // 2]
        length = sorted(o["length"] for o in obs)[len(obs) // 2]
        area = sorted(o["area"] for o in obs)[len(obs) // 2]
        severity = max((o["severity"] for o in obs), key=["low", "medium", "high"].index)
        order = self.order(order_id)
        assert order is not None
        road_class = order["road_class"] or obs[0]["road_class"]
        prio = priority_for(rdd_class, severity, area, road_class)
        drives = len({o["drive_id"] for o in obs})
        self._db.execute(
            "UPDATE orders SET lat=?, lon=?, sigma=?, extent_m=?, rdd_class=?, severity=?, width=?, length=?, area=?,"
            " priority=?,"
            " sla_due_ms=?, observations=?, drives=?, last_seen_ms=MAX(COALESCE(last_seen_ms,0), ?), updated_ms=?"
            " WHERE order_id=?",
            (lat, lon, sigma, extent, rdd_class, severity, width, length, area, prio.level,
             sla_due_ms(order["created_ms"], prio), len(obs), drives, max(o["passed_ms"] for o in obs), now_ms,
             order_id))

    def add_crop(self, device_id: str, observation_id: str, jpeg: bytes, blurred_regions: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO crops VALUES (?,?,?,?)",
                             (device_id, observation_id, jpeg, blurred_regions))

    def set_contractor(self, order_id: int, contractor: str | None) -> None:
        with self._lock:
            self._db.execute("UPDATE orders SET contractor=? WHERE order_id=?", (contractor, order_id))

    def mark_dispatched(self, order_id: int, now_ms: int, detail: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE orders SET dispatch_pending=0, dispatched_ms=?, updated_ms=?, status=CASE WHEN status IN "
                "('open','reopened') THEN 'dispatched' ELSE status END WHERE order_id=?", (now_ms, now_ms, order_id))
            self._event(order_id, now_ms, "dispatched", detail)

    def note_dispatch_failure(self, order_id: int, now_ms: int, detail: str) -> None:
        with self._lock:
            self._event(order_id, now_ms, "dispatch_failed", detail)

    def contractor_status(self, order_id: int, status: str, now_ms: int, note: str = "") -> dict[str, Any]:
        """The contractor's answer: 'accepted' (a note only) or 'done' (repaired; awaits verification)."""
        with self._lock:
            if status == "done":
                self._db.execute("UPDATE orders SET status='done', done_ms=?, updated_ms=?, clean_passes=0, note=? "
                                 "WHERE order_id=?", (now_ms, now_ms, note, order_id))
            self._event(order_id, now_ms, f"contractor_{status}", note)
            order = self.order(order_id)
            assert order is not None
            return order

    def record_coverage(
        self, device_id: str, seq: int, drive_id: str, points: list[tuple[float, float, int]], radius_m: float,
        now_ms: int,
    ) -> list[tuple[int, str]]:
        """A drive inspected these ground points with good frames: verify repairs / count clean passes.

        Returns (order_id, new status) for every order whose status changed."""
        changed: list[tuple[int, str]] = []
        with self._lock:
            if self._db.execute("SELECT 1 FROM handled WHERE device_id=? AND seq=?", (device_id, seq)).fetchone():
                return changed
            self._db.execute("INSERT INTO handled VALUES (?,?)", (device_id, seq))
            if not points:
                return changed
            lats = [p[0] for p in points]
            dlat = radius_m / 111_000
            candidates = self._db.execute(
                "SELECT * FROM orders WHERE status IN ('open','dispatched','reopened','done') AND lat BETWEEN ? AND ?",
                (min(lats) - dlat, max(lats) + dlat)).fetchall()
            for order in candidates:
                hit = [p for p in points if ground_distance_m(p[0], p[1], order["lat"], order["lon"]) <= radius_m]
                if not hit:
                    continue
                oid = int(order["order_id"])
                seen = self._db.execute("SELECT clean FROM passes WHERE order_id=? AND drive_id=?",
                                        (oid, drive_id)).fetchone()
                if seen is not None:
                    continue  # this drive saw it (clean=0) or was already counted
                ts = max(p[2] for p in hit)
                self._db.execute("INSERT INTO passes VALUES (?,?,?,?,1)", (oid, drive_id, device_id, ts))
                new_status = self._after_clean_pass(order, now_ms, drive_id)
                if new_status:
                    changed.append((oid, new_status))
        return changed

    def _after_clean_pass(self, order: sqlite3.Row, now_ms: int, drive_id: str) -> str | None:
        oid = int(order["order_id"])
        passes = int(order["clean_passes"]) + 1
        self._event(oid, now_ms, "clean_pass", drive_id)
        if order["status"] == "done":
            self._db.execute("UPDATE orders SET status='verified', closed_ms=?, updated_ms=?, clean_passes=? "
                             "WHERE order_id=?", (now_ms, now_ms, passes, oid))
            self._event(oid, now_ms, "verified", f"passed by {drive_id} with good frames, nothing seen")
            return "verified"
        if passes >= self.s.clean_passes_to_close_open:
            self._db.execute("UPDATE orders SET status='repaired', closed_ms=?, updated_ms=?, clean_passes=?, "
                             "dispatch_pending=0 WHERE order_id=?", (now_ms, now_ms, passes, oid))
            self._event(oid, now_ms, "repaired", f"{passes} clean passes")
            return "repaired"
        self._db.execute("UPDATE orders SET clean_passes=? WHERE order_id=?", (passes, oid))
        return None
