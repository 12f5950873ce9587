"""Hub configuration: one YAML file (or defaults), ``${ENV}`` substituted, validated by pydantic."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class HubMQTT(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    prefix: str = "kommune"
    client_id: str = "hub-ingest"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    share_group: str | None = Field(None, description="MQTT shared-subscription group for several workers")


class HubSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state_dir: Path = Path("var/hub")
    store_url: str = Field("sqlite:///var/hub/timeseries.sqlite", description="sqlite:///file or influx://host:8086/db")
    mqtt: HubMQTT = Field(default_factory=HubMQTT)
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=0, le=65535)
    require_registration: bool = False
    stale_after_s: float = 120.0
    services: list[str] | None = Field(None, description="domain services to load; default: all")
    service_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)


def _substitute(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), value)
    return value


def load_settings(path: Path | str | None) -> HubSettings:
    if path is None:
        return HubSettings()
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return HubSettings.model_validate(_substitute(raw))
