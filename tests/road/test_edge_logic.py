"""Road pipeline pieces: GNSS parsing and replay, flat-road geometry, GNSS fusion, quality gate, coverage, tracking."""

from __future__ import annotations

import math
import random
import socket
import threading
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.pipelines.road.damage import DamageTracker, Sighting, place_on_road, severity_of
from edge.pipelines.road.quality import CoverageMeter, QualityThresholds, brightness_and_sharpness, judge_frame
from edge.pipelines.road.vehicle import LocalFrame, VehicleTrack
from edge.sources.gps import (
    GpsFix,
    format_rmc,
    gpsd_fixes,
    nmea_checksum_ok,
    parse_gpsd_report,
    parse_nmea_lines,
    read_track_file,
    write_gpx,
)
from edge.vision.ground import CameraGeometry
from tests.support import shared_path

DASHCAM = CameraGeometry.from_hfov(1280, 720, 70, height_m=1.4, pitch_deg=8)


def test_nmea_round_trip_and_checksum() -> None:
    fix = GpsFix(1_795_000_000.4, 55.3959123, -10.3883456, 9.72, 271.5)
    line = format_rmc(fix)
    assert nmea_checksum_ok(line)
    (back,) = parse_nmea_lines(["$GPGGA,junk*00", line])
    assert abs(back.lat - fix.lat) < 1e-6 and abs(back.lon - fix.lon) < 1e-6
    assert abs(back.ts - fix.ts) < 0.01 and abs(back.speed_mps - 9.72) < 0.01 and back.course_deg == 271.5
    assert list(parse_nmea_lines([line[:-1] + ("0" if line[-1] != "0" else "1")])) == []


def test_gpx_and_nmea_replay_files_with_offset(tmp_path: Path) -> None:
    fixes = [GpsFix(1_795_000_000 + i, 55.39 + i * 1e-5, 10.38, 8.0, 0.0) for i in range(5)]
    write_gpx(fixes, tmp_path / "drive.gpx")
    (tmp_path / "drive.nmea").write_text("\n".join(format_rmc(f) for f in fixes))
    for name in ("drive.gpx", "drive.nmea"):
        back = read_track_file(tmp_path / name, offset_s=2.0)
        assert [round(f.ts - 2.0, 2) for f in back] == [f.ts for f in fixes]
        assert back[3].speed_mps is not None and abs(back[3].speed_mps - 8.0) < 0.01


def test_gpsd_report_parsing() -> None:
    tpv = '{"class":"TPV","mode":3,"time":"2026-11-20T07:41:03.000Z","lat":55.39,"lon":10.38,"speed":8.2,"track":90}'
    fix = parse_gpsd_report(tpv)
    assert fix is not None and fix.speed_mps == 8.2 and fix.course_deg == 90
    assert parse_gpsd_report('{"class":"TPV","mode":1,"time":"2026-11-20T07:41:03Z"}') is None
    assert parse_gpsd_report('{"class":"SKY"}') is None


