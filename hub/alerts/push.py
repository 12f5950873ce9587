"""Web Push to staff phones: VAPID keys (RFC 8292) kept in the state dir, and sending with pywebpush.

The VAPID private key comes from ``FALLS_VAPID_PRIVATE_KEY_FILE`` (a PEM file) when set,
else from ``<state_dir>/vapid_private.pem``, generated on first start (mode 0600). It is
never committed: a hub that loses it must have staff re-subscribe.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush  # imported with the hub: ~1 s, never on an alert's path

log = logging.getLogger(__name__)

VAPID_FILE = "vapid_private.pem"
VAPID_ENV = "FALLS_VAPID_PRIVATE_KEY_FILE"


def load_or_create_vapid_key(state_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The hub's VAPID key: from the env-named file, or the state dir (created when absent)."""
    env_path = os.environ.get(VAPID_ENV)
    path = Path(env_path) if env_path else state_dir / VAPID_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{path} is not a P-256 private key; VAPID needs one")
        return key
    if env_path:
        raise FileNotFoundError(f"{VAPID_ENV} names {path}, which does not exist")
    key = ec.generate_private_key(ec.SECP256R1())
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    log.info("generated VAPID key", extra={"path": str(path)})
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The ``applicationServerKey`` a browser subscribes with: the uncompressed point, base64url."""
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class PushResult:
    """What the push service said: ``ok``, or ``gone`` (subscription expired; drop it), or ``failed``."""

    outcome: str
    status: int | None
    detail: str = ""
    elapsed_ms: float = 0.0


class PushSender:
    """Encrypts (RFC 8291 aes128gcm) and posts one notification per subscription, signed with VAPID."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, subject: str, ttl_s: int = 300, timeout_s: float = 10.0):
        self._vapid = Vapid(private_key=key)
        self.subject = subject
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()  # keep-alive to the push service, per worker thread
        return self._local.session

    def send(self, subscription: dict[str, Any], payload: dict[str, Any], urgency: str = "high") -> PushResult:
        started = time.perf_counter()
        try:
            response = webpush(
                subscription_info=subscription,
                data=json.dumps(payload, ensure_ascii=False),
                vapid_private_key=self._vapid,
                vapid_claims={"sub": self.subject},  # pywebpush adds aud and exp to this dict
                ttl=self.ttl_s,
                headers={"Urgency": urgency, "Topic": str(payload.get("alert_id", ""))[:32]},
                requests_session=self._session(),
                timeout=self.timeout_s,
            )
            status = getattr(response, "status_code", None)
            return PushResult("ok", status, elapsed_ms=(time.perf_counter() - started) * 1000)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            outcome = "gone" if status in (404, 410) else "failed"
            return PushResult(outcome, status, str(exc)[:200], (time.perf_counter() - started) * 1000)
        except Exception as exc:  # network errors: the next round retries
            return PushResult(
                "failed", None, f"{type(exc).__name__}: {exc}"[:200], (time.perf_counter() - started) * 1000
            )
