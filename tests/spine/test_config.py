"""Device config: validation errors name the key path; env substitution; schema export is current."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edge.config import SCHEMA_PATH, ConfigError, json_schema, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_every_committed_device_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted((REPO / "firmware_config" / "devices").glob("*.yaml"))
    assert files
    for path in files:
        for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text()):
            monkeypatch.setenv(name, "placeholder-secret")  # secrets are injected at deploy time
        load_config(path)


def test_errors_name_the_bad_key_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"device_id": "a", "site": "b", "mqtt": {"port": 0}, "pipelines": [{"type": "system",
                                                                                          "interval_s": -1}]})
    text = str(info.value)
    assert "mqtt.port" in text
    assert "pipelines.0.system.interval_s" in text


def test_unknown_keys_and_pipelines_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.hostname"):
        parse_config({"device_id": "a", "site": "b", "mqtt": {"hostname": "x"}})
    with pytest.raises(ConfigError, match=r"pipelines\.0"):
        parse_config({"device_id": "a", "site": "b", "pipelines": [{"type": "teleport"}]})


def test_duplicate_pipeline_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"device_id": "a", "site": "b", "pipelines": [{"type": "system"}, {"type": "system"}]})


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PW", "s3cret")
    cfg = parse_config({"device_id": "a", "site": "b", "mqtt": {"password": "${MQTT_PW}"}})
    assert cfg.mqtt.password == "s3cret"
    monkeypatch.delenv("MQTT_PW")
    with pytest.raises(ConfigError, match="MQTT_PW"):
        parse_config({"device_id": "a", "site": "b", "mqtt": {"password": "${MQTT_PW}"}})


def test_exported_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA_PATH.read_text())
    assert committed == json.loads(json.dumps(json_schema(), sort_keys=True)), (
        "firmware_config/schema/device.schema.json is stale: run `edge-agent schema`"
    )
