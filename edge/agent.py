"""The device agent: wires config, outbox, MQTT link and pipelines, and keeps them running."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.config import DeviceConfig
from edge.outbox import Outbox
from edge.pipelines import Pipeline, PipelineContext, pipeline_class
from edge.publisher import Link, LinkSettings
from protocol import Body, Command, ConfigMessage, now_ms
from protocol.streams.system import CommandResult, HealthEvent

if TYPE_CHECKING:
    from edge.rollout import RolloutHandler

log = logging.getLogger(__name__)
AGENT_VERSION = "0.1.0"
RESTART_BACKOFF_S = (1, 2, 5, 10, 30, 60)


@dataclass
class _Running:
    pipeline: Pipeline
    thread: threading.Thread | None = None
    failures: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


class Agent:
    """One device. ``start()`` returns at once; ``stop()`` shuts down cleanly."""

    def __init__(self, config: DeviceConfig, *, outbox_fsync: bool = True) -> None:
        self.config = config
        self.stop_event = threading.Event()
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(config.outbox_path(), config.outbox.max_messages, fsync=outbox_fsync)
        names = [p.name or p.type for p in config.pipelines if p.enabled]
        m = config.mqtt
        tls = m.tls
        self.link = Link(
            LinkSettings(
                host=m.host,
                port=m.port,
                prefix=m.prefix,
                site=config.site,
                device_id=config.device_id,
                username=m.username,
                password=m.password,
                ca_file=str(tls.ca_file) if tls and tls.ca_file else None,
                cert_file=str(tls.cert_file) if tls and tls.cert_file else None,
                key_file=str(tls.key_file) if tls and tls.key_file else None,
                tls_insecure=bool(tls and tls.insecure),
                keepalive_s=m.keepalive_s,
                reconnect_min_s=m.reconnect_min_s,
                reconnect_max_s=m.reconnect_max_s,
                ack_timeout_s=m.ack_timeout_s,
                max_inflight=m.max_inflight,
                backlog_batch=config.outbox.backlog_batch,
                agent_version=AGENT_VERSION,
                pipelines=names,
            ),
            self.outbox,
            on_command=self._on_command,
            on_config=self._on_config,
        )
        self._running: dict[str, _Running] = {}
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self.desired_config_version: str | None = None
        self.rollout = self._rollout_handler()
        for spec in config.pipelines:
            if spec.enabled:
                ctx = PipelineContext(
                    device_id=config.device_id,
                    site=config.site,
                    emit=self.emit,
                    stop=self.stop_event,
                    state_dir=config.state_dir,
                    extra={"status": self.status_snapshot},
                )
                pipeline = pipeline_class(spec.type)(spec, ctx)
                self._running[pipeline.name] = _Running(pipeline)

    # -- emitting ---------------------------------------------------------------------------------
    def emit(self, body: Body, *, ts: int | None = None, priority: int = 0) -> int:
        """Validate size, store durably, wake the link. Returns the seq."""
        if not body.STREAM:
            raise TypeError(f"{type(body).__name__} is not registered to a stream")
        text = body.model_dump_json(exclude_none=True)
        if len(text) > body.MAX_BYTES:
            raise ValueError(f"{body.STREAM} body of {len(text)} bytes exceeds its {body.MAX_BYTES}-byte limit")
        seq = self.outbox.put(body.STREAM, text, ts if ts is not None else now_ms(), priority)
        self.link.wake()
        return seq

    def status_snapshot(self) -> dict[str, Any]:
        pipelines = {}
        for name, run in self._running.items():
            try:
                pipelines[name] = {k: float(v) for k, v in run.pipeline.metrics().items()}
            except Exception:  # metrics must never take the heartbeat down
                pipelines[name] = {}
            pipelines[name]["restarts"] = float(run.failures)
        return {
            "outbox_depth": self.outbox.depth,
            "outbox_dropped": self.outbox.dropped,
            "session": self.link.session,
            "connected": self.link.connected,
            "pipelines": pipelines,
        }

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self.link.start()
        for run in self._running.values():
            self._start_pipeline(run)
        self._supervisor.start()
        log.info("agent started", extra={"device_id": self.config.device_id, "pipelines": list(self._running)})

    def stop(self) -> None:
        self.stop_event.set()
        for run in self._running.values():
            if run.thread:
                run.thread.join(timeout=10)
        self.link.stop()
        self.outbox.close()
        log.info("agent stopped", extra={"device_id": self.config.device_id})

    def run_forever(self) -> None:
        """Run until stopped; under systemd (``Type=notify``) report ready and feed the watchdog
        while the supervisor is alive, so a hung agent is restarted."""
        from edge.watchdog import SystemdNotifier

        notifier = SystemdNotifier()
        self.start()
        notifier.ready()
        try:
            while not self.stop_event.wait(notifier.interval_s(1.0)):
                if self._supervisor.is_alive():
                    notifier.ping()
        finally:
            notifier.stopping()
            self.stop()

    def _start_pipeline(self, run: _Running) -> None:
        run.thread = threading.Thread(target=self._guard, args=(run,), name=f"pipe-{run.pipeline.name}", daemon=True)
        run.thread.start()

    def _guard(self, run: _Running) -> None:
        try:
            run.pipeline.run()
        except Exception as exc:
            run.failures += 1
            log.exception("pipeline crashed", extra={"pipeline": run.pipeline.name})
            self.emit(
                HealthEvent(
                    pipeline=run.pipeline.name,
                    kind="pipeline_error",
                    state="raised",
                    severity="critical",
                    message=f"{type(exc).__name__}: {exc}"[:500],
                ),
                priority=1,
            )

    def _supervise(self) -> None:
        """Restart crashed pipelines with back-off."""
        next_try: dict[str, float] = {}
        while not self.stop_event.wait(0.5):
            for name, run in self._running.items():
                if run.thread and not run.thread.is_alive() and run.failures:
                    when = next_try.setdefault(
                        name, time.monotonic() + RESTART_BACKOFF_S[min(run.failures, len(RESTART_BACKOFF_S)) - 1]
                    )
                    if time.monotonic() >= when:
                        next_try.pop(name)
                        log.info("restarting pipeline", extra={"pipeline": name, "failures": run.failures})
                        self._start_pipeline(run)

    # -- hub → device -----------------------------------------------------------------------------
    def _on_command(self, command: Command) -> None:
        target = command.args.get("pipeline")
        handled = None
        ok = True
        if command.action == "ping":
            handled = "pong"
        elif command.action in ("rollout", "rollback") and self.rollout is not None:
            answer = self.rollout.on_command(command)
            if answer is not None:
                ok, handled = answer
        else:
            for name, run in self._running.items():
                if target in (None, name):
                    handled = run.pipeline.on_command(command)
                    if handled is not None:
                        break
        self.emit(
            CommandResult(
                command_id=command.id,
                action=command.action,
                ok=ok and handled is not None,
                message=handled if handled is not None else f"no pipeline handles {command.action!r}",
            ),
            priority=1,
        )

    def _rollout_handler(self) -> RolloutHandler | None:
        cfg = self.config.rollout
        if cfg is None:
            return None
        from edge.rollout import ReleaseStore, RolloutHandler, http_fetcher, load_public_key

        root = cfg.releases_dir if cfg.releases_dir.is_absolute() else self.config.state_dir / cfg.releases_dir
        store = ReleaseStore(root, load_public_key(cfg.public_key), self.emit)
        return RolloutHandler(store, http_fetcher(cfg.hub_url, cfg.token, str(cfg.ca_file) if cfg.ca_file else None))

    def _on_config(self, message: ConfigMessage) -> None:
        self.desired_config_version = message.version
        log.info("config announced", extra={"version": message.version})


def agent_from_file(path: Path | str) -> Agent:
    from edge.config import load_config

    return Agent(load_config(path))
