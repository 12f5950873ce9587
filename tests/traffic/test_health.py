"""Camera health on real frames: a covered, blurred (sprayed), shifted (knocked) or dark view is raised
after it lasts, cleared after it is gone, and a normal street with traffic raises nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.vision.health import HealthThresholds, ViewHealth, conditions, median_signature, view_signature
from protocol.privacy import image_like_reasons
from tests.traffic.conftest import read_frames


def covered(frame: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (np.full_like(frame, 55) + rng.integers(0, 4, frame.shape, dtype=np.uint8)).astype(np.uint8)


def blurred(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(frame, (0, 0), frame.shape[1] / 150)


def shifted(frame: np.ndarray) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    return cv2.warpAffine(frame, np.float32([[1, 0, 0.06 * w], [0, 1, 0.04 * h]]), (w, h),
                          borderMode=cv2.BORDER_REFLECT)


def dark(frame: np.ndarray) -> np.ndarray:
    return (frame * 0.08).astype(np.uint8)


@pytest.fixture(scope="module")
def street() -> list[np.ndarray]:
    """A parking lane with cars passing, one frame a second (the reference scene, then more traffic)."""
    return read_frames("intel-car-detection.mp4", list(range(0, 375, 12)), width=640)


def reference_of(frames: list[np.ndarray]) -> ViewHealth:
    health = ViewHealth(raise_after_s=3, clear_after_s=3)
    for t, frame in enumerate(frames[:5]):
        assert health.check(frame, float(t)) == []
    assert health.reference is not None
    return health


def test_normal_traffic_raises_nothing(street: list[np.ndarray]) -> None:
    health = reference_of(street)
    changes = [c for t, f in enumerate(street[5:], start=5) for c in health.check(f, float(t))]
    assert changes == [] and health.active == {}


@pytest.mark.parametrize(("spoil", "kind"), [(covered, "covered"), (blurred, "defocus"), (shifted, "camera_moved"),
                                             (dark, "too_dark")])
def test_spoiled_view_is_raised_then_cleared(street: list[np.ndarray], spoil, kind: str) -> None:
    health = reference_of(street)
    t = 5.0
    raised = []
    for frame in street[5:11]:
        raised += health.check(spoil(frame), t)
        t += 1
    assert [(c.kind, c.state) for c in raised] == [(kind, "raised")]
    cleared = []
    for frame in street[11:17]:
        cleared += health.check(frame, t)
        t += 1
    assert [(c.kind, c.state) for c in cleared] == [(kind, "cleared")]


def test_short_occlusion_is_not_raised(street: list[np.ndarray]) -> None:
    health = reference_of(street)
    assert health.check(covered(street[6]), 5.0) == []
    assert health.check(street[7], 6.0) == [] and health.active == {}


def test_reference_on_disk_is_numbers_not_a_picture(street: list[np.ndarray], tmp_path: Path) -> None:
    path = tmp_path / "view_reference.json"
    health = ViewHealth(reference_file=path)
    for t, frame in enumerate(street[:5]):
        health.check(frame, float(t))
    assert path.exists() and image_like_reasons(path.read_bytes()) == []
    assert len(json.loads(path.read_text())["edges"]) < 1500
    again = ViewHealth(reference_file=path)  # a restarted unit compares against the stored scene
    assert again.reference == health.reference
    sig = [view_signature(shifted(f)) for f in street[5:10]]
    assert "camera_moved" in conditions(sig, again.reference, HealthThresholds())
    assert median_signature(sig) is not None
