"""Fixtures for the falls tests: a pose model exported to ONNX once per session into a temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import missing


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding yolo11n-pose exported to ONNX at 320 px (needs ultralytics for the export)."""
    try:
        import ultralytics  # noqa: F401
    except ImportError:
        missing("ultralytics (train extra) to export the pose model to ONNX")
    from edge.vision.pose import export_pose_onnx

    cache = tmp_path_factory.mktemp("model-cache")
    export_pose_onnx(320, cache)
    return cache
