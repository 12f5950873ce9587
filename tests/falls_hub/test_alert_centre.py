"""The alert state machine and the escalation ladder, driven by real FallEvents and a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.alerts.centre import recipients
from hub.alerts.model import EscalationPolicy, TransitionError, audience_for, due_round, transition
from hub.alerts.store import Staff
from tests.falls_hub.conftest import FakeClock, Feeder, add_staff, fall_event, make_service


def only_alert(service, state: str = "active"):
    alerts = service.store.alerts_of_home("solhaven", active=state == "active")
    assert len(alerts) == 1, alerts
    return alerts[0]


def test_transitions_allow_only_the_documented_changes() -> None:
    assert transition("open", "acknowledged") == "acknowledged"
    assert transition("acknowledged", "resolved") == "resolved"
    with pytest.raises(TransitionError):
        transition("resolved", "acknowledged")
    with pytest.raises(TransitionError):
        transition("resolved", "open")


def test_ladder_repeats_every_two_minutes_and_widens_after_four(service, feed: Feeder, clock: FakeClock) -> None:
    feed(fall_event())
    alert = only_alert(service)
    policy = EscalationPolicy()
    assert alert.round == 0 and due_round(alert, clock.now + 119, policy) is None
    assert due_round(alert, clock.now + 120, policy) == 1
    assert [audience_for(r, policy) for r in range(4)] == ["room", "room", "home", "home"]
    sent = []
    for _ in range(13):  # 6.5 minutes in 30 s steps
        clock.advance(30)
        sent += [(e.round, e.audience, round(clock.now - alert.opened_at)) for e in service.tick()]
    assert sent == [(1, "room", 120), (2, "home", 240), (3, "home", 360)]


def test_acknowledging_stops_the_ladder(service, feed: Feeder, clock: FakeClock) -> None:
    nurse = add_staff(service, "anna")
    feed(fall_event())
    alert = only_alert(service)
    clock.advance(130)
    assert [e.round for e in service.tick()] == [1]
    service.acknowledge(alert.id, nurse)
    clock.advance(600)
    assert service.tick() == []
    stored = service.store.alert(alert.id)
    assert stored.state == "acknowledged" and stored.acknowledged_by == "Anna" and stored.round == 1


def test_missed_rounds_collapse_into_one(service, feed: Feeder, clock: FakeClock) -> None:
    feed(fall_event())
    clock.advance(10 * 60)  # the hub was busy or down for ten minutes
    effects = service.tick()
    assert [(e.round, e.audience) for e in effects] == [(5, "home")]
    assert service.tick() == []


def test_duplicate_seq_and_resent_event_make_one_alert(service, feed: Feeder) -> None:
    feed(fall_event(event_id="ev-1"), seq=7)
    feed(fall_event(event_id="ev-1"), seq=7)  # at-least-once delivery: same message again
    feed(fall_event(event_id="ev-1"), seq=8)  # the device re-sent the event under a new seq
    assert len(service.store.alerts_of_home("solhaven", active=True)) == 1
    assert [e["action"] for e in service.store.alert_log(only_alert(service).id)] == ["opened"]


def test_got_up_resolves_the_related_alert_only(service, feed: Feeder) -> None:
    feed(fall_event(event_id="fall-12", room="12"))
    feed(fall_event(event_id="fall-14", room="14"))
    feed(fall_event(kind="got_up", event_id="up-12", room="12", related="fall-12"))
    active = service.store.alerts_of_home("solhaven", active=True)
    assert [a.room for a in active] == ["14"]
    resolved = only_alert(service, "history")
    assert (resolved.room, resolved.resolution) == ("12", "got_up")


def test_got_up_that_overtakes_its_fall_resolves_it_on_arrival(service, feed: Feeder, clock: FakeClock) -> None:
    # Live data goes before backlog: the device's outbox may deliver got_up before the fall it clears.
    feed(fall_event(kind="got_up", event_id="up-1", related="fall-1"), seq=11)
    assert service.store.alerts_of_home("solhaven", active=True) == []
    feed(fall_event(event_id="fall-1"), seq=10)
    alert = only_alert(service, "history")
    assert alert.resolution == "got_up"
    clock.advance(600)
    assert service.tick() == []


def test_on_floor_that_overtakes_its_fall_joins_it(service, feed: Feeder) -> None:
    feed(fall_event(kind="on_floor", event_id="floor-1", related="fall-1"), seq=11)
    feed(fall_event(event_id="fall-1"), seq=10)
    alert = only_alert(service)
    assert (alert.kind, alert.state) == ("on_floor", "open")
    feed(fall_event(kind="got_up", event_id="up-1", related="fall-1"), seq=12)
    assert only_alert(service, "history").resolution == "got_up"


def test_late_fall_is_not_closed_by_an_opening_event_that_referred_to_it(service, feed: Feeder) -> None:
    nurse = add_staff(service, "anna")
    feed(fall_event(kind="on_floor", event_id="floor-1", related="fall-1"), seq=11)
    service.resolve(only_alert(service).id, nurse)
    feed(fall_event(event_id="fall-1"), seq=10)  # arrives after staff closed the room's alert
    late = only_alert(service)
    assert (late.kind, late.state, late.resolution) == ("fall", "open", None)


@pytest.mark.parametrize(
    ("policy", "state", "severity", "muted", "reminders"),
    [
        ("downgrade", "open", "warning", True, []),
        ("suppress", "resolved", "critical", False, []),
        ("ignore", "open", "critical", False, [5]),
    ],
)
def test_staff_present_follows_config(
    tmp_path: Path, policy: str, state: str, severity: str, muted: bool, reminders: list[int]
) -> None:
    clock = FakeClock()
    service = make_service(tmp_path, clock, staff_present=policy)
    try:
        feed = Feeder(service)
        feed(fall_event(event_id="fall-1"))
        feed(fall_event(kind="staff_present", event_id="staff-1", related="fall-1"))
        alert = service.store.alerts_of_home("solhaven", active=state != "resolved")[0]
        assert (alert.state, alert.severity, alert.muted) == (state, severity, muted)
        clock.advance(600)
        assert [e.round for e in service.tick()] == reminders
    finally:
        service.stop()


def test_fall_the_device_suppressed_goes_to_history_silently(service, feed: Feeder) -> None:
    event = fall_event(event_id="fall-1", severity="info").model_copy(
        update={"details": {"staff_present": True, "suppressed": True}}
    )
    feed(event)
    assert service.store.alerts_of_home("solhaven", active=True) == []
    assert only_alert(service, "history").resolution == "staff_present"


def test_on_floor_joins_the_fall_and_a_worse_event_reopens(service, feed: Feeder, clock: FakeClock) -> None:
    nurse = add_staff(service, "anna")
    feed(fall_event(kind="bed_exit_warning", event_id="bed-1"))
    alert = only_alert(service)
    service.acknowledge(alert.id, nurse)
    clock.advance(60)
    feed(fall_event(kind="fall", event_id="fall-1"))  # it got worse after someone acknowledged
    reopened = only_alert(service)
    assert (reopened.id, reopened.kind, reopened.severity, reopened.state) == (alert.id, "fall", "critical", "open")
    assert reopened.opened_at == clock.now and reopened.round == 0
    service.acknowledge(alert.id, nurse)
    feed(fall_event(kind="on_floor", event_id="floor-1", related="fall-1"))  # same severity: no re-alarm
    same = only_alert(service)
    assert (same.kind, same.state) == ("on_floor", "acknowledged")


def test_alerts_and_their_ladder_survive_a_hub_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    first = make_service(tmp_path, clock)
    Feeder(first)(fall_event(event_id="fall-1"), seq=1)
    clock.advance(130)
    assert [e.round for e in first.tick()] == [1]
    first.stop()

    second = make_service(tmp_path, clock)  # the hub restarted: same state dir
    try:
        Feeder(second)(fall_event(event_id="fall-1"), seq=1)  # the device re-sends the unacknowledged message
        alerts = second.store.alerts_of_home("solhaven", active=True)
        assert len(alerts) == 1 and alerts[0].round == 1
        clock.advance(120)
        assert [(e.round, e.audience) for e in second.tick()] == [(2, "home")]
    finally:
        second.stop()


def test_night_report_is_history_without_notification(service, feed: Feeder) -> None:
    feed(fall_event(kind="night_report", event_id="night-1"))
    assert service.store.alerts_of_home("solhaven", active=True) == []
    report = only_alert(service, "history")
    assert (report.kind, report.resolution) == ("night_report", "report")


def test_recipients_widen_from_room_to_shift() -> None:
    staff = [
        Staff(1, "anna", "solhaven", "Anna", True, ["12"]),
        Staff(2, "bo", "solhaven", "Bo", True, ["14"]),
        Staff(3, "cai", "solhaven", "Cai", False, ["12"]),
    ]
    alert = type("A", (), {"room": "12"})()
    assert [s.username for s in recipients(staff, alert, "room")] == ["anna"]
    assert [s.username for s in recipients(staff, alert, "home")] == ["anna", "bo"]
    alert.room = "99"  # nobody has room 99: everyone on shift
    assert [s.username for s in recipients(staff, alert, "room")] == ["anna", "bo"]
    nobody = [Staff(s.id, s.username, s.care_home, s.name, False, s.rooms) for s in staff]
    assert len(recipients(nobody, alert, "room")) == 3  # nobody on shift: tell every account of the home


def test_time_to_acknowledge_and_resolve_reach_the_time_series_store(tmp_path: Path) -> None:
    from hub.store import make_store

    store = make_store(f"sqlite:///{tmp_path / 'ts.sqlite'}")
    clock = FakeClock()
    service = make_service(tmp_path / "falls", clock, store=store)
    try:
        nurse = add_staff(service, "anna")
        feed = Feeder(service)
        feed(fall_event(event_id="fall-1"))
        clock.advance(95)
        service.acknowledge(only_alert(service).id, nurse)
        clock.advance(60)
        feed(fall_event(kind="got_up", event_id="up-1", related="fall-1"))
        rows = store.select("falls_alert")
        assert [(r["outcome"], r["seconds"], r["care_home"], r["kind"]) for r in rows] == [
            ("opened", 0.0, "solhaven", "fall"),
            ("acknowledged", 95.0, "solhaven", "fall"),
            ("resolved", 155.0, "solhaven", "fall"),
        ]
        assert rows[2]["resolution"] == "got_up"
    finally:
        service.stop()
        store.close()


def test_falls_section_of_the_hub_config_reaches_the_service(tmp_path: Path) -> None:
    from hub.runtime import Hub
    from hub.settings import HubSettings

    settings = HubSettings(
        state_dir=tmp_path,
        store_url=f"sqlite:///{tmp_path / 'ts.sqlite'}",
        services=["hub.services.falls:FallAlertService", "hub.services.road:RoadService"],
        service_settings={"falls": {"escalation": {"repeat_every_s": 60}, "staff_present": "suppress"}},
    )
    hub = Hub.build(settings)
    falls = next(s for s in hub.services if s.name == "falls")
    falls.configure(falls.ctx.settings)  # what start() does
    try:
        assert falls.settings.escalation.repeat_every_s == 60
        assert falls.settings.staff_present == "suppress"
    finally:
        for service in hub.services:
            service.stop()
        hub.jobs.shutdown()
        hub.store.close()


def test_resolved_history_is_purged_after_the_retention_period(tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(tmp_path, clock, retention_days=30)
    try:
        nurse = add_staff(service, "anna")
        feed = Feeder(service)
        feed(fall_event(event_id="old", room="1"))
        service.resolve(only_alert(service).id, nurse)
        feed(fall_event(event_id="still-open", room="2"))
        clock.advance(29 * 86400)
        service.tick()
        assert len(service.store.alerts_of_home("solhaven", active=False)) == 1  # not yet
        clock.advance(2 * 86400)
        service.tick()  # purges at most hourly: this is the first tick in the new hour
        assert service.store.alerts_of_home("solhaven", active=False) == []
        assert [a.room for a in service.store.alerts_of_home("solhaven", active=True)] == ["2"]
        assert service.store.alert_log(service.store.alerts_of_home("solhaven", active=True)[0].id)
    finally:
        service.stop()
