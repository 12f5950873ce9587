"""``hub demo``: broker, hub on SQLite and simulated (or replaying) devices on one machine, with a live summary."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from models.registry import DATA_DIR_ENV, data_dir

DEMO_CONFIGS = Path(__file__).resolve().parent.parent / "firmware_config" / "demo"
MEDIA_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".jpg", ".png")


def _media_paths(raw: Any) -> list[str]:
    if isinstance(raw, dict):
        return [p for v in raw.values() for p in _media_paths(v)]
    if isinstance(raw, list):
        return [p for v in raw for p in _media_paths(v)]
    return [raw] if isinstance(raw, str) and raw.lower().endswith(MEDIA_SUFFIXES) else []


def demo_device_configs(n_sim: int, port: int, state_dir: Path, use_media: bool) -> tuple[list[Any], list[str]]:
    """Simulated devices plus the replay units in firmware_config/demo/ whose media are present."""
    from edge.config import ConfigError, parse_config, substitute_env

    os.environ.setdefault(DATA_DIR_ENV, str(data_dir()))
    mqtt = {"host": "127.0.0.1", "port": port, "ack_timeout_s": 10}
    configs, notes = [], []
    for i in range(1, n_sim + 1):
        device = f"sim-{i:03d}"
        configs.append(parse_config({
            "device_id": device, "site": "demo", "state_dir": str(state_dir / device), "mqtt": mqtt,
            "pipelines": [{"type": "system", "interval_s": 5}, {"type": "simulated", "interval_s": 0.2, "seed": i}],
        }))
    for path in sorted(DEMO_CONFIGS.glob("*.yaml")) if use_media else []:
        raw = yaml.safe_load(path.read_text()) or {}
        try:
            missing = [p for p in _media_paths(substitute_env(raw)) if not Path(p).exists()]
        except ConfigError as exc:
            notes.append(f"skipped {path.name}: {exc}")
            continue
        if missing:
            notes.append(f"skipped {path.name}: media not found ({missing[0]})")
            continue
        raw.update({"mqtt": {**raw.get("mqtt", {}), **mqtt}, "state_dir": str(state_dir / raw["device_id"])})
        try:
            configs.append(parse_config(raw, str(path)))
        except ConfigError as exc:
            notes.append(f"skipped {path.name}: {exc}")
    return configs, notes


def run_demo(args: argparse.Namespace) -> int:
    from edge.agent import Agent
    from hub.api.app import create_app
    from hub.broker import EmbeddedBroker
    from hub.runtime import Hub
    from hub.settings import HubMQTT, HubSettings

    state: Path = args.state_dir
    with EmbeddedBroker(prefer_mosquitto=args.broker == "auto") as broker:
        settings = HubSettings(
            state_dir=state / "hub", store_url=f"sqlite:///{state / 'hub' / 'timeseries.sqlite'}",
            mqtt=HubMQTT(host="127.0.0.1", port=broker.port), api_port=args.port,
        )
        hub = Hub.build(settings)
        hub.start()
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(create_app(hub), host="127.0.0.1", port=args.port, log_level="warning"))
        api = threading.Thread(target=server.run, daemon=True)
        api.start()
        configs, notes = demo_device_configs(args.devices, broker.port, state / "devices", not args.no_media)
        agents = [Agent(cfg) for cfg in configs]
        for agent in agents:
            agent.start()
        print(f"broker: {broker.kind} on 127.0.0.1:{broker.port}")
        print(f"API:    http://127.0.0.1:{args.port}/docs  (devices: /devices, metrics: /metrics)")
        print(f"store:  {settings.store_url}")
        print(f"devices: {', '.join(a.config.device_id for a in agents)}")
        for note in notes:
            print(f"note:   {note}")
        print("Ctrl-C stops everything.")
        started = time.monotonic()
        last_stored, last_t = hub.ingest.stored, time.monotonic()
        try:
            while not args.duration or time.monotonic() - started < args.duration:
                time.sleep(1.0)
                now = time.monotonic()
                rate = (hub.ingest.stored - last_stored) / (now - last_t)
                last_stored, last_t = hub.ingest.stored, now
                online = sum(1 for d in hub.registry.list() if d["liveness"] == "online")
                backlog = sum(a.outbox.depth for a in agents)
                sys.stdout.write(
                    f"\rdevices online {online}/{len(agents)} | {rate:7.1f} msg/s | backlog {backlog:6d} | "
                    f"stored {hub.ingest.stored:8d} | dead letters {hub.dead_letters.total():4d} "
                )
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
        print("\nstopping ...")
        for agent in agents:
            agent.stop()
        server.should_exit = True
        api.join(5)
        hub.stop()
    print("stopped cleanly.")
    return 0
