"""Evaluation arithmetic: full-sample and Telraam segment accuracy, label files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.eval.traffic import compare, full_sample_accuracy, read_labels, segment_accuracy
from tests.traffic.conftest import HERE


def test_full_sample_accuracy() -> None:
    assert full_sample_accuracy(9, 10) == pytest.approx(0.9)
    assert full_sample_accuracy(12, 10) == pytest.approx(0.8)
    assert full_sample_accuracy(0, 0) is None and full_sample_accuracy(3, 0) == 0.0


def test_segment_accuracy_is_traffic_weighted_and_sees_timing() -> None:
    # right total, wrong segments: full-sample says 100 %, segments do not
    assert segment_accuracy([1, 2], [11, 12], 10, 20) == 0.0
    # bins: true (4, 1), counted (3, 1) → 1 − 1/5
    assert segment_accuracy([1, 2, 3, 15], [1, 2, 3, 4, 15], 10, 20) == pytest.approx(0.8)
    # an over-count where nothing passed is an error too
    assert segment_accuracy([1, 15], [1], 10, 20) == 0.0


def test_compare_reports_classes_and_directions() -> None:
    truth = [(1.0, "l", "car", "in"), (2.0, "l", "car", "out"), (3.0, "l", "bicycle", "in")]
    counted = [(1.1, "l", "car", "in"), (2.2, "l", "car", "in")]
    report = compare(counted, truth, 10, 10)
    assert report["car"]["full_sample"] == 1.0
    assert report["car:out"]["counted"] == 0 and report["car:in"]["counted"] == 2
    assert report["bicycle"]["full_sample"] == 0.0


@pytest.mark.parametrize("path", sorted((HERE / "labels").glob("*.csv")), ids=lambda p: p.stem)
def test_every_label_file_matches_its_config(path: Path) -> None:
    from edge.eval.traffic import load_traffic_config

    config = load_traffic_config(HERE / "configs" / f"{path.stem}.yaml")
    lines = {line.name: (line.positive, line.negative) for line in config.lines}
    labels = read_labels(path)
    assert labels
    for t_s, line, cls, direction in labels:
        assert t_s >= 0 and line in lines and direction in lines[line]
        assert cls in {"pedestrian", "bicycle", "car", "motorcycle", "heavy"}
