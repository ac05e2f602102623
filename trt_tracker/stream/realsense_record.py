"""Synthetic RealSense recordings: synthetic depth (and colour) frames written as a real ``.db3`` recording.

:func:`record_synthetic` feeds the frames through ``rs.software_device`` into
``rs.recorder``, so the file is what a camera recording is and the whole
playback path (:class:`.realsense.RealSenseSource`, the RealSense Viewer) can
be tested without a camera.

What the SDK does, and what this module does about it (pyrealsense2 2.59):

* **Format.**  Since 2.58 the recorder writes only ROS 2 ``.db3`` (rosbag2,
  SQLite, optionally zstd-compressed); it refuses any other extension.
* **Recorder.**  It writes asynchronously and drops frames (silently, in its
  log) when more than ~250 MB wait to be written; the file is complete only
  once the recorder is destroyed.  :func:`record_synthetic` paces the frames at
  their timestamps, destroys the recorder, then counts the frames in the file
  and records again more slowly if any were lost.
"""
from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import numpy as np

from ..camera import Intrinsics
from .frame import SourceError
from .realsense import import_pyrealsense2


def record_synthetic(path: str | os.PathLike, depth_frames: np.ndarray, intrinsics: Intrinsics, fps: float,
                     color_frames: np.ndarray | None = None, depth_units: float = 0.001,
                     timestamps: np.ndarray | None = None, progress: bool = False, *,
                     color_intrinsics: Intrinsics | None = None, compress: bool = True,
                     speed: float = 1.0, attempts: int = 3) -> Path:
    """Write a RealSense recording (``.db3``) of synthetic frames; returns its path.

    The frames go through ``rs.software_device`` (a depth sensor "Stereo Module"
    and, with colour, an "RGB Camera") into ``rs.recorder``, so the file is what a
    camera recording is and plays through :class:`RealSenseSource` or the RealSense
    Viewer.

    depth_frames : (T, H, W) uint16 depth in mm, 0 = no reading
    intrinsics : the depth camera (pinhole, no distortion); its size must be W x H
    fps : the streams' nominal frame rate (whole number, as RealSense profiles have)
    color_frames : optional (T, Hc, Wc, 3) uint8 RGB; by default the colour camera is the
        depth camera (``color_intrinsics`` None, identity extrinsics)
    depth_units : metres per stored depth unit (0.001 = mm; 0.0001 as on a D405); depth is
        stored as ``round(mm * 0.001 / depth_units)`` and must fit 16 bits
    timestamps : (T,) strictly increasing device timestamps in seconds (default ``arange(T) / fps``)
    progress : show a progress bar
    color_intrinsics : the colour camera when it differs from the depth camera (same
        centre, identity extrinsics; its size is the colour frames' size)
    compress : let the recorder compress frames (smaller; readable by the RealSense SDK only)
    speed : how much faster than real time frames are fed to the recorder.  It writes
        asynchronously and drops frames when ~250 MB wait to be written, so the file is
        counted afterwards and, if frames are missing, recorded again at real time, then
        half of it, ... (``attempts`` recordings in all) before giving up with RuntimeError.

    The recorder finishes the file only when it is destroyed, which happens before
    this returns.  An existing file at ``path`` is replaced.
    """
    rs = import_pyrealsense2()
    path = Path(path)
    depth_frames = np.asarray(depth_frames)
    if depth_frames.ndim != 3 or depth_frames.dtype != np.uint16:
        raise ValueError(f"depth_frames must be (T, H, W) uint16 mm, got {depth_frames.shape} {depth_frames.dtype}")
    T, H, W = depth_frames.shape
    if T == 0:
        raise ValueError("depth_frames is empty")
    if (intrinsics.width, intrinsics.height) != (W, H):
        raise ValueError(f"intrinsics are for {intrinsics.width}x{intrinsics.height}, frames are {W}x{H}")
    if not (fps >= 1 and abs(fps - round(fps)) < 1e-6):
        raise ValueError(f"RealSense streams have whole-number frame rates >= 1, got fps={fps}; pass the exact "
                         "times as timestamps")
    fps = round(fps)
    if not depth_units > 0:
        raise ValueError(f"depth_units must be positive (metres per unit), got {depth_units}")
    if not (speed > 0 and attempts >= 1):
        raise ValueError(f"speed must be positive and attempts >= 1, got {speed}, {attempts}")
    if color_intrinsics is not None and color_frames is None:
        raise ValueError("color_intrinsics describe colour frames; pass color_frames too")
    color_intrinsics = intrinsics if color_intrinsics is None else color_intrinsics
    if color_frames is not None:
        color_frames = np.asarray(color_frames)
        want = (T, color_intrinsics.height, color_intrinsics.width, 3)
        if color_frames.shape != want or color_frames.dtype != np.uint8:
            raise ValueError(f"color_frames must be {want} uint8 RGB, got {color_frames.shape} {color_frames.dtype}")
    timestamps = np.arange(T) / fps if timestamps is None else np.asarray(timestamps, dtype=np.float64)
    if timestamps.shape != (T,) or not np.all(np.isfinite(timestamps)) or np.any(np.diff(timestamps) <= 0):
        raise ValueError(f"timestamps must be ({T},) finite and strictly increasing seconds")
    if _version(rs) < (2, 58):
        raise SourceError(f"writing .db3 recordings needs pyrealsense2 >= 2.58, this is {rs.__version__}: "
                          "`pip install -U pyrealsense2`")
    if path.suffix.lower() == ".bag":
        raise ValueError(f"pyrealsense2 >= 2.58 writes only .db3 recordings (ROS 2); it still plays .bag "
                         f"files. Use {path.with_suffix('.db3')}")
    if path.suffix.lower() != ".db3":
        raise ValueError(f"a RealSense recording path must end in .db3, got {path}")
    if not path.parent.is_dir():
        raise ValueError(f"directory {path.parent} does not exist")

    stored = _to_device_units(depth_frames, depth_units)
    expected = {"depth": T, **({"color": T} if color_frames is not None else {})}
    for attempt in range(attempts):
        if path.exists():
            path.unlink()
        pace = speed if attempt == 0 else min(speed, 1.0) / 2 ** (attempt - 1)   # then real time, half, ...
        _record_once(rs, path, stored, intrinsics, fps, color_frames, color_intrinsics, depth_units,
                     timestamps, progress, compress, pace)
        counts = _count_frames(rs, path, T)
        if counts == expected:
            return path
    raise RuntimeError(f"the RealSense recorder kept dropping frames ({counts} recorded of {expected}); its "
                       f"write cache overflowed even at {pace:g}x real time. Record fewer or smaller frames, "
                       "or to a faster disk")


