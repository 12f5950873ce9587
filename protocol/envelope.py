"""The envelope every device message travels in, and its (de)serialisation.

Example (topic ``kommune/odense/lamp-017/system/heartbeat``)::

    {"schema": 1, "device_id": "lamp-017", "seq": 4711, "ts": 1763900000123,
     "historical": false, "body": {"cpu_percent": 23.5, "mem_percent": 41.0}}

``seq`` is per device, strictly increasing and never reused (it survives restarts);
``ts`` is the event time in Unix epoch milliseconds (UTC); ``historical`` is true
when the message is re-sent from the outbox after an outage.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
MAX_ENVELOPE_BYTES = 64 * 1024
DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class DecodeError(ValueError):
    """Raised for a payload that is not a valid message; ``reason`` is a short sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Envelope(BaseModel):
    """One device message. Strict types: ``"5"`` is not a seq."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    schema_version: int = Field(SCHEMA_VERSION, alias="schema", ge=1)
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    seq: int = Field(ge=0, description="per-device monotonic sequence number")
    ts: int = Field(ge=0, description="event time, Unix epoch milliseconds UTC")
    historical: bool = Field(False, description="replayed from the outbox after an outage")
    body: dict[str, Any]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode_envelope(device_id: str, seq: int, ts: int, body_json: str, historical: bool = False) -> str:
    """Serialise around an already-encoded body, without a model round trip (the device's hot path)."""
    flag = "true" if historical else "false"
    return (
        f'{{"schema":{SCHEMA_VERSION},"device_id":{json.dumps(device_id)},"seq":{seq},"ts":{ts},'
        f'"historical":{flag},"body":{body_json}}}'
    )


class WireEnvelope(msgspec.Struct, forbid_unknown_fields=True):
    """The same contract as :class:`Envelope` (same attribute names), decoded by msgspec on the
    hub's hot path, about 10x faster than pydantic. Tests check both accept and refuse the same payloads."""

    device_id: Annotated[str, msgspec.Meta(pattern=DEVICE_ID_PATTERN)]
    seq: Annotated[int, msgspec.Meta(ge=0)]
    ts: Annotated[int, msgspec.Meta(ge=0)]
    body: dict[str, Any]
    schema_version: Annotated[int, msgspec.Meta(ge=1)] = msgspec.field(default=SCHEMA_VERSION, name="schema")
    historical: bool = False

    def model_dump_json(self, by_alias: bool = True) -> str:
        """Same spelling as pydantic's, for code that handles either."""
        return msgspec.json.encode(self).decode()


_DECODER = msgspec.json.Decoder(WireEnvelope)


def decode_envelope(payload: bytes) -> WireEnvelope:
    """Parse and validate; raises :class:`DecodeError` with a reason."""
    if len(payload) > MAX_ENVELOPE_BYTES:
        raise DecodeError(f"payload of {len(payload)} bytes exceeds the {MAX_ENVELOPE_BYTES}-byte limit")
    try:
        wire = _DECODER.decode(payload)
    except msgspec.ValidationError:
        try:  # pydantic names the problem the way the rest of the platform does
            Envelope.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
            raise DecodeError(f"invalid envelope at {where}: {first.get('msg')}") from None
        raise DecodeError("invalid envelope") from None  # pragma: no cover - both validators agree
    except msgspec.DecodeError as exc:
        raise DecodeError(f"invalid envelope at payload: not valid JSON ({exc})") from None
    if wire.schema_version > SCHEMA_VERSION:
        raise DecodeError(f"schema version {wire.schema_version} is newer than supported {SCHEMA_VERSION}")
    return wire
