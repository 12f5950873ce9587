"""Prometheus metrics of the hub (served on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("hub_ingest_messages", "Device messages stored", ["stream"], registry=r)
        self.duplicates = Counter("hub_ingest_duplicates", "Messages seen before (acknowledged again)", registry=r)
        self.dead_letters = Counter(
            "hub_dead_letters", "Messages sent to the dead-letter store", ["reason"], registry=r
        )
        self.store_errors = Counter("hub_store_errors", "Failed time-series writes (retried)", registry=r)
        self.shed = Counter("hub_ingest_shed", "Messages shed from a full queue (the device resends)", registry=r)
        self.batches = Histogram(
            "hub_ingest_batch_seconds",
            "Time to validate, store and acknowledge one batch",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.lag = Histogram(
            "hub_ingest_lag_seconds",
            "Event time to stored, live messages",
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.queue = Gauge("hub_ingest_queue", "Messages received but not yet processed", registry=r)
        self.devices_online = Gauge("hub_devices_online", "Devices whose last status is online and fresh", registry=r)
        self.outbox_depth = Gauge(
            "hub_device_outbox_depth", "Outbox depth reported by a device", ["device_id"], registry=r
        )
        self.outbox_dropped = Gauge(
            "hub_device_outbox_dropped", "Messages a device had to drop", ["device_id"], registry=r
        )
