"""The alert centre: applies fall events, staff actions and the escalation clock to stored alerts.

Every method runs in one SQLite transaction and returns :class:`Effect`s (an alert changed;
a notification round is due) that the service turns into live updates and Web Push, so the
rules here are testable without a network or a clock.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from hub.alerts.model import (
    CLEARING_KINDS,
    KIND_RANK,
    OPENING_KINDS,
    REPORT_KINDS,
    SEVERITY_RANK,
    STAFF_KINDS,
    Alert,
    Audience,
    FallsSettings,
    audience_for,
    downgrade,
    due_round,
    escalates,
    transition,
)
from hub.alerts.store import AlertStore, Staff
from protocol.streams.falls import FallEvent

log = logging.getLogger(__name__)


class AlertNotFound(LookupError):
    """No alert with that id in the staff member's care home."""


@dataclass
class Effect:
    """Something the outside world must hear about: the alert's new state, and maybe a notification round."""

    alert: Alert
    round: int | None = None
    audience: Audience = "room"
    outcome: str | None = None  # "acknowledged" / "resolved" when this change did that
    opened: bool = False  # a new alert (or a night report) was created by this change


class AlertCentre:
    """Events → alerts with state; idempotent on ``(device_id, seq)`` and on ``(device_id, event_id)``."""

    def __init__(self, store: AlertStore, settings: FallsSettings) -> None:
        self.store = store
        self.settings = settings

    # device events -----------------------------------------------------------------------------
    def on_event(self, device_id: str, site: str, seq: int, event: FallEvent, now: float) -> list[Effect]:
        with self.store.transaction():
            if not self.store.remember_message(device_id, seq, now):
                return []
            if self.store.event(device_id, event.event_id) is not None:
                return []  # the same event re-sent under a new seq
            alert_id, effects = None, []
            if event.kind in OPENING_KINDS:
                effects = self._open(device_id, site, event, now)
                alert_id = effects[0].alert.id
            elif event.kind in REPORT_KINDS:
                effects = [self._report(device_id, site, event, now)]
                alert_id = effects[0].alert.id
            else:
                effects = self._act_on_related(device_id, event, now)
            self.store.add_event(device_id, event.event_id, seq, event.kind, event.related_event_id, alert_id, now)
        return effects

    def _targets(self, device_id: str, event: FallEvent) -> list[Alert]:
        """The unresolved alerts an event refers to: its related event's alert, else the room's."""
        if event.related_event_id:
            row = self.store.event(device_id, event.related_event_id)
            if row is None or row["alert_id"] is None:
                return []  # not here yet (replayed backlog arrives after live data): applied when it comes
            alert = self.store.alert(row["alert_id"])
            return [alert] if alert is not None and alert.state != "resolved" else []
        return [a for a in self.store.unresolved_in_room(device_id, event.room) if a.kind in OPENING_KINDS]

    def _open(self, device_id: str, site: str, event: FallEvent, now: float) -> list[Effect]:
        targets = self._targets(device_id, event)
        if targets:
            return [self._merge(targets[-1], event, now)]
        alert = _alert_from(event, device_id, site, now, state="open",
                            clip=event.clip.model_dump() if event.clip else None)
        self.store.save_alert(alert)
        self.store.log(alert.id, now, "opened", note=event.kind)
        log.info("alert opened", extra={"alert": alert.id, "kind": alert.kind, "care_home": alert.care_home})
        effect = Effect(alert, round=0 if escalates(alert, self.settings.escalation) else None, opened=True)
        # A clearing or staff event that overtook this one (backlog order) applies now.
        for row in self.store.events_relating_to(device_id, event.event_id):
            self._apply_follow_up(alert, row["kind"], now)
        if event.details.get("suppressed") is True and alert.state != "resolved":
            # The device already saw staff in the room and suppresses by its own policy: history only.
            alert.state = transition(alert.state, "resolved")
            alert.resolved_at, alert.resolution = now, "staff_present"
            self.store.save_alert(alert)
            self.store.log(alert.id, now, "resolved", note="staff_present")
        if alert.state != "open":
            effect.round = None
            effect.outcome = alert.state
        return [effect]

    def _merge(self, alert: Alert, event: FallEvent, now: float) -> Effect:
        """A further opening event in the same room joins the unresolved alert there."""
        alert.text_da, alert.text_en = event.text_da, event.text_en
        alert.clip = event.clip.model_dump() if event.clip else alert.clip
        alert.details.update(event.details)
        worse = SEVERITY_RANK[event.severity] > SEVERITY_RANK[alert.severity]
        alert.kind = max(alert.kind, event.kind, key=lambda kind: KIND_RANK.get(kind, 0))
        effect = Effect(alert)
        if worse:
            alert.severity = event.severity
            alert.muted = False
            if alert.state == "acknowledged":
                # It got worse after someone said they were on their way: everyone hears again.
                alert.state = transition(alert.state, "open")
                alert.acknowledged_at, alert.acknowledged_by = None, None
            alert.opened_at, alert.round = now, 0
            effect.round = 0 if alert.state == "open" and escalates(alert, self.settings.escalation) else None
        self.store.save_alert(alert)
        self.store.log(alert.id, now, "escalated" if worse else "updated", note=event.kind)
        return effect

    def _report(self, device_id: str, site: str, event: FallEvent, now: float) -> Effect:
        alert = _alert_from(event, device_id, site, now, state="resolved", resolved_at=now, resolution="report")
        self.store.save_alert(alert)
        self.store.log(alert.id, now, "report")
        return Effect(alert, opened=True)

    def _act_on_related(self, device_id: str, event: FallEvent, now: float) -> list[Effect]:
        effects = []
        for alert in self._targets(device_id, event):
            if self._apply_follow_up(alert, event.kind, now):
                effects.append(Effect(alert, outcome="resolved" if alert.state == "resolved" else None))
        return effects

    def _apply_follow_up(self, alert: Alert, kind: str, now: float) -> bool:
        """``got_up`` resolves; ``staff_present`` downgrades or suppresses per config. True if it changed."""
        if alert.state == "resolved" or kind not in CLEARING_KINDS | STAFF_KINDS:
            return False
        if kind in STAFF_KINDS:
            policy = self.settings.staff_present
            if policy == "ignore":
                return False
            if policy == "downgrade":
                alert.severity, alert.muted = downgrade(alert.severity), True
                self.store.save_alert(alert)
                self.store.log(alert.id, now, "downgraded", note="staff_present")
                return True
        alert.state = transition(alert.state, "resolved")
        alert.resolved_at, alert.resolution = now, kind
        self.store.save_alert(alert)
        self.store.log(alert.id, now, "resolved", note=kind)
        return True

    # staff actions ---------------------------------------------------------------------------------
    def alert_for(self, alert_id: str, staff: Staff) -> Alert:
        """The alert if it belongs to the staff member's care home (else not found, never forbidden:
        staff of one home must not learn that another home's alert exists)."""
        alert = self.store.alert(alert_id)
        if alert is None or alert.care_home != staff.care_home:
            raise AlertNotFound(f"There is no alert {alert_id} in {staff.care_home}.")
        return alert

    def acknowledge(self, alert_id: str, staff: Staff, now: float) -> Effect:
        with self.store.transaction():
            alert = self.alert_for(alert_id, staff)
            if alert.state == "acknowledged":
                return Effect(alert)
            alert.state = transition(alert.state, "acknowledged")
            alert.acknowledged_at, alert.acknowledged_by = now, staff.name
            self.store.save_alert(alert)
            self.store.log(alert.id, now, "acknowledged", actor=staff.name)
        return Effect(alert, outcome="acknowledged")

    def resolve(self, alert_id: str, staff: Staff, now: float) -> Effect:
        with self.store.transaction():
            alert = self.alert_for(alert_id, staff)
            alert.state = transition(alert.state, "resolved")
            alert.resolved_at, alert.resolution = now, "staff"
            if alert.acknowledged_by is None:
                alert.acknowledged_at, alert.acknowledged_by = now, staff.name
            self.store.save_alert(alert)
            self.store.log(alert.id, now, "resolved", actor=staff.name, note="staff")
        return Effect(alert, outcome="resolved")

    # the clock -------------------------------------------------------------------------------------
    def escalate_due(self, now: float) -> list[Effect]:
        """Notification rounds that are due at ``now``; each alert gets at most one per call."""
        policy = self.settings.escalation
        effects = []
        with self.store.transaction():
            for alert in self.store.alerts_to_escalate():
                round_no = due_round(alert, now, policy)
                if round_no is None:
                    continue
                alert.round = round_no
                audience = audience_for(round_no, policy)
                self.store.save_alert(alert)
                self.store.log(alert.id, now, "reminded", note=f"round {round_no} to {audience}")
                effects.append(Effect(alert, round_no, audience))
        return effects


def recipients(staff: list[Staff], alert: Alert, audience: Audience) -> list[Staff]:
    """Who hears a round: staff on shift for the room (all on shift when nobody has the room),
    everyone on shift when widened, and everyone of the home when nobody is on shift."""
    on_shift = [s for s in staff if s.on_shift]
    if not on_shift:
        return list(staff)
    if audience == "room":
        for_room = [s for s in on_shift if alert.room in s.rooms]
        return for_room or on_shift
    return on_shift


def _alert_from(event: FallEvent, device_id: str, site: str, now: float, **fields: Any) -> Alert:
    """A new alert carrying the event's identity and text; ``fields`` set its state."""
    return Alert(
        id=uuid.uuid4().hex[:16], care_home=event.care_home, room=event.room, device_id=device_id, site=site,
        kind=event.kind, severity=event.severity, text_da=event.text_da, text_en=event.text_en,
        event_id=event.event_id, started_ts=event.started_ts, opened_at=now, resident=event.resident,
        details=dict(event.details), **fields,
    )
