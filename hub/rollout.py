"""Signed, staged rollout of config bundles and model files, with automatic rollback and a per-device view.

The hub signs each release's manifest with Ed25519 (:class:`ReleaseSigner`), offers it to a canary
group first and to the rest only when every canary came back healthy: it reported the install and
sent a heartbeat afterwards, within ``health_timeout_s``. Any failure (refused, error, silence) rolls
every device of the rollout back to its previous version. :class:`RolloutBook` holds the state in
SQLite and is pure logic over an injected clock; :class:`RolloutService` wires it to MQTT and HTTP.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from hub.domain import DomainService, HubContext
from protocol import Body, Command, Envelope, Topic
from protocol.rollout import NAME_PATTERN, ArtifactKind, Manifest, SignedManifest, canonical_bytes
from protocol.streams.system import CommandResult, HealthEvent

log = logging.getLogger(__name__)
SIGNING_KEY_ENV = "KOMMUNE_ROLLOUT_KEY"
REFUSALS = ("bad_signature", "checksum_mismatch")
RolloutState = Literal["canary", "fleet", "done", "rolled_back"]
RolloutId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="rollout number")]


class RolloutError(ValueError):
    """A rollout request cannot be carried out; the message is a sentence for the API's ``detail``."""


class ReleaseSigner:
    """The hub's Ed25519 rollout key (a PEM file kept with ``0600``, never in the repository)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key

    @classmethod
    def load_or_create(cls, path: Path | str) -> ReleaseSigner:
        path = Path(path)
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise RolloutError(f"{path} is not an Ed25519 private key")
            return cls(key)
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        log.info("rollout signing key created", extra={"path": str(path)})
        return cls(key)

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, manifest: Manifest) -> str:
        return self.key.sign(canonical_bytes(manifest)).hex()


@dataclass(frozen=True)
class Effect:
    """A command the hub must send to one device."""

    device_id: str
    command: Command


_SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (id INTEGER PRIMARY KEY, kind TEXT, name TEXT, version TEXT,
    manifest TEXT NOT NULL, signature TEXT NOT NULL, created_ms INTEGER, UNIQUE (kind, name, version));
CREATE TABLE IF NOT EXISTS rollouts (id INTEGER PRIMARY KEY, release_id INTEGER NOT NULL, state TEXT NOT NULL,
    health_timeout_ms INTEGER NOT NULL, created_ms INTEGER, updated_ms INTEGER, reason TEXT DEFAULT '');
CREATE TABLE IF NOT EXISTS targets (rollout_id INTEGER, device_id TEXT, stage TEXT, state TEXT,
    previous TEXT, sent_ms INTEGER, installed_ms INTEGER, healthy_ms INTEGER, reason TEXT DEFAULT '',
    PRIMARY KEY (rollout_id, device_id));
CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, site TEXT, heartbeat_ms INTEGER);
CREATE TABLE IF NOT EXISTS versions (device_id TEXT, kind TEXT, name TEXT, version TEXT, previous TEXT,
    updated_ms INTEGER, PRIMARY KEY (device_id, kind, name));
"""


