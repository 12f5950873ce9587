"""Hub side of care-home fall alerts: ``falls/event`` messages become staff alerts with escalation,
Web Push, live updates and the care-staff app at ``/app/``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter

import protocol.streams.falls  # noqa: F401  (registers the falls/event stream)
from hub.alerts.api import build_router
from hub.alerts.centre import AlertCentre, Effect, recipients
from hub.alerts.live import LiveFeed
from hub.alerts.model import Alert, FallsSettings
from hub.alerts.push import PushSender, load_or_create_vapid_key, public_key_b64
from hub.alerts.store import AlertStore, Staff, Subscription
from hub.domain import DomainService, HubContext
from hub.store.base import Point, Scalar, StoreError
from protocol import Body, Envelope, Topic
from protocol.streams.falls import FallEvent

log = logging.getLogger(__name__)

KIND_TITLE = {
    "da": {"fall": "Fald", "on_floor": "På gulvet", "bed_exit_warning": "Ud af sengen", "night_report": "Natrapport"},
    "en": {
        "fall": "Fall",
        "on_floor": "On the floor",
        "bed_exit_warning": "Leaving bed",
        "night_report": "Night report",
    },
}
ROOM_WORD = {"da": "bolig", "en": "room"}
REMINDER_WORD = {"da": "påmindelse", "en": "reminder"}
ACK_LABEL = {"da": "Kvittér", "en": "Acknowledge"}
OUTCOME_MEASUREMENT = "falls_alert"
NIGHT_MEASUREMENT = "falls_night"
PURGE_EVERY_S = 3600.0


def push_payload(alert: Alert, round_no: int, language: str) -> dict[str, Any]:
    """The notification a phone shows: title, the event's sentence, and where the app opens."""
    lang = language if language in KIND_TITLE else "da"
    title = f"{KIND_TITLE[lang].get(alert.kind, alert.kind)} – {ROOM_WORD[lang]} {alert.room}"
    if round_no > 0:
        title += f" ({REMINDER_WORD[lang]} {round_no})"
    return {
        "alert_id": alert.id,
        "title": title,
        "body": alert.text_da if lang == "da" else alert.text_en,
        "severity": alert.severity,
        "round": round_no,
        "url": f"/app/#alert-{alert.id}",
        "ack_label": ACK_LABEL[lang],
    }


