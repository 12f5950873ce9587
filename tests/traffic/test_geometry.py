"""Counting lines and zones: crossings counted once, hysteresis, any angle, polylines, zones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.vision.geometry import (
    CountingLine,
    LineCrossings,
    Zone,
    ZoneDwell,
    bbox_anchor,
    border_cuts,
    point_in_polygon,
    segments_intersect,
)


def walk(crossing: LineCrossings, track_id: int, points: list[tuple[float, float]]) -> list[str]:
    return [d for p in points if (d := crossing.update(track_id, p))]


def test_horizontal_line_counts_down_as_positive() -> None:
    line = CountingLine("kerb", [(0, 100), (200, 100)], positive="towards", negative="away")
    c = LineCrossings(line, hysteresis=5)
    assert walk(c, 1, [(50, 80), (50, 120)]) == ["towards"]
    assert walk(c, 2, [(60, 130), (60, 70)]) == ["away"]


def test_flicker_on_the_line_counts_once() -> None:
    c = LineCrossings(CountingLine("l", [(0, 0), (100, 0)]), hysteresis=4)
    jitter = [(10, -10), (10, -1), (10, 2), (10, -2), (10, 3), (10, -3), (10, 10), (10, -10), (10, 10)]
    assert walk(c, 1, jitter) == ["positive"]


def test_stays_inside_dead_band_never_counts() -> None:
    c = LineCrossings(CountingLine("l", [(0, 0), (100, 0)]), hysteresis=5)
    assert walk(c, 1, [(10, -20), (10, -4), (10, 4), (10, -3), (12, 4.9)]) == []


def test_passing_around_the_end_of_a_line_is_not_a_crossing() -> None:
    c = LineCrossings(CountingLine("l", [(0, 0), (100, 0)]), hysteresis=2)
    assert walk(c, 1, [(150, -20), (150, 20)]) == []


def test_polyline_counts_on_any_segment_once() -> None:
    line = CountingLine("bend", [(0, 0), (100, 0), (200, 100)])
    c = LineCrossings(line, hysteresis=3)
    assert walk(c, 1, [(150, 20), (170, 10), (180, 40)]) == []  # stays left of the second segment
    assert walk(c, 2, [(150, 30), (120, 60)]) == ["positive"]
    assert walk(c, 3, [(50, -10), (50, 10)]) == ["positive"]


def test_a_box_cut_by_the_border_gives_no_first_side() -> None:
    """An object entering at the frame edge (or a track taken over by one) is not a crossing: the pedestrian
    clip's false heavy was a signal box cut by the right border whose track a man walking in then took over."""
    c = LineCrossings(CountingLine("kerb", [(0, 288), (640, 288)], "towards", "away"), hysteresis=4)
    right = (1.0, 0.0)
    for p in [(594, 242), (594, 245)]:
        assert c.update(9, p, right) is None
    assert c.update(9, (611, 352), right) is None
    assert c.update(9, (590, 357)) is None  # first whole view: only now does the track have a side
    assert walk(c, 9, [(580, 300), (570, 250)]) == ["away"]


def test_a_cut_box_counts_where_its_true_anchor_must_be_beyond_the_line() -> None:
    """A car leaving to the left across a vertical line: once cut, its measured centre lies right of its true
    centre, so it counts only when the measured centre is already past the line."""
    c = LineCrossings(CountingLine("edge", [(92, 0), (92, 432)], "west", "east"), hysteresis=5)
    left = (-1.0, 0.0)
    assert c.update(1, (200, 200)) is None
    assert c.update(1, (120, 200), left) is None
    assert c.update(1, (60, 200), left) == "west"
    assert c.update(2, (200, 200)) is None
    assert c.update(2, (95, 200), left) is None  # true centre unknown: could be either side


def test_border_cuts_name_the_direction_of_the_true_anchor() -> None:
    boxes = np.array([[0, 10, 50, 90], [10, 10, 60, 100], [10, 0, 60, 50]], np.float32)
    assert border_cuts(boxes, (100, 200)) == [(-1.0, 0.0), None, None]  # ground point of a cut-off body is fine
    assert border_cuts(boxes, (100, 200), "center") == [(-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)]


def test_forget_drops_dead_tracks() -> None:
    c = LineCrossings(CountingLine("l", [(0, 0), (100, 0)]), hysteresis=1)
    c.update(1, (10, -5))
    c.forget([])
    assert c.update(1, (10, 5)) is None  # a new track on the far side is not a crossing


@settings(max_examples=60, deadline=None)
@given(angle=st.floats(0, 2 * math.pi), offset=st.floats(-40, 40), hysteresis=st.floats(0.5, 10))
def test_crossing_is_independent_of_the_line_angle(angle: float, offset: float, hysteresis: float) -> None:
    """Rotate a line and a straight perpendicular walk together: always exactly one positive crossing."""
    centre = np.array([500.0, 500.0])
    u = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-u[1], u[0]])  # right-hand normal in image coordinates (y down)
    line = CountingLine("r", [tuple(centre - 100 * u), tuple(centre + 100 * u)])
    c = LineCrossings(line, hysteresis=hysteresis)
    path = [tuple(centre + offset * u + s * n) for s in np.linspace(-30, 30, 13)]
    assert walk(c, 1, path) == ["positive"]
    back = [tuple(centre + offset * u - s * n) for s in np.linspace(-30, 30, 13)]
    assert walk(c, 2, back) == ["negative"]


def test_segments_intersect_cases() -> None:
    assert segments_intersect((0, 0), (10, 10), (0, 10), (10, 0))
    assert not segments_intersect((0, 0), (1, 1), (2, 2), (3, 0))
    assert segments_intersect((0, 0), (10, 0), (5, 0), (5, 5))  # touching


def test_line_needs_two_points_and_distinct_directions() -> None:
    with pytest.raises(ValueError):
        CountingLine("x", [(0, 0)])
    with pytest.raises(ValueError):
        CountingLine("x", [(0, 0), (1, 1)], positive="in", negative="in")


def test_zone_dwell_and_occupancy() -> None:
    zone = Zone("bus-stop", [(0, 0), (10, 0), (10, 10), (0, 10)])
    assert point_in_polygon((5, 5), zone.polygon) and not point_in_polygon((15, 5), zone.polygon)
    dwell = ZoneDwell(zone)
    assert dwell.update({1: (5, 5), 2: (20, 20)}, 0.0) == ([1], [])
    assert dwell.update({1: (6, 5), 2: (5, 5)}, 2.0) == ([2], [])
    assert sorted(dwell.occupants) == [1, 2]
    entered, left = dwell.update({2: (5, 5)}, 5.0)  # track 1 gone
    assert entered == [] and left == [(1, 5.0)]


def test_anchor_points() -> None:
    boxes = np.array([[0, 0, 10, 20]], np.float32)
    assert bbox_anchor(boxes).tolist() == [[5, 20]]
    assert bbox_anchor(boxes, "center").tolist() == [[5, 10]]
