"""Signed rollout: device-side verification and rollback, hub-side staging and automatic rollback on a fake clock."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.rollout import ReleaseRefused, ReleaseStore, RolloutHandler
from hub.domain import HubContext
from hub.rollout import ReleaseSigner, RolloutBook, RolloutError, RolloutService
from protocol import Command, Envelope, Topic
from protocol.rollout import Manifest, SignedManifest
from protocol.streams.system import CommandResult, HealthEvent, Heartbeat

MODEL_V1 = b"tflite model, version 1" * 100
MODEL_V2 = b"tflite model, version 2" * 100
MIN = 60_000


class FakeClock:
    def __init__(self, now: float = 1_763_900_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Emitted:
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def __call__(self, body: Any, priority: int = 0) -> int:
        self.bodies.append(body)
        return len(self.bodies)


def signed_release(signer: ReleaseSigner, data: bytes, version: str, file: str = "detector.tflite") -> SignedManifest:
    import hashlib

    manifest = Manifest(kind="model", name="traffic-detector", version=version, file=file,
                        sha256=hashlib.sha256(data).hexdigest(), size=len(data), created_ms=1)
    return SignedManifest(manifest=manifest, signature=signer.sign(manifest))


@pytest.fixture
def signer(tmp_path: Path) -> ReleaseSigner:
    return ReleaseSigner.load_or_create(tmp_path / "hub" / "signing.key")


@pytest.fixture
def device(tmp_path: Path, signer: ReleaseSigner) -> tuple[ReleaseStore, Emitted]:
    emitted = Emitted()
    return ReleaseStore(tmp_path / "device", signer.key.public_key(), emitted), emitted


# -- device -------------------------------------------------------------------------------------------
def test_verified_release_is_installed(device, signer):
    store, emitted = device
    installed = store.install(signed_release(signer, MODEL_V1, "v1"), MODEL_V1)
    assert store.current_path("model", "traffic-detector") == installed.path
    assert installed.path.read_bytes() == MODEL_V1
    assert emitted.bodies == []


def test_checksum_mismatch_is_refused_and_reported(device, signer):
    store, emitted = device
    store.install(signed_release(signer, MODEL_V1, "v1"), MODEL_V1)
    tampered = MODEL_V2[:-1] + b"X"
    with pytest.raises(ReleaseRefused) as refused:
        store.install(signed_release(signer, MODEL_V2, "v2"), tampered)
    assert refused.value.kind == "checksum_mismatch"
    assert store.current_path("model", "traffic-detector").read_bytes() == MODEL_V1
    [event] = emitted.bodies
    assert isinstance(event, HealthEvent)
    assert (event.pipeline, event.kind, event.state, event.severity) == (
        "rollout", "checksum_mismatch", "raised", "critical")


def test_signature_of_another_key_is_refused(device, tmp_path):
    store, emitted = device
    intruder = ReleaseSigner(Ed25519PrivateKey.generate())
    with pytest.raises(ReleaseRefused) as refused:
        store.install(signed_release(intruder, MODEL_V1, "v1"), MODEL_V1)
    assert refused.value.kind == "bad_signature"
    assert store.current_path("model", "traffic-detector") is None
    assert [e.kind for e in emitted.bodies] == ["bad_signature"]


def test_manifest_edited_after_signing_is_refused(device, signer):
    store, _ = device
    genuine = signed_release(signer, MODEL_V1, "v1")
    forged = genuine.model_copy(update={"manifest": genuine.manifest.model_copy(update={"version": "v9"})})
    with pytest.raises(ReleaseRefused, match="signature"):
        store.install(forged, MODEL_V1)


def test_previous_version_is_kept_for_rollback_and_older_ones_pruned(device, signer):
    store, _ = device
    store.install(signed_release(signer, MODEL_V1, "v1", "a.tflite"), MODEL_V1)
    store.install(signed_release(signer, MODEL_V2, "v2", "b.tflite"), MODEL_V2)
    back = store.rollback("model", "traffic-detector")
    assert back.version == "v1" and store.current_path("model", "traffic-detector").read_bytes() == MODEL_V1
    store.install(signed_release(signer, b"three", "v3"), b"three")
    kept = sorted(p.name for p in (store.root / "model" / "traffic-detector").iterdir() if p.is_dir())
    assert kept == ["v1", "v3"]


# -- hub ----------------------------------------------------------------------------------------------
DEVICES = ["lamp-001", "lamp-002", "lamp-003", "lamp-004", "lamp-005"]


@pytest.fixture
def book(tmp_path: Path, signer: ReleaseSigner) -> RolloutBook:
    book = RolloutBook(tmp_path / "rollout.sqlite")
    for device in DEVICES:
        book.saw_device(device, "odense")
    return book


def add(book: RolloutBook, signer: ReleaseSigner, data: bytes, version: str) -> int:
    return book.add_release(signed_release(signer, data, version))


def healthy(book: RolloutBook, device: str, rollout_id: int, now: int) -> None:
    result = CommandResult(command_id=f"rollout:{rollout_id}", action="rollout", ok=True, message="running")
    book.command_result(device, result, now)
    book.heartbeat(device, now + 1000)


def test_canary_first_then_the_rest_then_done(book, signer):
    rid, effects = book.start(add(book, signer, MODEL_V2, "v2"), DEVICES, ["lamp-001"], 600, now_ms=0)
    assert [e.device_id for e in effects] == ["lamp-001"]
    assert effects[0].command.action == "rollout"
    assert SignedManifest.model_validate(effects[0].command.args).manifest.version == "v2"
    assert book.tick(1 * MIN) == []  # canary not yet healthy: nobody else is offered the release
    healthy(book, "lamp-001", rid, 2 * MIN)
    rest = book.tick(3 * MIN)
    assert sorted(e.device_id for e in rest) == DEVICES[1:]
    assert book.rollout(rid)["state"] == "fleet"
    for device in DEVICES[1:]:
        healthy(book, device, rid, 4 * MIN)
    assert book.tick(5 * MIN) == []
    assert book.rollout(rid)["state"] == "done"
    assert {(v["device_id"], v["version"]) for v in book.versions()} == {(d, "v2") for d in DEVICES}


def test_silent_canary_is_rolled_back_and_the_rest_never_offered(book, signer):
    first = add(book, signer, MODEL_V1, "v1")
    rid1, _ = book.start(first, DEVICES, ["lamp-001"], 600, now_ms=0)
    healthy(book, "lamp-001", rid1, MIN)
    book.tick(2 * MIN)
    for device in DEVICES[1:]:
        healthy(book, device, rid1, 3 * MIN)
    book.tick(4 * MIN)
    rid, _ = book.start(add(book, signer, MODEL_V2, "v2"), DEVICES, ["lamp-002"], 600, now_ms=10 * MIN)
    assert book.tick(19 * MIN) == []  # within N minutes: wait
    effects = book.tick(20 * MIN)
    assert [(e.device_id, e.command.action, e.command.args["version"]) for e in effects] == [
        ("lamp-002", "rollback", "v1")]
    state = book.rollout(rid)
    assert state["state"] == "rolled_back" and "in time" in state["reason"]
    assert {t["device_id"]: t["state"] for t in state["targets"]}["lamp-003"] == "skipped"


def test_refused_release_rolls_back(book, signer):
    rid, _ = book.start(add(book, signer, MODEL_V2, "v2"), DEVICES, ["lamp-001", "lamp-002"], 600, now_ms=0)
    healthy(book, "lamp-001", rid, MIN)
    book.health_event("lamp-002", HealthEvent(pipeline="rollout", kind="checksum_mismatch", state="raised",
                                              severity="critical", message="sha256 differs"))
    effects = book.tick(2 * MIN)
    assert sorted(e.device_id for e in effects) == ["lamp-001", "lamp-002"]
    assert "checksum_mismatch" in book.rollout(rid)["reason"]


def test_failure_in_the_fleet_stage_rolls_back_everyone_who_got_it(book, signer):
    rid, _ = book.start(add(book, signer, MODEL_V2, "v2"), DEVICES, ["lamp-001"], 600, now_ms=0)
    healthy(book, "lamp-001", rid, MIN)
    book.tick(2 * MIN)
    for device in DEVICES[1:4]:
        healthy(book, device, rid, 3 * MIN)
    book.command_result("lamp-005", CommandResult(command_id=f"rollout:{rid}", action="rollout", ok=False,
                                                  message="disk full"), 3 * MIN)
    effects = book.tick(4 * MIN)
    assert sorted(e.device_id for e in effects) == DEVICES
    assert book.rollout(rid)["state"] == "rolled_back"


def test_rollout_refuses_unknown_devices_and_releases(book, signer):
    with pytest.raises(RolloutError, match="never reported"):
        book.start(add(book, signer, MODEL_V2, "v2"), ["ghost-001"], [], 600, now_ms=0)
    with pytest.raises(RolloutError, match="no release"):
        book.start(99, DEVICES, [], 600, now_ms=0)


# -- hub and device together, through the real command encoding ---------------------------------------
def test_hub_and_device_round_trip_with_tampered_file(tmp_path: Path):
    clock = FakeClock()
    sent: list[tuple[str, bytes]] = []
    ctx = HubContext(state_dir=tmp_path / "hub", prefix="kommune", publish=lambda t, p, r: sent.append((t, p)),
                     store=None, jobs=None)
    hub = RolloutService(ctx, clock=clock)
    public_key = hub.signer.key.public_key()
    emitted = Emitted()
    handler = RolloutHandler(ReleaseStore(tmp_path / "dev", public_key, emitted),
                             fetch=lambda url: (hub.artifacts / url.rsplit("/", 1)[1]).read_bytes())
    topic = Topic("kommune", "odense", "lamp-001", "system/heartbeat")
    beat = Heartbeat(uptime_s=1, cpu_percent=1, mem_percent=1, mem_rss_mb=1, outbox_depth=0, outbox_dropped=0,
                     session=1)

    def deliver(body: Any, seq: int) -> None:
        hub.handle(topic.sibling(body.STREAM), Envelope(device_id="lamp-001", seq=seq, ts=0, body={}), body)

    deliver(beat, 1)
    release = hub.publish_release("model", "traffic-detector", "v2", "detector.tflite", MODEL_V2)
    manifest = hub.book.release(release).manifest
    (hub.artifacts / manifest.sha256).write_bytes(MODEL_V2 + b"!")  # the file is damaged after signing
    rid, effects = hub.book.start(release, ["lamp-001"], [], 600, hub.now_ms())
    hub.dispatch(effects)
    [(cmd_topic, payload)] = sent
    assert cmd_topic == "kommune/odense/lamp-001/cmd"
    command = Command.model_validate_json(payload)
    ok, message = handler.on_command(command)
    assert not ok and "checksum_mismatch" in message
    deliver(emitted.bodies[0], 2)
    deliver(CommandResult(command_id=command.id, action=command.action, ok=ok, message=message), 3)
    hub.dispatch(hub.book.tick(hub.now_ms()))
    assert hub.book.rollout(rid)["state"] == "rolled_back"
    assert Command.model_validate_json(sent[-1][1]).action == "rollback"


def test_admin_rollout_over_http(tmp_path: Path):
    from fastapi.testclient import TestClient

    from tests.security.test_api_roles import build_app

    app = build_app(tmp_path)
    admin = {"Authorization": f"Bearer {app.state.tokens.issue('ops', 'admin')}"}
    device = {"Authorization": f"Bearer {app.state.tokens.issue('lamp-001', 'device')}"}
    service = next(s for s in app.state.hub.services if isinstance(s, RolloutService))
    service.book.saw_device("lamp-001", "odense")
    with TestClient(app) as client:
        body = {"kind": "model", "name": "traffic-detector", "version": "v2", "file": "detector.tflite",
                "content_b64": base64.b64encode(MODEL_V2).decode()}
        created = client.post("/rollout/releases", json=body, headers=admin)
        assert created.status_code == 201, created.text
        again = client.post("/rollout/releases", json=body, headers=admin)
        assert again.status_code == 400 and "immutable" in again.json()["detail"]
        url = created.json()["url"]
        assert client.get(url, headers=device).content == MODEL_V2
        started = client.post("/rollout/rollouts", headers=admin,
                              json={"release_id": created.json()["id"], "devices": ["lamp-001"]})
        assert started.status_code == 201, started.text
        assert [t["state"] for t in started.json()["targets"]] == ["sent"]
        missing = client.post("/rollout/rollouts", headers=admin, json={"release_id": 42, "devices": ["lamp-001"]})
        assert missing.status_code == 404 and missing.json()["detail"] == "There is no release 42."
        rolled = client.post(f"/rollout/rollouts/{started.json()['id']}/rollback", headers=admin)
        assert rolled.json()["state"] == "rolled_back"
        assert client.get("/rollout/devices", headers=device).status_code == 403
