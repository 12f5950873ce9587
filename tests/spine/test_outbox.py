"""Durable outbox: seq never reused, ack deletes, cap with drop policy, survives reopen."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox


def test_seq_is_monotonic_and_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    seqs = [box.put("sim/reading", '{"value":1}', 1000 + i) for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert box.ack(seqs) == 5
    box.close()
    box = Outbox(path)
    assert box.put("sim/reading", '{"value":1}', 2000) == seqs[-1] + 1  # never reused after acks + reopen
    assert box.depth == 1


def test_unacked_messages_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    box.put_many([("sim/reading", f'{{"value":{i}}}', i, 0) for i in range(100)])
    box.ack(range(1, 51))
    box.close()
    box = Outbox(path)
    assert box.depth == 50
    assert [m.seq for m in box.after(0, 1000)] == list(range(51, 101))


def test_cap_drops_oldest_lowest_priority_first_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_messages=100)
    alert = box.put("falls/event", "{}", 0, priority=1)
    for i in range(150):
        box.put("sim/reading", "{}", i)
    assert box.depth == 100
    assert box.dropped == 51
    remaining = [m.seq for m in box.after(0, 1000)]
    assert alert in remaining  # the alert outlived older telemetry
    assert remaining[1:] == list(range(53, 152))  # seqs 2..52 (the oldest telemetry) went


def test_session_counter_increments_and_persists(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.next_session() == 1
    assert box.next_session() == 2
    box.close()
    assert Outbox(tmp_path / "o.sqlite").next_session() == 3


def test_last_seq_counts_acked_messages(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.last_seq() == 0
    seq = box.put("sim/reading", "{}", 0)
    box.ack([seq])
    assert box.last_seq() == seq
