"""Camera health: lens covered, sprayed or out of focus, camera knocked (view moved), too dark.

Each check reduces a frame to a *view signature* of a few hundred numbers (brightness, contrast,
sharpness and a coarse grid of edge-orientation histograms). The reference of the configured scene
is such a signature, so it can be kept on disk without keeping a picture of the street.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

EDGE_GRID = (27, 48)  # rows, columns of the coarse edge-energy map (a 40 px cell of a 1080p frame)
WORK_SIZE = (320, 180)
CONDITIONS = ("too_dark", "covered", "defocus", "camera_moved")


@dataclass(frozen=True)
class ViewSignature:
    """What health needs to know of a frame: brightness, contrast, sharpness and a coarse map of
    where the edges are (log edge energy per 40-pixel cell: no face or plate survives it)."""

    brightness: float
    contrast: float
    sharpness: float
    edges: tuple[float, ...]


def view_signature(image: np.ndarray) -> ViewSignature:
    """Signature of a BGR frame."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, WORK_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    magnitude = np.hypot(cv2.Sobel(small, cv2.CV_32F, 1, 0), cv2.Sobel(small, cv2.CV_32F, 0, 1))
    rows, cols = EDGE_GRID
    edges = np.log1p(cv2.resize(magnitude, (cols, rows), interpolation=cv2.INTER_AREA))
    return ViewSignature(
        brightness=float(small.mean()),
        contrast=float(small.std()),
        sharpness=float(cv2.Laplacian(small, cv2.CV_32F).var()),
        edges=tuple(np.round(edges.ravel(), 3).tolist()),
    )


def layout_similarity(a: ViewSignature, b: ViewSignature) -> float:
    """Normalised cross-correlation of the edge maps (1 = same view, lower = the view moved)."""
    x = np.asarray(a.edges) - np.mean(a.edges)
    y = np.asarray(b.edges) - np.mean(b.edges)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))


def median_signature(signatures: Sequence[ViewSignature]) -> ViewSignature:
    """The static scene of several frames: passing traffic is an outlier in each cell."""
    return ViewSignature(
        brightness=float(np.median([s.brightness for s in signatures])),
        contrast=float(np.median([s.contrast for s in signatures])),
        sharpness=float(np.median([s.sharpness for s in signatures])),
        edges=tuple(np.round(np.median([s.edges for s in signatures], axis=0), 3).tolist()),
    )


@dataclass(frozen=True)
class HealthThresholds:
    dark_mean: float = 28.0
    covered_ratio: float = 0.3
    defocus_ratio: float = 0.25
    moved_similarity: float = 0.5


def conditions(
    recent: Sequence[ViewSignature], reference: ViewSignature | None, th: HealthThresholds
) -> dict[str, float]:
    """Conditions present now, with a score each. ``recent``: the last few signatures, newest last;
    the view's aim is judged on their median, so traffic passing in front is not a moved camera."""
    sig = recent[-1]
    found: dict[str, float] = {}
    if sig.brightness < th.dark_mean:
        return {"too_dark": sig.brightness}  # a dark view has no contrast to judge cover, focus or aim by
    if reference is None:
        if sig.contrast < 4.0:  # nothing learned yet: only a blank view counts as covered
            found["covered"] = sig.contrast
        return found
    if sig.contrast < th.covered_ratio * reference.contrast:
        found["covered"] = sig.contrast / max(reference.contrast, 1e-6)
    if found:
        return found  # a dark or covered view says nothing about focus or aim
    ratio = sig.sharpness / max(reference.sharpness, 1e-6)
    if ratio < th.defocus_ratio:
        found["defocus"] = ratio
        return found
    similarity = layout_similarity(median_signature(recent), reference)
    if similarity < th.moved_similarity:
        found["camera_moved"] = similarity
    return found


@dataclass
class HealthChange:
    kind: str
    state: str  # "raised" or "cleared"
    score: float | None


@dataclass
class ViewHealth:
    """Debounced health conditions against a reference signature learned from the first checks and
    kept in ``reference_file`` (numbers only), so a camera knocked while the unit was off is noticed."""

    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    raise_after_s: float = 5.0
    clear_after_s: float = 5.0
    reference_file: Path | None = None
    learn_checks: int = 5
    reference: ViewSignature | None = None
    active: dict[str, float] = field(default_factory=dict)
    _seen_since: dict[str, float] = field(default_factory=dict)
    _gone_since: dict[str, float] = field(default_factory=dict)
    window: int = 5
    _learning: list[ViewSignature] = field(default_factory=list)
    _recent: list[ViewSignature] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.reference is None and self.reference_file and self.reference_file.exists():
            try:
                raw = json.loads(self.reference_file.read_text())
                self.reference = ViewSignature(**{**raw, "edges": tuple(raw["edges"])})
            except (OSError, ValueError, TypeError):
                self.reference = None

    def reset_reference(self) -> None:
        """Learn the scene again (after a deliberate re-aim)."""
        self.reference = None
        self._learning.clear()
        if self.reference_file and self.reference_file.exists():
            self.reference_file.unlink()

    def check(self, image: np.ndarray, t_s: float) -> list[HealthChange]:
        """Check one frame taken at ``t_s`` seconds; returns the conditions raised or cleared now."""
        sig = view_signature(image)
        self._recent = [*self._recent[-(self.window - 1) :], sig]
        found = conditions(self._recent, self.reference, self.thresholds)
        if self.reference is None and not found:
            self._learning.append(sig)
            if len(self._learning) >= self.learn_checks:
                self.reference = median_signature(self._learning)
                self._learning.clear()
                if self.reference_file:
                    self.reference_file.parent.mkdir(parents=True, exist_ok=True)
                    self.reference_file.write_text(json.dumps(asdict(self.reference)))
        return self._debounce(found, t_s)

    def _debounce(self, found: dict[str, float], t_s: float) -> list[HealthChange]:
        changes = []
        for kind in CONDITIONS:
            if kind in found:
                self._gone_since.pop(kind, None)
                since = self._seen_since.setdefault(kind, t_s)
                if kind not in self.active and t_s - since >= self.raise_after_s:
                    self.active[kind] = found[kind]
                    changes.append(HealthChange(kind, "raised", round(found[kind], 3)))
            else:
                self._seen_since.pop(kind, None)
                if kind in self.active:
                    since = self._gone_since.setdefault(kind, t_s)
                    if t_s - since >= self.clear_after_s:
                        del self.active[kind]
                        self._gone_since.pop(kind, None)
                        changes.append(HealthChange(kind, "cleared", None))
        return changes
