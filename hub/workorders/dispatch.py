"""Sending work orders to contractors: JSON webhook and e-mail (with the blurred crop attached)."""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from protocol.streams.road import RDD_CLASS_NAMES

log = logging.getLogger(__name__)
CLASS_NAMES_DA = {"D00": "længderevne", "D10": "tværrevne", "D20": "krakelering", "D40": "hul i vejen"}


@dataclass(frozen=True)
class MailSettings:
    host: str = "localhost"
    port: int = 25
    sender: str = "vejskader@kommune.invalid"
    username: str | None = None
    password: str | None = None
    starttls: bool = False


def order_payload(order: dict[str, Any], public_url: str) -> dict[str, Any]:
    """The JSON a contractor receives (webhook body; also the e-mail's facts)."""
    oid = order["order_id"]
    return {
        "order_id": oid,
        "status": order["status"],
        "rdd_class": order["rdd_class"],
        "damage": RDD_CLASS_NAMES.get(order["rdd_class"], order["rdd_class"]),
        "damage_da": CLASS_NAMES_DA.get(order["rdd_class"], order["rdd_class"]),
        "severity": order["severity"],
        "priority": order["priority"],
        "sla_due": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(order["sla_due_ms"] / 1000)),
        "lat": round(order["lat"], 7),
        "lon": round(order["lon"], 7),
        "position_sigma_m": round(order["sigma"], 2),
        "width_m": order["width"],
        "length_m": order["length"],
        "area_m2": order["area"],
        "road_class": order["road_class"],
        "contractor": order["contractor"],
        "observations": order["observations"],
        "drives": order["drives"],
        "map_url": f"https://www.openstreetmap.org/?mlat={order['lat']:.6f}&mlon={order['lon']:.6f}#map=19/"
                   f"{order['lat']:.6f}/{order['lon']:.6f}",
        "crop_url": f"{public_url}/road/orders/{oid}/crop",
        "status_url": f"{public_url}/road/orders/{oid}/status",
    }


def send_webhook(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> None:
    import httpx

    resp = httpx.post(url, json=payload, timeout=timeout_s)
    resp.raise_for_status()


def compose_email(payload: dict[str, Any], to: str, sender: str, crop: bytes | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, to
    msg["Subject"] = (f"Vejskade #{payload['order_id']}: {payload['damage_da']} – prioritet {payload['priority']}, "
                      f"frist {payload['sla_due']}")
    lines = [
        f"Arbejdsordre {payload['order_id']} ({payload['damage']}, {payload['severity']})",
        f"Position: {payload['lat']}, {payload['lon']} (±{payload['position_sigma_m']} m) {payload['map_url']}",
        f"Størrelse: {payload['width_m']:.2f} x {payload['length_m']:.2f} m, vejklasse {payload['road_class']}",
        f"Frist: {payload['sla_due']}",
        f"Meld udført: POST {payload['status_url']} med {{\"status\": \"done\"}} og jeres token.",
    ]
    msg.set_content("\n".join(lines))
    if crop:
        msg.add_attachment(crop, maintype="image", subtype="jpeg", filename=f"vejskade-{payload['order_id']}.jpg")
    return msg


def send_email(settings: MailSettings, msg: EmailMessage, timeout_s: float = 10.0) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=timeout_s) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password)
        smtp.send_message(msg)
