"""``edge-agent``: run a device, validate its config, export the config schema."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

from protocol.logsetup import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edge-agent", description="Device agent of the kommune-edge platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pipelines of a device config until stopped (Ctrl-C / SIGTERM)")
    run.add_argument("config", type=Path, help="device YAML, e.g. firmware_config/devices/lamp-017.yaml")
    check = sub.add_parser("validate", help="validate device YAML files and print errors with key paths")
    check.add_argument("configs", type=Path, nargs="+")
    render = sub.add_parser("render", help="print a device's effective config (site defaults + device overrides)")
    render.add_argument("config", type=Path, help="device YAML")
    render.add_argument("--explain", action="store_true", help="print every value with its origin (file:line)")
    schema = sub.add_parser("schema", help="export the JSON Schema of the device config")
    schema.add_argument("--out", type=Path, default=None, help="default: firmware_config/schema/device.schema.json")
    args = parser.parse_args(argv)

    from edge.config import ConfigError, export_schema, load_config

    if args.command == "schema":
        path = export_schema(args.out) if args.out else export_schema()
        print(f"wrote {path}")
        return 0
    if args.command == "render":
        from edge.config_layers import LayerError, render

        try:
            print(render(args.config, with_origins=args.explain))
        except (ConfigError, LayerError) as exc:
            print(exc, file=sys.stderr)
            return 2
        return 0
    if args.command == "validate":
        bad = 0
        for path in args.configs:
            try:
                cfg = load_config(path)
                print(f"ok   {path} ({cfg.device_id}, pipelines: {[p.type for p in cfg.pipelines]})")
            except ConfigError as exc:
                bad += 1
                print(f"FAIL {exc}", file=sys.stderr)
        return 1 if bad else 0

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    from edge.agent import Agent

    agent = Agent(config)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop_event.set())
    with contextlib.suppress(KeyboardInterrupt):
        agent.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
