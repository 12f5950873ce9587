"""The hub process: store, registry, ingest, domain services and the job runner, wired together."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from hub.domain import DomainService, HubContext, load_services
from hub.ingest import Ingest, IngestSettings
from hub.jobs import JobRunner
from hub.metrics import HubMetrics
from hub.registry import DeadLetterStore, DeviceRegistry
from hub.settings import HubSettings
from hub.store import Point, StoreError, TimeSeriesStore, make_store

log = logging.getLogger(__name__)


@dataclass
class Hub:
    settings: HubSettings
    store: TimeSeriesStore
    registry: DeviceRegistry
    dead_letters: DeadLetterStore
    metrics: HubMetrics
    jobs: JobRunner
    services: list[DomainService]
    ingest: Ingest
    stats_interval_s: float = 10.0
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, settings: HubSettings) -> Hub:
        state = settings.state_dir
        state.mkdir(parents=True, exist_ok=True)
        store = make_store(settings.store_url)
        registry = DeviceRegistry(state / "registry.sqlite", stale_after_s=settings.stale_after_s)
        dead_letters = DeadLetterStore(state / "registry.sqlite")
        metrics = HubMetrics()
        jobs = JobRunner(state / "jobs.sqlite")
        m = settings.mqtt
        holder: dict[str, Ingest] = {}

        def publish(topic: str, payload: bytes, retain: bool = False) -> None:
            holder["ingest"].publish(topic, payload, retain)

        services: list[DomainService] = []
        ingest = Ingest(
            IngestSettings(
                host=m.host, port=m.port, prefix=m.prefix, client_id=m.client_id, username=m.username,
                password=m.password, ca_file=m.ca_file, cert_file=m.cert_file, key_file=m.key_file,
                share_group=m.share_group, require_registration=settings.require_registration,
            ),
            store, registry, dead_letters, services, metrics,
        )
        holder["ingest"] = ingest
        for service in load_services(
            HubContext(state_dir=state, prefix=m.prefix, publish=publish, store=store, jobs=jobs, settings={}),
            settings.services,
            settings.service_settings,
        ):
            services.append(service)
            ingest.add_service(service)
        return cls(settings, store, registry, dead_letters, metrics, jobs, services, ingest)

    def start(self) -> None:
        for service in self.services:
            service.start()
        self.ingest.start()
        threading.Thread(target=self._write_stats, name="hub-stats", daemon=True).start()
        log.info("hub started", extra={"services": [s.name for s in self.services]})

    def stats_point(self, rate: float, at_ns: int | None = None) -> Point:
        """The hub's own health as a time-series point (the fleet-health dashboard reads it)."""
        devices = self.registry.list()
        return Point(
            "hub_stats",
            {"hub": self.settings.mqtt.client_id},
            {
                "devices_total": len(devices),
                "devices_online": sum(1 for d in devices if d["liveness"] == "online"),
                "backlog": sum(d["outbox_depth"] or 0 for d in devices),
                "outbox_dropped": sum(d["outbox_dropped"] or 0 for d in devices),
                "rate": round(rate, 2),
                "stored": self.ingest.stored,
                "dead_letters": self.dead_letters.total(),
                "queue": self.ingest.queue_depth,
            },
            at_ns if at_ns is not None else time.time_ns(),
        )

    def _write_stats(self) -> None:
        last_stored, last_t = self.ingest.stored, time.monotonic()
        while not self._stop.wait(self.stats_interval_s):
            now = time.monotonic()
            rate = (self.ingest.stored - last_stored) / (now - last_t)
            last_stored, last_t = self.ingest.stored, now
            try:
                self.store.write([self.stats_point(rate)])
            except StoreError as exc:
                log.warning("could not write hub stats", extra={"error": str(exc)[:200]})

    def stop(self) -> None:
        self._stop.set()
        self.ingest.stop()
        for service in self.services:
            service.stop()
        self.jobs.shutdown()
        self.store.close()
        log.info("hub stopped")