class RolloutBook:
    """Releases, rollouts, per-device targets and versions in SQLite; every decision takes ``now_ms``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).lastrowid or 0

    # -- releases ---------------------------------------------------------------------------------
    def add_release(self, signed: SignedManifest) -> int:
        m = signed.manifest
        if self._all("SELECT id FROM releases WHERE kind=? AND name=? AND version=?", (m.kind, m.name, m.version)):
            raise RolloutError(f"{m.kind} {m.name} version {m.version} already exists; releases are immutable.")
        return self._run(
            "INSERT INTO releases (kind, name, version, manifest, signature, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (m.kind, m.name, m.version, m.model_dump_json(), signed.signature, m.created_ms),
        )

    def release(self, release_id: int) -> SignedManifest:
        rows = self._all("SELECT manifest, signature FROM releases WHERE id=?", (release_id,))
        if not rows:
            raise RolloutError(f"There is no release {release_id}.")
        manifest = Manifest.model_validate_json(rows[0]["manifest"])
        url = f"/rollout/artifacts/{manifest.sha256}"
        return SignedManifest(manifest=manifest, signature=rows[0]["signature"], url=url)

    def releases(self) -> list[dict[str, Any]]:
        return [
            {"id": r["id"], **json.loads(r["manifest"])}
            for r in self._all("SELECT id, manifest FROM releases ORDER BY id")
        ]

    # -- what devices report ----------------------------------------------------------------------
    def saw_device(self, device_id: str, site: str, heartbeat_ms: int | None = None) -> None:
        self._run(
            "INSERT INTO devices VALUES (?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET site=excluded.site,"
            " heartbeat_ms=COALESCE(excluded.heartbeat_ms, devices.heartbeat_ms)",
            (device_id, site, heartbeat_ms),
        )

    def site_of(self, device_id: str) -> str | None:
        rows = self._all("SELECT site FROM devices WHERE device_id=?", (device_id,))
        return rows[0]["site"] if rows else None

    def command_result(self, device_id: str, result: CommandResult, now_ms: int) -> None:
        """A device answered a ``rollout:<id>`` or ``rollback:<id>`` command."""
        action, _, rollout = result.command_id.partition(":")
        if action not in ("rollout", "rollback") or not rollout.isdigit():
            return
        rollout_id = int(rollout)
        if action == "rollback":
            if result.ok:
                self._record_version(rollout_id, device_id, rolled_back=True, now_ms=now_ms)
            return
        if result.ok:
            self._run(
                "UPDATE targets SET state='installed', installed_ms=?"
                " WHERE rollout_id=? AND device_id=? AND state='sent'",
                (now_ms, rollout_id, device_id),
            )
        else:
            self._fail(rollout_id, device_id, f"install failed: {result.message}"[:300])

    def health_event(self, device_id: str, event: HealthEvent) -> None:
        """A device refused a release (bad signature or checksum): fail its open target."""
        if event.pipeline != "rollout" or event.kind not in REFUSALS or event.state != "raised":
            return
        for row in self._all("SELECT rollout_id FROM targets WHERE device_id=? AND state='sent'", (device_id,)):
            self._fail(row["rollout_id"], device_id, f"{event.kind}: {event.message}"[:300])

    def heartbeat(self, device_id: str, ts_ms: int) -> None:
        """A heartbeat after the install makes the device healthy on the new version."""
        for row in self._all(
            "SELECT rollout_id FROM targets WHERE device_id=? AND state='installed' AND installed_ms<=?",
            (device_id, ts_ms),
        ):
            self._run(
                "UPDATE targets SET state='healthy', healthy_ms=? WHERE rollout_id=? AND device_id=?",
                (ts_ms, row["rollout_id"], device_id),
            )
            self._record_version(row["rollout_id"], device_id, rolled_back=False, now_ms=ts_ms)

    def _fail(self, rollout_id: int, device_id: str, reason: str) -> None:
        self._run(
            "UPDATE targets SET state='failed', reason=?"
            " WHERE rollout_id=? AND device_id=? AND state IN ('sent', 'installed')",
            (reason, rollout_id, device_id),
        )

    def _record_version(self, rollout_id: int, device_id: str, *, rolled_back: bool, now_ms: int) -> None:
        rollout = self.rollout(rollout_id)
        m = self.release(rollout["release_id"]).manifest
        target = next(t for t in rollout["targets"] if t["device_id"] == device_id)
        version, previous = (target["previous"], m.version) if rolled_back else (m.version, target["previous"])
        self._run(
            "INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?, ?)",
            (device_id, m.kind, m.name, version, previous, now_ms),
        )

    # -- rollouts ---------------------------------------------------------------------------------
    def start(
        self, release_id: int, devices: list[str], canary: list[str], health_timeout_s: float, now_ms: int
    ) -> tuple[int, list[Effect]]:
        """Create a rollout and offer the release to the canary group; returns its id and the commands."""
        signed = self.release(release_id)
        if not devices:
            raise RolloutError("Name at least one device.")
        unknown = [d for d in devices if self.site_of(d) is None]
        if unknown:
            raise RolloutError(f"These devices have never reported to the hub: {unknown}.")
        stray = sorted(set(canary) - set(devices))
        if stray:
            raise RolloutError(f"Canary devices {stray} are not among the rollout's devices.")
        canary = canary or sorted(devices)[: max(1, len(devices) // 10)]
        m = signed.manifest
        rollout_id = self._run(
            "INSERT INTO rollouts (release_id, state, health_timeout_ms, created_ms, updated_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (release_id, "canary", int(health_timeout_s * 1000), now_ms, now_ms),
        )
        for device in sorted(set(devices)):
            current = self._all(
                "SELECT version FROM versions WHERE device_id=? AND kind=? AND name=?", (device, m.kind, m.name)
            )
            self._run(
                "INSERT INTO targets (rollout_id, device_id, stage, state, previous) VALUES (?, ?, ?, 'pending', ?)",
                (
                    rollout_id,
                    device,
                    "canary" if device in canary else "rest",
                    current[0]["version"] if current else None,
                ),
            )
        return rollout_id, self._send_stage(rollout_id, "canary", now_ms)

    def _send_stage(self, rollout_id: int, stage: str, now_ms: int) -> list[Effect]:
        signed = self.release(self.rollout(rollout_id)["release_id"]).model_copy(update={"rollout_id": rollout_id})
        effects = []
        for row in self._all(
            "SELECT device_id FROM targets WHERE rollout_id=? AND stage=? AND state='pending'", (rollout_id, stage)
        ):
            self._run(
                "UPDATE targets SET state='sent', sent_ms=? WHERE rollout_id=? AND device_id=?",
                (now_ms, rollout_id, row["device_id"]),
            )
            command = Command(id=f"rollout:{rollout_id}", action="rollout", args=signed.model_dump(), ts=now_ms)
            effects.append(Effect(row["device_id"], command))
        return effects

    def tick(self, now_ms: int) -> list[Effect]:
        """Time out silent devices, advance healthy canaries to the fleet, roll back on any failure."""
        effects: list[Effect] = []
        for rollout in self._all("SELECT * FROM rollouts WHERE state IN ('canary', 'fleet')"):
            rid = rollout["id"]
            self._run(
                "UPDATE targets SET state='failed', reason='did not come back healthy in time' WHERE rollout_id=?"
                " AND state IN ('sent', 'installed') AND sent_ms + ? <= ?",
                (rid, rollout["health_timeout_ms"], now_ms),
            )
            targets = self._all("SELECT * FROM targets WHERE rollout_id=?", (rid,))
            failed = [t for t in targets if t["state"] == "failed"]
            stage = [t for t in targets if rollout["state"] == "fleet" or t["stage"] == "canary"]
            if failed:
                reason = f"{failed[0]['device_id']}: {failed[0]['reason']}"
                effects += self.roll_back(rid, now_ms, reason)
            elif all(t["state"] == "healthy" for t in stage):
                next_state: RolloutState = "fleet" if rollout["state"] == "canary" else "done"
                if next_state == "fleet" and all(t["stage"] == "canary" for t in targets):
                    next_state = "done"
                self._run("UPDATE rollouts SET state=?, updated_ms=? WHERE id=?", (next_state, now_ms, rid))
                if next_state == "fleet":
                    effects += self._send_stage(rid, "rest", now_ms)
                log.info("rollout advanced", extra={"rollout_id": rid, "state": next_state})
        return effects

    def roll_back(self, rollout_id: int, now_ms: int, reason: str) -> list[Effect]:
        """Return every device that received the release to its previous version."""
        rollout = self.rollout(rollout_id)
        if rollout["state"] == "rolled_back":
            raise RolloutError(f"Rollout {rollout_id} is already rolled back.")
        m = self.release(rollout["release_id"]).manifest
        effects = []
        for target in rollout["targets"]:
            if target["state"] in ("sent", "installed", "healthy", "failed"):
                args = {"kind": m.kind, "name": m.name, "version": target["previous"], "from_version": m.version}
                effects.append(
                    Effect(
                        target["device_id"],
                        Command(id=f"rollback:{rollout_id}", action="rollback", args=args, ts=now_ms),
                    )
                )
        self._run(
            "UPDATE targets SET state=CASE WHEN state='pending' THEN 'skipped' ELSE 'rolled_back' END"
            " WHERE rollout_id=? AND state IN ('pending', 'sent', 'installed', 'healthy')",
            (rollout_id,),
        )
        self._run(
            "UPDATE rollouts SET state='rolled_back', updated_ms=?, reason=? WHERE id=?", (now_ms, reason, rollout_id)
        )
        log.warning("rollout rolled back", extra={"rollout_id": rollout_id, "reason": reason})
        return effects

    def rollout(self, rollout_id: int) -> dict[str, Any]:
        rows = self._all("SELECT * FROM rollouts WHERE id=?", (rollout_id,))
        if not rows:
            raise RolloutError(f"There is no rollout {rollout_id}.")
        targets = self._all("SELECT * FROM targets WHERE rollout_id=? ORDER BY stage, device_id", (rollout_id,))
        return {**rows[0], "targets": targets}

    def rollouts(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM rollouts ORDER BY id DESC")

    def versions(self) -> list[dict[str, Any]]:
        """Which version of which config bundle and model runs on which device."""
        return self._all("SELECT * FROM versions ORDER BY device_id, kind, name")

    def close(self) -> None:
        self._db.close()


# -- HTTP ---------------------------------------------------------------------------------------------
class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ArtifactKind
    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field(pattern=NAME_PATTERN)
    file: str = Field(pattern=NAME_PATTERN)
    content_b64: str = Field(description="the file, base64-encoded", max_length=400_000_000)


class RolloutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release_id: int = Field(ge=1, le=2**63 - 1)
    devices: list[str] = Field(min_length=1)
    canary: list[str] = Field(default_factory=list, description="default: the first tenth of the devices")
    health_timeout_s: float = Field(600.0, gt=0, le=86_400, description="N minutes to come back healthy")


class RolloutService(DomainService):
    """Hub side of signed rollout: sees command results, rollout health events and heartbeats."""

    name = "rollout"
    streams = ("cmd/result", "system/health", "system/heartbeat")

    def __init__(self, ctx: HubContext, clock: Callable[[], float] = time.time) -> None:
        super().__init__(ctx)
        self.clock = clock
        root = ctx.state_dir / "rollout"
        self.book = RolloutBook(root / "rollout.sqlite")
        self.artifacts = root / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.signer = ReleaseSigner.load_or_create(os.environ.get(SIGNING_KEY_ENV) or root / "signing.key")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def handle(self, topic: Topic, envelope: Envelope, body: Body) -> None:
        self.book.saw_device(envelope.device_id, topic.site)
        if isinstance(body, CommandResult):
            self.book.command_result(envelope.device_id, body, self.now_ms())
        elif isinstance(body, HealthEvent):
            self.book.health_event(envelope.device_id, body)
        elif not envelope.historical:  # a replayed heartbeat says nothing about the device now
            self.book.heartbeat(envelope.device_id, self.now_ms())

    def publish_release(self, kind: ArtifactKind, name: str, version: str, file: str, data: bytes) -> int:
        manifest = Manifest(
            kind=kind,
            name=name,
            version=version,
            file=file,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_ms=self.now_ms(),
        )
        (self.artifacts / manifest.sha256).write_bytes(data)
        return self.book.add_release(SignedManifest(manifest=manifest, signature=self.signer.sign(manifest)))

    def dispatch(self, effects: list[Effect]) -> None:
        for effect in effects:
            site = self.book.site_of(effect.device_id)
            topic = Topic(self.ctx.prefix, site or "unknown", effect.device_id, "cmd")
            self.ctx.publish(str(topic), effect.command.encode(), False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_timer, name="rollout-timer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run_timer(self) -> None:
        while not self._stop.wait(5.0):
            try:
                self.dispatch(self.book.tick(self.now_ms()))
            except Exception:  # the timer must survive a bad row; the next tick retries
                log.exception("rollout tick failed")

    def router(self) -> APIRouter:
        r = APIRouter(prefix="/rollout", tags=["rollout"])

        def checked(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except RolloutError as exc:
                raise HTTPException(404 if str(exc).startswith("There is no") else 400, detail=str(exc)) from None

        @r.get("/releases", summary="Signed releases (config bundles and models)")
        def releases() -> list[dict[str, Any]]:
            return self.book.releases()

        @r.post("/releases", status_code=201, summary="Sign and store a new release")
        def add_release(body: ReleaseIn) -> dict[str, Any]:
            try:
                data = base64.b64decode(body.content_b64, validate=True)
            except (binascii.Error, ValueError):
                raise HTTPException(400, detail="content_b64 is not valid base64.") from None
            release_id = checked(lambda: self.publish_release(body.kind, body.name, body.version, body.file, data))
            return {"id": release_id, **self.book.release(release_id).model_dump()}

        @r.get("/public-key", response_class=PlainTextResponse, summary="The Ed25519 key devices verify with")
        def public_key() -> PlainTextResponse:
            return PlainTextResponse(self.signer.public_pem().decode())

        @r.post("/rollouts", status_code=201, summary="Start a staged rollout: canary group first")
        def start(body: RolloutIn) -> dict[str, Any]:
            rollout_id, effects = checked(
                lambda: self.book.start(
                    body.release_id, body.devices, body.canary, body.health_timeout_s, self.now_ms()
                )
            )
            self.dispatch(effects)
            return self.book.rollout(rollout_id)

        @r.get("/rollouts", summary="All rollouts, newest first")
        def rollouts() -> list[dict[str, Any]]:
            return self.book.rollouts()

        @r.get("/rollouts/{rollout_id}", summary="One rollout with the state of every device")
        def rollout(rollout_id: RolloutId) -> dict[str, Any]:
            return checked(lambda: self.book.rollout(rollout_id))

        @r.post("/rollouts/{rollout_id}/rollback", summary="Roll every device of a rollout back now")
        def roll_back(rollout_id: RolloutId) -> dict[str, Any]:
            self.dispatch(checked(lambda: self.book.roll_back(rollout_id, self.now_ms(), "rolled back by an admin")))
            return self.book.rollout(rollout_id)

        @r.get("/devices", summary="Which version runs where")
        def devices() -> list[dict[str, Any]]:
            return self.book.versions()

        @r.get("/artifacts/{digest}", summary="A release file, by its SHA-256", response_class=FileResponse)
        def artifact(digest: str) -> FileResponse:
            path = self.artifacts / digest
            if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest) or not path.is_file():
                raise HTTPException(404, detail=f"There is no release file with SHA-256 {digest!r}.")
            return FileResponse(path, media_type="application/octet-stream")

        return r
