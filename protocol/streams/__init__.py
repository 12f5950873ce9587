"""Registry of device data streams: which body model each stream carries.

A use case adds one module here (e.g. ``protocol/streams/traffic.py``) that defines
its body models with :func:`register_stream`, and one import line below.
"""

from __future__ import annotations

from protocol.streams import (
    energy,  # noqa: F401
    falls,  # noqa: F401
    road,  # noqa: F401
    system,  # noqa: F401  (registers its streams)
    traffic,  # noqa: F401
)
from protocol.streams.base import Body, Row, body_model, known_streams, register_stream

__all__ = ["Body", "Row", "body_model", "known_streams", "register_stream"]
