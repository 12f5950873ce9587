"""Test helpers shared by every area: locating shared data and real services.

With ``CI=true`` a missing data file or service fails the test; elsewhere it skips.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from models.registry import data_dir

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Fail under CI, skip on a developer machine."""
    if IN_CI:
        pytest.fail(f"required for CI but missing: {reason}")
    pytest.skip(reason)


def shared_path(*parts: str) -> Path:
    """Path inside the shared data dir; fails (CI) or skips (dev) when absent."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        missing(f"{path} (set KOMMUNE_DATA_DIR)")
    return path


def wait_until(
    check: Callable[[], bool], timeout: float = 45.0, what: str = "condition", interval: float = 0.1
) -> None:
    """Poll ``check`` until it is true; fail the test with ``what`` when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
