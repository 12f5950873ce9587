"""MQTT → validated messages → de-duplicated → time-series store → domain services → acknowledgement.

The device is acknowledged only after the store write returned, so a message
is never lost between broker and database; anything invalid goes to the
dead-letter store with the reason, and ingest keeps running. Several hub workers
can share the load through an MQTT shared subscription (``share_group``); writes
are idempotent, so a message that two workers see is still stored once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from hub.domain import DomainService
from hub.metrics import HubMetrics
from hub.registry import DeadLetterStore, DeviceRegistry
from hub.store import Point, StoreError, TimeSeriesStore, points_from_message
from protocol import (
    SCHEMA_VERSION,
    Body,
    DecodeError,
    Status,
    Topic,
    WireEnvelope,
    body_model,
    data_subscription,
    decode_envelope,
    merge_ranges,
    status_subscription,
)
from protocol.streams.system import Heartbeat
from protocol.topics import TopicError

log = logging.getLogger(__name__)
QUIET_BATCH = 100  # below this many queued messages, a tick without new ones ends the gathering
ENVELOPE_OVERHEAD = 400  # bytes an envelope may add around a body
Accepted = tuple[Topic, WireEnvelope, Body | None, list[Point]]


@dataclass
class IngestSettings:
    host: str = "localhost"
    port: int = 1883
    prefix: str = "kommune"
    client_id: str = "hub-ingest"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    share_group: str | None = None
    require_registration: bool = False
    batch_max: int = 5000
    batch_wait_s: float = 0.1  # gather up to this long: fewer, larger store writes and acks
    registry_flush_s: float = 1.0
    queue_max: int = 500_000
    dedupe_window: int = 200_000


class SeenWindow:
    """Which seqs of one device were stored: a contiguous watermark plus the seqs above it."""

    __slots__ = ("above", "limit", "low")

    def __init__(self, limit: int) -> None:
        self.low = -1
        self.above: set[int] = set()
        self.limit = limit

    def __contains__(self, seq: int) -> bool:
        return seq <= self.low or seq in self.above

    def add(self, seq: int) -> None:
        if seq <= self.low:
            return
        self.above.add(seq)
        while self.low + 1 in self.above:
            self.low += 1
            self.above.discard(self.low)
        if len(self.above) > self.limit:  # a gap that will never fill (dropped on the device): move on
            self.low = min(self.above)
            self.above.discard(self.low)


class Ingest:
    def __init__(
        self,
        settings: IngestSettings,
        store: TimeSeriesStore,
        registry: DeviceRegistry,
        dead_letters: DeadLetterStore,
        services: list[DomainService] | None = None,
        metrics: HubMetrics | None = None,
    ) -> None:
        self.s = settings
        self.store = store
        self.registry = registry
        self.dead_letters = dead_letters
        self.metrics = metrics or HubMetrics()
        self._by_stream: dict[str, list[DomainService]] = defaultdict(list)
        for service in services or []:
            self.add_service(service)
        self._queue: deque[tuple[str, bytes, float]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._seen: dict[str, SeenWindow] = {}
        self._topics: dict[str, Topic] = {}
        self._seen_pending: dict[tuple[str, str], tuple[int, int]] = {}
        self._seen_flush_at = 0.0
        self._prefix_levels = len(settings.prefix.split("/"))
        self.stored = 0
        self.connected = threading.Event()
        self._client = self._make_client()
        self._worker = threading.Thread(target=self._work, name="ingest", daemon=True)

    # -- MQTT ---------------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.s.client_id, protocol=mqtt.MQTTv311, clean_session=True
        )
        if self.s.username:
            client.username_pw_set(self.s.username, self.s.password)
        if self.s.ca_file or self.s.cert_file:
            client.tls_set(ca_certs=self.s.ca_file, certfile=self.s.cert_file, keyfile=self.s.key_file)
        client.reconnect_delay_set(1, 30)
        client.max_inflight_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("hub mqtt connect refused", extra={"reason": str(reason)})
            return
        client.subscribe(
            [(data_subscription(self.s.prefix, self.s.share_group), 1), (status_subscription(self.s.prefix), 1)]
        )
        self.connected.set()
        log.info("ingest connected", extra={"host": self.s.host, "port": self.s.port})

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        self.connected.clear()
        level = logging.WARNING if getattr(reason, "is_failure", True) else logging.INFO
        log.log(level, "ingest disconnected", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if len(self._queue) >= self.s.queue_max:
            self.metrics.shed.inc()  # not acknowledged: the device sends it again
            return
        self._queue.append((msg.topic, msg.payload, time.time()))
        depth = len(self._queue)
        if depth == 1 or depth >= self.s.batch_max:  # wake an idle worker at once; a full batch goes now
            self._wake.set()

    def add_service(self, service: DomainService) -> None:
        for stream in service.streams:
            self._by_stream[stream].append(service)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Hub → device message (ack, config, cmd)."""
        self._client.publish(topic, payload, qos=1, retain=retain)

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._client.connect_async(self.s.host, self.s.port, keepalive=30)
        self._client.loop_start()
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._worker.join(timeout=10)
        if self._seen_pending:
            self.registry.seen(self._seen_pending)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    # -- worker -------------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            if not self._queue:
                self._wake.wait(self.s.batch_wait_s)
                self._wake.clear()
                continue
            # Gather while messages keep arriving (up to batch_wait_s): under load a batch builds up for
            # fewer, larger store writes; a lone message (an alarm on a quiet hub) goes after one quiet tick.
            gather_until = time.monotonic() + self.s.batch_wait_s
            depth = len(self._queue)
            while depth < self.s.batch_max and time.monotonic() < gather_until:
                self._wake.wait(0.01)  # set when batch_max is reached
                self._wake.clear()
                if len(self._queue) == depth and depth < QUIET_BATCH:
                    break
                depth = len(self._queue)
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.s.batch_max))]
            self.metrics.queue.set(len(self._queue))
            started = time.perf_counter()
            try:
                self.process(batch)
            except Exception:
                log.exception("ingest batch failed; messages stay unacknowledged and will be re-sent")
            self.metrics.batches.observe(time.perf_counter() - started)

    def process(self, batch: list[tuple[str, bytes, float]]) -> None:
        """Validate, store, hand to services, acknowledge. Public for tests and benchmarks."""
        accepted: list[Accepted] = []
        acks: dict[Topic, list[int]] = defaultdict(list)
        batch_keys: set[tuple[str, int]] = set()
        for topic_text, payload, _ in batch:
            if topic_text.endswith("/status"):
                self._status(topic_text, payload)
                continue
            item = self._validate(topic_text, payload, acks)
            if item is None:
                continue
            topic, env, body = item
            key = (env.device_id, env.seq)
            window = self._seen.get(env.device_id)
            if (window is not None and env.seq in window) or key in batch_keys:
                self.metrics.duplicates.inc()
                acks[topic.sibling("ack")].append(env.seq)
                continue
            batch_keys.add(key)
            accepted.append((topic, env, body, points_from_message(topic, env, body)))
        stored = self._store(accepted)
        self._after_store(stored, acks)

    def _validate(
        self, topic_text: str, payload: bytes, acks: dict[Topic, list[int]]
    ) -> tuple[Topic, WireEnvelope, Body] | None:
        topic = self._topics.get(topic_text)
        if topic is None:
            try:
                topic = Topic.parse(topic_text, self._prefix_levels)
            except TopicError as exc:
                self._dead(topic_text, payload, str(exc), "topic")
                return None
            if len(self._topics) > 100_000:
                self._topics.clear()
            self._topics[topic_text] = topic
        try:
            env = decode_envelope(payload)
        except DecodeError as exc:
            self._dead(topic_text, payload, exc.reason, "envelope", topic.device_id)
            return None
        ack_topic = topic.sibling("ack")
        if env.device_id != topic.device_id:
            self._dead(
                topic_text,
                payload,
                f"device_id {env.device_id!r} does not match the topic's {topic.device_id!r}",
                "identity",
                topic.device_id,
            )
            return None
        model = body_model(topic.stream)
        if model is None:
            self._dead(topic_text, payload, f"unknown stream {topic.stream!r}", "stream", env.device_id)
            acks[ack_topic].append(env.seq)
            return None
        if len(payload) > model.MAX_BYTES + ENVELOPE_OVERHEAD:
            self._dead(
                topic_text,
                payload,
                f"{len(payload)} bytes exceed the {model.MAX_BYTES}-byte limit of {topic.stream}",
                "oversized",
                env.device_id,
            )
            acks[ack_topic].append(env.seq)
            return None
        try:
            body = model.model_validate(env.body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            self._dead(
                topic_text, payload, f"invalid {topic.stream} body at {where}: {first['msg']}", "schema", env.device_id
            )
            acks[ack_topic].append(env.seq)
            return None
        if self.s.require_registration:
            reason = self._identity_problem(env.device_id, topic.site)
            if reason is not None:
                self._dead(topic_text, payload, reason, "unregistered", env.device_id)
                acks[ack_topic].append(env.seq)
                return None
        return topic, env, body

    def _identity_problem(self, device_id: str, site: str) -> str | None:
        """Why a registered-devices-only hub refuses this (device, site) pair, or None when it is fine.

        The broker ACL lets a device write only below its own device id, but the site level is a
        wildcard there; the registry knows the site a device was provisioned for.
        """
        registered = self.registry.registered_site(device_id)
        if registered is None:
            return f"device {device_id!r} is not registered"
        if registered != site:
            return f"device {device_id!r} is registered at site {registered!r} but published under site {site!r}"
        return None

    def _store(self, accepted: list[Accepted]) -> list[Accepted]:
        """Write all points; retry while the store is down (nothing is acknowledged meanwhile)."""
        if not accepted:
            return []
        points = [p for *_, pts in accepted for p in pts]
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.store.write(points)
                return accepted
            except StoreError as exc:
                if "unreachable" not in str(exc) and " 5" not in str(exc)[:40] and len(accepted) > 0:
                    return self._store_one_by_one(accepted)
                self.metrics.store_errors.inc()
                log.warning("store write failed; retrying", extra={"error": str(exc)[:300], "retry_s": delay})
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
        return []

    def _store_one_by_one(self, accepted: list[Accepted]) -> list[Accepted]:
        """The store refused the batch as bad data: find the culprits and dead-letter them."""
        good: list[Accepted] = []
        for item in accepted:
            topic, env, _body, pts = item
            try:
                self.store.write(pts)
                good.append(item)
            except StoreError as exc:
                self._dead(
                    str(topic),
                    env.model_dump_json(by_alias=True).encode(),
                    f"store refused: {exc}"[:500],
                    "store",
                    env.device_id,
                )
                good.append((topic, env, None, []))  # acknowledge: it is kept in the dead-letter store
        return good

    def _after_store(self, stored: list[Accepted], acks: dict[Topic, list[int]]) -> None:
        now = time.time()
        seen = self._seen_pending
        per_stream: dict[str, int] = defaultdict(int)
        for i, (topic, env, body, _pts) in enumerate(stored):
            if body is not None:
                self._handle(topic, env, body)
                per_stream[topic.stream] += 1
                if not env.historical and i % 16 == 0:  # a sample is enough for the histogram
                    self.metrics.lag.observe(max(0.0, now - env.ts / 1000))
            window = self._seen.get(env.device_id)
            if window is None:
                window = self._seen[env.device_id] = SeenWindow(self.s.dedupe_window)
            window.add(env.seq)
            acks[topic.sibling("ack")].append(env.seq)
            count, last = seen.get((env.device_id, topic.site), (0, 0))
            seen[(env.device_id, topic.site)] = (count + 1, max(last, env.seq))
        self.stored += len(stored)
        for stream, n in per_stream.items():
            self.metrics.messages.labels(stream).inc(n)
        if seen and time.monotonic() >= self._seen_flush_at:  # last-seen bookkeeping, at most once a second
            self.registry.seen(seen)
            self._seen_pending = {}
            self._seen_flush_at = time.monotonic() + self.s.registry_flush_s
        for ack_topic, seqs in acks.items():
            payload = f'{{"schema":{SCHEMA_VERSION},"ranges":{json.dumps(merge_ranges(seqs))}}}'
            self._client.publish(str(ack_topic), payload, qos=1)

    def _handle(self, topic: Topic, env: WireEnvelope, body: Body) -> None:
        if isinstance(body, Heartbeat):
            self.registry.outbox(env.device_id, body.outbox_depth, body.outbox_dropped)
            self.metrics.outbox_depth.labels(env.device_id).set(body.outbox_depth)
            self.metrics.outbox_dropped.labels(env.device_id).set(body.outbox_dropped)
        for service in self._by_stream.get(topic.stream, ()):
            try:
                service.handle(topic, env, body)
            except Exception as exc:  # a broken service must not stop ingest
                log.exception("service failed on a message", extra={"service": service.name})
                self._dead(
                    str(topic),
                    env.model_dump_json(by_alias=True).encode(),
                    f"{service.name} failed: {type(exc).__name__}: {exc}"[:500],
                    "service",
                    env.device_id,
                )

    def _status(self, topic_text: str, payload: bytes) -> None:
        if not payload:  # a cleared retained message
            return
        try:
            topic = Topic.parse(topic_text, self._prefix_levels)
            status = Status.model_validate_json(payload)
        except (TopicError, ValidationError, ValueError) as exc:
            self._dead(topic_text, payload, f"invalid status: {str(exc)[:300]}", "status")
            return
        if status.device_id != topic.device_id:
            self._dead(topic_text, payload, "status device_id does not match the topic", "identity", topic.device_id)
            return
        if self.s.require_registration:
            reason = self._identity_problem(status.device_id, topic.site)
            if reason is not None:
                self._dead(topic_text, payload, reason, "unregistered", status.device_id)
                return
        if not self.registry.on_status(topic.site, status):
            log.info("ignored stale status", extra={"device_id": status.device_id, "session": status.session})

    def _dead(self, topic: str, payload: bytes, reason: str, kind: str, device_id: str | None = None) -> None:
        self.dead_letters.add(topic, payload, reason, device_id)
        self.metrics.dead_letters.labels(kind).inc()
        log.info("dead letter", extra={"topic": topic[:200], "reason": reason[:200]})
