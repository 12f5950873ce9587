"""GNSS sources for vehicles: gpsd (JSON socket), NMEA serial (pyserial), Termux:API, GPX/NMEA file replay.

Every source yields :class:`GpsFix` with a UTC epoch-seconds timestamp, so fixes line up with frame
timestamps taken from the same clock (file replays can be shifted with ``offset_s``).
"""

from __future__ import annotations

import calendar
import json
import logging
import math
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
KNOTS_TO_MPS = 0.514444


@dataclass(frozen=True)
class GpsFix:
    """One position fix. ``speed_mps``/``course_deg`` are the receiver's Doppler figures when known."""

    ts: float
    lat: float
    lon: float
    speed_mps: float | None = None
    course_deg: float | None = None
    hdop: float | None = None


# ---------------------------------------------------------------- NMEA


def nmea_checksum_ok(sentence: str) -> bool:
    body, sep, given = sentence.strip().lstrip("$").partition("*")
    if not sep:
        return False
    calc = 0
    for ch in body:
        calc ^= ord(ch)
    try:
        return calc == int(given[:2], 16)
    except ValueError:
        return False


def _nmea_angle(value: str, hemisphere: str) -> float | None:
    if not value:
        return None
    head, _, _ = value.partition(".")
    deg_digits = len(head) - 2
    angle = float(value[:deg_digits]) + float(value[deg_digits:]) / 60.0
    return -angle if hemisphere in {"S", "W"} else angle


def _nmea_time(hhmmss: str, ddmmyy: str) -> float | None:
    if len(hhmmss) < 6 or len(ddmmyy) != 6:
        return None
    day, month, year = int(ddmmyy[:2]), int(ddmmyy[2:4]), 2000 + int(ddmmyy[4:6])
    hh, mm, ss = int(hhmmss[:2]), int(hhmmss[2:4]), float(hhmmss[4:])
    return calendar.timegm((year, month, day, hh, mm, 0, 0, 0, 0)) + ss


class NmeaParser:
    """Stateful NMEA 0183 parser: RMC gives time, date, position, speed and course; GGA adds HDOP."""

    def __init__(self) -> None:
        self._date: str | None = None
        self._hdop: float | None = None

    def feed(self, line: str) -> GpsFix | None:
        line = line.strip()
        if not line.startswith("$") or not nmea_checksum_ok(line):
            return None
        parts = line.split("*")[0].split(",")
        kind = parts[0][3:]
        if kind == "GGA" and len(parts) > 8 and parts[8]:
            self._hdop = float(parts[8])
            return None
        if kind != "RMC" or len(parts) < 10 or parts[2] != "A":
            return None
        self._date = parts[9] or self._date
        ts = _nmea_time(parts[1], self._date or "")
        lat, lon = _nmea_angle(parts[3], parts[4]), _nmea_angle(parts[5], parts[6])
        if ts is None or lat is None or lon is None:
            return None
        speed = float(parts[7]) * KNOTS_TO_MPS if parts[7] else None
        course = float(parts[8]) if parts[8] else None
        return GpsFix(ts, lat, lon, speed, course, self._hdop)


def parse_nmea_lines(lines: Iterable[str]) -> Iterator[GpsFix]:
    parser = NmeaParser()
    for line in lines:
        fix = parser.feed(line)
        if fix is not None:
            yield fix


def format_rmc(fix: GpsFix) -> str:
    """An RMC sentence for a fix (used to write replay files and in tests)."""
    tm = time.gmtime(fix.ts)
    frac = fix.ts - math.floor(fix.ts)

    def angle(value: float, width: int, pos: str, neg: str) -> tuple[str, str]:
        a = abs(value)
        deg = int(a)
        return f"{deg:0{width}d}{(a - deg) * 60:07.4f}", pos if value >= 0 else neg

    lat, ns = angle(fix.lat, 2, "N", "S")
    lon, ew = angle(fix.lon, 3, "E", "W")
    speed = f"{(fix.speed_mps or 0.0) / KNOTS_TO_MPS:.2f}"
    course = f"{fix.course_deg:.1f}" if fix.course_deg is not None else ""
    body = (
        f"GPRMC,{tm.tm_hour:02d}{tm.tm_min:02d}{tm.tm_sec + frac:05.2f},A,{lat},{ns},{lon},{ew},"
        f"{speed},{course},{tm.tm_mday:02d}{tm.tm_mon:02d}{tm.tm_year % 100:02d},,,A"
    )
    calc = 0
    for ch in body:
        calc ^= ord(ch)
    return f"${body}*{calc:02X}"


# ---------------------------------------------------------------- GPX


def _iso_to_epoch(text: str) -> float:
    text = text.strip().replace("Z", "+00:00")
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def read_gpx(path: Path | str) -> list[GpsFix]:
    """Track points of a GPX 1.1 file (``trkpt`` with ``time``; optional ``speed``/``course`` extensions)."""
    fixes = []
    for elem in ET.parse(path).getroot().iter():
        if not elem.tag.endswith("trkpt"):
            continue
        values = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in elem.iter()}
        if "time" not in values:
            continue
        speed = float(values["speed"]) if values.get("speed") else None
        course = float(values["course"]) if values.get("course") else None
        fixes.append(
            GpsFix(
                _iso_to_epoch(values["time"]),
                float(elem.get("lat", "nan")),
                float(elem.get("lon", "nan")),
                speed,
                course,
            )
        )
    return sorted(fixes, key=lambda f: f.ts)


