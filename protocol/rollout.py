"""Signed release manifests: what the hub signs (Ed25519) and the device verifies before using a file.

A ``rollout`` command (``Command(action="rollout", args=SignedManifest(...).model_dump())``) offers a
release; ``rollback`` names the version to return to. The signature covers :func:`canonical_bytes`
of the manifest, which pins the file's SHA-256 and size.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
ArtifactKind = Literal["config", "model"]


class Manifest(BaseModel):
    """One release of a config bundle or a model file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ArtifactKind
    name: str = Field(pattern=NAME_PATTERN, description="e.g. 'traffic-detector' or 'device-config'")
    version: str = Field(pattern=NAME_PATTERN)
    file: str = Field(pattern=NAME_PATTERN, description="file name on the device, e.g. 'yolo11n.tflite'")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    created_ms: int = Field(ge=0)


class SignedManifest(BaseModel):
    """A manifest, its Ed25519 signature (hex) and where the device fetches the file."""

    model_config = ConfigDict(extra="forbid")

    manifest: Manifest
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")
    url: str = Field("", description="hub path of the file, e.g. /rollout/artifacts/<sha256>")
    rollout_id: int | None = None


def canonical_bytes(manifest: Manifest) -> bytes:
    """The exact bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(manifest.model_dump(), sort_keys=True, separators=(",", ":")).encode()
