"""Frame sources for vision pipelines: picamera2 on a Pi, USB/V4L2, RTSP and MJPEG through OpenCV,
and video files for replay; plus a threaded grabber that drops frames when the consumer is slow.

Frames live in memory only; nothing here writes an image anywhere.
"""

from __future__ import annotations

import importlib.util
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)

NO_PIXELS = np.empty((0, 0, 3), np.uint8)
SourceKind = Literal["file", "usb", "rtsp", "mjpeg", "picamera2"]


class VideoSourceConfig(BaseModel):
    """Where frames come from. ``uri``: file path, ``/dev/videoN`` or camera index, or stream URL."""

    model_config = ConfigDict(extra="forbid")

    kind: SourceKind = Field("file", description="default: from the uri (rtsp://, http://, /dev/video0 or 0, a file)")
    uri: str = Field("", description="file path, /dev/video0 or 0, rtsp://… or http://…/mjpeg; unused for picamera2")
    width: int | None = Field(None, ge=16, description="requested capture width (cameras)")
    height: int | None = Field(None, ge=16, description="requested capture height (cameras)")
    fps: float | None = Field(None, gt=0, description="requested camera rate; for files, overrides the file's rate")
    realtime: bool | None = Field(
        None, description="pace at the source rate and drop frames when slow (default: cameras yes, files no)"
    )
    loop: bool = Field(False, description="files: start again at the end (demo)")
    start_frame: int = Field(0, ge=0, description="files: first frame to read")
    max_frames: int | None = Field(None, ge=1, description="stop after this many frames, as if stopped (tests)")
    replay_start: datetime | None = Field(None, description="files: wall-clock time of frame 0 (default: now)")
    queue_size: int = Field(2, ge=1, le=64, description="frames buffered between grabber and consumer")
    reconnect_s: float = Field(5.0, gt=0, description="wait before re-opening a lost camera or stream")

    @model_validator(mode="before")
    @classmethod
    def _kind_from_uri(cls, data: object) -> object:
        if isinstance(data, dict) and "kind" not in data:
            data = {**data, "kind": source_kind_of(str(data.get("uri", "")))}
        return data


def source_kind_of(uri: str) -> SourceKind:
    """The source kind a URI implies: ``rtsp://`` → rtsp, ``http(s)://`` → mjpeg, ``/dev/video*`` or a
    number → usb, ``picamera2`` → picamera2, anything else → a video file."""
    lowered = uri.lower()
    if lowered.startswith(("rtsp://", "rtsps://")):
        return "rtsp"
    if lowered.startswith(("http://", "https://")):
        return "mjpeg"
    if lowered.startswith("/dev/video") or lowered.isdigit():
        return "usb"
    if lowered == "picamera2":
        return "picamera2"
    return "file"


@dataclass(frozen=True)
class Frame:
    """One frame: BGR pixels, its index, seconds since the source started, and wall-clock epoch ms."""

    image: np.ndarray
    index: int
    t_s: float
    wall_ms: int


class Capture(Protocol):
    fps: float

    def read(self) -> np.ndarray | None: ...

    def skip(self) -> bool: ...

    def close(self) -> None: ...


class OpenCVCapture:
    """Files, V4L2 devices, RTSP and MJPEG streams via ``cv2.VideoCapture``."""

    def __init__(self, cfg: VideoSourceConfig) -> None:
        import cv2

        target: str | int = cfg.uri
        if cfg.kind == "usb" and cfg.uri.isdigit():
            target = int(cfg.uri)
        backend = cv2.CAP_V4L2 if cfg.kind == "usb" and hasattr(cv2, "CAP_V4L2") else cv2.CAP_ANY
        if cfg.kind == "rtsp":
            backend = cv2.CAP_FFMPEG
        self._cap = cv2.VideoCapture(target, backend)
        if not self._cap.isOpened():
            raise OSError(f"cannot open {cfg.kind} source {cfg.uri!r}")
        if cfg.kind == "usb":
            if cfg.width and cfg.height:
                self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
                self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
            if cfg.fps:
                self._cap.set(cv2.CAP_PROP_FPS, cfg.fps)
        if cfg.kind in ("usb", "rtsp", "mjpeg"):
            self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # latest frame, not a stale backlog
        if cfg.kind == "file" and cfg.start_frame:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, cfg.start_frame)
        self.fps = cfg.fps or float(self._cap.get(cv2.CAP_PROP_FPS) or 0) or 25.0

    def read(self) -> np.ndarray | None:
        ok, image = self._cap.read()
        return image if ok else None

    def skip(self) -> bool:
        """Advance one frame without converting it (cheaper than ``read`` when a frame is not needed)."""
        return bool(self._cap.grab())

    def close(self) -> None:
        self._cap.release()


class PyAVCapture:
    """Video files through PyAV (FFmpeg's libraries): multi-threaded decoding, and the conversion to BGR only
    for frames whose pixels are wanted. Cheaper per frame than ``cv2.VideoCapture``, whose conversion of a
    1080p frame costs about as much as decoding it."""

    def __init__(self, cfg: VideoSourceConfig) -> None:
        import av

        try:
            self._container = av.open(cfg.uri)
        except (av.error.FFmpegError, OSError) as exc:
            raise OSError(f"cannot open {cfg.kind} source {cfg.uri!r}: {exc}") from exc
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame and slice threads, as many as FFmpeg sees cores
        self._frames = self._container.decode(stream)
        self.fps = cfg.fps or float(stream.average_rate or 0) or 25.0
        for _ in range(cfg.start_frame):  # exact, like OpenCV's frame seek; files only
            if not self.skip():
                break

    def read(self) -> np.ndarray | None:
        frame = next(self._frames, None)
        return None if frame is None else frame.to_ndarray(format="bgr24")

    def skip(self) -> bool:
        return next(self._frames, None) is not None

    def close(self) -> None:
        self._container.close()


