"""Hub side of road damage: observations → one work order per damage, dispatch to contractors, round trip, verification.

Hub config section ``road`` (see :class:`RoadSettings`). Writes ``road_workorder`` points to the time-series
store on every order change, for the "roads" dashboard.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

import protocol.streams.road  # noqa: F401  (registers the road streams)
from hub.domain import DomainService, HubContext
from hub.workorders.areas import ContractorArea, area_for, load_areas, parse_areas
from hub.workorders.book import ACTIVE, STATUSES, ClusterSettings, WorkOrderBook
from hub.workorders.dispatch import MailSettings, compose_email, order_payload, send_email, send_webhook
from hub.workorders.export import orders_csv, orders_geojson
from protocol import Body, Envelope, Topic
from protocol.streams.road import DamageCrop, DamageObservation, RoadCoverage

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="work order number")]  # SQLite INTEGER range


class RoadSettings(BaseModel):
    """The hub's ``road`` section."""

    model_config = ConfigDict(extra="forbid")

    contractor_areas: str | None = Field(None, description="GeoJSON file of contractor areas")
    contractor_areas_geojson: dict[str, Any] | None = Field(None, description="the same, inline")
    default_contractor: str | None = Field(None, description="contractor for damage outside every area")
    public_url: str = Field("http://localhost:8000", description="hub URL contractors reach (links in orders)")
    mail: dict[str, Any] = Field(default_factory=dict, description="SMTP host, port, sender, username, password")
    cluster_radius_m: float = Field(
        6.0, gt=0, description="footprint clearance to an order's observation from another drive/vehicle tolerated")
    cluster_max_radius_m: float = Field(10.0, gt=0, description="no order observation farther than this is compared")
    clean_passes_to_close_open: int = Field(2, ge=1)
    verify_margin_m: float = Field(1.5, ge=0, description="added to the inspected strip when matching an order")
    dispatch_interval_s: float = Field(2.0, gt=0)
    dispatch_retry_s: float = Field(30.0, gt=0)
    admin_token: str | None = Field(None, description="bearer token for admin writes; ${ENV} in the hub config")


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "done"]
    note: str = Field("", max_length=500)


