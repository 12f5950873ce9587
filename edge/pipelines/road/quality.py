"""Frame-quality gate (too dark, blurred, standing still) and coverage: metres of road actually inspected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Verdict = Literal["good", "dark", "blurred", "stationary", "no_fix"]


@dataclass(frozen=True)
class QualityThresholds:
    min_brightness: float = 35.0  # mean grey level 0..255
    min_sharpness: float = 25.0  # variance of the Laplacian on a 320 px wide grey copy
    min_speed_mps: float = 1.5


def brightness_and_sharpness(frame: np.ndarray) -> tuple[float, float]:
    """Mean grey level and variance of the Laplacian of a downscaled grey copy (cheap, ~1 ms)."""
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    h, w = grey.shape
    if w > 320:
        grey = cv2.resize(grey, (320, max(1, round(h * 320 / w))), interpolation=cv2.INTER_AREA)
    return float(grey.mean()), float(cv2.Laplacian(grey, cv2.CV_64F).var())


def judge_frame(brightness: float, sharpness: float, speed_mps: float | None, t: QualityThresholds) -> Verdict:
    if speed_mps is None:
        return "no_fix"
    if brightness < t.min_brightness:
        return "dark"
    if sharpness < t.min_sharpness:
        return "blurred"
    if speed_mps < t.min_speed_mps:
        return "stationary"
    return "good"


@dataclass
class CoverageMeter:
    """Counts frames by verdict and the union of road stretches [odo+near, odo+far] seen in good frames."""

    near_m: float
    far_m: float
    metres_driven: float = 0.0
    metres_inspected: float = 0.0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("good", "dark", "blurred", "stationary", "no_fix"), 0)
    )
    _odometer: float = 0.0
    _covered_until: float = float("-inf")

    def add(self, verdict: Verdict, travelled_m: float) -> None:
        self.counts[verdict] += 1
        self._odometer += travelled_m
        self.metres_driven += travelled_m
        if verdict != "good":
            return
        start = max(self._covered_until, self._odometer + self.near_m)
        end = self._odometer + self.far_m
        if end > start:
            self.metres_inspected += end - start
            self._covered_until = end

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset_period(self) -> None:
        """Start a new reporting period (the covered stretch carries over, so nothing is counted twice)."""
        self.metres_driven = 0.0
        self.metres_inspected = 0.0
        self.counts = dict.fromkeys(self.counts, 0)
