"""The hub process: store, registry, ingest, domain services and the job runner, wired together."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub.domain import DomainService, HubContext, load_services
from hub.ingest import Ingest, IngestSettings
from hub.jobs import JobRunner
from hub.metrics import HubMetrics
from hub.registry import DeadLetterStore, DeviceRegistry
from hub.settings import HubSettings
from hub.store import TimeSeriesStore, make_store

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
        ):
            service.ctx.settings = settings.service_settings.get(service.name, {})
            services.append(service)
            ingest.add_service(service)
        return cls(settings, store, registry, dead_letters, metrics, jobs, services, ingest)

    def start(self) -> None:
        for service in self.services:
            service.start()
        self.ingest.start()
        log.info("hub started", extra={"services": [s.name for s in self.services]})

    def stop(self) -> None:
        self.ingest.stop()
        for service in self.services:
            service.stop()
        self.jobs.shutdown()
        self.store.close()
        log.info("hub stopped")
