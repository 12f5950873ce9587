"""Road-damage streams from municipal vehicles: one observation per physical damage, coverage, blurred crops."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from protocol.streams.base import Body, Row, register_stream

RddClass = Literal["D00", "D10", "D20", "D40"]
RDD_CLASS_NAMES: dict[str, str] = {
    "D00": "longitudinal crack",
    "D10": "transverse crack",
    "D20": "alligator crack",
    "D40": "pothole",
}
Severity = Literal["low", "medium", "high"]


@register_stream("road/observation")
class DamageObservation(Body):
    """One physical damage seen on one pass: fused over the frames that saw it and the GNSS track.

    ``observation_id`` is unique per device and stable across re-sends. ``passed_ts`` is when the
    vehicle passed the damage (epoch ms); the hub measures dispatch latency from it."""

    TAGS: ClassVar[tuple[str, ...]] = ("rdd_class", "severity")
    MAX_BYTES: ClassVar[int] = 2048

    observation_id: str = Field(max_length=64)
    drive_id: str = Field(max_length=64, description="one continuous drive of the vehicle")
    rdd_class: RddClass
    severity: Severity
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    position_sigma_m: float = Field(ge=0, description="1-sigma horizontal uncertainty of lat/lon")
    width_m: float = Field(ge=0, description="across the road")
    length_m: float = Field(ge=0, description="along the road")
    area_m2: float = Field(ge=0)
    confidence: float = Field(ge=0, le=1)
    frames: int = Field(ge=1, description="frames the damage was detected in")
    distance_min_m: float = Field(ge=0, description="closest distance ahead it was seen at")
    first_ts: int = Field(ge=0)
    passed_ts: int = Field(ge=0)
    heading_deg: float = Field(ge=0, lt=360)
    road_class: str = Field("local", max_length=32)
    has_crop: bool = False


@register_stream("road/coverage")
class RoadCoverage(Body):
    """Road actually inspected since the last coverage message: metres and the inspected view points.

    ``points`` are ``[lat, lon, ts_s_offset]`` of the centre of the camera's inspected ground window
    every few metres, only for frames that passed the quality gate; the hub uses them to verify repairs."""

    TAGS: ClassVar[tuple[str, ...]] = ()
    MAX_BYTES: ClassVar[int] = 16_384

    drive_id: str = Field(max_length=64)
    start_ts: int = Field(ge=0)
    end_ts: int = Field(ge=0)
    metres_driven: float = Field(ge=0)
    metres_inspected: float = Field(ge=0)
    frames_total: int = Field(ge=0)
    frames_good: int = Field(ge=0)
    frames_dark: int = Field(ge=0)
    frames_blurred: int = Field(ge=0)
    frames_stationary: int = Field(ge=0)
    frames_no_fix: int = Field(ge=0)
    view_near_m: float = Field(ge=0)
    view_far_m: float = Field(ge=0)
    view_half_width_m: float = Field(ge=0)
    points: list[list[float]] = Field(default_factory=list, max_length=400)

    def rows(self) -> list[Row]:
        fields = {
            k: v for k, v in self.model_dump().items() if k not in {"points", "drive_id"} and v is not None
        }
        return [Row({}, fields)]


@register_stream("road/crop")
class DamageCrop(Body):
    """Evidence for one observation: a small JPEG crop (base64) in which faces and plates were blurred
    on the device before it was encoded. Only this stream may carry image bytes; the time-series row
    carries its size, never the image."""

    TAGS: ClassVar[tuple[str, ...]] = ("rdd_class",)
    MAX_BYTES: ClassVar[int] = 48_000

    observation_id: str = Field(max_length=64)
    rdd_class: RddClass
    jpeg_b64: str = Field(max_length=44_000)
    width: int = Field(gt=0, le=480)
    height: int = Field(gt=0, le=480)
    privacy_model: str = Field(max_length=64, description="detector that found persons and vehicles")
    blurred_regions: int = Field(ge=0, description="person / plate regions blurred in this crop")

    def rows(self) -> list[Row]:
        return [
            Row(
                {"rdd_class": self.rdd_class},
                {
                    "observation_id": self.observation_id,
                    "bytes": len(self.jpeg_b64),
                    "blurred_regions": self.blurred_regions,
                },
            )
        ]
