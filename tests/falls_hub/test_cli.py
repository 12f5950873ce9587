"""The account and key command line, checked by logging in with what it created."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.alerts.cli import main
from tests.falls_hub.conftest import FakeClock, hub_app, make_service


def test_cli_creates_an_account_that_can_log_in_and_a_private_vapid_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FALLS_STAFF_PASSWORD", "hemmelig")
    state = tmp_path / "hub"
    assert (
        main(["--state-dir", str(state), "add-staff", "--username", "anna", "--home", "solhaven", "--rooms", "12, 14"])
        == 0
    )
    assert main(["--state-dir", str(state), "shift", "--username", "anna", "on"]) == 0
    assert main(["--state-dir", str(state), "shift", "--username", "nobody", "on"]) == 1
    assert main(["--state-dir", str(state), "vapid-key"]) == 0
    public_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert stat.S_IMODE(os.stat(state / "vapid_private.pem").st_mode) == 0o600

    service = make_service(state, FakeClock())
    try:
        assert service.vapid_public_key == public_key  # the hub uses the key the command made
        client = TestClient(hub_app(service))
        me = client.post("/falls/login", json={"username": "anna", "password": "hemmelig"}).json()["staff"]
        assert (me["care_home"], me["rooms"], me["on_shift"]) == ("solhaven", ["12", "14"], True)
    finally:
        service.stop()