def _version(rs) -> tuple[int, ...]:
    """pyrealsense2's version as a tuple of ints, e.g. (2, 59, 1)."""
    return tuple(int(x) for x in str(rs.__version__).split(".")[:3] if x.isdigit())


def _to_device_units(depth_mm: np.ndarray, depth_units: float) -> np.ndarray:
    """(T, H, W) uint16 mm -> uint16 device units (``depth_units`` metres each)."""
    per_mm = 0.001 / depth_units
    if abs(per_mm - 1.0) < 1e-12:
        return np.ascontiguousarray(depth_mm)
    stored = np.rint(depth_mm.astype(np.float64) * per_mm)
    if stored.max() > np.iinfo(np.uint16).max:
        raise ValueError(f"depth {int(depth_mm.max())} mm does not fit 16 bits at depth_units={depth_units} "
                         f"(max {int(np.iinfo(np.uint16).max / per_mm)} mm); use larger depth_units")
    return stored.astype(np.uint16)


def _rs_intrinsics(rs, k: Intrinsics):
    i = rs.intrinsics()
    i.width, i.height = int(k.width), int(k.height)
    i.fx, i.fy, i.ppx, i.ppy = float(k.fx), float(k.fy), float(k.cx), float(k.cy)
    i.model = rs.distortion.none
    i.coeffs = [0.0] * 5
    return i


def _video_stream(rs, stream, fmt, bpp: int, uid: int, k: Intrinsics, fps: int):
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid = stream, 0, uid
    vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = int(k.width), int(k.height), fps, bpp, fmt
    vs.intrinsics = _rs_intrinsics(rs, k)
    return vs


