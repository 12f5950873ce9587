"""Ingest benchmark: N simulated devices → Mosquitto → hub → InfluxDB on this machine.

Starts its own Mosquitto and InfluxDB on loopback ports, runs the real hub (``hub run``) in
a subprocess, offers a fixed message rate from load-generator processes that speak the
device protocol (envelopes with per-device seq, waiting for the hub's end-to-end acks),
and counts unique (device_id, seq) in the database afterwards. Latency is publish → ack:
the hub acknowledges only after InfluxDB answered 204, after which the point is queryable.

The peer is a naive hub measured in the same run: a paho subscriber that posts every
message to InfluxDB's /write on its own (json.loads, one HTTP request per message).

    python -m bench.ingest --rate 10000 --duration 60
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psutil
import yaml

from tests.services import InfluxDB, Mosquitto, free_port

PREFIX = "bench"
BODY = '{"sensor":"s","value":21.5}'


# -- load generator (runs in its own process) ---------------------------------------------------------
class RawPublisher:
    """A minimal MQTT 3.1.1 QoS 1 publisher on a plain socket. paho's Python network loop tops out
    far below 10,000 msg/s on this machine, so the load generator writes pre-framed PUBLISH packets
    itself; the broker's PUBACKs are read and counted by a thread."""

    def __init__(self, port: int, client_id: str) -> None:
        import socket

        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = client_id.encode()
        var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
        self.sock.sendall(b"\x10" + _varint(len(var)) + var)
        assert self.sock.recv(4)[:2] == b"\x20\x02", "broker refused the connection"
        self.pubacks = 0
        self._packet_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            self.pubacks += len(data) // 4  # PUBACK is 4 bytes; partial reads even out

    def frame(self, topic: str, payload: bytes) -> bytes:
        self._packet_id = self._packet_id % 65535 + 1
        head = len(topic).to_bytes(2, "big") + topic.encode() + self._packet_id.to_bytes(2, "big")
        return b"\x32" + _varint(len(head) + len(payload)) + head + payload

    def send(self, frames: list[bytes]) -> None:
        self.sock.sendall(b"".join(frames))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def generate(
    idx: int, devices: list[str], rate: float, duration: float, port: int, out: mp.Queue, wait_acks: bool
) -> None:
    from protocol import Ack, encode_envelope

    sent_at: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    acked = 0
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal acked
        device = msg.topic.split("/")[2]
        now = time.perf_counter()
        ack = Ack.model_validate_json(msg.payload)
        with lock:
            for seq in ack.seqs():
                acked += 1
                start = sent_at.pop((device, seq), None)
                if start is not None:
                    latencies.append(now - start)

    acks = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"acks-{idx}-{os.getpid()}")
    acks.on_message = on_message
    acks.connect("127.0.0.1", port)
    acks.loop_start()
    for device in devices:
        acks.subscribe(f"{PREFIX}/bench/{device}/ack", qos=1)
    publisher = RawPublisher(port, f"load-{idx}-{os.getpid()}")
    time.sleep(0.5)
    seqs = dict.fromkeys(devices, 0)
    sent = 0
    start = time.perf_counter()
    tick = 0.01
    while (elapsed := time.perf_counter() - start) < duration:
        due = int(rate * min(elapsed + tick, duration)) - sent
        frames = []
        for _ in range(max(due, 0)):
            device = devices[sent % len(devices)]
            seqs[device] += 1
            seq = seqs[device]
            payload = encode_envelope(device, seq, time.time_ns() // 1_000_000, BODY).encode()
            if seq % 20 == 0:
                with lock:
                    sent_at[(device, seq)] = time.perf_counter()
            frames.append(publisher.frame(f"{PREFIX}/bench/{device}/sim/reading", payload))
            sent += 1
        publisher.send(frames)
        time.sleep(max(0.0, start + elapsed + tick - time.perf_counter()))
    publish_s = time.perf_counter() - start
    deadline = time.monotonic() + (60 if wait_acks else 2)
    while time.monotonic() < deadline:
        with lock:
            if acked >= sent:
                break
        time.sleep(0.2)
    with lock:
        out.put({"sent": sent, "acked": acked, "publish_s": publish_s, "latencies": list(latencies),
                 "devices": dict(seqs), "pubacks": publisher.pubacks})


def offer_load(
    port: int, devices: int, rate: float, duration: float, procs: int, wait_acks: bool = True
) -> dict[str, Any]:
    names = [f"dev-{i:04d}" for i in range(devices)]
    out: mp.Queue = mp.Queue()
    workers = [
        mp.Process(target=generate, args=(i, names[i::procs], rate / procs, duration, port, out, wait_acks))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    results = [out.get(timeout=duration + 120) for _ in workers]
    for w in workers:
        w.join(10)
    latencies = sorted(x for r in results for x in r["latencies"])
    expected = {d: s for r in results for d, s in r["devices"].items()}
    return {
        "sent": sum(r["sent"] for r in results),
        "acked": sum(r["acked"] for r in results),
        "offered_rate": sum(r["sent"] for r in results) / max(r["publish_s"] for r in results),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "expected": expected,
    }


# -- what ends up in the database ---------------------------------------------------------------------
def count_unique(url: str, db: str) -> tuple[int, int]:
    """(rows, unique (device_id, seq)) of sim_reading."""
    rows = 0
    unique = 0
    resp = httpx.get(f"{url}/query", params={"db": db, "q": 'SELECT "seq" FROM "sim_reading" GROUP BY "device_id"'},
                     timeout=120)
    for series in resp.json()["results"][0].get("series", []):
        seqs = [v[1] for v in series["values"]]
        rows += len(seqs)
        unique += len(set(seqs))
    return rows, unique


# -- the contenders ----------------------------------------------------------------------------------
def start_our_hub(
    tmp: Path, mq_port: int, influx: InfluxDB, db: str, workers: int = 1
) -> list[subprocess.Popen[bytes]]:
    """One hub process per worker; with several they share the streams through ``$share/hub/...``."""
    return [_start_worker(tmp, mq_port, influx, db, i, workers > 1) for i in range(workers)]


def _start_worker(tmp: Path, mq_port: int, influx: InfluxDB, db: str, i: int, shared: bool) -> subprocess.Popen[bytes]:
    config = tmp / f"hub-{db}-{i}.yaml"
    api_port = free_port()
    mqtt_cfg = {"host": "127.0.0.1", "port": mq_port, "prefix": PREFIX, "client_id": f"hub-ingest-{i}"}
    if shared:
        mqtt_cfg["share_group"] = "hub"
    config.write_text(yaml.safe_dump({
        "state_dir": str(tmp / f"hub-{db}-{i}"), "store_url": f"influx://127.0.0.1:{influx.port}/{db}",
        "api_port": api_port, "mqtt": mqtt_cfg,
    }))
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(config), "--log-level", "ERROR"],
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # load starts once the hub is subscribed
        try:
            if httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=1).json().get("broker"):
                return proc
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError("the hub did not report a broker connection within 60 s")


