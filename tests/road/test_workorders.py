"""Work orders on the hub: one order per damage, priority, contractor round trip, verification, dispatch."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.domain import SERVICES, HubContext
from hub.services.road import RoadService
from hub.workorders.areas import parse_areas
from hub.workorders.export import orders_csv, orders_geojson
from hub.workorders.rules import priority_for
from protocol import Envelope, Topic
from protocol.streams.road import DamageCrop, DamageObservation, RoadCoverage

LAT, LON = 55.3959, 10.3883
M_LAT = 1 / 111_195  # degrees per metre north
M_LON = 1 / (111_195 * 0.5681)  # degrees per metre east at 55.4° N


def area_doc(webhook: str | None = None, email: str | None = None) -> dict[str, Any]:
    west = [[10.0, 55.0], [10.3883, 55.0], [10.3883, 56.0], [10.0, 56.0], [10.0, 55.0]]
    east = [[10.3883, 55.0], [11.0, 55.0], [11.0, 56.0], [10.3883, 56.0], [10.3883, 55.0]]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [west]},
         "properties": {"contractor": "vest-asfalt", "token": "tok-vest", "webhook_url": webhook, "email": email}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [east]},
         "properties": {"contractor": "oest-vej", "token": "tok-oest"}},
    ]}


def observation(n: int, drive: str, dn: float = 0.0, de: float = 0.0, cls: str = "D40", passed: int = 1_795_000_000_000,
                sigma: float = 1.2) -> DamageObservation:
    return DamageObservation(
        observation_id=f"{drive}-{n:05d}", drive_id=drive, rdd_class=cls, severity="medium",  # type: ignore[arg-type]
        lat=LAT + dn * M_LAT, lon=LON - 200 * M_LON + de * M_LON, position_sigma_m=sigma, width_m=0.5, length_m=0.4,
        area_m2=0.16, confidence=0.8, frames=5, distance_min_m=4.0, first_ts=passed - 2000, passed_ts=passed,
        heading_deg=90.0,
    )


class Harness:
    def __init__(self, tmp: Path, settings: dict[str, Any] | None = None) -> None:
        self.now = 1_795_000_010.0
        self.service = RoadService(HubContext(tmp, "kommune", lambda *a: None, None, None,
                                              {"contractor_areas_geojson": area_doc(), **(settings or {})}),
                                   clock=lambda: self.now)
        self.seq = 0

    def send(self, body: Any, device: str = "vehicle-a") -> int:
        self.seq += 1
        env = Envelope(device_id=device, seq=self.seq, ts=int(self.now * 1000), body={})
        self.service.handle(Topic("kommune", "odense", device, body.STREAM), env, body)
        return self.seq


def test_registered_in_services() -> None:
    assert "hub.services.road:RoadService" in SERVICES


def test_two_drives_and_two_vehicles_make_one_order(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.send(observation(1, "d1"))
    h.send(observation(1, "d2", dn=2.5, de=-1.0), device="vehicle-b")
    h.send(observation(2, "d2", dn=1.0, de=1.0))
    orders = h.service.book.orders()
    assert len(orders) == 1
    assert orders[0]["observations"] == 3 and orders[0]["drives"] == 2
    assert orders[0]["contractor"] == "vest-asfalt"


def test_distinct_damages_and_classes_make_distinct_orders(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.send(observation(1, "d1"))
    h.send(observation(2, "d1", dn=30.0))  # 30 m further on
    h.send(observation(3, "d1", dn=0.5, cls="D00"))  # a crack beside the pothole is another job
    assert len(h.service.book.orders()) == 3


def test_damage_area_stays_one_order_and_a_pothole_before_it_another(tmp_path: Path) -> None:
    """Potholes closer than 2 m form one job; a pothole 4 m before that area is another job, on every drive."""
    h = Harness(tmp_path)
    area = [4.5 + k for k in range(7)]  # seven potholes 1 m apart (centre to centre) along the road
    for n, de in enumerate([0.0, *area], start=1):
        h.send(observation(n, "d1", de=de, sigma=0.9))
    # a second vehicle a week later, its whole drive placed 1 m further east and 0.5 m north
    for n, de in enumerate([0.0, *area], start=1):
        h.send(observation(n, "d2", de=de + 1.0, dn=0.5, sigma=0.9), device="vehicle-b")
    orders = sorted(h.service.book.orders(), key=lambda o: o["lon"])
    assert [o["observations"] for o in orders] == [2, 14]
    assert [o["drives"] for o in orders] == [2, 2]


def test_duplicate_message_is_ignored(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    body = observation(1, "d1")
    env = Envelope(device_id="vehicle-a", seq=7, ts=1, body={})
    topic = Topic("kommune", "odense", "vehicle-a", body.STREAM)
    h.service.handle(topic, env, body)
    h.service.handle(topic, env, body)
    assert h.service.book.orders()[0]["observations"] == 1


def test_priority_rises_with_size_class_and_road() -> None:
    small_local = priority_for("D00", "low", 0.1, "local")
    big_arterial = priority_for("D40", "high", 1.2, "arterial")
    assert big_arterial.level == 1 and big_arterial.sla_hours == 24
    assert small_local.level > big_arterial.level


def test_contractor_areas_point_in_polygon_with_hole() -> None:
    outer = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]]
    hole = [[4.0, 4.0], [6.0, 4.0], [6.0, 6.0], [4.0, 6.0], [4.0, 4.0]]
    (area,) = parse_areas({"features": [{"geometry": {"type": "Polygon", "coordinates": [outer, hole]},
                                         "properties": {"contractor": "x"}}]})
    assert area.contains(2.0, 2.0) and not area.contains(5.0, 5.0) and not area.contains(11.0, 5.0)


def test_status_round_trip_and_verification_on_next_drive(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.send(observation(1, "d1"))
    (order,) = h.service.book.orders()
    app = FastAPI()
    app.include_router(h.service.router())
    client = TestClient(app)
    oid = order["order_id"]
    url = f"/road/orders/{oid}/status"
    assert client.post(url, json={"status": "done"}).status_code == 401
    assert client.post(url, json={"status": "done"}, headers={"Authorization": "Bearer tok-oest"}).status_code == 403
    assert client.post("/road/orders/999/status", json={"status": "done"},
                       headers={"Authorization": "Bearer tok-vest"}).status_code == 404
    resp = client.post(url, json={"status": "done", "note": "lappet"}, headers={"Authorization": "Bearer tok-vest"})
    assert resp.status_code == 200 and resp.json()["status"] == "done"
    # next drive passes the spot with good frames and sees nothing → verified
    h.send(RoadCoverage(drive_id="d2", start_ts=1_795_000_100_000, end_ts=1_795_000_130_000, metres_driven=300,
                        metres_inspected=280, frames_total=150, frames_good=140, frames_dark=0, frames_blurred=10,
                        frames_stationary=0, frames_no_fix=0, view_near_m=3, view_far_m=20, view_half_width_m=3.5,
                        points=[[order["lat"] + 1.0 * M_LAT, order["lon"], 5.0]]))
    assert h.service.book.order(oid)["status"] == "verified"
    assert client.post(url, json={"status": "done"}, headers={"Authorization": "Bearer tok-vest"}).status_code == 409
    # a later drive sees it again → reopened and queued for dispatch
    h.send(observation(1, "d3", dn=1.0))
    reopened = h.service.book.order(oid)
    assert reopened["status"] == "reopened" and reopened["dispatch_pending"] == 1
    kinds = [e["kind"] for e in client.get(f"/road/orders/{oid}").json()["events"]]
    assert kinds[:3] == ["created", "contractor_done", "clean_pass"] and "reopened" in kinds


def test_open_order_closes_only_after_two_clean_passes_and_not_when_seen(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.send(observation(1, "d1"))
    (order,) = h.service.book.orders()

    def cover(drive: str) -> None:
        h.send(RoadCoverage(drive_id=drive, start_ts=1, end_ts=2, metres_driven=50, metres_inspected=40,
                            frames_total=10, frames_good=10, frames_dark=0, frames_blurred=0, frames_stationary=0,
                            frames_no_fix=0, view_near_m=3, view_far_m=20, view_half_width_m=3.5,
                            points=[[order["lat"], order["lon"], 0.0]]))

    h.send(observation(1, "d2", dn=0.5))
    cover("d2")  # this drive saw it: not a clean pass
    assert h.service.book.order(order["order_id"])["clean_passes"] == 0
    cover("d3")
    assert h.service.book.order(order["order_id"])["status"] == "open"
    cover("d4")
    assert h.service.book.order(order["order_id"])["status"] == "repaired"


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_dispatch_by_webhook_and_email_with_crop(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    class Mailbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.messages.append(envelope.content)
            return "250 OK"

    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    try:
        hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
        h = Harness(tmp_path, {"contractor_areas_geojson": area_doc(hook, "vagt@vest-asfalt.example"),
                               "mail": {"host": "127.0.0.1", "port": smtp_port}})
        obs = observation(1, "d1")
        h.send(obs)
        jpeg = b"\xff\xd8\xff\xe0 stands in for the blurred JPEG crop"
        h.send(DamageCrop(observation_id=obs.observation_id, rdd_class="D40", jpeg_b64=base64.b64encode(jpeg).decode(),
                          width=10, height=10, privacy_model="yolov8n-int8-tflite", blurred_regions=0))
        sent = h.service.dispatch_pending()
        assert len(sent) == 1
        deadline = time.time() + 5
        while not mailbox.messages and time.time() < deadline:
            asyncio.run(asyncio.sleep(0.05))
        assert _Hook.received and _Hook.received[0]["order_id"] == sent[0]
        assert _Hook.received[0]["status_url"].endswith(f"/road/orders/{sent[0]}/status")
        assert mailbox.messages and b"Vejskade" in mailbox.messages[0] and b"image/jpeg" in mailbox.messages[0]
        order = h.service.book.order(sent[0])
        assert order["status"] == "dispatched" and not order["dispatch_pending"]
        assert h.service.dispatch_pending() == []  # sent once
    finally:
        smtp.stop()
        server.shutdown()


def test_failed_webhook_is_retried_later(tmp_path: Path) -> None:
    h = Harness(tmp_path, {"contractor_areas_geojson": area_doc("http://127.0.0.1:9/unreachable"),
                           "dispatch_retry_s": 30})
    h.send(observation(1, "d1"))
    assert h.service.dispatch_pending() == []
    oid = h.service.book.orders()[0]["order_id"]
    assert [e["kind"] for e in h.service.book.events(oid)][-1] == "dispatch_failed"
    assert h.service.book.order(oid)["dispatch_pending"] == 1


def test_exports_and_api_listing(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.send(observation(1, "d1"))
    h.send(observation(2, "d1", dn=40.0, de=400.0))
    app = FastAPI()
    app.include_router(h.service.router())
    client = TestClient(app)
    geo = client.get("/road/orders.geojson").json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 2
    assert {f["properties"]["contractor"] for f in geo["features"]} == {"vest-asfalt", "oest-vej"}
    csv_text = client.get("/road/orders.csv").text
    assert csv_text.splitlines()[0].startswith("order_id,status") and len(csv_text.splitlines()) == 3
    assert client.get("/road/orders?status=nonsense").status_code == 400
    assert len(client.get("/road/orders?status=open").json()) == 2
    assert orders_geojson([])["features"] == [] and orders_csv([]).count("\n") == 1


@pytest.mark.parametrize("status", ["open", "dispatched"])
def test_crop_endpoint_404_without_evidence(tmp_path: Path, status: str) -> None:
    h = Harness(tmp_path)
    h.send(observation(1, "d1"))
    app = FastAPI()
    app.include_router(h.service.router())
    resp = TestClient(app).get("/road/orders/1/crop")
    assert resp.status_code == 404 and "evidence" in resp.json()["detail"]