def _record_once(rs, path, stored, intrinsics, fps, color_frames, color_intrinsics, depth_units,
                 timestamps, progress, compress, speed) -> None:
    """Feed the frames through a software device into a recorder, paced at ``speed`` x their timestamps.

    Every SDK object lives in ``sdk`` and is dropped in ``finally``: the recorder writes
    the end of the file when it is destroyed, and nothing may keep it alive.
    """
    from tqdm import tqdm

    sdk: dict = {}
    try:
        sdk["device"] = device = rs.software_device()
        device.register_info(rs.camera_info.name, "trt_tracker synthetic")
        device.register_info(rs.camera_info.serial_number, "synthetic")
        depth_sensor = device.add_sensor("Stereo Module")
        depth_sensor.add_read_only_option(rs.option.depth_units, float(depth_units))
        depth_profile = depth_sensor.add_video_stream(
            _video_stream(rs, rs.stream.depth, rs.format.z16, 2, 0, intrinsics, fps), True
        ).as_video_stream_profile()
        sdk["streams"] = streams = [(depth_sensor, depth_profile, stored)]
        if color_frames is not None:
            color_sensor = device.add_sensor("RGB Camera")
            color_profile = color_sensor.add_video_stream(
                _video_stream(rs, rs.stream.color, rs.format.rgb8, 3, 1, color_intrinsics, fps), True
            ).as_video_stream_profile()
            identity = rs.extrinsics()
            identity.rotation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]   # column-major 3x3
            identity.translation = [0.0, 0.0, 0.0]                              # metres
            depth_profile.register_extrinsics_to(color_profile, identity)
            streams.append((color_sensor, color_profile, color_frames))
        del depth_sensor, depth_profile
        if color_frames is not None:
            del color_sensor, color_profile

        # The recorder hooks the sensors when they start, so it must exist before they are opened.
        sdk["recorder"] = rs.recorder(str(path), device, bool(compress))
        for sensor, profile, _ in streams:
            sensor.open(profile)
            sensor.start(lambda f: None)    # frames go to the recorder; this callback releases them at once
        t0 = time.monotonic()
        for t in tqdm(range(len(stored)), desc=f"recording {path.name}", unit="frame", disable=not progress):
            wait = t0 + (timestamps[t] - timestamps[0]) / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)            # pacing: the recorder writes asynchronously (see record_synthetic)
            for sensor, profile, images in streams:
                _inject(rs, sensor, profile, images[t], t, float(timestamps[t] * 1000.0), depth_units)
        for sensor, _, _ in streams:
            sensor.stop()
            sensor.close()
    finally:
        sdk.clear()                         # recorder destroyed here: the file is complete
        gc.collect()


def _inject(rs, sensor, profile, image: np.ndarray, number: int, timestamp_ms: float, depth_units: float) -> None:
    """Hand one (H, W) uint16 or (H, W, 3) uint8 image to a software sensor (the binding copies the pixels)."""
    frame = rs.software_video_frame()
    frame.pixels = np.ascontiguousarray(image)
    frame.bpp = image.itemsize * (image.shape[2] if image.ndim == 3 else 1)
    frame.stride = frame.bpp * image.shape[1]
    frame.timestamp = timestamp_ms
    frame.domain = rs.timestamp_domain.hardware_clock
    frame.frame_number = number
    frame.profile = profile
    if image.ndim == 2:
        frame.depth_units = float(depth_units)
    sensor.on_video_frame(frame)


def _count_frames(rs, path: Path, expected: int) -> dict[str, int]:
    """Frames per stream ("depth", "color") in a recording, read losslessly through the SDK."""
    counts: dict[str, int] = {}
    lock, done = threading.Lock(), threading.Event()

    def on_frame(frame):
        name = str(frame.get_profile().stream_type()).split(".")[-1]
        with lock:
            counts[name] = counts.get(name, 0) + 1

    def on_status(status):
        if status == rs.playback_status.stopped:
            done.set()

    sdk: dict = {"playback": rs.context().load_device(str(path))}
    try:
        sdk["playback"].set_real_time(False)             # every frame, as fast as the callbacks take them
        sdk["playback"].set_status_changed_callback(on_status)
        sdk["sensors"] = sdk["playback"].query_sensors()
        sdk["playback"].pause()                           # no frame may flow before every sensor is started
        for s in sdk["sensors"]:
            s.open(s.get_stream_profiles())
        for s in sdk["sensors"]:
            s.start(on_frame)
        sdk["playback"].resume()
        if not done.wait(timeout=30.0 + 0.1 * expected):
            raise RuntimeError(f"reading back {path} did not reach its end")
        for s in sdk["sensors"]:
            for call in (s.stop, s.close):
                try:
                    call()
                except RuntimeError:                      # already stopped at the end of the file
                    pass
    finally:
        sdk.clear()
        gc.collect()
    with lock:
        return dict(counts)