NAIVE_HUB = r'''
import json, sys, httpx, paho.mqtt.client as mqtt
port, url, db = int(sys.argv[1]), sys.argv[2], sys.argv[3]
http = httpx.Client(base_url=url)
http.post("/query", data={"q": f"CREATE DATABASE {db}"})
def on_message(c, u, msg):
    env = json.loads(msg.payload)
    dev = env["device_id"]
    t = env["ts"] * 1000000 + env["seq"] % 1000000
    line = f'sim_reading,device_id={dev} value={env["body"]["value"]},seq={env["seq"]}i {t}'
    http.post("/write", params={"db": db, "precision": "ns"}, content=line)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="naive-hub")
c.on_message = on_message
c.connect("127.0.0.1", port)
c.subscribe("bench/+/+/+/+", qos=1)
c.loop_forever()
'''


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait(20)


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def run_case(name: str, hubs: list[subprocess.Popen[bytes]], mq: Mosquitto, influx: InfluxDB, db: str,
             args: argparse.Namespace, rate: float, duration: float) -> dict[str, Any]:
    hub_ps = [psutil.Process(h.pid) for h in hubs]
    cpu0, t0 = sum(map(cpu_seconds, hub_ps)), time.monotonic()
    load = offer_load(mq.port, args.devices, rate, duration, args.procs, wait_acks=not name.startswith("naive"))
    wall = time.monotonic() - t0
    hub_cpu = 100 * (sum(map(cpu_seconds, hub_ps)) - cpu0) / wall
    time.sleep(2)
    rows, unique = count_unique(influx.url, db)
    sent = load["sent"]
    result = {
        "case": name, "offered_msg_s": round(load["offered_rate"]), "sent": sent, "stored_unique": unique,
        "lost": sent - unique, "duplicated": rows - unique, "stored_msg_s": round(unique / wall),
        "p50_ms": round(load["p50_ms"], 1), "p99_ms": round(load["p99_ms"], 1), "hub_cpu_pct": round(hub_cpu),
        "acked": load["acked"], "wall_s": round(wall, 1),
    }
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10_000, help="offered messages/s (default 10000)")
    parser.add_argument("--duration", type=float, default=60, help="seconds at the full rate (default 60)")
    parser.add_argument("--devices", type=int, default=200, help="simulated devices (default 200)")
    parser.add_argument("--procs", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="hub processes on a shared subscription (default 1)")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        mq, influx = Mosquitto(workdir=tmp / "mq"), InfluxDB(workdir=tmp / "influx")
        mq.start()
        influx.start(timeout=60)
        try:
            for label, db, rate, duration in (
                ("full load", "ours_full", args.rate, args.duration),
                ("half load", "ours_half", args.rate / 2, min(args.duration, 30)),
            ):
                hubs = start_our_hub(tmp, mq.port, influx, db, args.workers)
                name = f"kommune-edge hub ({args.workers} worker{'s' if args.workers > 1 else ''}), {label}"
                results.append(run_case(name, hubs, mq, influx, db, args, rate, duration))
                stop_all(hubs)
            if not args.skip_naive:
                naive = subprocess.Popen([sys.executable, "-c", NAIVE_HUB, str(mq.port), influx.url, "naive"],
                                         start_new_session=True)
                time.sleep(5)
                results.append(run_case("naive paho→HTTP hub", [naive], mq, influx, "naive", args, args.rate,
                                        min(args.duration, 30)))
                os.killpg(naive.pid, signal.SIGTERM)
        finally:
            mq.close()
            influx.close()
    print()
    print("| case | offered msg/s | stored msg/s | missing at end | duplicated | p50 ms | p99 ms | hub CPU % |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['offered_msg_s']} | {r['stored_msg_s']} | {r['lost']} | {r['duplicated']} | "
              f"{r['p50_ms']} | {r['p99_ms']} | {r['hub_cpu_pct']} |")
    if len(results) == 3 and results[2]["stored_msg_s"]:
        print(f"\nratio ours/naive (stored msg/s at full offered load): "
              f"{results[0]['stored_msg_s'] / results[2]['stored_msg_s']:.2f}x")
    print("(latency: publish -> end-to-end ack, sent after InfluxDB returned 204. The naive hub sends no acks, so no\n"
          " latency; its 'missing at end' is the backlog it had not written when the window closed.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