def write_gpx(fixes: Iterable[GpsFix], path: Path | str) -> None:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx version="1.1" creator="kommune-edge" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>',
    ]
    for f in fixes:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(f.ts)) + f".{int((f.ts % 1) * 1000):03d}Z"
        extra = f"<speed>{f.speed_mps:.2f}</speed>" if f.speed_mps is not None else ""
        extra += f"<course>{f.course_deg:.1f}</course>" if f.course_deg is not None else ""
        parts.append(f'<trkpt lat="{f.lat:.7f}" lon="{f.lon:.7f}"><time>{stamp}</time>{extra}</trkpt>')
    parts.append("</trkseg></trk></gpx>")
    Path(path).write_text("\n".join(parts))


def read_track_file(path: Path | str, offset_s: float = 0.0) -> list[GpsFix]:
    """A recorded track (``.gpx`` or NMEA text) with timestamps shifted by ``offset_s``."""
    path = Path(path)
    if path.suffix.lower() == ".gpx":
        fixes = read_gpx(path)
    else:
        with path.open(errors="replace") as fh:
            fixes = list(parse_nmea_lines(fh))
    return [GpsFix(f.ts + offset_s, f.lat, f.lon, f.speed_mps, f.course_deg, f.hdop) for f in fixes]


# ---------------------------------------------------------------- live sources


def parse_gpsd_report(line: str) -> GpsFix | None:
    """A gpsd ``TPV`` report with a 2D/3D fix as a GpsFix; other reports give None."""
    try:
        report = json.loads(line)
    except ValueError:
        return None
    if report.get("class") != "TPV" or report.get("mode", 0) < 2 or "lat" not in report or "time" not in report:
        return None
    return GpsFix(
        _iso_to_epoch(report["time"]),
        float(report["lat"]),
        float(report["lon"]),
        report.get("speed"),
        report.get("track"),
        None,
    )


def gpsd_fixes(host: str = "127.0.0.1", port: int = 2947, timeout_s: float = 5.0) -> Iterator[GpsFix]:
    """Fixes from a gpsd daemon's JSON watch stream (the way gpsd's own clients ask for it)."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(b'?WATCH={"enable":true,"json":true};\n')
        buffer = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                fix = parse_gpsd_report(raw.decode(errors="replace"))
                if fix is not None:
                    yield fix


def serial_fixes(device: str, baudrate: int = 9600) -> Iterator[GpsFix]:
    """Fixes from an NMEA receiver on a serial port (USB GNSS puck); needs ``pyserial``."""
    try:
        import serial
    except ImportError as exc:  # pragma: no cover - depends on the device image
        raise RuntimeError("NMEA serial input needs pyserial (pip install pyserial)") from exc
    parser = NmeaParser()
    with serial.Serial(device, baudrate=baudrate, timeout=2) as port:
        while True:
            raw = port.readline()
            if raw:
                fix = parser.feed(raw.decode("ascii", errors="replace"))
                if fix is not None:
                    yield fix


def parse_termux_location(doc: dict, received_at: float) -> GpsFix | None:
    """One ``termux-location`` report (Termux:API on Android) as a GpsFix; its age is ``elapsedMs``."""
    if "latitude" not in doc or "longitude" not in doc:
        return None
    age_s = float(doc.get("elapsedMs", 0)) / 1000.0
    return GpsFix(
        received_at - age_s, float(doc["latitude"]), float(doc["longitude"]), doc.get("speed"), doc.get("bearing"), None
    )


def termux_fixes(interval_ms: int = 1000) -> Iterator[GpsFix]:
    """Fixes from the phone's GNSS through Termux:API (``termux-location -p gps -r updates``)."""
    import subprocess

    cmd = ["termux-location", "-p", "gps", "-r", "updates", "-d", str(interval_ms)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        decoder, buffer = json.JSONDecoder(), ""
        for line in proc.stdout:
            buffer += line
            try:
                doc, end = decoder.raw_decode(buffer.strip())
            except ValueError:
                continue  # the report spans several lines: read on
            buffer = buffer.strip()[end:]
            fix = parse_termux_location(doc, time.time())
            if fix is not None:
                yield fix


def open_gps(spec: str, offset_s: float = 0.0) -> Iterator[GpsFix]:
    """A GNSS source from a config string: ``gpsd://host:port``, ``serial:///dev/ttyACM0?baud=9600``,
    ``termux://`` (Android phone under Termux), or a path to a ``.gpx``/``.nmea`` file to replay."""
    if spec.startswith("termux://"):
        return termux_fixes()
    if spec.startswith("gpsd://"):
        host, _, port = spec[len("gpsd://") :].partition(":")
        return gpsd_fixes(host or "127.0.0.1", int(port or 2947))
    if spec.startswith("serial://"):
        device, _, query = spec[len("serial://") :].partition("?")
        baud = int(query.split("=", 1)[1]) if query.startswith("baud=") else 9600
        return serial_fixes(device, baud)
    return iter(read_track_file(spec, offset_s))
