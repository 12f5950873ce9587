"""The ``traffic`` section of a device's YAML: source, detector, tracker, counting lines, zones, bins, health.

Coordinates are fractions of the frame (0..1, x right, y down), so a config survives a change of
camera resolution. Only specify what differs from the defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.pipelines.base import PipelineConfig
from edge.sources.video import VideoSourceConfig
from protocol.streams.traffic import NAME_PATTERN, TrafficClass

NormPoint = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_normalised(points: list[NormPoint], what: str) -> None:
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{what}: point ({x}, {y}) is outside the frame; use fractions 0..1 of width and height")


class LineConfig(_Strict):
    """A counting line. Walking along it from its first point to its last, crossing from the
    left-hand side to the right-hand side is the ``positive`` direction (image y points down)."""

    name: str = Field(pattern=NAME_PATTERN)
    points: list[NormPoint] = Field(min_length=2, description="polyline, fractions of frame width/height")
    positive: str = Field("positive", pattern=NAME_PATTERN, description="name of left→right-hand crossings")
    negative: str = Field("negative", pattern=NAME_PATTERN, description="name of right→left-hand crossings")
    classes: list[TrafficClass] | None = Field(None, description="count only these classes (default: all)")

    @model_validator(mode="after")
    def _check(self) -> LineConfig:
        _check_normalised(self.points, f"line {self.name}")
        if self.positive == self.negative:
            raise ValueError(f"line {self.name}: positive and negative need different names")
        return self


class ZoneConfig(_Strict):
    """A polygon zone: occupancy (how many are inside) and dwell time (how long they stay)."""

    name: str = Field(pattern=NAME_PATTERN)
    polygon: list[NormPoint] = Field(min_length=3)
    classes: list[TrafficClass] | None = None

    @model_validator(mode="after")
    def _check(self) -> ZoneConfig:
        _check_normalised(self.polygon, f"zone {self.name}")
        return self


class DetectorConfig(_Strict):
    backend: Literal["tflite", "ultralytics"] = Field(
        "tflite", description="tflite: LiteRT, no PyTorch (Raspberry Pi); ultralytics: needs the train extra"
    )
    model: str = Field("yolov8n-int8-tflite", description="name in models/registry.yaml, or a file path")
    conf: float = Field(0.25, gt=0, lt=1, description="minimum detection confidence")
    iou: float = Field(0.7, gt=0, lt=1, description="NMS IoU threshold")
    threads: int = Field(2, ge=1, le=16, description="inference threads")
    agnostic_nms: bool = Field(
        True, description="one box per object across classes (a bus is not also a car); riders survive (low IoU)"
    )
    extra_classes: dict[int, TrafficClass] = Field(
        default_factory=dict,
        description="more COCO class ids to count as a traffic class, for unusual views: seen straight from "
        "above, the COCO model calls many cars 'cell phone' (67), so such a camera may set {67: car}",
    )
    class_conf: dict[TrafficClass, float] = Field(
        default_factory=dict, description="per-class minimum confidence above `conf`, e.g. {heavy: 0.4}"
    )


class TrackerConfig(_Strict):
    lost_track_buffer_s: float = Field(1.5, gt=0, description="keep a lost track this long before ending it")
    track_activation_threshold: float = Field(0.3, gt=0, lt=1)
    high_conf_det_threshold: float = Field(0.45, gt=0, lt=1)
    minimum_consecutive_frames: int = Field(2, ge=1)
    minimum_iou_threshold: float = Field(0.1, gt=0, lt=1)


class SpeedConfig(_Strict):
    """How much work per frame: the levers that buy frames per second on a small CPU."""

    detect_every: int = Field(1, ge=1, le=10, description="run the detector on every n-th frame")
    frames_per_inference: int = Field(
        1, ge=1, le=4, description="pack this many frames' regions of interest into one model input (mosaic)"
    )
    roi: Literal["auto", "full"] | tuple[float, float, float, float] = Field(
        "auto", description="auto: box around the lines and zones; full; or [x0, y0, x1, y1] fractions"
    )
    roi_margin: float = Field(0.12, ge=0, le=1, description="auto ROI: margin around the geometry, fraction of frame")
    motion_gate: bool = Field(True, description="skip the detector while nothing moves in the ROI")
    motion_fraction: float = Field(0.002, ge=0, le=1, description="share of ROI pixels that must change")
    max_gate_s: float = Field(2.0, gt=0, description="detect at least this often even without motion")


class HealthConfig(_Strict):
    enabled: bool = True
    every_s: float = Field(1.0, gt=0, description="seconds between checks")
    raise_after_s: float = Field(5.0, ge=0, description="a condition must last this long to be raised")
    clear_after_s: float = Field(5.0, ge=0, description="and be gone this long to be cleared")
    dark_mean: float = Field(28.0, ge=0, le=255, description="mean grey level below which the view is too dark")
    covered_ratio: float = Field(0.3, gt=0, lt=1, description="contrast / reference contrast below = lens covered")
    defocus_ratio: float = Field(0.25, gt=0, lt=1, description="sharpness / reference sharpness below = defocus")
    moved_similarity: float = Field(0.5, gt=-1, lt=1, description="edge-map correlation with reference below = moved")


class TrafficConfig(PipelineConfig):
    """Traffic counting on a lamp post: counts per line × class × direction per bin, zone occupancy."""

    type: Literal["traffic"] = "traffic"
    source: VideoSourceConfig
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    speed: SpeedConfig = Field(default_factory=SpeedConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    bin_s: int = Field(900, ge=10, le=86_400, description="count bin length in seconds (15 min default)")
    anchor: Literal["bottom_center", "center"] = Field(
        "bottom_center", description="the point of a box that crosses lines: ground contact, or box centre"
    )
    hysteresis: float = Field(0.012, ge=0, le=0.2, description="dead band beside a line, fraction of frame height")

    @model_validator(mode="after")
    def _check(self) -> TrafficConfig:
        if not self.lines and not self.zones:
            raise ValueError("a traffic pipeline needs at least one line or zone")
        names = [g.name for g in [*self.lines, *self.zones]]
        if len(set(names)) != len(names):
            raise ValueError("line and zone names must be unique")
        return self
