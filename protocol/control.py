"""Control messages: device status (birth / last will), acknowledgements, config and commands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.envelope import DEVICE_ID_PATTERN, SCHEMA_VERSION


class _Control(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_version: int = Field(SCHEMA_VERSION, alias="schema", ge=1)

    def encode(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Status(_Control):
    """Retained on ``.../status``. The birth message says ``online`` with a new ``session``;
    the last will says ``offline`` with the same session, so a will left over from an
    older session (lower number) is ignored by the hub."""

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    state: Literal["online", "offline"]
    session: int = Field(ge=0)
    ts: int = Field(ge=0, description="Unix epoch ms; for the last will, the time it was registered")
    agent_version: str = ""
    pipelines: list[str] = Field(default_factory=list)


class Ack(_Control):
    """Hub → device on ``.../ack``: the listed seq ranges (inclusive) are stored."""

    ranges: list[tuple[int, int]]

    def seqs(self) -> Iterable[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)


class ConfigMessage(_Control):
    """Hub → device on ``.../config`` (retained): desired configuration version."""

    version: str
    config: dict[str, Any] = Field(default_factory=dict)
    signature: str | None = None


class Command(_Control):
    """Hub → device on ``.../cmd``; the device answers on its ``cmd/result`` stream."""

    id: str
    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    ts: int = 0


def merge_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Compress sequence numbers into sorted inclusive ranges: [1,2,3,7] → [(1,3),(7,7)]."""
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out
