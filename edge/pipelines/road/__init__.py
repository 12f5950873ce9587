"""Road and path damage from municipal vehicles: config section (light; the pipeline imports heavy parts lazily)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.pipelines.base import PipelineConfig
from edge.sources.video import VideoSourceConfig


class CameraMountConfig(BaseModel):
    """The camera behind the windshield: field of view and mounting, for the flat-road distance model."""

    model_config = ConfigDict(extra="forbid")

    hfov_deg: float = Field(70.0, gt=10, lt=170, description="horizontal field of view")
    focal_px: float | None = Field(None, gt=0, description="focal length in pixels at the frame width (overrides hfov)")
    height_m: float = Field(1.4, gt=0.2, lt=5, description="lens height above the road")
    pitch_deg: float = Field(8.0, ge=-10, le=60, description="downward tilt of the optical axis")
    cx_frac: float | None = Field(None, ge=0, le=1, description="principal point x as a fraction of width")
    cy_frac: float | None = Field(None, ge=0, le=1, description="principal point y as a fraction of height")


class RoadQualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_brightness: float = Field(35.0, ge=0, le=255, description="mean grey level below which a frame is too dark")
    min_sharpness: float = Field(25.0, ge=0, description="variance of the Laplacian below which a frame is blurred")
    min_speed_mps: float = Field(1.5, ge=0, description="below this the vehicle stands still: frames are skipped")


class RoadConfig(PipelineConfig):
    """Damage detection on a vehicle: video + GNSS → one observation per physical damage."""

    type: Literal["road"] = "road"
    video: VideoSourceConfig = Field(default_factory=lambda: VideoSourceConfig(kind="usb", uri="0"))
    gps: str = Field(
        "gpsd://127.0.0.1:2947",
        description="gpsd://host:port, serial:///dev/ttyACM0?baud=9600, or a .gpx/.nmea file to replay",
    )
    gps_time_offset_s: float = Field(0.0, description="added to replayed GNSS timestamps to align them with frames")
    process_fps: float = Field(5.0, gt=0, le=30, description="frames per second analysed (others skipped)")
    camera: CameraMountConfig = Field(default_factory=CameraMountConfig)
    model: str = Field("road-damage-yolo11n-onnx", description="registry name of the damage detector")
    backend: Literal["onnx", "tflite", "ultralytics"] = "onnx"
    imgsz: int = Field(384, ge=128, le=1280)
    confidence: float = Field(0.15, gt=0, lt=1, description="detector threshold (best F1 on our validation split)")
    min_frames: int = Field(2, ge=1, description="frames a damage must be seen in to be reported")
    privacy_model: str = Field("yolov8n-int8-tflite", description="COCO detector for blurring persons and plates")
    crops: bool = Field(True, description="send a blurred evidence crop per damage (never without the privacy model)")
    quality: RoadQualityConfig = Field(default_factory=RoadQualityConfig)
    view_near_m: float = Field(3.0, gt=0, description="nearest road distance the camera sees")
    view_far_m: float = Field(20.0, gt=0, description="farthest distance at which damage is looked for")
    view_half_width_m: float = Field(3.5, gt=0, description="half width of the inspected road strip")
    road_class: str = Field("local", description="default road class (hub may override from its road map)")
    coverage_interval_s: float = Field(30.0, ge=5, description="how often coverage is reported")
    gnss_sigma_m: float = Field(5.0, gt=0, description="1-sigma error of one GNSS fix")
    threads: int = Field(2, ge=1, le=16, description="inference threads")


__all__ = ["CameraMountConfig", "RoadConfig", "RoadQualityConfig"]
