"""Config inheritance: a device file over its site file(s), deep-merged, with the origin (file:line) of every value.

A device YAML names its parent with ``extends: ../sites/odense.yaml`` (a path relative to the file, or a
list of them, later ones winning); without ``extends``, ``../sites/<site>.yaml`` beside the devices folder
is used when it exists. Site files may ``extends`` further. Mappings merge key by key; lists and scalars
from the more specific file replace the inherited value whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXTENDS = "extends"
KeyPath = tuple[str | int, ...]
MAX_DEPTH = 8


class LayerError(ValueError):
    """A layer cannot be read or merged; the message names the file (and line)."""


@dataclass
class Layered:
    """The merged raw config, where each value came from, and the files in order (most general first)."""

    data: dict[str, Any]
    origins: dict[KeyPath, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def _located(loader: yaml.SafeLoader, node: yaml.Node, source: str) -> tuple[Any, dict[KeyPath, str]]:
    """Turn a composed YAML node into Python values plus ``path -> file:line`` for every node."""
    origins: dict[KeyPath, str] = {}

    def walk(n: yaml.Node, path: KeyPath) -> Any:
        origins[path] = f"{source}:{n.start_mark.line + 1}"
        if isinstance(n, yaml.MappingNode):
            return {
                loader.construct_object(k, deep=True): walk(v, (*path, loader.construct_object(k, deep=True)))
                for k, v in n.value
            }
        if isinstance(n, yaml.SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(n.value)]
        return loader.construct_object(n, deep=True)

    return walk(node, ()), origins


def read_layer(path: Path) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    try:
        loader = yaml.SafeLoader(path.read_text())
    except OSError as exc:
        raise LayerError(f"{path}: {exc.strerror}") from None
    try:
        node = loader.get_single_node()
        data, origins = _located(loader, node, str(path)) if node is not None else ({}, {})
    except yaml.YAMLError as exc:
        raise LayerError(f"{path} is not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise LayerError(f"{path}: the top level must be a mapping")
    return data, origins


def merge(base: Layered, data: dict[str, Any], origins: dict[KeyPath, str]) -> Layered:
    """Overlay ``data`` on ``base``: mappings merge, everything else replaces (and forgets inherited origins)."""

    def overlay(into: dict[str, Any], over: dict[str, Any], path: KeyPath) -> None:
        for key, value in over.items():
            here = (*path, key)
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                overlay(into[key], value, here)
                continue
            into[key] = value
            for stale in [p for p in out.origins if p[: len(here)] == here]:
                del out.origins[stale]
            out.origins.update({p: o for p, o in origins.items() if p[: len(here)] == here})

    out = Layered(_copy(base.data), dict(base.origins), list(base.files))
    overlay(out.data, data, ())
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _parents(path: Path, data: dict[str, Any]) -> list[Path]:
    declared = data.pop(EXTENDS, None)
    if declared is None:
        site = data.get("site")
        if not isinstance(site, str):
            return []
        implicit = Path(os.path.normpath(path.parent / ".." / "sites" / f"{site}.yaml"))
        return [implicit] if implicit.resolve() != path.resolve() and implicit.exists() else []
    names = declared if isinstance(declared, list) else [declared]
    if not all(isinstance(n, str) for n in names):
        raise LayerError(f"{path}: '{EXTENDS}' must be a path or a list of paths")
    return [Path(os.path.normpath(path.parent / name)) for name in names]


def resolve(path: Path | str, _seen: tuple[Path, ...] = ()) -> Layered:
    """Read ``path`` and everything it extends; the most specific file wins."""
    path = Path(path)
    key = path.resolve()
    if key in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, key))
        raise LayerError(f"{path}: '{EXTENDS}' loops: {chain}")
    if len(_seen) >= MAX_DEPTH:
        raise LayerError(f"{path}: more than {MAX_DEPTH} levels of '{EXTENDS}'")
    data, origins = read_layer(path)
    origins = {p: o for p, o in origins.items() if p[:1] != (EXTENDS,)}
    layered = Layered({})
    for parent in _parents(path, data):
        if not parent.exists():
            raise LayerError(f"{path}: extends {parent}, which does not exist")
        inherited = resolve(parent, (*_seen, key))
        layered = merge(layered, inherited.data, inherited.origins)
        layered.files = [*layered.files, *inherited.files]
    layered = merge(layered, data, origins)
    layered.files.append(path)
    return layered


def _leaves(value: Any, path: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return [(path, value)]


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _raw_at(data: Any, path: KeyPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def explain(layered: Layered, effective: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """``(key path, value, origin)`` for every leaf of the effective config; origin is file:line or ``default``.

    A value written as ``${NAME}`` is shown as written, so secrets from the environment are never printed.
    """
    rows = []
    for path, value in _leaves(effective):
        raw = _raw_at(layered.data, path)
        shown = raw if isinstance(raw, str) and "${" in raw else value
        rows.append((_dotted(path), shown, layered.origins.get(path, "default")))
    return rows


def format_explanation(rows: list[tuple[str, Any, str]]) -> str:
    width = max((len(k) for k, _, _ in rows), default=0)
    return "\n".join(f"{key:<{width}}  {json_scalar(value):<32}  {origin}" for key, value, origin in rows)


def json_scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _as_written(effective: Any, raw: Any) -> Any:
    """The effective value with every ``${NAME}`` string put back as written."""
    if isinstance(raw, str) and "${" in raw:
        return raw
    if isinstance(effective, dict):
        return {k: _as_written(v, raw.get(k) if isinstance(raw, dict) else None) for k, v in effective.items()}
    if isinstance(effective, list):
        items = raw if isinstance(raw, list) else []
        return [_as_written(v, items[i] if i < len(items) else None) for i, v in enumerate(effective)]
    return effective


def render(path: Path | str, with_origins: bool = False) -> str:
    """The effective, validated config of one device as YAML, or as ``key  value  origin`` lines.

    Raises ``edge.config.ConfigError`` (invalid values) or :class:`LayerError` (unreadable layers).
    """
    from edge.config import parse_config

    layered = resolve(path)
    effective = parse_config(layered.data, str(path)).model_dump(mode="json")
    if not with_origins:
        return yaml.safe_dump(_as_written(effective, layered.data), sort_keys=False)
    layers = "\n".join(f"#   {i}. {f}" for i, f in enumerate(layered.files, 1))
    table = format_explanation(explain(layered, effective))
    return f"# layers, most general first:\n{layers}\n{table}"
