"""The hub's FastAPI app: health, devices, dead letters, recent measurements, metrics, and the
routers of the domain services and optimisers."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import generate_latest
from pydantic import BaseModel, Field

from hub import security
from hub.runtime import Hub
from protocol import known_streams
from protocol.streams.base import Body
from protocol.topics import NAME_RE

log = logging.getLogger(__name__)

class DeviceRegistration(BaseModel):
    site: str = Field(..., pattern=NAME_RE.pattern, description="the site level of the device's topics")


# Routers of the optimisers ("module:attribute"); mounted when importable.
OPTIONAL_ROUTERS = ["hub.api.routes_planning:router", "hub.api.fleet:router"]


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="kommune-edge hub",
        version="0.1.0",
        description="Device registry, measurements, dead letters, use-case services and optimisation jobs.",
    )
    security.install(app, hub.settings.state_dir)  # before any route: every route passes hub.security.POLICY
    app.state.hub = hub
    app.state.jobs = hub.jobs

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            parts.append(f"{where}: {err.get('msg')}")
        return JSONResponse(status_code=422, content={"detail": "Invalid request. " + "; ".join(parts)})

    @app.get("/health", tags=["hub"], summary="Is the hub up, connected to the broker and the store?")
    def health() -> dict[str, Any]:
        store_ok = hub.store.ping()
        broker_ok = hub.ingest.connected.is_set()
        return {
            "status": "ok" if store_ok and broker_ok else "degraded",
            "broker": broker_ok,
            "store": store_ok,
            "queue": hub.ingest.queue_depth,
            "stored": hub.ingest.stored,
        }

    @app.get("/devices", tags=["devices"], summary="All known devices with liveness")
    def devices() -> list[dict[str, Any]]:
        return hub.registry.list()

    @app.get("/devices/{device_id}", tags=["devices"], summary="One device")
    def device(device_id: str) -> dict[str, Any]:
        found = hub.registry.get(device_id)
        if found is None:
            raise HTTPException(404, detail=f"No device called {device_id!r} has been seen or registered.")
        return found

    @app.put("/devices/{device_id}", tags=["devices"], summary="Pre-register a device at its site")
    def register_device(device_id: str, registration: DeviceRegistration) -> dict[str, Any]:
        """With ``require_registration`` the hub accepts a device's messages only under this site."""
        if not NAME_RE.match(device_id):
            raise HTTPException(400, detail=f"Invalid device id {device_id!r}: use letters, digits, '-' and '_'.")
        hub.registry.register(device_id, registration.site)
        return device(device_id)

    @app.get("/devices/{device_id}/liveness", tags=["devices"], summary="Online, offline or stale")
    def liveness(device_id: str) -> dict[str, Any]:
        found = device(device_id)
        return {"device_id": device_id, "liveness": found["liveness"], "last_seen_age_s": found["last_seen_age_s"]}

    @app.get("/devices/{device_id}/measurements", tags=["devices"], summary="Recent rows of one stream")
    def measurements(
        device_id: str,
        stream: str = Query(..., description="data stream, e.g. system/heartbeat", examples=["system/heartbeat"]),
        limit: int = Query(100, ge=1, le=10_000),
    ) -> list[dict[str, Any]]:
        streams: dict[str, type[Body]] = known_streams()
        if stream not in streams:
            raise HTTPException(400, detail=f"Unknown stream {stream!r}; known streams: {sorted(streams)}.")
        device(device_id)
        return hub.store.recent(stream.replace("/", "_"), device_id, limit)

    @app.get("/dead-letters", tags=["hub"], summary="Rejected messages with the reason, newest first")
    def dead_letters(
        limit: int = Query(100, ge=1, le=1000), device_id: str | None = Query(None)
    ) -> dict[str, Any]:
        return {"total": hub.dead_letters.total(), "items": hub.dead_letters.list(limit, device_id)}

    @app.get("/metrics", tags=["hub"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        hub.metrics.devices_online.set(sum(1 for d in hub.registry.list() if d["liveness"] == "online"))
        hub.metrics.queue.set(hub.ingest.queue_depth)
        return PlainTextResponse(generate_latest(hub.metrics.registry), media_type="text/plain; version=0.0.4")

    for service in hub.services:
        router = service.router()
        if router is not None:
            app.include_router(router)
    for ref in OPTIONAL_ROUTERS:
        module_name, _, attr = ref.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        app.include_router(getattr(module, attr))
    return app
