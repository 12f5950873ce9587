"""The alert state machine and the escalation ladder as pure functions (no I/O, no clock).

An alert is ``open`` until a staff member acknowledges it, and ``resolved`` when the
resident got up, staff resolved it, or staff presence suppressed it. Escalation
re-notifies every ``repeat_every_s`` while the alert is open and widens the audience
from the room's staff to every staff member on shift after ``widen_after_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AlertState = Literal["open", "acknowledged", "resolved"]
Audience = Literal["room", "home"]
Severity = Literal["info", "warning", "critical"]

# Event kinds that open (or upgrade) an alert; the others act on an existing one.
OPENING_KINDS = frozenset({"bed_exit_warning", "fall", "on_floor"})
CLEARING_KINDS = frozenset({"got_up"})
STAFF_KINDS = frozenset({"staff_present"})
REPORT_KINDS = frozenset({"night_report"})

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
# When two opening events meet in one alert, the alert shows the more serious kind.
KIND_RANK: dict[str, int] = {"night_report": 0, "bed_exit_warning": 1, "fall": 2, "on_floor": 3}

_ALLOWED: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "resolved"}),
    "acknowledged": frozenset({"resolved", "open"}),  # "open" only when a worse event arrives
    "resolved": frozenset(),
}


class TransitionError(ValueError):
    """A state change the alert does not allow (e.g. acknowledging a resolved alert)."""


def transition(state: AlertState, to: AlertState) -> AlertState:
    """The new state, or :class:`TransitionError` with a sentence staff can read."""
    if to not in _ALLOWED[state]:
        raise TransitionError(f"An alert that is {state} cannot become {to}.")
    return to


class EscalationPolicy(BaseModel):
    """The escalation ladder of one hub (``falls.escalation`` in the hub config).

    repeat_every_s : seconds between notification rounds while the alert is open.
    widen_after_s : seconds after opening from which rounds go to every staff member on shift
        in the care home instead of the room's own staff.
    kinds : event kinds whose alerts are pushed and escalated; others only appear in the app.
    """

    model_config = ConfigDict(extra="forbid")

    repeat_every_s: float = Field(120.0, gt=0)
    widen_after_s: float = Field(240.0, ge=0)
    kinds: tuple[str, ...] = ("fall", "on_floor", "bed_exit_warning")


class FallsSettings(BaseModel):
    """The ``falls`` section of the hub config.

    staff_present : what a ``staff_present`` event does to the alert it refers to: ``downgrade``
        (lower severity one step, stop escalation, keep it open), ``suppress`` (resolve it) or
        ``ignore``.
    tick_s : how often the escalation timer looks for due rounds.
    vapid_subject : the ``sub`` claim of VAPID tokens: a mailto: or https: contact of the operator.
    token_ttl_s : how long a staff login stays valid.
    push_ttl_s : how long a push service keeps an undelivered notification.
    retention_days : resolved alerts (text, stick-figure clip, log) are deleted this long after they
        were resolved; 0 keeps them for ever.
    push_hosts : push-service host names (and their subdomains) subscriptions may point at.
    accept_api_tokens : also accept hub API tokens of role ``care_staff`` (``python -m hub.security issue
        NAME --role care_staff --care-home HOME``, e.g. for a ward tablet without a personal account),
        scoped to the token's care home. They see and act on that home's alerts; account settings and
        Web Push subscriptions need a staff login.
    """

    model_config = ConfigDict(extra="forbid")

    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    staff_present: Literal["downgrade", "suppress", "ignore"] = "downgrade"
    tick_s: float = Field(1.0, gt=0)
    vapid_subject: str = "mailto:it@kommune.example"
    token_ttl_s: int = Field(14 * 24 * 3600, gt=0)
    push_ttl_s: int = Field(300, ge=0)
    retention_days: float = Field(90.0, ge=0)
    accept_api_tokens: bool = False
    push_hosts: tuple[str, ...] = (
        "fcm.googleapis.com",  # Chrome, Edge, Android
        "push.services.mozilla.com",  # Firefox
        "push.apple.com",  # Safari, iOS home-screen apps
        "notify.windows.com",  # Edge on Windows (WNS)
    )

    def push_host_allowed(self, host: str) -> bool:
        """Push endpoints must belong to a browser vendor's push service (the hub POSTs to them:
        an arbitrary URL would let any staff account make the hub call internal addresses)."""
        host = host.lower().rstrip(".")
        return any(host == known or host.endswith("." + known) for known in self.push_hosts)


@dataclass
class Alert:
    """One alert as the staff see it."""

    id: str
    care_home: str
    room: str
    device_id: str
    site: str
    kind: str
    severity: str
    state: AlertState
    text_da: str
    text_en: str
    event_id: str
    started_ts: int  # when the situation began on the device, epoch ms
    opened_at: float  # when the hub opened (or re-opened) it, epoch s: the ladder counts from here
    resident: str | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolution: str | None = None
    round: int = 0  # last notification round sent (0 = the first notification)
    muted: bool = False  # escalation stopped (staff present)
    clip: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def public(self, with_clip: bool = True) -> dict[str, Any]:
        """The JSON the API and the live feed send."""
        data = {k: v for k, v in self.__dict__.items() if with_clip or k != "clip"}
        return data


def escalates(alert: Alert, policy: EscalationPolicy) -> bool:
    """Whether the alert is pushed and re-notified at all."""
    return alert.kind in policy.kinds and alert.severity != "info"


def due_round(alert: Alert, now: float, policy: EscalationPolicy) -> int | None:
    """The notification round due at ``now`` that has not been sent, or None.

    Rounds are numbered from the alert's opening: round ``k`` is due at
    ``opened_at + k * repeat_every_s``. Missed rounds (the hub was down) collapse
    into the latest one, so staff get one notification, not a burst.
    """
    if alert.state != "open" or alert.muted or not escalates(alert, policy):
        return None
    elapsed = max(0.0, now - alert.opened_at)
    latest = int(elapsed // policy.repeat_every_s)
    return latest if latest > alert.round else None


def audience_for(round_no: int, policy: EscalationPolicy) -> Audience:
    """Who a round goes to: the room's staff first, every staff member on shift after the widening."""
    return "home" if round_no * policy.repeat_every_s >= policy.widen_after_s else "room"


def downgrade(severity: str) -> str:
    """One step less severe (critical → warning → info)."""
    rank = max(0, SEVERITY_RANK[severity] - 1)
    return next(name for name, value in SEVERITY_RANK.items() if value == rank)
