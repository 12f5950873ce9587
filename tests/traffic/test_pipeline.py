"""The traffic pipeline on real video: privacy of every message, counts that survive a restart, and
hand-labelled crossings found on a short clip (the full evaluation is ``traffic-eval``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from edge.eval.traffic import compare, read_labels
from edge.pipelines.base import PipelineContext
from edge.pipelines.traffic.config import TrafficConfig
from protocol import Body, encode_envelope
from protocol.privacy import image_like_reasons
from protocol.streams.traffic import TrafficCounts
from tests.support import shared_path
from tests.traffic.conftest import HERE

CAR_CLIP = {
    "source": {"kind": "file", "uri": "", "replay_start": "2026-01-05T08:00:00Z"},
    "anchor": "center",
    "lines": [{"name": "lane", "points": [[0.0, 0.5], [1.0, 0.5]], "positive": "down", "negative": "up"}],
    "zones": [{"name": "lot", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]}],
    "detector": {"extra_classes": {67: "car"}},
    "speed": {"detect_every": 2, "roi": "full"},
    "bin_s": 60,
}


class Recorder:
    """Stands in for the agent's emit: serialises each body as the agent does and keeps it."""

    def __init__(self) -> None:
        self.bodies: list[Body] = []
        self.payloads: list[bytes] = []

    def __call__(self, body: Body, *, ts: int | None = None, priority: int = 0) -> int:
        text = body.model_dump_json(exclude_none=True)
        self.payloads.append(encode_envelope("lamp-test", len(self.bodies), ts or 0, text).encode())
        assert len(text) <= body.MAX_BYTES, f"{body.STREAM} body of {len(text)} bytes"
        self.bodies.append(body)
        return len(self.bodies)


def car_config(**source: Any) -> TrafficConfig:
    raw = {**CAR_CLIP, "source": {**CAR_CLIP["source"], "uri": str(shared_path("media", "intel-car-detection.mp4")),
                                  **source}}
    return TrafficConfig.model_validate(raw)


def run(config: TrafficConfig, state_dir: Path) -> tuple[Recorder, Any]:
    from edge.pipelines.traffic.pipeline import TrafficPipeline

    recorder = Recorder()
    pipeline = TrafficPipeline(config, PipelineContext("lamp-test", "test", recorder, threading.Event(), state_dir))
    pipeline.crossing_log = []
    pipeline.run()
    return recorder, pipeline


def line_total(bodies: list[Body]) -> dict[str, dict[str, int]]:
    [counts] = [b for b in bodies if isinstance(b, TrafficCounts)]
    return counts.counts


def test_messages_carry_no_image_and_fit_their_schema(tmp_path: Path, coco_tflite: Path) -> None:
    recorder, pipeline = run(car_config(start_frame=180, max_frames=70), tmp_path)  # stops mid-bin
    assert pipeline.crossing_log, "the clip segment has two cars crossing"
    flush, _ = run(car_config(start_frame=360), tmp_path)  # runs to the end of the file: the bin is sent
    payloads = recorder.payloads + flush.payloads
    assert flush.bodies, "the end of the replay closes the open bin"
    for payload in payloads:
        assert image_like_reasons(payload) == []
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert set(written) <= {"view_reference.json"}, f"only a view signature may stay on disk, found {written}"
    for path in tmp_path.rglob("*.json"):
        assert image_like_reasons(path.read_bytes()) == []
    m = pipeline.metrics()
    assert {"fps", "dropped_frames", "detector_ms"} <= set(m) and m["detector_ms"] > 0


def test_open_bin_survives_a_restart_without_loss_or_double_count(tmp_path: Path, coco_tflite: Path) -> None:
    """Stop mid-bin after two cars, restart, count a third: the one bin sent holds all three hand-labelled
    crossings of that stretch, each once."""
    first, p1 = run(car_config(start_frame=180, max_frames=100), tmp_path)
    assert first.bodies == [] and len(p1.crossing_log) == 2  # stopped: the open bin stays on the device
    second, p2 = run(car_config(start_frame=280), tmp_path)
    assert len(p2.crossing_log) == 1
    truth = [x for x in read_labels(HERE / "labels" / "intel-car-detection.csv") if x[0] >= 180 / 12.5]
    expected = {"down": sum(x[3] == "down" for x in truth), "up": sum(x[3] == "up" for x in truth)}
    sent = line_total(second.bodies)
    assert sent["car"] == expected and sum(n for d in sent.values() for n in d.values()) == len(truth)


@pytest.mark.parametrize("clip", ["intel-car-detection"])
def test_counts_match_hand_labels_on_a_real_clip(clip: str, tmp_path: Path, coco_tflite: Path) -> None:
    from edge.eval.traffic import load_traffic_config, run_clip

    config = load_traffic_config(HERE / "configs" / f"{clip}.yaml", {"speed": {"detect_every": 2}})
    result = run_clip(config, tmp_path)
    truth = read_labels(HERE / "labels" / f"{clip}.csv")
    report = compare(result.crossings, truth, segment_s=10.0, duration_s=31.0)
    assert report["car"]["full_sample"] >= 0.97 and report["car"]["segment"] >= 0.97, report
