"""The locked-down broker against a real Mosquitto: TLS only, client certificates, per-device ACL, CRL."""

from __future__ import annotations

import time

import pytest

from hub.pki import HUB_IDENTITY, CertificateAuthority

pytestmark = pytest.mark.services

SITE = "odense"


def topic(device: str, stream: str) -> str:
    return f"kommune/{SITE}/{device}/{stream}"


def settle(seconds: float = 0.6) -> None:
    time.sleep(seconds)


def test_device_with_certificate_reaches_the_hub(tls_broker):
    hub = tls_broker.connect(HUB_IDENTITY)
    device = tls_broker.connect("lamp-001")
    assert hub.connected and device.connected, (hub.reason, device.reason)
    assert hub.subscribe("kommune/#") == 1
    device.publish(topic("lamp-001", "traffic/counts"), b"own data")
    device.publish(topic("lamp-001", "status"), b"online")
    settle()
    assert (topic("lamp-001", "traffic/counts"), b"own data") in hub.received
    assert (topic("lamp-001", "status"), b"online") in hub.received
    hub.close()
    device.close()


def test_anonymous_client_is_refused(tls_broker):
    session = tls_broker.connect(None)
    assert not session.connected, "a TLS client without a certificate was let in"


def test_certificate_from_another_ca_is_refused(tls_broker, tmp_path):
    rogue = CertificateAuthority(tmp_path / "rogue")
    rogue.init("rogue")
    rogue.issue("lamp-001", "device")
    genuine = tls_broker.ca
    tls_broker.ca = rogue
    try:
        # the rogue client trusts the real broker's CA but presents a rogue certificate
        rogue.ca_cert_path.write_bytes(genuine.ca_cert_path.read_bytes())
        session = tls_broker.connect("lamp-001")
    finally:
        tls_broker.ca = genuine
    assert not session.connected


def test_plain_tcp_is_refused_and_only_a_tls_listener_exists(tls_broker):
    session = tls_broker.connect("lamp-001", tls=False)
    assert not session.connected
    listeners = [line for line in tls_broker.conf.read_text().splitlines() if line.startswith("listener ")]
    assert listeners == [f"listener {tls_broker.port} 127.0.0.1"]


def test_device_cannot_publish_under_another_device(tls_broker):
    hub = tls_broker.connect(HUB_IDENTITY)
    attacker = tls_broker.connect("lamp-001")
    assert hub.connected and attacker.connected
    hub.subscribe("kommune/#")
    forged = [
        topic("lamp-002", "traffic/counts"),
        topic("lamp-002", "status"),
        "kommune/other-site/lamp-002/system/heartbeat",
        # nor fake the hub's messages to itself
        topic("lamp-001", "ack"),
        topic("lamp-001", "config"),
        topic("lamp-001", "cmd"),
    ]
    for name in forged:
        attacker.publish(name, b"forged")
    attacker.publish(topic("lamp-001", "system/heartbeat"), b"genuine")
    settle()
    assert hub.received == [(topic("lamp-001", "system/heartbeat"), b"genuine")]
    hub.close()
    attacker.close()


def test_device_cannot_read_another_devices_topics(tls_broker):
    hub = tls_broker.connect(HUB_IDENTITY)
    owner = tls_broker.connect("lamp-001")
    snoop = tls_broker.connect("lamp-002")
    assert hub.connected and owner.connected and snoop.connected
    for stream in ("ack", "config", "cmd"):
        assert owner.subscribe(topic("lamp-001", stream)) == 1
    # Mosquitto 2.0 grants such a SUBACK and filters every message against the read ACL on delivery.
    for pattern in (topic("lamp-001", "cmd"), topic("lamp-001", "traffic/counts"), "kommune/#", "#"):
        snoop.subscribe(pattern)
    for stream in ("ack", "config", "cmd"):
        hub.publish(topic("lamp-001", stream), stream.encode())
    owner.publish(topic("lamp-001", "traffic/counts"), b"data")
    settle()
    assert sorted(p for _, p in owner.received) == [b"ack", b"cmd", b"config"]
    assert snoop.received == []
    for s in (hub, owner, snoop):
        s.close()


def test_revoked_certificate_is_refused_after_reload(tls_broker):
    before = tls_broker.connect("lamp-001")
    assert before.connected
    before.close()
    tls_broker.ca.revoke("lamp-001")
    tls_broker.reload()
    after = tls_broker.connect("lamp-001")
    assert not after.connected, "a revoked certificate still connects after SIGHUP"
    other = tls_broker.connect("lamp-002")
    assert other.connected, f"an unrevoked device was refused after the reload: {other.reason}"
    other.close()


def test_reissued_certificate_replaces_the_revoked_one(tls_broker):
    old_cert = tls_broker.ca.cert_path("care-001").read_bytes()
    old_key = tls_broker.ca.key_path("care-001").read_bytes()
    tls_broker.ca.issue("care-001", "device", replace=True)
    tls_broker.reload()
    fresh = tls_broker.connect("care-001")
    assert fresh.connected, fresh.reason
    fresh.close()
    tls_broker.ca.cert_path("care-001").write_bytes(old_cert)
    tls_broker.ca.key_path("care-001").write_bytes(old_key)
    stale = tls_broker.connect("care-001")
    assert not stale.connected, "the certificate replaced by rotation still connects"