def test_gpsd_client_contract() -> None:
    """Contract test: a socket speaking gpsd's JSON watch protocol (gpsd itself needs a receiver)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        got.append(conn.recv(100))
        conn.sendall(b'{"class":"VERSION","release":"3.22"}\n{"class":"TPV","mode":2,"time":"2026-11-20T07:41:03Z",'
                     b'"lat":55.4,"lon":10.4}\n')
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    fixes = list(gpsd_fixes("127.0.0.1", port))
    server.close()
    assert got and got[0].startswith(b"?WATCH=") and len(fixes) == 1 and fixes[0].lat == 55.4


@settings(max_examples=60, deadline=None)
@given(st.floats(2.0, 40.0), st.floats(-4.0, 4.0), st.floats(0.0, 20.0), st.floats(0.8, 2.5))
def test_ground_point_inverts_projection(forward: float, lateral: float, pitch: float, height: float) -> None:
    cam = CameraGeometry.from_hfov(1280, 720, 70, height_m=height, pitch_deg=pitch)
    uv = cam.project(forward, lateral)
    assert uv is not None
    back = cam.ground_point(*uv)
    assert back is not None and math.isclose(back[0], forward, rel_tol=1e-6) and abs(back[1] - lateral) < 1e-6


def test_place_on_road_measures_a_known_footprint() -> None:
    # a 0.8 m wide, 0.6 m long pothole centred 8 m ahead, 1 m right
    near = DASHCAM.project(7.7, 1.0)
    far = DASHCAM.project(8.3, 1.0)
    left, right = DASHCAM.project(8.0, 0.6), DASHCAM.project(8.0, 1.4)
    assert near and far and left and right
    box = (left[0], far[1], right[0], near[1])
    forward, lateral, width, length = place_on_road(box, DASHCAM)
    assert abs(forward - 8.0) < 0.1 and abs(lateral - 1.0) < 0.1
    assert abs(width - 0.8) < 0.1 and abs(length - 0.6) < 0.05
    assert severity_of("D40", width, length) in {"medium", "high"} and severity_of("D40", 0.2, 0.2) == "low"
    assert severity_of("D40", 1.0, 0.8) == "high" and severity_of("D00", 4.0, 0.1) == "medium"


def _drive(sigma: float, seed: int, doppler: bool = True) -> tuple[VehicleTrack, LocalFrame]:
    rng = random.Random(seed)
    frame = LocalFrame(55.39, 10.38)
    track = VehicleTrack()
    t0, speed, course = 1_795_000_000.0, 10.0, 60.0
    for i in range(80):
        t = t0 + i
        # accelerate and brake: a plain average of fixes would lag, the dead-reckoned track does not
        east = speed * i * math.sin(math.radians(course)) + 0.05 * i * i
        north = speed * i * math.cos(math.radians(course))
        lat, lon = frame.to_latlon(east + rng.gauss(0, sigma), north + rng.gauss(0, sigma))
        ve = speed * math.sin(math.radians(course)) + 0.1 * i
        vn = speed * math.cos(math.radians(course))
        track.add(GpsFix(t, lat, lon, math.hypot(ve, vn) if doppler else None,
                         math.degrees(math.atan2(ve, vn)) if doppler else None))
    return track, frame


def test_gnss_fusion_averages_noise_away() -> None:
    errors = []
    for seed in range(10):
        track, frame = _drive(5.0, seed)
        t = 1_795_000_040.0
        pose = track.pose(t)
        assert pose is not None
        lat, lon, n = track.to_latlon(pose.east, pose.north, t)
        east, north = frame.to_en(lat, lon)
        true_e = 10.0 * 40 * math.sin(math.radians(60)) + 0.05 * 1600
        true_n = 10.0 * 40 * math.cos(math.radians(60))
        errors.append(math.hypot(east - true_e, north - true_n))
        assert n >= 40
    # one fix is off by ~7 m (5 m per axis); fused over a 50 s window the median is well under 2 m
    assert float(np.median(errors)) < 2.0


def test_quality_gate_on_real_photo() -> None:
    import cv2

    photo = cv2.imread(str(next((shared_path("road", "potholes-web", "images")).glob("*.jpg"))))
    t = QualityThresholds()
    b, s = brightness_and_sharpness(photo)
    assert judge_frame(b, s, 8.0, t) == "good"
    assert judge_frame(*brightness_and_sharpness((photo * 0.12).astype(np.uint8)), 8.0, t) == "dark"
    assert judge_frame(*brightness_and_sharpness(cv2.GaussianBlur(photo, (31, 31), 12)), 8.0, t) == "blurred"
    assert judge_frame(b, s, 0.3, t) == "stationary"
    assert judge_frame(b, s, None, t) == "no_fix"


def test_coverage_counts_each_metre_once() -> None:
    meter = CoverageMeter(near_m=3.0, far_m=20.0)
    meter.add("good", 0.0)
    assert meter.metres_inspected == 17.0
    for _ in range(10):
        meter.add("good", 2.0)  # 20 m more road
    assert math.isclose(meter.metres_inspected, 37.0)
    meter.add("blurred", 50.0)
    meter.add("good", 2.0)
    assert math.isclose(meter.metres_inspected, 54.0) and meter.counts["blurred"] == 1
    assert math.isclose(meter.metres_driven, 72.0)


def test_tracker_keeps_one_track_per_damage() -> None:
    tracker = DamageTracker()
    for k in range(6):
        ts = 100.0 + 0.2 * k
        near = Sighting(ts, 10.0 + 0.3 * (k % 2), 50.0 - 0.2 * k, 15.0 - 2 * k, 0.5, 0.4, 0.7, "D40", (0, 0, 1, 1))
        other = Sighting(ts, 13.5, 52.0, 15.0 - 2 * k, 0.5, 0.4, 0.6, "D40", (0, 0, 1, 1))
        tracker.update([near, other])
    assert len(tracker.tracks) == 2
    assert sorted(len(t.sightings) for t in tracker.tracks.values()) == [6, 6]


def test_termux_location_report() -> None:
    from edge.sources.gps import parse_termux_location

    doc = {"latitude": 55.39, "longitude": 10.38, "altitude": 20.0, "accuracy": 4.2, "bearing": 87.0,
           "speed": 9.1, "elapsedMs": 250, "provider": "gps"}
    fix = parse_termux_location(doc, 1_795_000_000.0)
    assert fix is not None and fix.ts == 1_795_000_000.0 - 0.25 and fix.course_deg == 87.0
    assert parse_termux_location({"API_ERROR": "no permission"}, 0.0) is None
