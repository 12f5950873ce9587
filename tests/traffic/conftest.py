"""Shared fixtures of the traffic tests: real frames and the real COCO detector (never faked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support import shared_path

HERE = Path(__file__).parent


def read_frames(clip: str, indices: list[int], width: int | None = None) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(shared_path("media", clip)))
    frames = []
    for index in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        assert ok, f"{clip}: cannot read frame {index}"
        if width:
            frame = cv2.resize(frame, (width, round(frame.shape[0] * width / frame.shape[1])))
        frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="session")
def coco_tflite() -> Path:
    from models.registry import ModelNotFound, resolve_model
    from tests.support import missing

    try:
        return resolve_model("yolov8n-int8-tflite")
    except ModelNotFound as exc:
        missing(str(exc))
        raise
