"""Flat-road pinhole geometry: where on the road an image point lies, and where a road point appears.

Camera frame: x right, y down, z forward; the camera is pitched down by ``pitch_deg`` at ``height_m``
above a flat road. Ground coordinates: ``forward`` (m ahead of the camera along the road) and
``lateral`` (m to the right).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CameraGeometry:
    """Intrinsics and mounting of a vehicle camera. ``cx``/``cy`` default to the image centre."""

    width: int
    height: int
    focal_px: float
    height_m: float = 1.4
    pitch_deg: float = 8.0
    cx: float | None = None
    cy: float | None = None

    @staticmethod
    def from_hfov(width: int, height: int, hfov_deg: float, **kw: float) -> CameraGeometry:
        focal = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
        return CameraGeometry(width, height, focal, **kw)

    @property
    def principal(self) -> tuple[float, float]:
        return (self.width / 2 if self.cx is None else self.cx, self.height / 2 if self.cy is None else self.cy)

    def scaled(self, width: int, height: int) -> CameraGeometry:
        """The same camera at another frame resolution."""
        sx, sy = width / self.width, height / self.height
        cx, cy = self.principal
        return CameraGeometry(width, height, self.focal_px * sx, self.height_m, self.pitch_deg, cx * sx, cy * sy)

    def ground_point(self, u: float, v: float) -> tuple[float, float] | None:
        """(forward, lateral) metres of the road point seen at pixel (u, v); None above the horizon."""
        cx, cy = self.principal
        xc, yc = (u - cx) / self.focal_px, (v - cy) / self.focal_px
        p = math.radians(self.pitch_deg)
        y_down = yc * math.cos(p) + math.sin(p)
        z_fwd = -yc * math.sin(p) + math.cos(p)
        if y_down <= 1e-6:
            return None
        t = self.height_m / y_down
        return t * z_fwd, t * xc

    def project(self, forward: float, lateral: float) -> tuple[float, float] | None:
        """Pixel (u, v) of the road point (forward, lateral); None when it is behind the camera."""
        p = math.radians(self.pitch_deg)
        # world (x=lateral, y=height below camera, z=forward) → camera by pitching up by p
        y, z = self.height_m, forward
        yc = y * math.cos(p) - z * math.sin(p)
        zc = y * math.sin(p) + z * math.cos(p)
        if zc <= 1e-6:
            return None
        cx, cy = self.principal
        return cx + self.focal_px * lateral / zc, cy + self.focal_px * yc / zc

    def metres_per_pixel(self, u: float, v: float) -> float | None:
        """Lateral metres one pixel spans at the road point seen at (u, v)."""
        here = self.ground_point(u, v)
        right = self.ground_point(u + 1.0, v)
        if here is None or right is None:
            return None
        return math.hypot(right[0] - here[0], right[1] - here[1])
