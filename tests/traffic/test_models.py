"""The model registry's download path: a pinned checksum is enforced, an unpinned one is printed to record."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from models.registry import ModelSpec, _download, load_registry


@pytest.fixture
def weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOMMUNE_MODEL_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "served" / "tiny.pt"
    path.parent.mkdir()
    path.write_bytes(b"not really weights")
    return path


def test_download_keeps_a_file_that_matches_its_pin(weights: Path) -> None:
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    spec = ModelSpec(name="tiny", task="detect", file="tiny.pt", sha256=digest, source_url=weights.as_uri())
    assert _download(spec).read_bytes() == weights.read_bytes()


def test_download_rejects_a_file_that_does_not_match_its_pin(weights: Path) -> None:
    spec = ModelSpec(name="tiny", task="detect", file="tiny.pt", sha256="0" * 64, source_url=weights.as_uri())
    with pytest.raises(ValueError, match="sha256"):
        _download(spec)
    assert not list((weights.parent.parent / "cache").glob("tiny.pt*")), "a rejected download must not stay"


def test_download_of_an_unpinned_file_prints_its_checksum(weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = ModelSpec(name="tiny", task="detect", file="tiny.pt", source_url=weights.as_uri())
    _download(spec)
    assert hashlib.sha256(weights.read_bytes()).hexdigest() in capsys.readouterr().out


def test_official_coco_weights_are_pinned_to_urls_and_checksums() -> None:
    registry = load_registry()
    for name in ("yolov8n", "yolo11n"):
        spec = registry[name]
        assert spec.source_url and spec.source_url.startswith("https://github.com/ultralytics/assets/releases/")
        assert spec.sha256 and len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
