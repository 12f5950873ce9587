"""Render the locked-down Mosquitto config and ACL from the ansible role's templates.

One source of truth: ansible (``roles/hub``) and the security tests render the same
``ansible/roles/hub/templates/mosquitto.{conf,acl}.j2``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import jinja2

from hub.pki import HUB_IDENTITY

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "ansible" / "roles" / "hub" / "templates"


@dataclass
class BrokerSettings:
    """Values the templates need; names match the ansible role's variables."""

    hub_mosquitto_cafile: Path
    hub_mosquitto_certfile: Path
    hub_mosquitto_keyfile: Path
    hub_mosquitto_crlfile: Path
    hub_mosquitto_acl_file: Path
    hub_mosquitto_persistence_dir: Path
    hub_mosquitto_tls_port: int = 8883
    hub_mosquitto_bind_address: str = "0.0.0.0"
    hub_mosquitto_run_user: str | None = "mosquitto"
    hub_mosquitto_log_dest: list[str] = field(default_factory=lambda: ["syslog"])
    hub_mqtt_prefix: str = "kommune"
    hub_mqtt_identity: str = HUB_IDENTITY


def _environment(template_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def render(settings: BrokerSettings, template_dir: Path = TEMPLATE_DIR) -> dict[str, str]:
    """Return ``{"mosquitto.conf": ..., "mosquitto.acl": ...}``."""
    env = _environment(template_dir)
    values = asdict(settings)
    return {name: env.get_template(f"{name}.j2").render(**values) for name in ("mosquitto.conf", "mosquitto.acl")}


def write(settings: BrokerSettings, conf_path: Path, template_dir: Path = TEMPLATE_DIR) -> Path:
    """Write the config to ``conf_path`` and the ACL to ``settings.hub_mosquitto_acl_file``."""
    rendered = render(settings, template_dir)
    conf_path.write_text(rendered["mosquitto.conf"])
    Path(settings.hub_mosquitto_acl_file).write_text(rendered["mosquitto.acl"])
    return conf_path
