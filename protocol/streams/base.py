"""Base class for message bodies and the stream → model registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict

Scalar = int | float | bool | str


class Row(NamedTuple):
    """One time-series row derived from a body: tags (indexed strings) and fields (values)."""

    tags: dict[str, str]
    fields: dict[str, Scalar]


class Body(BaseModel):
    """A message body. Subclasses declare which fields are tags (``TAGS``) and the
    largest encoded size the stream allows (``MAX_BYTES``, enforced by the hub and
    by the pipelines' payload tests: nothing image-sized fits)."""

    model_config = ConfigDict(extra="forbid")

    STREAM: ClassVar[str] = ""
    TAGS: ClassVar[tuple[str, ...]] = ()
    MAX_BYTES: ClassVar[int] = 4096

    def rows(self) -> list[Row]:
        """Default: one row; scalar fields become fields, nested dicts are flattened with ``_``."""
        tags: dict[str, str] = {}
        fields: dict[str, Scalar] = {}
        tag_names = self.TAGS
        for name, value in self.__dict__.items():
            if value is None:
                continue
            if name in tag_names:
                tags[name] = str(value)
            elif type(value) in _SCALAR_TYPES:
                fields[name] = value
            else:
                _flatten(name, value, fields)
        return [Row(tags, fields)]


_SCALAR_TYPES = frozenset({int, float, bool, str})


def _flatten(name: str, value: Any, out: dict[str, Scalar]) -> None:
    if value is None:
        return
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{name}_{key}", inner, out)
    elif isinstance(value, bool | int | float | str):
        out[name] = value
    # lists (e.g. keypoint clips) are not time series; they stay in the domain stores


_REGISTRY: dict[str, type[Body]] = {}


def register_stream(stream: str) -> Callable[[type[Body]], type[Body]]:
    """Class decorator: ``@register_stream("traffic/counts")``."""

    def wrap(cls: type[Body]) -> type[Body]:
        if stream in _REGISTRY and _REGISTRY[stream] is not cls:
            raise ValueError(f"stream {stream!r} is already registered to {_REGISTRY[stream].__name__}")
        cls.STREAM = stream
        _REGISTRY[stream] = cls
        return cls

    return wrap


def body_model(stream: str) -> type[Body] | None:
    return _REGISTRY.get(stream)


def known_streams() -> dict[str, type[Body]]:
    return dict(_REGISTRY)
