"""Care-home fall alert streams: events with text and a skeleton clip, never pixels."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.streams.base import Body, register_stream

FallEventKind = Literal["bed_exit_warning", "fall", "on_floor", "got_up", "staff_present", "night_report"]


class SkeletonClip(BaseModel):
    """Keypoints of the last few seconds: ``frames[t][person][k] = [x, y, conf]`` with x, y
    normalised to 0..1 of the camera frame (2 decimals) and the 17 COCO keypoints in COCO order."""

    model_config = ConfigDict(extra="forbid")

    fps: float = Field(gt=0, le=30)
    aspect: float = Field(gt=0, description="frame width / height, to draw the figure undistorted")
    frames: list[list[list[list[float]]]] = Field(max_length=150)


@register_stream("falls/event")
class FallEvent(Body):
    """One event of the room's state machines. ``event_id`` is unique per device and
    stable across re-sends; ``got_up`` and ``staff_present`` refer to the event they clear
    or downgrade through ``related_event_id``."""

    TAGS = ("kind", "room")
    MAX_BYTES = 24_576

    event_id: str = Field(max_length=64)
    kind: FallEventKind
    room: str = Field(max_length=32, description="room / flat number, e.g. '12'")
    care_home: str = Field(max_length=64)
    resident: str | None = Field(None, max_length=64, description="pseudonymous resident id")
    severity: Literal["info", "warning", "critical"]
    text_da: str = Field(max_length=300)
    text_en: str = Field(max_length=300)
    started_ts: int = Field(ge=0, description="when the situation began, epoch ms")
    related_event_id: str | None = None
    clip: SkeletonClip | None = None
    details: dict[str, float | int | str | bool] = Field(default_factory=dict)
