"""Video file sources: the PyAV reader (the default for files) gives OpenCV's pixels, frame for frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.sources.video import OpenCVCapture, PyAVCapture, VideoSourceConfig, open_capture
from tests.support import shared_path


@pytest.mark.parametrize("clip", ["city-traffic-1080p", "pedestrian-crossing-360p"])
def test_pyav_and_opencv_read_the_same_frames(clip: str) -> None:
    cfg = VideoSourceConfig(uri=str(shared_path("media", f"{clip}.mp4")), start_frame=7)
    ours, reference = PyAVCapture(cfg), OpenCVCapture(cfg)
    try:
        assert ours.fps == pytest.approx(reference.fps)
        for step in range(6):
            if step % 2:  # a skipped frame advances both alike
                assert ours.skip() and reference.skip()
                continue
            a, b = ours.read(), reference.read()
            assert a is not None and b is not None and a.shape == b.shape
            assert np.array_equal(a, b)
    finally:
        ours.close()
        reference.close()


def test_files_open_with_pyav_and_end_cleanly() -> None:
    capture = open_capture(VideoSourceConfig(uri=str(shared_path("media", "city-traffic-1080p.mp4")), start_frame=310))
    assert isinstance(capture, PyAVCapture)
    assert capture.read() is not None and capture.skip() and capture.read() is None


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        PyAVCapture(VideoSourceConfig(uri=str(tmp_path / "none.mp4")))
