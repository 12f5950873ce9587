"""Count bins (roll, zeros, flags, persistence across a restart), riders and class votes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.pipelines.traffic.counting import RIDER, ClassVotes, CountBins, bin_start_of, relabel_riders
from protocol.streams.traffic import TrafficCounts, TrafficZone

LINES = {"north": ("in", "out")}
T0 = 1_767_600_000_000  # a bin boundary for 900 s bins (epoch ms)


def counts_of(bodies: list, line: str = "north") -> dict[str, dict[str, int]]:
    return next(b.counts for b in bodies if isinstance(b, TrafficCounts) and b.line == line)


def test_bin_start_aligns_to_the_bin() -> None:
    assert bin_start_of(T0 + 899_999, 900) == T0
    assert bin_start_of(T0 + 900_000, 900) == T0 + 900_000


def test_roll_emits_every_class_and_direction_with_zeros() -> None:
    bins = CountBins(900, LINES, [])
    assert bins.roll(T0 + 5) == []
    bins.add_crossing("north", "car", "in")
    bins.add_crossing("north", "car", "in")
    bins.add_crossing("north", "bicycle", "out")
    assert bins.roll(T0 + 899_000) == []
    closed = bins.roll(T0 + 900_001)
    c = counts_of(closed)
    assert c["car"] == {"in": 2, "out": 0} and c["bicycle"] == {"in": 0, "out": 1}
    assert c["pedestrian"] == {"in": 0, "out": 0} and len(c) == 5
    assert closed[0].bin_start == T0 and closed[0].partial  # the unit started 5 ms into the bin
    assert counts_of(bins.roll(T0 + 1_800_000))["car"] == {"in": 0, "out": 0}
    rows = closed[0].rows()
    assert len(rows) == 10 and {r.tags["direction"] for r in rows} == {"in", "out"}


def test_flags_mark_the_bins_a_condition_touched() -> None:
    bins = CountBins(60, LINES, [])
    bins.roll(T0)
    bins.set_active_flags({"covered"})
    bins.set_active_flags(set())
    first = bins.roll(T0 + 60_000)
    assert first[0].flags == ["covered"] and first[0].rows()[0].fields["flagged"] is True
    second = bins.roll(T0 + 120_000)
    assert second[0].flags == []
    bins.set_active_flags({"camera_moved"})
    third = bins.roll(T0 + 180_000)
    fourth = bins.roll(T0 + 240_000)  # still raised: the next bin is flagged too
    assert third[0].flags == ["camera_moved"] and fourth[0].flags == ["camera_moved"]


def test_open_bin_survives_a_restart_without_loss_or_double_count(tmp_path: Path) -> None:
    state = tmp_path / "open_bin.json"
    first = CountBins(900, LINES, ["stop"], state_file=state)
    first.roll(T0)
    for _ in range(3):
        first.add_crossing("north", "car", "in")
    first.add_zone_entry("stop", "pedestrian")
    first.save()
    del first  # the agent stops (or crashes after the save)

    second = CountBins(900, LINES, ["stop"], state_file=state)
    assert second.roll(T0 + 400_000) == []  # same bin: continue it
    second.add_crossing("north", "car", "in")
    second.save()
    closed = second.roll(T0 + 900_000)
    assert counts_of(closed)["car"]["in"] == 4
    assert closed[0].partial  # it was down for part of the bin
    zone = next(b for b in closed if isinstance(b, TrafficZone))
    assert zone.classes["pedestrian"].entries == 1
    second.save()
    third = CountBins(900, LINES, ["stop"], state_file=state)
    assert third.roll(T0 + 900_500) == []  # the emitted bin is not emitted again
    assert third.total("north") == 0


def test_bin_that_ended_while_down_is_emitted_on_start(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    first = CountBins(900, LINES, [], state_file=state)
    first.roll(T0)
    first.add_crossing("north", "heavy", "out")
    first.save()
    second = CountBins(900, LINES, [], state_file=state)
    closed = second.roll(T0 + 3 * 900_000 + 10)
    assert counts_of(closed)["heavy"]["out"] == 1 and closed[0].bin_start == T0


def test_state_of_another_bin_length_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    first = CountBins(900, LINES, [], state_file=state)
    first.roll(T0)
    first.add_crossing("north", "car", "in")
    first.save()
    assert CountBins(60, LINES, [], state_file=state).total("north") == 0


def test_rider_is_not_a_pedestrian() -> None:
    boxes = np.array(
        [
            [100, 50, 140, 160],  # person on the bike
            [95, 100, 150, 180],  # bicycle
            [300, 50, 340, 160],  # pedestrian elsewhere
        ],
        np.float32,
    )
    labels = relabel_riders(boxes, ["pedestrian", "bicycle", "pedestrian"])
    assert labels == [RIDER, "bicycle", "pedestrian"]


def test_class_votes_take_the_weighted_majority() -> None:
    votes = ClassVotes()
    for label, conf in [("car", 0.5), ("heavy", 0.9), ("car", 0.6), ("car", 0.3)]:
        votes.add(7, label, conf)
    assert votes.label(7) == "car"
    votes.forget(set())
    assert votes.label(7) == ""
