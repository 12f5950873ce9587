"""Device configuration: one YAML file, validated by pydantic, JSON Schema exported.

Only specify what differs from the defaults. ``${NAME}`` in a string value is
replaced by the environment variable ``NAME`` (secrets never live in the file).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.pipelines import PipelineSpec
from protocol.envelope import DEVICE_ID_PATTERN

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "firmware_config" / "schema" / "device.schema.json"


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the bad key path."""


class TLSConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ca_file: Path | None = Field(None, description="CA certificate that signed the broker's certificate")
    cert_file: Path | None = Field(None, description="client certificate (CN = device id)")
    key_file: Path | None = Field(None, description="client private key")
    insecure: bool = Field(False, description="skip hostname verification (never in production)")


class MQTTConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    prefix: str = Field("kommune", description="first topic level")
    username: str | None = None
    password: str | None = Field(None, description="use ${ENV_VAR}; never commit secrets")
    tls: TLSConfig | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    ack_timeout_s: float = Field(15.0, gt=0, description="resend a message not acknowledged after this")
    max_inflight: int = Field(1000, ge=1, description="messages sent but not yet acknowledged")


class OutboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(Path("var/outbox.sqlite"), description="SQLite file; relative to state_dir")
    max_messages: int = Field(500_000, ge=100, description="size cap; beyond it the drop policy applies")
    backlog_batch: int = Field(500, ge=1, description="historical messages sent per drain step")


class RolloutConfig(BaseModel):
    """Signed config/model rollout from the hub (see docs/operations.md)."""

    model_config = ConfigDict(extra="forbid")

    hub_url: str = Field(description="hub API base URL the release files are downloaded from")
    public_key: Path = Field(description="the hub's Ed25519 rollout public key (PEM)")
    token: str = Field(description="the device's API token; use ${ENV_VAR}")
    ca_file: Path | None = Field(None, description="CA of the hub's HTTPS certificate")
    releases_dir: Path = Field(Path("releases"), description="verified releases; relative to state_dir")


class DeviceConfig(BaseModel):
    """Everything one device needs to know."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    site: str = Field(pattern=DEVICE_ID_PATTERN)
    state_dir: Path = Field(Path("var"), description="where the outbox and pipeline state live")
    mqtt: MQTTConfig = Field(default_factory=MQTTConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    pipelines: list[PipelineSpec] = Field(default_factory=list)
    rollout: RolloutConfig | None = Field(None, description="absent: the device takes no rollouts")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _unique_pipeline_names(self) -> DeviceConfig:
        names = [p.name or p.type for p in self.pipelines]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pipeline names must be unique; repeated: {dupes} (set 'name')")
        return self

    def outbox_path(self) -> Path:
        return self.outbox.path if self.outbox.path.is_absolute() else self.state_dir / self.outbox.path


def substitute_env(value: Any, path: str = "") -> Any:
    """Replace ``${NAME}`` references by environment variables, recursively."""
    if isinstance(value, dict):
        return {k: substitute_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(repl, value)
    return value


def parse_config(raw: dict[str, Any], source: str = "<config>") -> DeviceConfig:
    try:
        return DeviceConfig.model_validate(substitute_env(raw))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines)) from None


def load_config(path: Path | str) -> DeviceConfig:
    """Load a device file merged over the site file(s) it extends (see :mod:`edge.config_layers`)."""
    from edge.config_layers import LayerError, resolve

    path = Path(path)
    try:
        raw = resolve(path).data
    except LayerError as exc:
        raise ConfigError(str(exc)) from None
    return parse_config(raw, str(path))


def json_schema() -> dict[str, Any]:
    schema = DeviceConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "kommune-edge device configuration"
    return schema


def export_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return path
