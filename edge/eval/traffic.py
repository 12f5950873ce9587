"""``traffic-eval``: run the traffic pipeline on a clip with a config and compare its counts with a
hand-labelled ground truth (crossings per class and direction with timestamps).

Prints full-sample accuracy (1 − |counted − true| / true over the whole clip) and segment accuracy
as Telraam reports it (per time segment 1 − |counted − true| / true, weighted by true traffic).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge.pipelines.base import PipelineContext
from edge.pipelines.traffic.config import TrafficConfig
from models.registry import data_dir
from protocol import Body
from protocol.streams.traffic import TRAFFIC_CLASSES

Crossing = tuple[float, str, str, str]  # t_s, line, class, direction


@dataclass
class ClipRun:
    crossings: list[Crossing]
    bodies: list[Body]
    frames: int
    seconds: float
    metrics: dict[str, float]


def load_traffic_config(path: Path, overrides: dict[str, Any] | None = None) -> TrafficConfig:
    """A traffic section from YAML; a relative ``source.uri`` is taken inside the shared data dir."""
    raw = yaml.safe_load(Path(path).read_text())
    raw = _merge(raw, overrides or {})
    uri = raw.get("source", {}).get("uri", "")
    if raw.get("source", {}).get("kind", "file") == "file" and uri and not Path(uri).is_absolute():
        raw["source"]["uri"] = str(data_dir() / uri)
    return TrafficConfig.model_validate(raw)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def run_clip(config: TrafficConfig, state_dir: Path | None = None) -> ClipRun:
    """Run the pipeline over a file source to its end; returns crossings and emitted bodies."""
    from edge.pipelines.traffic.pipeline import TrafficPipeline

    bodies: list[Body] = []

    def emit(body: Body, *, ts: int | None = None, priority: int = 0) -> int:
        bodies.append(body)
        return len(bodies)

    with tempfile.TemporaryDirectory(prefix="traffic-eval-") as tmp:
        ctx = PipelineContext("eval", "eval", emit, threading.Event(), Path(state_dir or tmp))
        pipeline = TrafficPipeline(config, ctx)
        pipeline.crossing_log = []
        start = time.perf_counter()
        pipeline.run()
        seconds = time.perf_counter() - start
    return ClipRun(pipeline.crossing_log, bodies, pipeline._frames, seconds, pipeline.metrics())


def read_labels(path: Path) -> list[Crossing]:
    """Ground truth CSV with columns ``t_s,line,class,direction`` (``#`` lines are comments)."""
    with Path(path).open() as fh:
        rows = csv.DictReader(line for line in fh if not line.lstrip().startswith("#"))
        return [(float(r["t_s"]), r["line"], r["class"], r["direction"]) for r in rows]


def full_sample_accuracy(counted: int, true: int) -> float | None:
    if true == 0:
        return None if counted == 0 else 0.0
    return max(0.0, 1 - abs(counted - true) / true)


def segment_accuracy(counted: list[float], true: list[float], segment_s: float, duration_s: float) -> float | None:
    """Telraam's figure, per segment 1 − |counted − true| / true weighted by true traffic, i.e.
    1 − Σ|c_b − t_b| / Σ t_b (at least 0). Unlike a plain mean over segments with traffic, over-counts in
    segments without true traffic count as errors too."""
    n = max(1, int(-(-duration_s // segment_s)))
    c = Counter(min(int(t // segment_s), n - 1) for t in counted)
    g = Counter(min(int(t // segment_s), n - 1) for t in true)
    total = sum(g.values())
    if total == 0:
        return None if not c else 0.0
    return max(0.0, 1 - sum(abs(c[b] - g[b]) for b in range(n)) / total)


def compare(
    counted: list[Crossing], truth: list[Crossing], segment_s: float, duration_s: float
) -> dict[str, dict[str, Any]]:
    """Per class (and per class × direction): counted, true, full-sample and segment accuracy."""
    report: dict[str, dict[str, Any]] = {}
    keys = sorted({(c, d) for _, _, c, d in truth} | {(c, d) for _, _, c, d in counted})
    for cls in TRAFFIC_CLASSES:
        for key, match in [(cls, lambda x, cls=cls: x[2] == cls)] + [
            (f"{cls}:{d}", lambda x, cls=cls, d=d: x[2] == cls and x[3] == d) for c, d in keys if c == cls
        ]:
            got = [x[0] for x in counted if match(x)]
            want = [x[0] for x in truth if match(x)]
            if not got and not want:
                continue
            report[key] = {
                "counted": len(got),
                "true": len(want),
                "full_sample": full_sample_accuracy(len(got), len(want)),
                "segment": segment_accuracy(got, want, segment_s, duration_s),
            }
    return report


def _fmt(value: float | None) -> str:
    return "   –  " if value is None else f"{value * 100:5.1f}%"


def print_report(name: str, report: dict[str, dict[str, Any]], run: ClipRun, out: Any = sys.stdout) -> None:
    out.write(f"{name}: {run.frames} frames in {run.seconds:.1f} s ({run.frames / max(run.seconds, 1e-9):.1f} fps)\n")
    out.write(f"{'class[:direction]':28} {'counted':>7} {'true':>5} {'full':>7} {'segment':>8}\n")
    for key, row in report.items():
        out.write(
            f"{key:28} {row['counted']:7d} {row['true']:5d} {_fmt(row['full_sample']):>7} {_fmt(row['segment']):>8}\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="traffic-eval", description=__doc__)
    parser.add_argument("config", type=Path, help="YAML with a traffic pipeline section (lines, source, ...)")
    parser.add_argument("labels", type=Path, help="ground truth CSV: t_s,line,class,direction")
    parser.add_argument("--segment-s", type=float, default=10.0, help="segment length for segment accuracy")
    parser.add_argument("--backend", choices=["tflite", "ultralytics"], help="override the detector back end")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--show-crossings", action="store_true", help="print every counted crossing")
    args = parser.parse_args(argv)

    overrides: dict[str, Any] = {"detector": {"backend": args.backend}} if args.backend else {}
    config = load_traffic_config(args.config, overrides)
    run = run_clip(config)
    truth = read_labels(args.labels)
    fps = _clip_fps(config)
    duration = max([run.frames / fps] + [t for t, *_ in truth])
    report = compare(run.crossings, truth, args.segment_s, duration)
    if args.show_crossings:
        for crossing in run.crossings:
            print(*crossing, sep=",")
    print_report(args.config.stem, report, run)
    if args.json:
        args.json.write_text(json.dumps({"report": report, "frames": run.frames, "seconds": run.seconds}, indent=2))
    return 0


def _clip_fps(config: TrafficConfig) -> float:
    import cv2

    cap = cv2.VideoCapture(config.source.uri)
    fps = config.source.fps or cap.get(cv2.CAP_PROP_FPS) or 25.0
    cap.release()
    return float(fps)


if __name__ == "__main__":
    raise SystemExit(main())
