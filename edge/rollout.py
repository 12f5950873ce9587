"""Device side of signed rollout: verify signature and checksum, install beside the previous version, roll back.

Layout under ``root``: ``<kind>/<name>/<version>/<file>`` plus ``<kind>/<name>/state.json``
(``{"current": ..., "previous": ..., "files": {version: file}}``). Only the current and previous versions are kept.
A refused release is reported as a ``system/health`` event (pipeline ``rollout``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import ValidationError

from protocol import Command
from protocol.rollout import SignedManifest, canonical_bytes
from protocol.streams.base import Body
from protocol.streams.system import HealthEvent

log = logging.getLogger(__name__)
PIPELINE = "rollout"


class ReleaseRefused(ValueError):
    """A release failed verification; ``kind`` is ``bad_signature`` or ``checksum_mismatch``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Installed:
    kind: str
    name: str
    version: str
    path: Path
    previous: str | None


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    key = load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def verify(public_key: Ed25519PublicKey, signed: SignedManifest, data: bytes) -> None:
    """Raise :class:`ReleaseRefused` unless the hub signed this manifest and ``data`` matches it."""
    try:
        public_key.verify(bytes.fromhex(signed.signature), canonical_bytes(signed.manifest))
    except (InvalidSignature, ValueError):
        raise ReleaseRefused(
            "bad_signature",
            f"{signed.manifest.kind} {signed.manifest.name} {signed.manifest.version}: "
            "signature does not verify against the hub's rollout key",
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != signed.manifest.sha256 or len(data) != signed.manifest.size:
        raise ReleaseRefused(
            "checksum_mismatch",
            f"{signed.manifest.file}: sha256 {digest[:16]}… ({len(data)} bytes) does not match "
            f"the signed {signed.manifest.sha256[:16]}… ({signed.manifest.size} bytes)",
        )


class ReleaseStore:
    """Verified releases on the device, with the previous version kept for rollback."""

    def __init__(self, root: Path | str, public_key: Ed25519PublicKey, emit: Callable[..., int] | None = None) -> None:
        self.root = Path(root)
        self.public_key = public_key
        self.emit = emit

    def _dir(self, kind: str, name: str) -> Path:
        return self.root / kind / name

    def state(self, kind: str, name: str) -> dict[str, Any]:
        path = self._dir(kind, name) / "state.json"
        return json.loads(path.read_text()) if path.exists() else {"current": None, "previous": None, "files": {}}

    def _save_state(self, kind: str, name: str, state: dict[str, Any]) -> None:
        path = self._dir(kind, name) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)

    def current_path(self, kind: str, name: str) -> Path | None:
        """The file the pipeline should load now, or None before the first install."""
        state = self.state(kind, name)
        if not state["current"]:
            return None
        return self._dir(kind, name) / state["current"] / state["files"][state["current"]]

    def install(self, signed: SignedManifest, data: bytes) -> Installed:
        """Verify, write, switch; refuse (and report) anything that does not verify."""
        try:
            verify(self.public_key, signed, data)
        except ReleaseRefused as exc:
            log.error("release refused", extra={"refusal": exc.kind, "reason": exc.reason})
            self._report(exc.kind, "raised", "critical", exc.reason)
            raise
        m = signed.manifest
        target = self._dir(m.kind, m.name) / m.version
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".{m.file}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target / m.file)
        state = self.state(m.kind, m.name)
        previous = state["current"] if state["current"] != m.version else state["previous"]
        files = {v: f for v, f in state["files"].items() if v == previous} | {m.version: m.file}
        self._save_state(m.kind, m.name, {"current": m.version, "previous": previous, "files": files})
        self._prune(m.kind, m.name, keep=set(files))
        log.info("release installed", extra={"kind": m.kind, "release": m.name, "version": m.version})
        return Installed(m.kind, m.name, m.version, target / m.file, previous)

    def rollback(self, kind: str, name: str) -> Installed:
        """Switch back to the previous version (kept on disk by :meth:`install`)."""
        state = self.state(kind, name)
        previous = state["previous"]
        if not previous or not (self._dir(kind, name) / previous).is_dir():
            raise FileNotFoundError(f"{kind} {name}: no previous version to roll back to")
        self._save_state(kind, name, {**state, "current": previous, "previous": state["current"]})
        self._report("rolled_back", "raised", "warning", f"{kind} {name}: back to {previous} from {state['current']}")
        log.warning("release rolled back", extra={"kind": kind, "release": name, "version": previous})
        path = self._dir(kind, name) / previous / state["files"][previous]
        return Installed(kind, name, previous, path, state["current"])

    def _prune(self, kind: str, name: str, keep: set[str]) -> None:
        for child in self._dir(kind, name).iterdir():
            if child.is_dir() and child.name not in keep:
                shutil.rmtree(child)

    def _report(self, kind: str, state: str, severity: str, message: str) -> None:
        if self.emit is None:
            return
        event: Body = HealthEvent(pipeline=PIPELINE, kind=kind, state=state, severity=severity, message=message[:500])
        self.emit(event, priority=1)


class RolloutHandler:
    """Answers the hub's ``rollout`` and ``rollback`` commands; ``fetch(url) -> bytes`` does the download.

    The agent calls :meth:`on_command` and sends ``(ok, message)`` back as a ``cmd/result``.
    """

    def __init__(self, store: ReleaseStore, fetch: Callable[[str], bytes]) -> None:
        self.store = store
        self.fetch = fetch

    def on_command(self, command: Command) -> tuple[bool, str] | None:
        if command.action == "rollout":
            try:
                signed = SignedManifest.model_validate(command.args)
            except ValidationError as exc:
                return False, f"malformed rollout command: {exc.errors()[0]['msg']}"
            try:
                installed = self.store.install(signed, self.fetch(signed.url))
            except ReleaseRefused as exc:
                return False, f"refused ({exc.kind}): {exc.reason}"
            except OSError as exc:
                return False, f"download failed: {exc}"
            return True, f"running {installed.kind} {installed.name} {installed.version}"
        if command.action == "rollback":
            kind, name = str(command.args.get("kind", "")), str(command.args.get("name", ""))
            try:
                back = self.store.rollback(kind, name)
            except FileNotFoundError as exc:
                return False, str(exc)
            return True, f"running {back.kind} {back.name} {back.version}"
        return None


def http_fetcher(
    base_url: str, token: str, ca_file: str | None = None, timeout_s: float = 60.0
) -> Callable[[str], bytes]:
    """Download release files from the hub with the device's API token (role ``device``)."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def fetch(path: str) -> bytes:
        request = urllib.request.Request(base_url.rstrip("/") + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
            return response.read()

    return fetch
