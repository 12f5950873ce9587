"""Fixtures for the hub side of fall alerts: a service on a temp state dir with a fake clock, real
``FallEvent``s with skeleton clips, staff accounts, and the hub app served by uvicorn on loopback."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from hub.alerts.auth import hash_password
from hub.alerts.store import Staff
from hub.domain import HubContext
from hub.services.falls import FallAlertService
from protocol import Envelope, Topic
from protocol.streams.falls import FallEvent, SkeletonClip
from tests.support import missing

START = 1_763_900_000.0
PASSWORD = "korrekt hest batteri"
_PASSWORD_HASH = hash_password(PASSWORD)  # scrypt once per session, not once per account

# A standing person in COCO order (x, y as fractions of a 16:9 frame), drawn around x = 0.5.
_STANDING = [
    (0.50, 0.20),
    (0.49, 0.19),
    (0.51, 0.19),
    (0.48, 0.20),
    (0.52, 0.20),
    (0.47, 0.30),
    (0.53, 0.30),
    (0.45, 0.42),
    (0.55, 0.42),
    (0.44, 0.52),
    (0.56, 0.52),
    (0.48, 0.55),
    (0.52, 0.55),
    (0.48, 0.72),
    (0.52, 0.72),
    (0.48, 0.90),
    (0.52, 0.90),
]


class FakeClock:
    """Injectable wall clock: tests move time instead of waiting minutes."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fall_clip(frames: int = 30, fps: float = 10.0) -> SkeletonClip:
    """A person tipping over about the ankles and lying on the floor: what a fall event carries."""
    out = []
    for index in range(frames):
        angle = min(1.0, index / (frames * 0.6)) * math.pi / 2  # 0 = standing, 90° = lying
        pivot_x, pivot_y = 0.5, 0.90
        person = []
        for x, y in _STANDING:
            dx, dy = (x - pivot_x) * 16 / 9, y - pivot_y  # rotate in undistorted units
            rx = dx * math.cos(angle) + dy * math.sin(angle)
            ry = -dx * math.sin(angle) + dy * math.cos(angle)
            person.append([round(pivot_x + rx * 9 / 16, 2), round(pivot_y + ry, 2), 0.9])
        out.append([person])
    return SkeletonClip(fps=fps, aspect=16 / 9, frames=out)


def fall_event(
    kind: str = "fall",
    event_id: str = "ev-1",
    room: str = "12",
    care_home: str = "solhaven",
    related: str | None = None,
    severity: str | None = None,
    clip: bool = True,
) -> FallEvent:
    severity = severity or {"fall": "critical", "on_floor": "critical", "bed_exit_warning": "warning"}.get(kind, "info")
    texts = {
        "fall": ("Beboer i bolig {r} er faldet – 02:14", "Resident in room {r} has fallen – 02:14"),
        "on_floor": ("Beboer i bolig {r} ligger på gulvet – 02:15", "Resident in room {r} is on the floor – 02:15"),
        "bed_exit_warning": (
            "Beboer i bolig {r} sidder på sengekanten – 02:14",
            "Resident in room {r} is sitting on the bed edge – 02:14",
        ),
        "got_up": ("Beboer i bolig {r} er kommet op – 02:20", "Resident in room {r} got up – 02:20"),
        "staff_present": ("Personale er hos beboer i bolig {r}", "Staff are with the resident in room {r}"),
        "night_report": ("Nat i bolig {r}: 7 t 40 min i seng, 2 gange oppe", "Night in room {r}: 7 h 40 min in bed"),
    }[kind]
    return FallEvent(
        event_id=event_id,
        kind=kind,
        room=room,
        care_home=care_home,
        resident="r-4711",
        severity=severity,
        text_da=texts[0].format(r=room),
        text_en=texts[1].format(r=room),
        started_ts=int(START * 1000),
        related_event_id=related,
        clip=fall_clip() if clip and kind in ("fall", "on_floor", "bed_exit_warning") else None,
    )


@dataclass
class Feeder:
    """Hands messages to the service the way ingest does: topic, envelope (device seq), body."""

    service: FallAlertService
    device_id: str = "care-cam-12"
    site: str = "odense"
    seq: int = 0

    def __call__(self, event: FallEvent, seq: int | None = None) -> None:
        if seq is None:
            self.seq += 1
            seq = self.seq
        topic = Topic("kommune", self.site, self.device_id, "falls/event")
        envelope = Envelope(device_id=self.device_id, seq=seq, ts=event.started_ts, body=event.model_dump())
        self.service.handle(topic, envelope, event)


def make_service(state_dir: Path, clock: FakeClock, store: object = None, **settings: object) -> FallAlertService:
    ctx = HubContext(
        state_dir=state_dir, prefix="kommune", publish=lambda *a: None, store=store, jobs=None, settings=dict(settings)
    )
    return FallAlertService(ctx, clock=clock)


def add_staff(
    service: FallAlertService,
    username: str,
    home: str = "solhaven",
    rooms: tuple[str, ...] = (),
    on_shift: bool = True,
    language: str = "da",
) -> Staff:
    staff = service.store.add_staff(username, home, username.capitalize(), _PASSWORD_HASH, list(rooms), language)
    service.store.update_staff(staff.id, on_shift=on_shift)
    found = service.store.staff(staff.id)
    assert found is not None
    return found


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock) -> Iterator[FallAlertService]:
    svc = make_service(tmp_path / "falls", clock)
    yield svc
    svc.stop()


@pytest.fixture
def feed(service: FallAlertService) -> Feeder:
    return Feeder(service)


def hub_app(service: FallAlertService) -> FastAPI:
    app = FastAPI()
    app.include_router(service.router())
    return app


@dataclass
class LiveHub:
    url: str
    server: uvicorn.Server


@contextmanager
def serve(app: FastAPI) -> Iterator[LiveHub]:
    """``app`` served by a real uvicorn on a free loopback port, for browsers and SSE clients."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started), "uvicorn did not start"
    try:
        yield LiveHub(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@pytest.fixture
def live_hub(service: FallAlertService) -> Iterator[LiveHub]:
    with serve(hub_app(service)) as hub:
        yield hub


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (which cannot download its own browsers here)."""
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
