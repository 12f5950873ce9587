"""MQTT link of a device: sends the outbox to the hub and applies its acknowledgements.

Live messages go first; messages that were waiting when the link (re)connected, or
whose acknowledgement timed out, drain afterwards marked ``historical``. A message
leaves the outbox only when the hub acknowledges its seq, which the hub does after
its store write returned — a broker PUBACK is not enough.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from edge.outbox import Outbox, OutboxMessage
from protocol import Ack, Command, ConfigMessage, Status, Topic, encode_envelope, now_ms

log = logging.getLogger(__name__)


@dataclass
class LinkSettings:
    host: str
    port: int
    prefix: str
    site: str
    device_id: str
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    ack_timeout_s: float = 15.0
    max_inflight: int = 1000
    backlog_batch: int = 500
    agent_version: str = ""
    pipelines: list[str] = field(default_factory=list)


@dataclass
class LinkStats:
    sent_live: int = 0
    sent_historical: int = 0
    acked: int = 0
    connects: int = 0


class Link:
    """Owns the MQTT client and the sender thread."""

    def __init__(
        self,
        settings: LinkSettings,
        outbox: Outbox,
        on_command: Callable[[Command], None] | None = None,
        on_config: Callable[[ConfigMessage], None] | None = None,
    ) -> None:
        self.s = settings
        self.outbox = outbox
        self.on_command = on_command
        self.on_config = on_config
        self.stats = LinkStats()
        self.session = 0
        self._topic = Topic(settings.prefix, settings.site, settings.device_id, "status")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connected = False
        self._live_cursor = 0
        self._scan_cursor = 0
        self._inflight: dict[int, float] = {}
        self._ack_timeout = settings.ack_timeout_s
        self._acked_since_expiry = True
        self._acks: list[int] = []
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._send_loop, name=f"link-{settings.device_id}", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"dev-{self.s.device_id}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if self.s.username:
            client.username_pw_set(self.s.username, self.s.password)
        if self.s.ca_file or self.s.cert_file:
            client.tls_set(
                ca_certs=self.s.ca_file,
                certfile=self.s.cert_file,
                keyfile=self.s.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
            client.tls_insecure_set(self.s.tls_insecure)
        client.reconnect_delay_set(int(max(1, self.s.reconnect_min_s)), int(self.s.reconnect_max_s))
        client.max_inflight_messages_set(max(20, min(self.s.max_inflight, 65535)))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        self.session = self.outbox.next_session()
        will = Status(device_id=self.s.device_id, state="offline", session=self.session, ts=now_ms())
        self._client.will_set(str(self._topic), will.encode(), qos=1, retain=True)
        self._client.connect_async(self.s.host, self.s.port, keepalive=self.s.keepalive_s)
        self._client.loop_start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Say goodbye cleanly: an ``offline`` status, then disconnect."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._connected:
            bye = Status(device_id=self.s.device_id, state="offline", session=self.session, ts=now_ms())
            info = self._client.publish(str(self._topic), bye.encode(), qos=1, retain=True)
            with contextlib.suppress(RuntimeError):
                info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def wake(self) -> None:
        """Called after a message was put in the outbox."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    # -- MQTT callbacks (network thread) ----------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt connect refused", extra={"reason": str(reason)})
            return
        birth = Status(
            device_id=self.s.device_id,
            state="online",
            session=self.session,
            ts=now_ms(),
            agent_version=self.s.agent_version,
            pipelines=self.s.pipelines,
        )
        client.publish(str(self._topic), birth.encode(), qos=1, retain=True)
        for stream in ("ack", "config", "cmd"):
            client.subscribe(str(self._topic.sibling(stream)), qos=1)
        with self._lock:
            # Everything already in the outbox is backlog now; nothing is in flight on this connection.
            self._live_cursor = self.outbox.last_seq()
            self._scan_cursor = 0
            self._inflight.clear()
            self._connected = True
        self.stats.connects += 1
        log.info("mqtt connected", extra={"host": self.s.host, "session": self.session})
        self._wake.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        self._connected = False
        level = logging.WARNING if getattr(reason, "is_failure", True) else logging.INFO
        log.log(level, "mqtt disconnected", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        stream = msg.topic.rsplit("/", 1)[-1]
        try:
            if stream == "ack":
                ack = Ack.model_validate_json(msg.payload)
                with self._lock:
                    self._acks.extend(ack.seqs())
                self._wake.set()
            elif stream == "cmd" and self.on_command:
                self.on_command(Command.model_validate_json(msg.payload))
            elif stream == "config" and self.on_config and msg.payload:
                self.on_config(ConfigMessage.model_validate_json(msg.payload))
        except ValueError as exc:
            log.warning("bad control message", extra={"topic": msg.topic, "error": str(exc)[:200]})

    # -- sender thread ---------------------------------------------------------------------------
    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            self._apply_acks()
            if not self._connected:
                continue
            try:
                self._send_live()
                self._expire_inflight()
                self._send_backlog()
            except Exception:
                log.exception("sender step failed")
                time.sleep(0.5)
        self._apply_acks()

    def _apply_acks(self) -> None:
        with self._lock:
            acks, self._acks = self._acks, []
            for seq in acks:
                self._inflight.pop(seq, None)
        if acks:
            self.stats.acked += self.outbox.ack(acks)
            self._acked_since_expiry = True
            self._ack_timeout = self.s.ack_timeout_s

    def _send_live(self) -> None:
        while self._connected:
            batch = self.outbox.after(self._live_cursor, 500)
            if not batch:
                return
            self._publish(batch, historical=False)
            self._live_cursor = batch[-1].seq

    def _expire_inflight(self) -> None:
        """Unacknowledged messages become backlog again. While the hub acknowledges nothing at all
        (stalled on its database, say), the timeout doubles up to 8x so re-sends don't pile up on it."""
        deadline = time.monotonic() - self._ack_timeout
        with self._lock:
            expired = [seq for seq, sent in self._inflight.items() if sent < deadline]
            for seq in expired:
                del self._inflight[seq]
        if expired:
            self._scan_cursor = min(self._scan_cursor, min(expired) - 1)
            if not self._acked_since_expiry:
                self._ack_timeout = min(self._ack_timeout * 2, self.s.ack_timeout_s * 8)
            self._acked_since_expiry = False

    def _send_backlog(self) -> None:
        room = self.s.max_inflight - len(self._inflight)
        if room <= 0:
            return
        batch = self.outbox.after(self._scan_cursor, min(room, self.s.backlog_batch), upto=self._live_cursor)
        batch = [m for m in batch if m.seq not in self._inflight]
        if batch:
            self._publish(batch, historical=True)
            self._scan_cursor = batch[-1].seq
            self._wake.set()  # keep draining

    def _publish(self, batch: list[OutboxMessage], historical: bool) -> None:
        now = time.monotonic()
        for msg in batch:
            payload = encode_envelope(self.s.device_id, msg.seq, msg.ts, msg.body, historical)
            topic = f"{self.s.prefix}/{self.s.site}/{self.s.device_id}/{msg.stream}"
            with self._lock:
                self._inflight[msg.seq] = now
            self._client.publish(topic, payload, qos=1)
        if historical:
            self.stats.sent_historical += len(batch)
        else:
            self.stats.sent_live += len(batch)
