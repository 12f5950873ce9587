"""Topic layout ``<prefix>/<site>/<device_id>/<stream>``.

Device data streams always have two levels (``<use case>/<name>``, e.g.
``traffic/counts``); the control streams have one: ``status`` (device → hub,
retained, with last will), ``ack``, ``config`` (retained) and ``cmd`` (hub → device).
The hub therefore subscribes to ``<prefix>/+/+/+/+`` for data and never receives
its own acknowledgements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTROL_STREAMS = frozenset({"status", "ack", "config", "cmd"})
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class TopicError(ValueError):
    """A topic does not follow the platform's layout."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic; ``str(topic)`` gives it back."""

    prefix: str
    site: str
    device_id: str
    stream: str

    def __str__(self) -> str:
        return f"{self.prefix}/{self.site}/{self.device_id}/{self.stream}"

    @property
    def is_control(self) -> bool:
        return self.stream in CONTROL_STREAMS

    def sibling(self, stream: str) -> Topic:
        """The same device's topic for another stream (e.g. ``ack``)."""
        return Topic(self.prefix, self.site, self.device_id, stream)

    @classmethod
    def parse(cls, topic: str, prefix_levels: int = 1) -> Topic:
        parts = topic.split("/")
        if len(parts) < prefix_levels + 3:
            raise TopicError(f"topic {topic!r} has too few levels for <prefix>/<site>/<device>/<stream>")
        prefix = "/".join(parts[:prefix_levels])
        site, device_id = parts[prefix_levels], parts[prefix_levels + 1]
        stream = "/".join(parts[prefix_levels + 2 :])
        for label, value in (("site", site), ("device_id", device_id)):
            if not NAME_RE.match(value):
                raise TopicError(f"{label} {value!r} in topic {topic!r} is not a valid name")
        stream_levels = stream.split("/")
        if stream in CONTROL_STREAMS:
            pass
        elif len(stream_levels) != 2 or not all(NAME_RE.match(level) for level in stream_levels):
            raise TopicError(f"stream {stream!r} in topic {topic!r} must be <use case>/<name>")
        return cls(prefix, site, device_id, stream)


def data_subscription(prefix: str, share_group: str | None = None) -> str:
    """Subscription for every device data stream, optionally as an MQTT shared subscription."""
    topic = f"{prefix}/+/+/+/+"
    return f"$share/{share_group}/{topic}" if share_group else topic


def status_subscription(prefix: str) -> str:
    return f"{prefix}/+/+/status"
