"""Model registry: where each model comes from, its checksum, and where to find it on this machine."""

from models.registry import ModelSpec, data_dir, load_registry, resolve_model

__all__ = ["ModelSpec", "data_dir", "load_registry", "resolve_model"]
