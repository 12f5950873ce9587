"""Site defaults + device overrides: deep merge with lists replaced, origins per value, schema-valid example fleet."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from edge.cli import main as edge_agent
from edge.config import SCHEMA_PATH, ConfigError, load_config
from edge.config_layers import LayerError, explain, render, resolve

FLEET = Path(__file__).resolve().parents[2] / "firmware_config"
DEVICE_FILES = sorted((FLEET / "devices").glob("*.yaml"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    write(tmp_path / "sites" / "odense.yaml", (
        "state_dir: /var/lib/kommune-edge\n"  # line 1
        "mqtt:\n"
        "  host: mqtt.odense.example\n"  # line 3
        "  port: 8883\n"
        "  keepalive_s: 20\n"  # line 5
        "pipelines:\n"
        "  - type: system\n"
        "    interval_s: 30\n"
        "  - type: simulated\n"
        "    interval_s: 1\n"
    ))
    write(tmp_path / "sites" / "solgaarden.yaml", "extends: odense.yaml\nmqtt:\n  keepalive_s: 15\nlog_level: DEBUG\n")
    return tmp_path


def test_every_example_device_renders_and_matches_the_exported_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert len(DEVICE_FILES) >= 5
    for path in [*DEVICE_FILES, *(FLEET / "sites").glob("*.yaml")]:
        for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text()):
            monkeypatch.setenv(name, "secret-from-the-environment")  # deployments set these; the repo never does
    for path in DEVICE_FILES:
        merged = resolve(path).data
        jsonschema.validate(merged, schema)
        assert load_config(path).site == merged["site"]


def test_the_schema_catches_a_bad_merged_value(fleet: Path) -> None:
    device = write(fleet / "devices" / "lamp-001.yaml", "device_id: lamp-001\nsite: odense\nmqtt:\n  port: 0\n")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(resolve(device).data, json.loads(SCHEMA_PATH.read_text()))
    with pytest.raises(ConfigError, match=r"mqtt\.port"):
        load_config(device)


def test_site_is_found_by_the_site_key_and_mappings_merge(fleet: Path) -> None:
    device = write(fleet / "devices" / "lamp-001.yaml", "device_id: lamp-001\nsite: odense\nmqtt:\n  port: 8884\n")
    config = load_config(device)
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.keepalive_s) == ("mqtt.odense.example", 8884, 20)
    assert str(config.state_dir) == "/var/lib/kommune-edge"
    assert [p.type for p in config.pipelines] == ["system", "simulated"]


def test_lists_are_replaced_not_merged(fleet: Path) -> None:
    device = write(fleet / "devices" / "lamp-002.yaml",
                   "device_id: lamp-002\nsite: odense\npipelines:\n  - type: system\n    interval_s: 5\n")
    config = load_config(device)
    assert [(p.type, p.interval_s) for p in config.pipelines] == [("system", 5.0)]


def test_origins_name_file_and_line_through_two_levels(fleet: Path) -> None:
    device = write(fleet / "devices" / "care-101.yaml",
                   "extends: ../sites/solgaarden.yaml\ndevice_id: care-101\nsite: odense\n")
    layered = resolve(device)
    assert [p.name for p in layered.files] == ["odense.yaml", "solgaarden.yaml", "care-101.yaml"]
    effective = load_config(device).model_dump(mode="json")
    rows = {key: (value, origin) for key, value, origin in explain(layered, effective)}
    odense, solgaarden = fleet / "sites" / "odense.yaml", fleet / "sites" / "solgaarden.yaml"
    assert rows["mqtt.host"] == ("mqtt.odense.example", f"{odense}:3")
    assert rows["mqtt.keepalive_s"] == (15, f"{solgaarden}:3")
    assert rows["log_level"] == ("DEBUG", f"{solgaarden}:4")
    assert rows["device_id"] == ("care-101", f"{device}:2")
    assert rows["pipelines[1].interval_s"] == (1.0, f"{odense}:10")
    assert rows["mqtt.reconnect_max_s"][1] == "default"
    assert rows["pipelines[0].enabled"] == (True, "default")


def test_replaced_list_forgets_the_inherited_origins(fleet: Path) -> None:
    device = write(fleet / "devices" / "lamp-003.yaml",
                   "device_id: lamp-003\nsite: odense\npipelines:\n  - type: system\n")
    layered = resolve(device)
    assert layered.origins[("pipelines",)] == f"{device}:4"
    assert ("pipelines", 1, "type") not in layered.origins
    assert ("pipelines", 0, "interval_s") not in layered.origins


def test_secrets_from_the_environment_are_shown_as_written(fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMP_MQTT_PASSWORD", "hunter2-not-for-print")
    device = write(fleet / "devices" / "lamp-004.yaml",
                   "device_id: lamp-004\nsite: odense\nmqtt:\n  password: ${LAMP_MQTT_PASSWORD}\n")
    assert load_config(device).mqtt.password == "hunter2-not-for-print"
    for text in (render(device), render(device, with_origins=True)):
        assert "hunter2" not in text
        assert "${LAMP_MQTT_PASSWORD}" in text


def test_loops_and_missing_parents_are_named(fleet: Path) -> None:
    write(fleet / "sites" / "a.yaml", "extends: b.yaml\n")
    write(fleet / "sites" / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(LayerError, match="loops"):
        resolve(fleet / "sites" / "a.yaml")
    device = write(fleet / "devices" / "x.yaml", "extends: ../sites/nowhere.yaml\ndevice_id: x\nsite: x\n")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml, which does not exist"):
        load_config(device)


def test_render_command_prints_effective_config_and_origins(fleet: Path, capsys: pytest.CaptureFixture) -> None:
    device = write(fleet / "devices" / "lamp-005.yaml", "device_id: lamp-005\nsite: odense\n")
    assert edge_agent(["render", str(device)]) == 0
    effective = yaml.safe_load(capsys.readouterr().out)
    assert effective["mqtt"]["host"] == "mqtt.odense.example" and effective["mqtt"]["prefix"] == "kommune"
    assert edge_agent(["render", str(device), "--explain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    host = next(line for line in lines if line.startswith("mqtt.host "))
    assert host.split()[-1] == f"{fleet / 'sites' / 'odense.yaml'}:3"
    assert any(line.startswith("mqtt.prefix ") and line.endswith("default") for line in lines)
    bad = write(fleet / "devices" / "bad.yaml", "device_id: BAD ID\nsite: odense\n")
    assert edge_agent(["render", str(bad)]) == 2
    assert "device_id" in capsys.readouterr().err
