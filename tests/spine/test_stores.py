"""Both time-series back ends: idempotent writes, recent rows, line-protocol escaping."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.store import Point, StoreError, make_store
from hub.store.influx import InfluxV1Store, to_line
from tests.services import InfluxDB


def _points(n: int, device: str = "dev-1") -> list[Point]:
    return [
        Point("sim_reading", {"device_id": device, "site": "s", "sensor": "t a,b=c"},
              {"value": float(i), "seq": i, "note": 'say "hi"'}, 1_700_000_000_000_000_000 + i)
        for i in range(n)
    ]


def test_line_protocol_escapes_and_types() -> None:
    line = to_line(Point("m x", {"t": "a b,c=d"}, {"f": 1, "g": 1.5, "b": True, "s": 'q"\\'}, 5))
    assert line == 'm\\ x,t=a\\ b\\,c\\=d f=1i,g=1.5,b=true,s="q\\"\\\\" 5'
    assert to_line(Point("m", {}, {"f": float("nan")}, 1)) is None


def test_sqlite_store_is_idempotent(tmp_path: Path) -> None:
    store = make_store(f"sqlite:///{tmp_path / 'ts.sqlite'}")
    store.write(_points(10))
    store.write(_points(10))  # the same messages again (a re-send)
    assert store.count("sim_reading") == 10
    recent = store.recent("sim_reading", "dev-1", 3)
    assert [r["seq"] for r in recent] == [9, 8, 7]
    assert recent[0]["sensor"] == "t a,b=c"


@pytest.mark.services
def test_influx_store_is_idempotent(influx: InfluxDB, influx_db: str) -> None:
    store = make_store(f"influx://127.0.0.1:{influx.port}/{influx_db}")
    assert isinstance(store, InfluxV1Store) and store.ping()
    store.write(_points(10))
    store.write(_points(10))
    rows = store.rows('SELECT count("value") FROM "sim_reading"')
    assert rows[0]["count"] == 10
    recent = store.recent("sim_reading", "dev-1", 3)
    assert [r["seq"] for r in recent] == [9, 8, 7]
    assert recent[0]["note"] == 'say "hi"' and recent[0]["sensor"] == "t a,b=c"


@pytest.mark.services
def test_influx_store_reports_bad_queries_and_down_server(influx: InfluxDB, influx_db: str) -> None:
    store = make_store(f"influx://127.0.0.1:{influx.port}/{influx_db}")
    with pytest.raises(StoreError, match=r"InfluxQL|failed"):
        store.rows("SELEKT nothing")
    down = InfluxV1Store("http://127.0.0.1:9", "x", create_database=False, timeout_s=1)
    with pytest.raises(StoreError, match="unreachable"):
        down.write(_points(1))
    assert not down.ping()