class FallAlertService(DomainService):
    """Alerts for care staff. Hub config section ``falls`` (see :class:`hub.alerts.model.FallsSettings`)."""

    name = "falls"
    streams = ("falls/event",)

    def __init__(self, ctx: HubContext, clock: Callable[[], float] = time.time) -> None:
        super().__init__(ctx)
        self.clock = clock
        ctx.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = AlertStore(ctx.state_dir / "falls.sqlite")
        self.feed = LiveFeed()
        self._vapid_key = load_or_create_vapid_key(ctx.state_dir)
        self.vapid_public_key = public_key_b64(self._vapid_key)
        self.configure(ctx.settings)
        self._pushers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webpush")
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._purged_at = float("-inf")
        self._last_point_ns = 0

    def configure(self, settings: dict[str, Any] | None) -> None:
        """Apply the ``falls`` section of the hub config (the hub hands it over after construction)."""
        self.settings = FallsSettings.model_validate(settings or {})
        self.centre = AlertCentre(self.store, self.settings)
        self.sender = PushSender(self._vapid_key, self.settings.vapid_subject, ttl_s=self.settings.push_ttl_s)

    # DomainService -----------------------------------------------------------------------------
    def handle(self, topic: Topic, envelope: Envelope, body: Body) -> None:
        if not isinstance(body, FallEvent):
            return
        effects = self.centre.on_event(envelope.device_id, topic.site, envelope.seq, body, self.clock())
        self.dispatch(effects)

    def router(self) -> APIRouter:
        return build_router(self)

    def start(self) -> None:
        self.configure(self.ctx.settings)
        self._stop.clear()
        self._timer = threading.Thread(target=self._run_timer, name="falls-escalation", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        self._pushers.shutdown(wait=True)
        self.store.close()

    # staff actions (the API calls these) -------------------------------------------------------
    def acknowledge(self, alert_id: str, staff: Staff) -> Alert:
        effect = self.centre.acknowledge(alert_id, staff, self.clock())
        self.dispatch([effect])
        return effect.alert

    def resolve(self, alert_id: str, staff: Staff) -> Alert:
        effect = self.centre.resolve(alert_id, staff, self.clock())
        self.dispatch([effect])
        return effect.alert

    # escalation ----------------------------------------------------------------------------------
    def tick(self) -> list[Effect]:
        """Send the notification rounds due now (the timer calls this every ``tick_s``); purge old
        history once an hour."""
        now = self.clock()
        effects = self.centre.escalate_due(now)
        self.dispatch(effects)
        if self.settings.retention_days and now - self._purged_at >= PURGE_EVERY_S:
            self._purged_at = now
            gone = self.store.purge(now - self.settings.retention_days * 86400)
            if gone:
                log.info("purged resolved alerts", extra={"alerts": gone, "days": self.settings.retention_days})
        return effects

    def _run_timer(self) -> None:
        while not self._stop.wait(self.settings.tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("escalation tick failed")

    # delivery ------------------------------------------------------------------------------------
    def dispatch(self, effects: list[Effect]) -> None:
        """Live update to the open apps; Web Push for each due round."""
        for effect in effects:
            alert = effect.alert
            self.feed.publish(alert.care_home, {"type": "alert", "alert": alert.public()})
            if effect.round is not None:
                self._notify(effect)
            if effect.opened:
                self._record(alert, "opened")
            if effect.outcome is not None:
                self._record(alert, effect.outcome)

    def _record(self, alert: Alert, outcome: str) -> None:
        """One time-series point per alert change for the care dashboard: ``falls_alert`` (opened /
        acknowledged / resolved, with the seconds since opening) or ``falls_night`` (a night report's
        counters). Best effort: the alert itself is safe in SQLite whatever the time-series store does."""
        if self.ctx.store is None:
            return
        now = self.clock()
        self._last_point_ns = max(int(now * 1e9), self._last_point_ns + 1)  # two changes never share a point
        tags = {"device_id": alert.device_id, "site": alert.site, "care_home": alert.care_home, "room": alert.room}
        if alert.kind == "night_report":
            fields: dict[str, Scalar] = {
                key: value for key, value in alert.details.items() if isinstance(value, int | float)
                and not isinstance(value, bool)
            }
            fields["night_of"] = str(alert.details.get("night_of", ""))
            point = Point(NIGHT_MEASUREMENT, {**tags, "resident": alert.resident or ""}, fields, self._last_point_ns)
        else:
            point = Point(
                OUTCOME_MEASUREMENT,
                {**tags, "kind": alert.kind, "outcome": outcome},
                {
                    "seconds": round(now - alert.opened_at, 3),
                    "rounds": alert.round,
                    "severity": alert.severity,
                    "resolution": alert.resolution or "",
                    "alert": alert.id,
                },
                self._last_point_ns,
            )
        try:
            self.ctx.store.write([point])
        except StoreError as exc:
            log.warning("could not write the alert outcome", extra={"alert": alert.id, "error": str(exc)[:200]})

    def _notify(self, effect: Effect) -> None:
        """Queue one push per subscription of each recipient. Nothing is written here: a disk sync
        between the alert and the phone would cost tens of milliseconds on a busy hub."""
        alert, round_no = effect.alert, effect.round or 0
        targets = recipients(self.store.staff_of_home(alert.care_home), alert, effect.audience)
        queued = 0
        for staff in targets:
            payload = push_payload(alert, round_no, staff.language)
            for sub in self.store.subscriptions_of(staff.id):
                self._pushers.submit(self._push, alert.id, round_no, effect.audience, sub, payload)
                queued += 1
        log.info(
            "alert notification round",
            extra={"alert": alert.id, "round": round_no, "audience": effect.audience, "pushes": queued},
        )

    def _push(self, alert_id: str, round_no: int, audience: str, sub: Subscription, payload: dict[str, Any]) -> None:
        sent_at = self.clock()
        result = self.sender.send(sub.info(), payload)
        status = f"{result.outcome} {result.status or ''}".strip()
        self.store.add_notification(alert_id, round_no, audience, sub.staff_id, sub.endpoint, sent_at, status)
        if result.outcome == "gone":
            self.store.drop_subscription(sub.endpoint)
        elif result.outcome == "failed":
            log.warning("web push failed", extra={"endpoint": sub.endpoint[:60], "detail": result.detail})
