"""In-process fan-out of alert changes to the open staff apps (one asyncio queue per SSE connection)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

_QUEUE_LIMIT = 256


@dataclass(eq=False)
class Listener:
    """One open app: its care home and the queue its SSE response reads."""

    care_home: str
    queue: asyncio.Queue[dict[str, Any]]
    loop: asyncio.AbstractEventLoop


class LiveFeed:
    """Thread-safe publish (from ingest, API and timer threads) into per-connection asyncio queues."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[Listener] = set()

    def subscribe(self, care_home: str) -> Listener:
        listener = Listener(care_home, asyncio.Queue(_QUEUE_LIMIT), asyncio.get_running_loop())
        with self._lock:
            self._listeners.add(listener)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def publish(self, care_home: str, message: dict[str, Any]) -> int:
        """Queue ``message`` for every app of ``care_home``; returns how many got it."""
        with self._lock:
            targets = [item for item in self._listeners if item.care_home == care_home]
        delivered = 0
        for listener in targets:
            try:
                listener.loop.call_soon_threadsafe(_offer, listener.queue, message)
                delivered += 1
            except RuntimeError:  # its event loop has closed: the connection is gone
                self.unsubscribe(listener)
        return delivered


def _offer(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
    # A stalled client loses old updates, not the hub's memory; the app refetches on reconnect.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)
