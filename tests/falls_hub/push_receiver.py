"""A real Web Push receiver for tests: it plays the browser (P-256 key pair + auth secret) and the push
service (an HTTP endpoint), verifies the VAPID JWT (RFC 8292) and decrypts aes128gcm (RFC 8291).

Written from the RFCs with ``cryptography`` only, independent of pywebpush's own encryption code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


class PushRejected(ValueError):
    """The request breaks RFC 8291/8292; the receiver answers 400/401 with this reason."""


@dataclass
class BrowserKeys:
    """What a browser generates when it subscribes: a P-256 key pair and a 16-byte auth secret."""

    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """``PushSubscription.toJSON()`` as the browser would post it to the hub."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(self.public_raw), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 §3.4 key derivation + RFC 8188 aes128gcm records."""
        if len(body) < 21:
            raise PushRejected("body shorter than the aes128gcm header")
        salt, rs, idlen = body[:16], struct.unpack(">I", body[16:20])[0], body[20]
        sender_raw = body[21 : 21 + idlen]
        records = body[21 + idlen :]
        if idlen != 65 or rs < 18:
            raise PushRejected(f"keyid of {idlen} bytes / record size {rs} is not a P-256 aes128gcm header")
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_raw)
        ecdh_secret = self.private.exchange(ec.ECDH(), sender)
        prk_key = _hmac(self.auth, ecdh_secret)
        ikm = _hmac(prk_key, b"WebPush: info\x00" + self.public_raw + sender_raw + b"\x01")
        prk = _hmac(salt, ikm)
        cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
        nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
        plain = b""
        for index, start in enumerate(range(0, len(records), rs)):
            counter = int.from_bytes(nonce, "big") ^ index
            chunk = AESGCM(cek).decrypt(counter.to_bytes(12, "big"), records[start : start + rs], None)
            last = start + rs >= len(records)
            stripped = chunk.rstrip(b"\x00")
            if not stripped or stripped[-1] != (2 if last else 1):
                raise PushRejected("record padding delimiter is wrong")
            plain += stripped[:-1]
        return plain


def verify_vapid(authorization: str, audience: str, now: float | None = None) -> tuple[dict[str, Any], str]:
    """RFC 8292: ``vapid t=<ES256 JWT>, k=<public key>``; returns (claims, k) or raises PushRejected."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise PushRejected(f"authorization scheme {scheme!r} is not vapid")
    values = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
    token, key_b64 = values.get("t", ""), values.get("k", "")
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
    except ValueError:
        raise PushRejected("t is not a JWT") from None
    header = json.loads(unb64url(header_b64))
    if header.get("alg") != "ES256":
        raise PushRejected(f"JWT alg {header.get('alg')!r} is not ES256")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key_b64))
    signature = unb64url(signature_b64)
    if len(signature) != 64:
        raise PushRejected("ES256 signature must be 64 bytes (r || s)")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PushRejected("VAPID signature does not verify") from None
    claims = json.loads(unb64url(claims_b64))
    now = time.time() if now is None else now
    if claims.get("aud") != audience:
        raise PushRejected(f"aud {claims.get('aud')!r} is not {audience!r}")
    if not now < int(claims.get("exp", 0)) <= now + 24 * 3600:
        raise PushRejected("exp must lie within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise PushRejected("sub must be a mailto: or https: contact")
    return claims, key_b64


@dataclass
class Received:
    """One accepted push: which subscription, what it said, who signed it, when it arrived."""

    name: str
    payload: dict[str, Any]
    claims: dict[str, Any]
    vapid_key: str
    headers: dict[str, str]
    at: float


class PushReceiver:
    """HTTP push endpoints ``/push/<name>`` on loopback; one :class:`BrowserKeys` per name."""

    def __init__(self) -> None:
        self.browsers: dict[str, BrowserKeys] = {}
        self.gone: set[str] = set()  # names that answer 410 Gone (an expired subscription)
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status = receiver._accept(self)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def subscribe(self, name: str) -> dict[str, Any]:
        """A new 'browser' and its subscription JSON."""
        self.browsers[name] = BrowserKeys()
        return self.browsers[name].subscription(f"{self.origin}/push/{name}")

    def _accept(self, request: BaseHTTPRequestHandler) -> int:
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        name = request.path.rsplit("/", 1)[-1]
        if name in self.gone:
            return 410
        try:
            if name not in self.browsers:
                raise PushRejected(f"no subscription {name}")
            if request.headers.get("Content-Encoding") != "aes128gcm":
                raise PushRejected("Content-Encoding must be aes128gcm")
            if request.headers.get("TTL") is None:
                raise PushRejected("TTL header is required (RFC 8030)")
            claims, key = verify_vapid(request.headers.get("Authorization", ""), self.origin)
            payload = json.loads(self.browsers[name].decrypt(body))
        except (PushRejected, ValueError, InvalidTag) as exc:
            with self._cond:
                self.rejected.append(f"{name}: {exc}")
            return 400
        with self._cond:
            self.received.append(
                Received(name, payload, claims, key, {k.lower(): v for k, v in request.headers.items()}, time.time())
            )
            self._cond.notify_all()
        return 201

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` pushes have arrived (or the timeout passes)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
