"""The wire contract between devices and the hub: topics, message models, schema version.

Small and dependency-light (pydantic only); no I/O. Both ``edge`` and ``hub`` import it.
"""

from protocol.control import Ack, Command, ConfigMessage, Status, merge_ranges
from protocol.envelope import (
    MAX_ENVELOPE_BYTES,
    SCHEMA_VERSION,
    DecodeError,
    Envelope,
    WireEnvelope,
    decode_envelope,
    encode_envelope,
    now_ms,
)
from protocol.streams import Body, Row, body_model, known_streams, register_stream
from protocol.topics import CONTROL_STREAMS, Topic, data_subscription, status_subscription

__all__ = [
    "CONTROL_STREAMS",
    "MAX_ENVELOPE_BYTES",
    "SCHEMA_VERSION",
    "Ack",
    "Body",
    "Command",
    "ConfigMessage",
    "DecodeError",
    "Envelope",
    "Row",
    "Status",
    "Topic",
    "WireEnvelope",
    "body_model",
    "data_subscription",
    "decode_envelope",
    "encode_envelope",
    "known_streams",
    "merge_ranges",
    "now_ms",
    "register_stream",
    "status_subscription",
]
