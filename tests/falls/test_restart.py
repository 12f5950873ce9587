"""A real agent restart in the middle of the night keeps the night's statistics: the agent process runs the
falls pipeline on a looping video (night hours around now), is killed hard (the periodic save must have
kept the counters), restarted, and stopped with SIGTERM (the save on stop must keep the rest)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.support import shared_path

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Europe/Copenhagen")


def free_port() -> int:
    with socket.socket() as sock:  # nothing listens there: the agent keeps its messages in the outbox
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def read_state(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.torch
def test_agent_restart_mid_night_loses_no_night_statistics(tmp_path: Path, onnx_cache: Path) -> None:
    video = shared_path("falls", "le2i", "dev", "Home_02_video_38.mp4")  # a person in a room, no fall
    now = datetime.now(TZ)
    config = {
        "device_id": "carehome-restart",
        "site": "test",
        "state_dir": str(tmp_path / "state"),
        "mqtt": {"host": "127.0.0.1", "port": free_port()},
        "pipelines": [{
            "type": "falls",
            "room": {
                "room": "7", "care_home": "Testhjemmet",
                "night_start": (now - timedelta(hours=1)).strftime("%H:%M"),
                "night_end": (now + timedelta(hours=1)).strftime("%H:%M"),
            },
            "source": {"uri": str(video), "fps": 5, "loop": True, "realtime": True},
            "pose": {"backend": "onnx", "imgsz": 320, "threads": 1},
        }],
    }
    path = tmp_path / "device.yaml"
    path.write_text(yaml.safe_dump(config))
    state = tmp_path / "state" / "falls-state.json"
    env = {**os.environ, "KOMMUNE_MODEL_CACHE": str(onnx_cache)}
    command = [sys.executable, "-m", "edge.cli", "run", str(path)]

    agent = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # a second periodic save with more observed time than the restarted run will see on its own
        saved = wait_for(lambda: read_state(state).get("observed_s", 0) >= 40, timeout=240)
        assert saved, f"the night statistics were not saved while the agent ran: {read_state(state)}"
    finally:
        agent.send_signal(signal.SIGKILL)  # no chance to save on the way out
        agent.wait(timeout=30)
    before = read_state(state)
    assert before["night_of"] and not before["reported"]

    agent = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(agent.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        restored = wait_for(lambda: any("falls night statistics restored" in line for line in log), timeout=120)
        assert restored, "".join(log)[-2000:]
        time.sleep(10)  # analyse some frames of the same night (far fewer than 40 s of them)
        assert agent.poll() is None, "".join(log)[-2000:]
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
        reader.join(timeout=10)
    assert agent.returncode == 0, "".join(log)[-2000:]
    after = read_state(state)
    assert after["night_of"] == before["night_of"]
    # continued from the saved counters (a fresh start would have fewer seconds than before the kill)
    assert after["observed_s"] > before["observed_s"], (before, after)