class PiCameraCapture:
    """The Raspberry Pi camera through ``picamera2`` (libcamera)."""

    def __init__(self, cfg: VideoSourceConfig) -> None:
        from picamera2 import Picamera2  # only on a Pi (Debian package python3-picamera2)

        self._cam = Picamera2()
        size = (cfg.width or 1280, cfg.height or 720)
        controls = {"FrameRate": cfg.fps} if cfg.fps else {}
        self._cam.configure(
            self._cam.create_video_configuration(main={"size": size, "format": "BGR888"}, controls=controls)
        )
        self._cam.start()
        self.fps = cfg.fps or 30.0

    def read(self) -> np.ndarray | None:
        # libcamera's "BGR888" is laid out R, G, B in memory order reversed: the array is BGR for OpenCV
        return self._cam.capture_array("main")

    def skip(self) -> bool:
        return self.read() is not None

    def close(self) -> None:
        self._cam.stop()
        self._cam.close()


def open_capture(cfg: VideoSourceConfig) -> Capture:
    if cfg.kind == "picamera2":
        return PiCameraCapture(cfg)
    if cfg.kind == "file" and importlib.util.find_spec("av") is not None:
        return PyAVCapture(cfg)
    return OpenCVCapture(cfg)


class FrameGrabber:
    """Reads frames in its own thread so decoding overlaps detection.

    In ``realtime`` mode (cameras, or paced replay) the queue keeps only the newest
    ``queue_size`` frames and counts the ones it had to drop because the consumer was slow;
    otherwise (file replay for evaluation) the reader waits, so every frame is processed.
    ``want(index)`` lets the consumer say which frames it needs pixels of; the others are
    skipped without colour conversion but still advance time.
    """

    def __init__(self, cfg: VideoSourceConfig, stop: threading.Event | None = None) -> None:
        self.cfg = cfg
        self.stop = stop or threading.Event()
        self.realtime = cfg.realtime if cfg.realtime is not None else cfg.kind != "file"
        self.dropped = 0
        self.read_frames = 0
        self.lost = False
        self.limit_reached = False  # stopped at max_frames: like a stop, not the end of the file
        self.want = lambda index: True
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=cfg.queue_size)
        self._thread: threading.Thread | None = None
        self._capture: Capture | None = None
        start = cfg.replay_start.timestamp() if cfg.replay_start else time.time()
        self._replay_start_ms = int(start * 1000)

    @property
    def fps(self) -> float:
        return self._capture.fps if self._capture else (self.cfg.fps or 25.0)

    def start(self) -> FrameGrabber:
        self._capture = open_capture(self.cfg)
        self._thread = threading.Thread(target=self._run, name="frame-grabber", daemon=True)
        self._thread.start()
        return self

    def frames(self) -> Iterator[Frame]:
        """Frames until the source ends or ``stop`` is set."""
        while not self.stop.is_set():
            try:
                frame = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self.stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._capture:
            self._capture.close()

    def _run(self) -> None:
        try:
            self._read_loop()
        except Exception:
            log.exception("frame grabber failed", extra={"kind": self.cfg.kind, "uri": self.cfg.uri})
            self.lost = True
        finally:
            self._put_final()

    def _read_loop(self) -> None:
        cfg = self.cfg
        assert self._capture is not None
        index = cfg.start_frame
        t0 = time.monotonic()
        loop_offset_s = 0.0  # seconds of replay before the current pass through the file
        while not self.stop.is_set():
            if cfg.max_frames is not None and self.read_frames >= cfg.max_frames:
                self.limit_reached = True
                return
            if cfg.kind == "file":
                t_s = loop_offset_s + index / self.fps
                if self.realtime:
                    delay = t_s - cfg.start_frame / self.fps - (time.monotonic() - t0)
                    if delay > 0:
                        time.sleep(delay)
                wall_ms = self._replay_start_ms + round(t_s * 1000)
            else:
                t_s = time.monotonic() - t0
                wall_ms = int(time.time() * 1000)
            if self.want(index):
                image = self._capture.read()
                ended = image is None
            else:
                ended = not self._capture.skip()
                image = NO_PIXELS  # time advances, the consumer asked for no pixels
            if ended:
                if cfg.kind == "file" and cfg.loop:
                    self._capture.close()
                    self._capture = open_capture(cfg.model_copy(update={"start_frame": 0}))
                    loop_offset_s += index / self.fps
                    index = 0
                    continue
                if cfg.kind == "file":
                    return
                self._reconnect()
                continue
            self.read_frames += 1
            self._offer(Frame(image, index, t_s, wall_ms))
            index += 1

    def _offer(self, frame: Frame) -> None:
        if not self.realtime:
            while not self.stop.is_set():
                try:
                    self._queue.put(frame, timeout=0.5)
                    return
                except queue.Full:
                    continue
            return
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _put_final(self) -> None:
        while True:
            try:
                self._queue.put(None, timeout=0.5)
                return
            except queue.Full:
                if self.stop.is_set():
                    return

    def _reconnect(self) -> None:
        self.lost = True
        log.warning("video source lost; reconnecting", extra={"kind": self.cfg.kind, "uri": self.cfg.uri})
        assert self._capture is not None
        self._capture.close()
        while not self.stop.wait(self.cfg.reconnect_s):
            try:
                self._capture = open_capture(self.cfg)
                self.lost = False
                return
            except OSError:
                continue
