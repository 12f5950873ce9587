"""Web Push through a real receiver that verifies VAPID (RFC 8292) and decrypts aes128gcm (RFC 8291)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.alerts.store import Subscription
from hub.services.falls import FallAlertService
from tests.falls_hub.conftest import FakeClock, Feeder, add_staff, fall_event, wait_until
from tests.falls_hub.push_receiver import BrowserKeys, PushReceiver, PushRejected, verify_vapid


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    rx = PushReceiver()
    yield rx
    rx.close()


def subscribe(service: FallAlertService, receiver: PushReceiver, staff_id: int, name: str) -> None:
    info = receiver.subscribe(name)
    keys = info["keys"]
    service.store.add_subscription(Subscription(info["endpoint"], staff_id, keys["p256dh"], keys["auth"]), 0)


def test_fall_reaches_the_room_nurse_decrypted_and_signed(
    service: FallAlertService, feed: Feeder, receiver: PushReceiver
) -> None:
    anna = add_staff(service, "anna", rooms=("12",), language="da")
    bo = add_staff(service, "bo", rooms=("14",), language="en")
    subscribe(service, receiver, anna.id, "anna-phone")
    subscribe(service, receiver, bo.id, "bo-phone")
    feed(fall_event(room="12"))
    got = receiver.wait_for(1)
    assert receiver.rejected == []
    assert [r.name for r in got] == ["anna-phone"]  # round 0 goes to the room's nurse only
    push = got[0]
    assert push.payload["title"] == "Fald – bolig 12"
    assert push.payload["body"] == "Beboer i bolig 12 er faldet – 02:14"
    assert push.vapid_key == service.vapid_public_key
    assert push.claims["aud"] == receiver.origin and push.claims["sub"].startswith("mailto:")
    assert push.headers["urgency"] == "high" and int(push.headers["ttl"]) > 0


def test_escalation_widens_to_everyone_on_shift_until_acknowledged(
    service: FallAlertService, feed: Feeder, receiver: PushReceiver, clock: FakeClock
) -> None:
    anna = add_staff(service, "anna", rooms=("12",))
    bo = add_staff(service, "bo", rooms=("14",), language="en")
    cai = add_staff(service, "cai", rooms=("12",), on_shift=False)
    eve = add_staff(service, "eve", home="egebo", rooms=("12",))  # another care home, also on shift
    for staff in (anna, bo, cai, eve):
        subscribe(service, receiver, staff.id, f"{staff.username}-phone")
    feed(fall_event(room="12"))
    receiver.wait_for(1)
    clock.advance(120)
    service.tick()  # 2 min: reminder to the room
    receiver.wait_for(2)
    clock.advance(120)
    service.tick()  # 4 min: everyone on shift
    got = receiver.wait_for(4)
    assert [(r.name, r.payload["round"]) for r in got[:2]] == [("anna-phone", 0), ("anna-phone", 1)]
    assert sorted((r.name, r.payload["round"]) for r in got[2:]) == [("anna-phone", 2), ("bo-phone", 2)]
    assert next(r for r in got if r.name == "bo-phone").payload["title"] == "Fall – room 12 (reminder 2)"

    service.acknowledge(got[0].payload["alert_id"], bo)
    clock.advance(600)
    assert service.tick() == []
    assert len(receiver.wait_for(5, timeout=0.5)) == 4  # nothing after the acknowledgement
    assert receiver.rejected == []
    alert_id = got[0].payload["alert_id"]
    assert wait_until(lambda: len(service.store.notifications(alert_id)) == 4)  # written after each answer
    trail = service.store.notifications(alert_id)
    assert sorted((n["staff"], n["round"], n["audience"], n["status"]) for n in trail) == [
        ("Anna", 0, "room", "ok 201"),
        ("Anna", 1, "room", "ok 201"),
        ("Anna", 2, "home", "ok 201"),
        ("Bo", 2, "home", "ok 201"),
    ]


def test_expired_subscription_is_dropped(service: FallAlertService, feed: Feeder, receiver: PushReceiver) -> None:
    anna = add_staff(service, "anna")
    subscribe(service, receiver, anna.id, "old-phone")
    subscribe(service, receiver, anna.id, "new-phone")
    receiver.gone.add("old-phone")
    feed(fall_event())
    assert [r.name for r in receiver.wait_for(1)] == ["new-phone"]
    assert wait_until(lambda: len(service.store.subscriptions_of(anna.id)) == 1)
    assert [s.endpoint.rsplit("/", 1)[-1] for s in service.store.subscriptions_of(anna.id)] == ["new-phone"]


def test_receiver_rejects_forged_and_tampered_pushes(service: FallAlertService, receiver: PushReceiver) -> None:
    """The receiver is the judge in the tests above, so it must be able to say no."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from py_vapid import Vapid

    from hub.alerts.push import PushSender

    anna = add_staff(service, "anna")
    subscribe(service, receiver, anna.id, "phone")
    info = service.store.subscriptions_of(anna.id)[0].info()
    good = PushSender(ec.generate_private_key(ec.SECP256R1()), "mailto:x@example.org").send(info, {"n": 1})
    assert good.outcome == "ok" and receiver.received[-1].payload == {"n": 1}
    stolen = dict(info, keys=dict(info["keys"], auth=BrowserKeys().subscription("x")["keys"]["auth"]))
    assert PushSender(ec.generate_private_key(ec.SECP256R1()), "mailto:x@example.org").send(stolen, {}).status == 400
    header = Vapid(private_key=ec.generate_private_key(ec.SECP256R1())).sign(
        {"aud": "https://elsewhere.example", "exp": 2_000_000_000_000, "sub": "mailto:x@example.org"}
    )["Authorization"]
    with pytest.raises(PushRejected):
        verify_vapid(header, receiver.origin)
    assert len(receiver.rejected) == 1