class RoadService(DomainService):
    name = "road"
    streams = ("road/observation", "road/coverage", "road/crop")

    def __init__(self, ctx: HubContext, clock: Callable[[], float] = time.time) -> None:
        super().__init__(ctx)
        self.clock = clock
        self.settings = RoadSettings.model_validate(ctx.settings or {})
        ctx.state_dir.mkdir(parents=True, exist_ok=True)
        self.book = WorkOrderBook(ctx.state_dir / "road.sqlite", ClusterSettings(
            self.settings.cluster_radius_m, self.settings.cluster_max_radius_m,
            clean_passes_to_close_open=self.settings.clean_passes_to_close_open))
        self.areas: list[ContractorArea] = (
            parse_areas(self.settings.contractor_areas_geojson) if self.settings.contractor_areas_geojson
            else load_areas(self.settings.contractor_areas))
        self.mail = MailSettings(**self.settings.mail) if self.settings.mail else None
        self._next_try: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ------------------------------------------------------------------ ingest

    def handle(self, topic: Topic, envelope: Envelope, body: Body) -> None:
        if isinstance(body, DamageObservation):
            result = self.book.add_observation(envelope.device_id, envelope.seq, body.model_dump(), self.now_ms())
            if result is not None:
                order_id, what = result
                if what == "created":
                    area = area_for(self.areas, body.lat, body.lon)
                    self.book.set_contractor(order_id, area.contractor if area else self.settings.default_contractor)
                self._write_points([order_id])
        elif isinstance(body, DamageCrop):
            try:
                jpeg = base64.b64decode(body.jpeg_b64, validate=True)
            except (binascii.Error, ValueError):
                log.warning("crop is not base64", extra={"device_id": envelope.device_id})
                return
            self.book.add_crop(envelope.device_id, body.observation_id, jpeg, body.blurred_regions)
        elif isinstance(body, RoadCoverage):
            radius = max(body.view_half_width_m, 2.5) + self.settings.verify_margin_m
            points = [(p[0], p[1], body.start_ts + int(p[2] * 1000)) for p in body.points if len(p) >= 3]
            changed = self.book.record_coverage(envelope.device_id, envelope.seq, body.drive_id, points, radius,
                                                self.now_ms())
            if changed:
                self._write_points([oid for oid, _ in changed])

    # ------------------------------------------------------------------ dispatch

    def dispatch_pending(self) -> list[int]:
        """Send every order waiting for dispatch; returns the ids sent. Failures retry later."""
        sent = []
        now = self.clock()
        for order in self.book.pending_dispatch():
            oid = int(order["order_id"])
            if self._next_try.get(oid, 0.0) > now:
                continue
            area = next((a for a in self.areas if a.contractor == order["contractor"]), None)
            channels = []
            try:
                payload = order_payload(order, self.settings.public_url)
                if area and area.webhook_url:
                    send_webhook(area.webhook_url, payload)
                    channels.append("webhook")
                if area and area.email and self.mail:
                    send_email(self.mail, compose_email(payload, area.email, self.mail.sender, self.book.crop(oid)))
                    channels.append("email")
            except Exception as exc:  # network and SMTP errors of any kind: retry later
                self._next_try[oid] = now + self.settings.dispatch_retry_s
                self.book.note_dispatch_failure(oid, self.now_ms(), f"{type(exc).__name__}: {exc}")
                log.warning("dispatch failed", extra={"order_id": oid, "error": str(exc)})
                continue
            self.book.mark_dispatched(oid, self.now_ms(), ",".join(channels) or "no channel (listed only)")
            self._next_try.pop(oid, None)
            sent.append(oid)
        if sent:
            self._write_points(sent)
        return sent

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="road-dispatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.book.close()

    def _loop(self) -> None:
        last_snapshot = 0.0
        while not self._stop.wait(self.settings.dispatch_interval_s):
            try:
                self.dispatch_pending()
                if self.clock() - last_snapshot > 3600:
                    self._write_points([int(o["order_id"]) for o in self.book.orders((*ACTIVE, "done"))])
                    last_snapshot = self.clock()
            except Exception:
                log.exception("road dispatch loop failed")

    # ------------------------------------------------------------------ time series

    def _write_points(self, order_ids: list[int]) -> None:
        """One ``road_workorder`` point per order: current state, for the dashboard (age, class, contractor)."""
        store = getattr(self.ctx, "store", None)
        if store is None or not order_ids:
            return
        from hub.store import Point, StoreError

        now = self.now_ms()
        points = []
        for i, oid in enumerate(order_ids):
            o = self.book.order(oid)
            if o is None:
                continue
            points.append(Point("road_workorder", {
                "order_id": str(oid), "rdd_class": o["rdd_class"], "contractor": o["contractor"] or "none",
                "priority": str(o["priority"]),
            }, {
                "status": o["status"], "open": int(o["status"] in ACTIVE or o["status"] == "done"),
                "lat": float(o["lat"]), "lon": float(o["lon"]), "severity": o["severity"],
                "age_days": round((now - o["created_ms"]) / DAY_MS, 2), "area_m2": float(o["area"] or 0.0),
                "order_ref": str(oid), "observations": int(o["observations"]),
            }, now * 1_000_000 + i))
        try:
            store.write(points)
        except StoreError as exc:
            log.warning("road_workorder points not written", extra={"error": str(exc)})

    # ------------------------------------------------------------------ API

    def _contractor_for_token(self, authorization: str | None) -> ContractorArea:
        token = (authorization or "").removeprefix("Bearer ").strip()
        for area in self.areas:
            if area.token and token and hmac.compare_digest(area.token, token):
                return area
        raise HTTPException(401, detail="A valid contractor token is required (Authorization: Bearer <token>).")

    def router(self) -> APIRouter:
        r = APIRouter(prefix="/road", tags=["road"])

        @r.get("/orders")
        def list_orders(status: str | None = Query(None, description="comma-separated statuses"),
                        contractor: str | None = None) -> list[dict[str, Any]]:
            statuses = [s for s in (status or "").split(",") if s]
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                raise HTTPException(400, detail=f"Unknown status {bad[0]!r}; use one of {', '.join(STATUSES)}.")
            return self.book.orders(statuses or None, contractor)

        @r.get("/orders.geojson")
        def geojson(status: str | None = None) -> dict[str, Any]:
            return orders_geojson(self.book.orders([s for s in (status or "").split(",") if s] or None))

        @r.get("/orders.csv")
        def csv_export(status: str | None = None) -> Response:
            body = orders_csv(self.book.orders([s for s in (status or "").split(",") if s] or None))
            return Response(body, media_type="text/csv",
                            headers={"Content-Disposition": "attachment; filename=road-orders.csv"})

        @r.get("/orders/{order_id}")
        def get_order(order_id: OrderId) -> dict[str, Any]:
            order = self.book.order(order_id)
            if order is None:
                raise HTTPException(404, detail=f"There is no work order {order_id}.")
            return {**order, "events": self.book.events(order_id)}

        @r.get("/orders/{order_id}/crop")
        def get_crop(order_id: OrderId) -> Response:
            jpeg = self.book.crop(order_id)
            if jpeg is None:
                raise HTTPException(404, detail=f"Work order {order_id} has no evidence image.")
            return Response(jpeg, media_type="image/jpeg")

        @r.post("/orders/{order_id}/status")
        def set_status(order_id: OrderId, update: StatusUpdate,
                       authorization: str | None = Header(None)) -> dict[str, Any]:
            area = self._contractor_for_token(authorization)
            order = self.book.order(order_id)
            if order is None:
                raise HTTPException(404, detail=f"There is no work order {order_id}.")
            if order["contractor"] != area.contractor:
                raise HTTPException(403, detail=f"Work order {order_id} is not assigned to {area.contractor}.")
            if order["status"] not in (*ACTIVE, "done"):
                raise HTTPException(409, detail=f"Work order {order_id} is already closed ({order['status']}).")
            result = self.book.contractor_status(order_id, update.status, self.now_ms(), update.note)
            self._write_points([order_id])
            return result

        @r.post("/dispatch")
        def dispatch_now(authorization: str | None = Header(None)) -> dict[str, Any]:
            token = (authorization or "").removeprefix("Bearer ").strip()
            if not self.settings.admin_token or not hmac.compare_digest(self.settings.admin_token, token):
                raise HTTPException(401, detail="The admin token is required to trigger dispatch.")
            return {"sent": self.dispatch_pending()}

        return r
