"""``hub``: run the hub, or the whole platform on embedded defaults (``hub demo``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from protocol.logsetup import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub", description="Central hub of the kommune-edge platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run ingest + API against a broker and a store")
    run.add_argument("--config", type=Path, help="hub YAML (see firmware_config/hub.example.yaml)")
    run.add_argument("--log-level", default="INFO")
    demo = sub.add_parser("demo", help="everything on one machine: broker, hub on SQLite, simulated devices")
    demo.add_argument("--devices", type=int, default=3, help="simulated devices (default 3)")
    demo.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    demo.add_argument("--state-dir", type=Path, default=Path("var/demo"))
    demo.add_argument("--duration", type=float, default=0, help="stop after N seconds (0 = until Ctrl-C)")
    demo.add_argument("--broker", choices=["auto", "amqtt"], default="auto",
                      help="auto: local Mosquitto if installed, else amqtt in-process")
    demo.add_argument("--no-media", action="store_true", help="skip the replay units even if media are present")
    args = parser.parse_args(argv)

    if args.command == "run":
        from hub.settings import load_settings

        configure_logging(args.log_level)
        return serve(load_settings(args.config))
    configure_logging("WARNING")
    from hub.demo import run_demo

    return run_demo(args)


def serve(settings: object, stop: threading.Event | None = None) -> int:
    import uvicorn

    from hub.api.app import create_app
    from hub.runtime import Hub
    from hub.settings import HubSettings

    assert isinstance(settings, HubSettings)
    hub = Hub.build(settings)
    hub.start()
    server = uvicorn.Server(
        uvicorn.Config(create_app(hub), host=settings.api_host, port=settings.api_port, log_level="warning")
    )
    stop = stop or threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not stop.wait(0.5) and thread.is_alive():
            pass
    except KeyboardInterrupt:
        pass
    server.should_exit = True
    thread.join(5)
    hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
