"""Seed messages for the roads dashboard test: two vehicles, three weekly drives over the same streets, six
potholes and cracks seen again on later drives, coverage with quality counts and a blurred crop.

The work-order panels read ``road_workorder`` points that the hub's road service writes when it handles
these observations (the service must be loaded, as it is in SERVICES)."""

from __future__ import annotations

import base64

from protocol import Body
from protocol.streams.road import DamageCrop, DamageObservation, RoadCoverage

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
WEEK_MS = 7 * 86_400_000
LAT, LON = 55.3959, 10.3883
DAMAGES = [  # (north m, east m, class, width, length)
    (0.0, 0.0, "D40", 0.7, 0.5),
    (120.0, 35.0, "D40", 0.3, 0.3),
    (260.0, -40.0, "D20", 1.6, 1.2),
    (400.0, 10.0, "D00", 0.1, 3.5),
    (-150.0, 300.0, "D10", 2.8, 0.1),
    (-300.0, 620.0, "D40", 1.1, 0.9),
]


def _tiny_jpeg_b64() -> str:
    """A real 16x16 JPEG standing in for a blurred crop."""
    import cv2
    import numpy as np

    ok, jpeg = cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))
    assert ok
    return base64.b64encode(jpeg.tobytes()).decode()


def _obs(drive: int, k: int, vehicle: str, when: int) -> DamageObservation:
    north, east, cls, width, length = DAMAGES[k]
    jitter = ((drive * 7 + k * 3) % 5 - 2) * 0.6  # metres: another drive, another GNSS error
    sev = "high" if width * length > 0.4 else "medium" if max(width, length) > 0.3 else "low"
    return DamageObservation(
        observation_id=f"{vehicle}-d{drive}-{k:03d}", drive_id=f"{vehicle}-d{drive}", rdd_class=cls,  # type: ignore[arg-type]
        severity=sev, lat=LAT + (north + jitter) / 111_195, lon=LON + (east - jitter) / 63_170,  # type: ignore[arg-type]
        position_sigma_m=1.3, width_m=width, length_m=length, area_m2=round(0.785 * width * length, 3),
        confidence=0.55 + 0.05 * k, frames=4 + k, distance_min_m=4.2, first_ts=when - 3000, passed_ts=when,
        heading_deg=12.0, road_class="collector" if k % 2 else "local", has_crop=k == 0,
    )


def messages() -> list[Body]:
    out: list[Body] = []
    for drive in range(3):
        vehicle = "park-07" if drive != 1 else "vej-02"
        start = T0 + drive * WEEK_MS
        for k in range(len(DAMAGES)):
            if drive == 2 and k == 1:
                continue  # repaired between drives: not seen on the third drive
            when = start + 60_000 * (k + 1)
            out.append(_obs(drive, k, vehicle, when))
            if k == 0:
                out.append(DamageCrop(observation_id=f"{vehicle}-d{drive}-000", rdd_class="D40",
                                      jpeg_b64=_tiny_jpeg_b64(), width=16, height=16,
                                      privacy_model="yolov8n-int8-tflite", blurred_regions=1))
        for part in range(4):
            points = [[LAT + (part * 120 + i * 5) / 111_195, LON + 10 / 63_170, float(i)] for i in range(24)]
            out.append(RoadCoverage(
                drive_id=f"{vehicle}-d{drive}", start_ts=start + part * 120_000, end_ts=start + (part + 1) * 120_000,
                metres_driven=1200.0 - 100 * part, metres_inspected=1050.0 - 120 * part - 50 * drive,
                frames_total=600, frames_good=540 - 40 * part, frames_dark=10 * part, frames_blurred=30,
                frames_stationary=30 + 30 * part, frames_no_fix=0, view_near_m=3.0, view_far_m=20.0,
                view_half_width_m=3.5, points=points,
            ))
    return out
