"""Every panel query of every Grafana dashboard runs against a real InfluxDB seeded through the real hub path.

Seeds live beside this file as ``seed_<name>.py`` with ``messages()`` returning bodies, or
``(body, device_id)`` / ``(body, device_id, ts_ms)`` tuples. They are published through
``Ingest.process`` (validation, rows, store write, domain services) of a hub built with
every service, so the dashboards read exactly what production writes.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.runtime import Hub
from hub.settings import HubMQTT, HubSettings
from protocol import Body, encode_envelope
from tests.services import InfluxDB

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "dashboards" / "json").glob("*.json"))
SEEDS = sorted(Path(__file__).parent.glob("seed_*.py"))
DATASOURCE = yaml.safe_load((REPO / "dashboards/provisioning/datasources/influxdb.yaml").read_text())["datasources"][0]
MACROS = {
    "$timeFilter": "time > now() - 800d AND time < now() + 30d",
    "$__interval": "6h",
    "$interval": "6h",
}


def _panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from _panels(panel.get("panels", []))


def render(query: str) -> str:
    for macro, value in MACROS.items():
        query = query.replace(macro, value)
    query = re.sub(r"/\^?\$\{?\w+\}?\$?/", "/.*/", query)  # template variables used as regexes
    assert "$" not in query, f"unsupported Grafana macro left in query: {query}"
    return query


def test_provisioning_files_are_consistent() -> None:
    assert DATASOURCE["uid"] == "influxdb" and DATASOURCE["type"] == "influxdb"
    provider = yaml.safe_load((REPO / "dashboards/provisioning/dashboards/kommune.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids)), "dashboard uids must be unique"
    assert {"fleet-health.json"} <= {p.name for p in DASHBOARDS}


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_panel_ids_are_unique_and_use_the_provisioned_datasource(path: Path) -> None:
    dash = json.loads(path.read_text())
    panels = list(_panels(dash["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
    for panel in panels:
        if panel.get("type") == "row":
            continue
        sources = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
        for source in filter(None, sources):
            assert source.get("uid") == DATASOURCE["uid"], f"{path.name} panel {panel['id']}: datasource {source}"
        assert panel.get("targets"), f"{path.name} panel {panel['id']} has no query"


@pytest.fixture(scope="module")
def seeded(influx: InfluxDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("dash")
    hub = Hub.build(HubSettings(
        state_dir=tmp / "hub", store_url=f"influx://127.0.0.1:{influx.port}/dashboards",
        mqtt=HubMQTT(host="127.0.0.1", port=1, prefix="kommune"),
    ))
    base = int(time.time() * 1000) - 3 * 3600 * 1000
    seq = 0
    batch: list[tuple[str, bytes, float]] = []
    for seed in SEEDS:
        module = importlib.import_module(f"tests.dashboards.{seed.stem}")
        name = seed.stem.removeprefix("seed_").replace("_", "-")
        for item in module.messages():
            body, device, ts = (item, f"seed-{name}", None) if isinstance(item, Body) else (*item, None)[:3]
            seq += 1
            ts = ts if ts is not None else base + seq * 1000
            payload = encode_envelope(device, seq, ts, body.model_dump_json(exclude_none=True))
            batch.append((f"kommune/seedsite/{device}/{body.STREAM}", payload.encode(), time.time()))
    hub.ingest.process(batch)
    hours = 3600 * 10**9
    hub.store.write([hub.stats_point(rate=9.5, at_ns=time.time_ns() - 13 * hours)])
    hub.dead_letters.add("kommune/seedsite/x/sim/reading", b"{", "seeded dead letter for the dashboard")
    hub.store.write([hub.stats_point(rate=12.5)])
    yield hub
    hub.store.close()


QUERIES = [
    (path, panel, target)
    for path in DASHBOARDS
    for panel in _panels(json.loads(path.read_text())["panels"])
    for target in panel.get("targets", [])
]


@pytest.mark.services
@pytest.mark.parametrize(
    ("path", "panel", "target"), QUERIES, ids=[f"{p.stem}-{pa['id']}-{t.get('refId', 'A')}" for p, pa, t in QUERIES]
)
def test_every_panel_query_returns_data(path: Path, panel: dict, target: dict, seeded: Hub) -> None:
    refused = [d for d in seeded.dead_letters.list(50) if not d["reason"].startswith("seeded")]
    assert not refused, f"seed messages were refused: {refused[:5]}"
    query = render(target["query"])
    series = seeded.store.query(query)
    values = [v for s in series for row in s.get("values", []) for v in row[1:] if v is not None]
    assert values, f"{path.name} panel {panel['id']} ({panel['title']!r}) returned no data: {query}"
