"""The falls pipeline on real video (UR Fall fall-01): one fall alarm after the person reaches the
floor, and nothing image-like in any message or file it leaves behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from edge.config import load_config
from edge.pipelines.base import PipelineContext
from edge.pipelines.falls.config import FallsConfig
from protocol import Body, encode_envelope
from protocol.privacy import image_like_reasons
from protocol.streams.falls import FallEvent
from tests.support import shared_path

REPO = Path(__file__).resolve().parents[2]


class Recorder:
    """Stands in for the agent's emit: serialises each body as the agent does and keeps it."""

    def __init__(self) -> None:
        self.bodies: list[Body] = []
        self.payloads: list[bytes] = []

    def __call__(self, body: Body, *, ts: int | None = None, priority: int = 0) -> int:
        text = body.model_dump_json(exclude_none=True)
        self.payloads.append(encode_envelope("carehome-test", len(self.bodies), ts or 0, text).encode())
        assert len(text) <= body.MAX_BYTES, f"{body.STREAM} body of {len(text)} bytes"
        self.bodies.append(body)
        return len(self.bodies)


@pytest.mark.torch
def test_real_video_gives_one_fall_alarm_and_no_pixels(
    tmp_path: Path, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge.pipelines.falls.pipeline import FallsPipeline

    monkeypatch.setenv("KOMMUNE_MODEL_CACHE", str(onnx_cache))
    video = shared_path("media", "urfall-fall-01-cam0.mp4")
    config = FallsConfig.model_validate(
        {
            "room": {"room": "12", "care_home": "Testhjemmet"},
            "source": {"uri": str(video), "fps": 6, "realtime": False, "crop": [0.5, 0, 1, 1]},
            "pose": {"backend": "onnx", "imgsz": 320},
        }
    )
    recorder = Recorder()
    pipeline = FallsPipeline(config, PipelineContext("carehome-test", "test", recorder, threading.Event(), tmp_path))
    pipeline.run()
    falls = [b for b in recorder.bodies if isinstance(b, FallEvent) and b.kind == "fall"]
    assert len(falls) == 1, [(b.kind, b.text_en) for b in recorder.bodies]
    fall = falls[0]
    assert fall.severity == "critical" and fall.clip is not None and fall.clip.frames
    assert fall.text_da.startswith("Beboer i bolig 12") and fall.text_en.startswith("Resident in room 12")
    assert all(0.0 <= v <= 1.0 for frame in fall.clip.frames for person in frame for kp in person for v in kp)
    for payload in recorder.payloads:
        assert image_like_reasons(payload) == []
        assert len(payload) <= FallEvent.MAX_BYTES + 512
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in written} <= {"falls-state.json"}
    for path in written:
        assert image_like_reasons(path.read_bytes()) == []
    metrics = pipeline.metrics()
    assert metrics["events"] == len(recorder.bodies) and metrics["pose_ms"] > 0


@pytest.mark.parametrize("path", sorted((REPO / "firmware_config" / "devices").glob("carehome-*.yaml")))
def test_example_device_files_validate(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PASSWORD", "from-the-environment")
    config = load_config(path)
    falls = [p for p in config.pipelines if p.type == "falls"]
    assert falls and all(p.room.beds for p in falls)


def test_a_looping_video_keeps_its_timeline_running() -> None:
    """The room's clocks (night statistics, confirmation times) must not run back when a demo video loops."""
    from itertools import islice, pairwise

    from edge.pipelines.falls.config import SourceConfig
    from edge.pipelines.falls.pipeline import frames

    video = shared_path("media", "urfall-fall-01-cam0.mp4")  # 160 frames at 30 fps: 27 at 5 fps
    source = SourceConfig(uri=str(video), fps=5, loop=True, realtime=False)
    times = [t for t, _ in islice(frames(source), 70)]  # more than two loops
    assert len(times) == 70
    assert all(b > a for a, b in pairwise(times)), times
    assert times[-1] > 2 * 160 / 30
