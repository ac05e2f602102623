"""Intel RealSense depth cameras and their recordings as a :class:`FrameSource`.

:class:`RealSenseSource` streams ``(H, W)`` uint16 depth in millimetres from a
live camera (``live=True``) or plays a recording (``.db3``, or the legacy
``.bag``) losslessly (``live=False``), both through ``rs.pipeline``.  Depth is
aligned to the colour camera by default (``rs.align(rs.stream.color)``) and
the colour image rides along as :attr:`Frame.color` (RGB uint8, display
only).  Synthetic recordings to play without a camera:
:func:`.realsense_record.record_synthetic`.

What the SDK does, and what this module does about it (pyrealsense2 2.59):

* **Formats.**  Since 2.58 the recorder writes only ROS 2 ``.db3`` (rosbag2,
  SQLite, optionally zstd-compressed); it refuses any other extension.
  Playback reads ``.db3`` and the ROS 1 ``.bag`` that older SDKs and the
  RealSense Viewer wrote.
* **Frame pool.**  Every SDK frame comes from a small pool; a frame the
  application keeps blocks the camera.  Depth and colour are copied into NumPy
  arrays the moment a frameset arrives, and the SDK frames dropped at once.
* **Lossless playback.**  Playback starts in real-time mode, which drops
  frames a slow reader misses, and starts reading the file as soon as the
  first sensor starts, so the first depth + colour pair is sometimes lost
  while the pipeline starts the second (about 1 run in 10 here).  Before the
  pipeline starts, the playback device (``config.resolve`` hands out the one
  the pipeline will use) is switched to non-real-time and paused; it is
  resumed once every sensor runs.
* **Framesets are partial.**  The pipeline emits a frameset whenever any
  stream delivers a frame, filling the other stream with its latest (older)
  frame: depth ``t`` first comes paired with colour ``t-1``, then again with
  colour ``t``.  One :class:`Frame` is emitted per depth frame.  From a
  recording the source waits for the colour frame whose timestamp matches the
  depth (within half a frame period), or for the next depth frame; from a live
  camera it emits every new depth frame at once (latency first; the colour is
  for display).
* **Aligning a registered pair is lossy.**  ``rs.align`` projects the
  corners of each depth pixel into the colour image in float32 and rounds, so
  even when both streams share one pixel grid (equal intrinsics, identity
  extrinsics: a synthetic recording, or a camera whose colour comes from its
  depth imager) about 5 % of pixels move to a neighbour or become holes.
  Such a pair is already aligned and alignment is skipped
  (``Frame.info["aligned"]`` says what happened).

Depth arrives in device units (``depth_units``, metres per unit: 0.001 on most
D400 cameras, 0.0001 on a D405) and is converted to millimetres.
Intrinsics are those of the image the depth is on: the colour stream's when
aligned, else the depth stream's.  RealSense intrinsics are float32, so they
round-trip to about 1e-5 px.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import Intrinsics
from .frame import Frame, FrameSource, SourceDisconnected, SourceError

RECORDING_SUFFIXES = (".db3", ".bag")
DEFAULT_LIVE_MODE = (640, 480, 30)   # width, height, fps: a depth + colour mode every D400 camera has
_WAIT_SLICE_MS = 100                 # one blocking wait; close() from another thread waits at most this long


def import_pyrealsense2():
    """The ``pyrealsense2`` module, or :class:`SourceError` saying how to install it."""
    try:
        import pyrealsense2 as rs
    except ImportError as e:
        raise SourceError(
            f"Intel RealSense support needs pyrealsense2, which cannot be imported ({e}). "
            "Install it with `pip install pyrealsense2` (or `pip install trt_tracker[realsense]`); "
            "on Debian/Ubuntu it also needs the USB library: `apt-get install libusb-1.0-0`."
        ) from e
    return rs


# ------------------------------------------------------------------ helpers
def _intrinsics(profile) -> Intrinsics:
    """trt_tracker Intrinsics of a ``rs.video_stream_profile``.

    The pinhole part only; see ``RealSenseSource.distortion``.
    """
    i = profile.get_intrinsics()
    return Intrinsics(float(i.fx), float(i.fy), float(i.ppx), float(i.ppy), int(i.width), int(i.height))


def _same_pixel_grid(depth_profile, color_profile) -> bool:
    """True when depth is already registered to colour: equal intrinsics and identity extrinsics.

    Distortion models are compared only when a stream has non-zero coefficients
    (a zero-coefficient model is the pinhole, whatever its name).
    """
    a, b = depth_profile.get_intrinsics(), color_profile.get_intrinsics()
    if (a.width, a.height) != (b.width, b.height):
        return False
    if not np.allclose([a.fx, a.fy, a.ppx, a.ppy], [b.fx, b.fy, b.ppx, b.ppy], rtol=0, atol=1e-4):
        return False
    ca, cb = np.asarray(a.coeffs, float), np.asarray(b.coeffs, float)
    distorted = np.any(ca != 0) or np.any(cb != 0)
    if distorted and (a.model != b.model or not np.allclose(ca, cb, rtol=0, atol=1e-7)):
        return False
    try:
        e = depth_profile.get_extrinsics_to(color_profile)
    except RuntimeError:   # no extrinsics between the streams: rs.align would fail too
        return False
    return (np.allclose(np.asarray(e.rotation, float), np.eye(3).ravel(), rtol=0, atol=1e-6)
            and np.allclose(np.asarray(e.translation, float), 0.0, rtol=0, atol=1e-6))


def _depth_mm(depth_frame) -> np.ndarray:
    """Copy a z16 depth frame out of the SDK as (H, W) uint16 millimetres (0 = no reading)."""
    raw = np.asanyarray(depth_frame.get_data())           # a view into SDK memory
    to_mm = float(depth_frame.get_units()) * 1000.0       # device units (metres) -> mm
    if abs(to_mm - 1.0) < 1e-6:                           # 1 mm units: copy as is (exact)
        return np.array(raw, dtype=np.uint16, copy=True)
    return np.clip(np.rint(raw * to_mm), 0, np.iinfo(np.uint16).max).astype(np.uint16)


def _color_rgb(rs, color_frame) -> np.ndarray:
    """Copy a colour frame out of the SDK as (H, W, 3) uint8 RGB."""
    fmt = color_frame.get_profile().format()
    data = np.asanyarray(color_frame.get_data())
    if fmt == rs.format.rgb8:
        return np.array(data, dtype=np.uint8, copy=True)
    if fmt == rs.format.bgr8:
        return np.ascontiguousarray(data[..., ::-1])
    if fmt == rs.format.rgba8:
        return np.ascontiguousarray(data[..., :3])
    if fmt == rs.format.bgra8:
        return np.ascontiguousarray(data[..., 2::-1])
    import cv2

    # yuyv: 2 bytes per pixel
    yuyv = np.ascontiguousarray(data).view(np.uint8).reshape(color_frame.get_height(), color_frame.get_width(), 2)
    return cv2.cvtColor(yuyv, cv2.COLOR_YUV2RGB_YUYV)


def _color_formats(rs):
    return (rs.format.rgb8, rs.format.bgr8, rs.format.rgba8, rs.format.bgra8, rs.format.yuyv)


@dataclass
class _Capture:
    """One depth frame copied out of the SDK, with the colour it was delivered with."""

    key: tuple            # (frame number, device timestamp ms) of the depth frame
    t_capture: float      # time.monotonic() when the depth frame first arrived
    depth: np.ndarray     # (H, W) uint16 mm, on the colour grid when aligned
    color: np.ndarray | None
    timestamp_ms: float
    color_timestamp_ms: float | None
    domain: str

    @property
    def color_lag_ms(self) -> float:
        """How far the colour frame is behind the depth frame (inf without colour)."""
        return np.inf if self.color_timestamp_ms is None else abs(self.timestamp_ms - self.color_timestamp_ms)


# ------------------------------------------------------------------ source
class RealSenseSource(FrameSource):
    """Depth frames from an Intel RealSense camera or recording (DESIGN §4, §5).

    Parameters
    ----------
    recording : path of a ``.db3`` / ``.bag`` recording to play, or None for a live camera
    serial : serial number of the camera to open (live; default: the first one found)
    width, height, fps : live stream mode for depth and colour (default 640 x 480 at 30 fps);
        a recording plays in the mode it was recorded in, so these must stay None
    align : put depth on the colour camera's pixel grid (``rs.align``) when colour is streamed
    color : deliver colour too (``Frame.color``, RGB uint8); False: depth only (a recording
        still plays its colour stream, which is then not copied)
    timeout_s : a live camera that delivers no frame for this long raises
        :class:`SourceDisconnected`; a recording that neither delivers nor ends raises :class:`SourceError`
    device : an already-created ``pyrealsense2`` device to stream live from instead of looking
        one up (e.g. an ``rs.software_device``); ``serial`` must then be None

    Frames: ``image`` (H, W) uint16 mm (0 = no reading), ``intrinsics`` of that image,
    ``index`` 0, 1, 2, ... per emitted frame, ``t_capture`` = ``time.monotonic()`` at
    arrival, ``timestamp`` = device timestamp in seconds, ``color`` (H, W, 3) uint8 RGB or
    None.  ``info``: ``frame_number`` (device counter), ``timestamp_domain``,
    ``color_timestamp`` (s or None), ``aligned`` ("rs.align", "registered" when the
    streams already share a grid, or "off").

    Attributes once open: ``name`` (camera or file, for messages), ``live``, ``fps`` (depth
    stream), ``intrinsics``, ``aligned``, ``distortion`` ((model name, 5 coefficients) of
    the image the depth is on; ``intrinsics`` is its pinhole part).

    Iterate once: leaving the loop, exhausting a recording or :meth:`close` (also from
    another thread) stops the pipeline and releases the camera or file.
    """

    modality = "depth"

    def __init__(self, recording: str | os.PathLike | None = None, *, serial: str | None = None,
                 width: int | None = None, height: int | None = None, fps: int | None = None,
                 align: bool = True, color: bool = True, timeout_s: float = 5.0, device=None):
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self._rs = rs = import_pyrealsense2()
        self.recording = None if recording is None else Path(recording)
        self.live = self.recording is None
        self.timeout_s = float(timeout_s)
        self._lock = threading.Lock()          # serialises pipeline calls (wait, stop)
        self._closing = threading.Event()
        self._started = False
        self._iterated = False
        self._pipeline = rs.pipeline()
        self._playback = None
        self._use_color = bool(color)
        if self.live:
            config, self.name = self._live_config(serial, width, height, fps, color, device)
        else:
            if serial is not None or device is not None or any(v is not None for v in (width, height, fps)):
                raise ValueError("a recording plays with the device and mode it was recorded with; "
                                 "pass serial, device, width, height and fps only for a live camera")
            config, self.name = self._playback_config()
        try:
            profile = self._pipeline.start(config)
        except RuntimeError as e:
            raise SourceError(f"cannot start {self.name}: {e}") from e
        self._started = True
        try:
            self._setup_streams(profile, align)
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------- opening
    def _live_config(self, serial, width, height, fps, color, device):
        rs = self._rs
        config = rs.config()
        if device is not None:
            if serial is not None:
                raise ValueError("pass either serial or device, not both")
            self._pipeline.set_device(device)
        else:
            devices = list(rs.context().query_devices())
            if not devices:
                raise SourceError(
                    "no Intel RealSense camera is connected. Plug one into a USB 3 port (blue) with its cable "
                    "(on Linux install librealsense's udev rules, 99-realsense-libusb.rules, to use it without "
                    "root), or play a recording instead: RealSenseSource('recording.db3').")
            serials = [d.get_info(rs.camera_info.serial_number) for d in devices]
            if serial is not None and str(serial) not in serials:
                raise SourceError(f"no RealSense camera with serial number {serial!r} is connected; "
                                  f"connected: {', '.join(serials)}")
            device = devices[serials.index(str(serial)) if serial is not None else 0]
            config.enable_device(device.get_info(rs.camera_info.serial_number))
        name = _device_name(rs, device)
        w, h, f = (int(v) if v is not None else d for v, d in zip((width, height, fps), DEFAULT_LIVE_MODE, strict=True))
        depth_modes = _video_modes(rs, device, rs.stream.depth, rs.format.z16)
        if not depth_modes:
            raise SourceError(f"{name} has no depth stream; use a RealSense depth camera (D400/D500 series)")
        if (w, h, f) not in depth_modes:
            listed = ", ".join(f"{a}x{b}@{c}" for a, b, c in sorted(depth_modes, reverse=True)[:12])
            raise SourceError(f"{name} has no {w}x{h} depth mode at {f} fps; choose width/height/fps from: {listed}")
        config.enable_stream(rs.stream.depth, w, h, rs.format.z16, f)
        color_modes = _video_modes(rs, device, rs.stream.color, rs.format.rgb8)
        if color and color_modes:
            # Colour in the depth mode when the camera has it, else at the same rate (alignment resamples).
            if (w, h, f) in color_modes:
                config.enable_stream(rs.stream.color, w, h, rs.format.rgb8, f)
            else:
                rate = f if any(m[2] == f for m in color_modes) else 0   # 0: any rate
                config.enable_stream(rs.stream.color, rs.format.rgb8, rate)
        return config, name

    def _playback_config(self):
        rs, path = self._rs, self.recording
        if not path.exists():
            raise SourceError(f"RealSense recording not found: {path}")
        if not path.is_file() or not os.access(path, os.R_OK):
            raise SourceError(f"RealSense recording {path} is not a readable file; check the path and its permissions")
        if path.suffix.lower() not in RECORDING_SUFFIXES:
            raise SourceError(f"{path} is not a RealSense recording: expected a .db3 (SDK >= 2.58) or .bag file "
                              "from the RealSense Viewer, rs-record or record_synthetic()")
        config = rs.config()
        config.enable_device_from_file(str(path), repeat_playback=False)   # all recorded streams
        name = f"RealSense recording {path}"
        try:
            resolved = config.resolve(self._pipeline)
        except RuntimeError as e:
            raise SourceError(f"cannot read {path} as a RealSense recording (corrupt, truncated or not a "
                              f"recording?): {e}") from e
        if not any(s.stream_type() == rs.stream.depth for s in resolved.get_streams()):
            raise SourceError(f"{path} has no depth stream; record the camera's depth stream")
        # The device resolved here is the one the pipeline starts.  Make it lossless, and hold it
        # paused until every stream's sensor has started (resumed in _setup_streams): a file that
        # plays while the pipeline is still starting its sensors loses its first frames.
        self._playback = resolved.get_device().as_playback()
        self._playback.set_real_time(False)
        self._playback.pause()
        return config, name

    def _setup_streams(self, profile, align: bool) -> None:
        rs = self._rs
        depth = profile.get_stream(rs.stream.depth).as_video_stream_profile()
        color = None
        if self._use_color and any(s.stream_type() == rs.stream.color for s in profile.get_streams()):
            color = profile.get_stream(rs.stream.color).as_video_stream_profile()
            if color.format() not in _color_formats(rs):
                raise SourceError(f"{self.name}: colour format {color.format()} is not supported "
                                  "(rgb8, bgr8, rgba8, bgra8, yuyv); pass color=False to stream depth only")
        if self._playback is not None:
            self._playback.resume()                      # every sensor is started: play from the start
        self.fps = float(depth.fps())
        self._has_color = color is not None
        self._align = None
        if color is not None and align:
            if _same_pixel_grid(depth, color):
                self.aligned = "registered"
            else:
                self._align = rs.align(rs.stream.color)
                self.aligned = "rs.align"
        else:
            self.aligned = "off"
        target = color if self.aligned != "off" else depth
        self.intrinsics = _intrinsics(target)
        ti = target.get_intrinsics()
        self.distortion = (str(ti.model).split(".")[-1], tuple(float(c) for c in ti.coeffs))
        # Colour whose timestamp is within half a frame period of the depth's is "the same instant".
        self._match_ms = 500.0 / self.fps

    # ------------------------------------------------------------ iterating
    def __iter__(self) -> Iterator[Frame]:
        if self._iterated:
            raise SourceError(f"{self.name} was already iterated; open a new RealSenseSource")
        self._iterated = True
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        index = 0
        pending: _Capture | None = None       # recordings: a depth frame waiting for its colour
        last_key = None                       # the last depth frame emitted
        last_arrival = time.monotonic()
        end_seen = False
        try:
            while True:
                fs = self._wait()
                if fs is None:
                    if self._closing.is_set():
                        return
                    if self._playback is not None and self._playback_stopped():
                        if end_seen:          # one more empty wait after the end: nothing left in flight
                            if pending is not None:
                                yield self._frame(index, pending)
                            return
                        end_seen = True
                        continue
                    if time.monotonic() - last_arrival > self.timeout_s:
                        self._raise_stalled()
                    continue
                t_capture = last_arrival = time.monotonic()
                capture = self._capture(fs, t_capture, last_key, pending)
                del fs                                               # release the SDK frames now
                if capture is None:
                    continue
                if pending is not None and capture.key != pending.key:
                    yield self._frame(index, pending)                # its colour never came: emit as is
                    index, last_key, pending = index + 1, pending.key, None
                if pending is not None:                              # same depth, better colour
                    capture.t_capture = pending.t_capture
                if self.live or not self._has_color or capture.color_lag_ms <= self._match_ms:
                    yield self._frame(index, capture)
                    index, last_key, pending = index + 1, capture.key, None
                else:
                    pending = capture
        finally:
            self.close()

    def _wait(self):
        """The next frameset, or None after one wait slice without one (or once closed)."""
        with self._lock:
            if not self._started or self._closing.is_set():
                return None
            try:
                ok, fs = self._pipeline.try_wait_for_frames(_WAIT_SLICE_MS)
            except RuntimeError as e:
                if self.live:
                    raise SourceDisconnected(f"{self.name} stopped streaming ({e}); reconnect it and open "
                                             "the source again") from e
                raise SourceError(f"{self.name} failed while playing: {e}") from e
        return fs if ok else None

    def _playback_stopped(self) -> bool:
        return self._playback.current_status() == self._rs.playback_status.stopped

    def _raise_stalled(self):
        if self.live:
            raise SourceDisconnected(
                f"{self.name} delivered no frame for {self.timeout_s:g} s: it was unplugged, lost power or its "
                "USB link dropped. Reconnect it (a USB 3 port, a short data cable) and open the source again.")
        raise SourceError(f"{self.name} delivered no frame for {self.timeout_s:g} s but did not end; "
                          "the file may be truncated or damaged")

    def _capture(self, fs, t_capture: float, last_key, pending: _Capture | None) -> _Capture | None:
        """Copy the frameset's depth (aligned if needed) and colour out of the SDK, or None if nothing new."""
        fs = fs.as_frameset()
        depth = fs.get_depth_frame()
        if not depth:
            return None
        key = (int(depth.get_frame_number()), float(depth.get_timestamp()))
        if key == last_key:
            return None                                      # a colour-only update of a depth already emitted
        color = fs.get_color_frame() if self._has_color else None
        color_ts = float(color.get_timestamp()) if color else None
        if pending is not None and pending.key == key:
            lag = np.inf if color_ts is None else abs(key[1] - color_ts)
            if lag >= pending.color_lag_ms:
                return None                                  # no better colour than the one already held
        domain = str(depth.get_frame_timestamp_domain()).split(".")[-1]
        if self._align is not None and color:
            depth = self._align.process(fs).get_depth_frame()
        try:
            return _Capture(
                key=key, t_capture=t_capture, depth=_depth_mm(depth),
                color=_color_rgb(self._rs, color) if color else None,
                timestamp_ms=key[1], color_timestamp_ms=color_ts, domain=domain,
            )
        except RuntimeError as e:
            raise SourceError(f"{self.name}: cannot read a frame: {e}") from e

    def _frame(self, index: int, c: _Capture) -> Frame:
        return Frame(
            index=index, t_capture=c.t_capture, image=c.depth, modality="depth",
            intrinsics=self.intrinsics, timestamp=c.timestamp_ms / 1000.0, color=c.color,
            info={"frame_number": c.key[0], "timestamp_domain": c.domain,
                  "color_timestamp": None if c.color_timestamp_ms is None else c.color_timestamp_ms / 1000.0,
                  "aligned": self.aligned},
        )

    # -------------------------------------------------------------- closing
    def close(self) -> None:
        """Stop the pipeline (camera or file released); safe twice and from another thread."""
        self._closing.set()
        with self._lock:                       # waits for a running wait slice (<= 100 ms)
            if not self._started:
                return
            self._started = False
            try:
                self._pipeline.stop()
            except RuntimeError:               # already stopped by the SDK (e.g. device lost)
                pass


def _device_name(rs, device) -> str:
    def info(key, default):
        try:
            return device.get_info(key) if device.supports(key) else default
        except RuntimeError:
            return default

    return f"RealSense {info(rs.camera_info.name, 'camera')} (serial {info(rs.camera_info.serial_number, '?')})"


def _video_modes(rs, device, stream, fmt) -> set[tuple[int, int, int]]:
    """(width, height, fps) of the device's profiles of one stream type and format."""
    modes = set()
    for sensor in device.query_sensors():
        for p in sensor.get_stream_profiles():
            if p.stream_type() == stream and p.format() == fmt and p.is_video_stream_profile():
                v = p.as_video_stream_profile()
                modes.add((v.width(), v.height(), v.fps()))
    return modes
