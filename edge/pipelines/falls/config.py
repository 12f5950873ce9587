"""Configuration of the care-home fall pipeline: the room model, the resident's profile and the
detector settings. Pydantic only, so validating a device file stays fast (no OpenCV, no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.pipelines.base import PipelineConfig

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_polygon(points: list[Point]) -> list[Point]:
    if len(points) < 3:
        raise ValueError("a polygon needs at least 3 points")
    if any(not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) for x, y in points):
        raise ValueError("polygon points are fractions of the frame width and height (0..1)")
    return points


class ResidentProfile(_Strict):
    """What the staff want to know about this resident."""

    resident: str | None = Field(None, max_length=64, description="pseudonymous resident id (never a name)")
    bed_exit_alert: bool = Field(True, description="warn when the resident sits up / sits on the bed edge at night")
    walking_aid: bool = Field(
        False, description="uses a walker or cane: bed-exit warnings are raised as soon as the resident sits up"
    )
    bed_exit_all_day: bool = Field(False, description="warn on bed exit also outside night hours")


class RoomConfig(_Strict):
    """The room as the camera sees it. Polygons are fractions (x of width, y of height) of the frame."""

    room: str = Field(max_length=32, description="room / flat number as the staff say it, e.g. '12'")
    care_home: str = Field(max_length=64)
    beds: list[list[Point]] = Field(default_factory=list, description="bed mattress outline(s)")
    seating: list[list[Point]] = Field(
        default_factory=list, description="sofa / armchair outlines: lying or sitting there is not 'on the floor'"
    )
    floor: list[Point] | None = Field(None, description="visible floor; default: everywhere outside beds and seating")
    door: list[Point] | None = Field(
        None, description="door area: people appearing here are counted as visitors/staff arriving"
    )
    placement: Literal["wall", "ceiling"] = Field(
        "wall", description="wall-mounted (tilted, seeing bodies from the side) or ceiling (looking down)"
    )
    night_start: str = Field("22:00", pattern=r"^\d\d:\d\d$", description="local time the night begins")
    night_end: str = Field(
        "07:00", pattern=r"^\d\d:\d\d$", description="local time the night ends; the night report is sent then"
    )
    timezone: str = "Europe/Copenhagen"
    profile: ResidentProfile = Field(default_factory=ResidentProfile)

    @field_validator("beds", "seating")
    @classmethod
    def _polygons(cls, value: list[list[Point]]) -> list[list[Point]]:
        return [_check_polygon(p) for p in value]

    @field_validator("floor", "door")
    @classmethod
    def _polygon(cls, value: list[Point] | None) -> list[Point] | None:
        return None if value is None else _check_polygon(value)


class DetectorSettings(_Strict):
    """Thresholds of the state machines. Lengths are in torso lengths of the person (shoulder to hip
    centre), so they do not depend on the distance to the camera; times in seconds."""

    keypoint_conf: float = Field(0.3, ge=0, le=1, description="keypoints below this confidence count as unseen")
    fall_window_s: float = Field(2.0, gt=0, description="a fall's torso descent happens within this time")
    fall_drop: float = Field(0.8, gt=0, description="torso-centre descent of a fall, torso lengths")
    fall_speed: float = Field(1.0, gt=0, description="peak descent speed of a fall, torso lengths per second")
    fall_confirm_s: float = Field(0.3, ge=0, description="the body must stay down this long before the alarm")
    slide_window_s: float = Field(8.0, gt=0, description="slow slides: descent to the floor within this time")
    slide_confirm_s: float = Field(2.0, ge=0, description="slow slides: still on the floor, reclined, this long")
    lying_angle: float = Field(55.0, gt=0, lt=90, description="torso angle from vertical above which a person lies")
    upright_angle: float = Field(
        35.0, gt=0, lt=90, description="torso angle from vertical below which a person is upright"
    )
    on_floor_s: float = Field(30.0, gt=0, description="lying or sitting on the floor this long raises on_floor")
    got_up_s: float = Field(3.0, gt=0, description="upright off the floor this long clears a fall")
    sit_up_s: float = Field(1.5, gt=0, description="sitting up in bed this long raises bed_exit_warning")
    bed_rearm_s: float = Field(20.0, gt=0, description="lying in bed again this long re-arms the bed-exit warning")
    second_person_s: float = Field(
        2.0, gt=0, description="a second person seen this long counts as staff/visitor present"
    )
    staff_policy: Literal["downgrade", "suppress", "ignore"] = Field(
        "downgrade",
        description="with a second person in the room: alarms become warnings, are not raised, or stay critical",
    )
    clip_s: float = Field(5.0, gt=0, le=30, description="seconds of skeleton in each event")
    clip_fps: float = Field(4.0, gt=0, le=15)
    restless_motion: float = Field(
        0.15, gt=0, description="torso lengths of movement per minute in bed that make the minute restless"
    )


class SourceConfig(_Strict):
    """Where frames come from: a camera index, a video file, or an RTSP/HTTP URL."""

    uri: str = Field("0", description="'0' for the first camera, a file path, or rtsp://...")
    fps: float = Field(5.0, gt=0, le=30, description="frames analysed per second (others are skipped)")
    loop: bool = Field(False, description="restart a video file at its end (demo)")
    realtime: bool = Field(
        True, description="pace a video file at its own frame rate; false: as fast as possible (evaluation)"
    )
    crop: tuple[float, float, float, float] | None = Field(
        None,
        description="analyse only this part of the frame: x0, y0, x1, y1 as fractions (e.g. one half of a split view)",
    )


class PoseSettings(_Strict):
    backend: Literal["onnx", "ultralytics"] = Field(
        "onnx", description="onnx: ONNX Runtime, no PyTorch; ultralytics: PyTorch reference"
    )
    imgsz: int = Field(416, ge=160, le=1280, multiple_of=32)
    conf: float = Field(0.25, gt=0, lt=1)
    threads: int | None = Field(None, ge=1, description="ONNX Runtime threads (default: all cores)")


class FallsConfig(PipelineConfig):
    """Fall, bed-exit and restless-night detection for one resident room."""

    type: Literal["falls"] = "falls"
    room: RoomConfig
    source: SourceConfig = Field(default_factory=SourceConfig)
    pose: PoseSettings = Field(default_factory=PoseSettings)
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    state_file: Path = Field(Path("falls-state.json"), description="night statistics, relative to the device state_dir")
