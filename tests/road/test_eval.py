"""The F1 rule used for acceptance: greedy one-to-one matching at IoU >= 0.5."""

from __future__ import annotations

import numpy as np

from models.eval_road import match


def test_match_counts_each_ground_truth_once() -> None:
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    pred = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60], [20, 20, 29, 31]], np.float32)
    c = match(pred, np.array([0.9, 0.8, 0.7, 0.6]), gt)
    assert (c.tp, c.fp, c.fn) == (2, 2, 0)
    assert abs(c.f1 - 2 * 0.5 * 1.0 / 1.5) < 1e-9


def test_low_overlap_is_a_miss() -> None:
    c = match(np.array([[0, 0, 10, 10]], np.float32), np.array([0.9]), np.array([[6, 0, 16, 10]], np.float32))
    assert (c.tp, c.fp, c.fn) == (0, 1, 1)
