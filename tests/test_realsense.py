"""RealSense support end to end, without a camera: synthetic recordings through the real SDK.

A synthetic hand depth sequence is recorded with ``record_synthetic`` (software
device -> recorder -> .db3) and played back by ``RealSenseSource`` through the
normal pipeline; a software device stands in for a live camera.  Tests that
need pyrealsense2 skip when it cannot be imported (it needs Debian's
libusb-1.0-0); the install-hint test runs everywhere.
"""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from trt_tracker.camera import Intrinsics
from trt_tracker.stream.frame import SourceDisconnected, SourceError
from trt_tracker.stream.realsense import RealSenseSource, import_pyrealsense2
from trt_tracker.stream.realsense_record import record_synthetic

T = 25                     # frames per test recording (50 fps: half a second)
CLOCK_S = 1.0              # device clock at the first frame of the shared recording, seconds


def _rs():
    """pyrealsense2, or skip with the reason (not installed, or its libusb-1.0 missing)."""
    try:
        return import_pyrealsense2()
    except SourceError as e:
        pytest.skip(str(e))


def colormap(depth: np.ndarray) -> np.ndarray:
    """(T, H, W) uint16 mm -> (T, H, W, 3) uint8 RGB: a colour image that differs frame to frame."""
    import cv2

    grey = np.clip((depth.astype(np.float64) - 200.0) / 5.0, 0, 255).astype(np.uint8)
    return np.stack([cv2.applyColorMap(g, cv2.COLORMAP_JET)[..., ::-1] for g in grey])


def assert_intrinsics_close(a: Intrinsics, b: Intrinsics) -> None:
    """RealSense stores intrinsics as float32: equal to ~1e-5 px."""
    assert (a.width, a.height) == (b.width, b.height)
    np.testing.assert_allclose([a.fx, a.fy, a.cx, a.cy], [b.fx, b.fy, b.cx, b.cy], rtol=1e-6, atol=1e-5)


@pytest.fixture(scope="module")
def hand():
    from trt_tracker.data.samples import make_sequence

    seq = make_sequence("depth", 7, T)
    assert seq.frames.shape == (T, 240, 320) and seq.frames.dtype == np.uint16
    return seq


@pytest.fixture(scope="module")
def recording(hand, tmp_path_factory):
    """The hand sequence recorded with colour (same camera, identity extrinsics) to a .db3.

    Device clocks do not start at zero (``CLOCK_S``).  Fed to the recorder as fast as it takes
    them (``speed``), depth t and colour t are stored back to back and the pipeline delivers
    depth t first with colour t-1, then again with colour t: the source must still pair each
    depth frame with its own colour.
    """
    _rs()
    color = colormap(hand.frames)
    path = record_synthetic(tmp_path_factory.mktemp("rs") / "hand.db3", hand.frames, hand.intrinsics, hand.fps,
                            color, timestamps=hand.timestamps + CLOCK_S, speed=1000.0)
    return path, color


# ------------------------------------------------------------------ playback
def test_playback_is_lossless_and_bit_exact(recording, hand):
    path, color = recording
    with RealSenseSource(path) as src:
        assert src.live is False and src.modality == "depth" and src.fps == hand.fps
        assert src.aligned == "registered"           # same camera: already aligned, rs.align skipped
        frames = list(src)
    assert len(frames) == T
    assert [f.index for f in frames] == list(range(T))
    assert [f.info["frame_number"] for f in frames] == list(range(T))
    for t, f in enumerate(frames):
        assert f.modality == "depth" and f.image.dtype == np.uint16 and f.image.shape == (240, 320)
        np.testing.assert_array_equal(f.image, hand.frames[t])
        np.testing.assert_array_equal(f.color, color[t])       # the colour of the same instant
        assert f.info["color_timestamp"] == pytest.approx(f.timestamp)
        assert_intrinsics_close(f.intrinsics, hand.intrinsics)
    np.testing.assert_allclose([f.timestamp for f in frames], hand.timestamps + CLOCK_S, atol=1e-6)
    assert np.all(np.diff([f.timestamp for f in frames]) > 0)
    assert np.all(np.diff([f.t_capture for f in frames]) >= 0)


def test_playback_waits_for_a_slow_consumer(recording, hand):
    """Slower than the recorded 50 fps: a recording must still deliver every frame."""
    path, _ = recording
    got = []
    for f in RealSenseSource(path, color=False):
        time.sleep(0.05)  # 2.5x slower than the recording's 50 fps
        got.append(f.info["frame_number"])
    assert got == list(range(T))


def test_depth_only_recording_in_tenth_millimetre_units(hand, tmp_path):
    """depth_units 0.0001 (a D405's): stored as 0.1 mm units, read back as the same mm."""
    _rs()
    path = record_synthetic(tmp_path / "d405.db3", hand.frames, hand.intrinsics, hand.fps, depth_units=0.0001)
    with RealSenseSource(path) as src:
        assert src.aligned == "off"
        frames = list(src)
    assert len(frames) == T
    for t, f in enumerate(frames):
        assert f.color is None
        np.testing.assert_array_equal(f.image, hand.frames[t])


def test_alignment_to_a_different_colour_camera(hand, tmp_path):
    """Colour at half resolution: rs.align resamples depth onto the colour grid and its intrinsics.

    With identity extrinsics colour pixel (u, v) sees depth pixel (2u + 0.5, 2v + 0.5); rs.align
    splats each depth pixel over the colour pixels its footprint covers, so every aligned value
    must be one of the depth values in the 4 x 4 depth window around that point.
    """
    _rs()
    k = hand.intrinsics
    kc = k.scaled(0.5)
    color = colormap(hand.frames)[:, ::2, ::2]
    path = record_synthetic(tmp_path / "half.db3", hand.frames, k, hand.fps, np.ascontiguousarray(color),
                            color_intrinsics=kc)
    with RealSenseSource(path) as src:
        assert src.aligned == "rs.align"
        frames = list(src)
    assert len(frames) == T
    for f in frames[::6]:
        t = f.info["frame_number"]
        assert f.image.shape == (kc.height, kc.width) and f.color.shape == (kc.height, kc.width, 3)
        assert_intrinsics_close(f.intrinsics, kc)
        np.testing.assert_array_equal(f.color, color[t])
        depth = np.pad(hand.frames[t].astype(np.int64), 1)           # window rows 2v-1 .. 2v+2 (padded)
        windows = np.lib.stride_tricks.sliding_window_view(depth, (4, 4))[::2, ::2][: kc.height, : kc.width]
        valid = f.image > 0
        found = np.any(windows == f.image[..., None, None].astype(np.int64), axis=(-2, -1))
        assert np.all(found[valid]), "aligned depth holds values that are not in the depth it came from"
        assert valid.mean() > 0.98


def test_close_from_another_thread_ends_iteration(recording):
    path, _ = recording
    src = RealSenseSource(path)
    it = iter(src)
    first = next(it)
    assert first.index == 0
    closer = threading.Thread(target=src.close)
    closer.start()
    closer.join(timeout=5)
    assert not closer.is_alive()
    assert list(it) == []
    src.close()                                       # twice is fine
    with pytest.raises(SourceError, match="already iterated"):
        iter(src)


# ------------------------------------------------------------------ live (a software device as the camera)
def _software_camera(rs, k: Intrinsics, fps: int):
    """An rs.software_device with a depth and a colour sensor on one pixel grid (identity extrinsics)."""
    dev = rs.software_device()
    dev.register_info(rs.camera_info.name, "test camera")
    dev.register_info(rs.camera_info.serial_number, "T0001")
    streams = []
    for uid, (name, stream, fmt, bpp) in enumerate([("Stereo Module", rs.stream.depth, rs.format.z16, 2),
                                                    ("RGB Camera", rs.stream.color, rs.format.rgb8, 3)]):
        sensor = dev.add_sensor(name)
        if stream == rs.stream.depth:
            sensor.add_read_only_option(rs.option.depth_units, 0.001)
        intr = rs.intrinsics()
        intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = k.width, k.height, k.fx, k.fy, k.cx, k.cy
        intr.model, intr.coeffs = rs.distortion.none, [0.0] * 5
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = (
            stream, 0, uid, k.width, k.height, fps, bpp, fmt)
        vs.intrinsics = intr
        streams.append((sensor, sensor.add_video_stream(vs, True).as_video_stream_profile(), bpp))
    ext = rs.extrinsics()
    ext.rotation, ext.translation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], [0.0, 0.0, 0.0]
    streams[0][1].register_extrinsics_to(streams[1][1], ext)
    return dev, streams


def test_live_camera_streams_then_disconnects(hand):
    """A live source copies every frame it gets and raises SourceDisconnected when frames stop."""
    rs = _rs()
    fps = 30
    dev, streams = _software_camera(rs, hand.intrinsics, fps)
    color = colormap(hand.frames)
    src = RealSenseSource(device=dev, width=320, height=240, fps=fps, timeout_s=0.5)
    assert src.live is True and src.fps == fps

    def camera():
        for t in range(T):
            for (sensor, profile, bpp), image in zip(streams, (hand.frames[t], color[t])):
                f = rs.software_video_frame()
                f.pixels, f.bpp, f.stride = image, bpp, bpp * image.shape[1]
                f.timestamp, f.domain, f.frame_number, f.profile = 1000.0 * t / fps, rs.timestamp_domain.hardware_clock, t, profile
                sensor.on_video_frame(f)
            time.sleep(1 / fps)

    producer = threading.Thread(target=camera)
    frames = []
    with pytest.raises(SourceDisconnected, match="no frame for 0.5 s"), src:
        producer.start()
        for f in src:
            frames.append(f)                          # noqa: PERF402 (the list must survive the raise)
    producer.join()
    assert len(frames) >= T // 2                      # live sources may drop; a free consumer drops few
    assert [f.index for f in frames] == list(range(len(frames)))
    numbers = [f.info["frame_number"] for f in frames]
    assert np.all(np.diff(numbers) > 0)
    for f in frames:
        np.testing.assert_array_equal(f.image, hand.frames[f.info["frame_number"]])
        assert f.color is not None and f.color.shape == (240, 320, 3)
    assert np.all(np.diff([f.timestamp for f in frames]) > 0)


# ------------------------------------------------------------------ errors
def test_missing_pyrealsense2_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)        # import pyrealsense2 -> ImportError
    with pytest.raises(SourceError, match="pip install pyrealsense2") as e:
        import_pyrealsense2()
    assert "libusb-1.0-0" in str(e.value)
    with pytest.raises(SourceError, match="pip install pyrealsense2"):
        RealSenseSource()


def test_no_camera_connected():
    rs = _rs()
    if len(rs.context().query_devices()) > 0:
        pytest.skip("a RealSense camera is connected")
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="no Intel RealSense camera is connected"):
        RealSenseSource()
    assert time.monotonic() - t0 < 5                  # answered at once, not after the SDK's 15 s search


def test_unknown_serial_number(monkeypatch):
    rs = _rs()

    class Camera:                                     # one connected camera, serial 012345678901
        def get_info(self, what):
            assert what == rs.camera_info.serial_number
            return "012345678901"

    class Context:
        def query_devices(self):
            return [Camera()]

    monkeypatch.setattr(rs, "context", Context)
    with pytest.raises(SourceError, match="no RealSense camera with serial number 'no-such-serial'.*"
                                          "connected: 012345678901"):
        RealSenseSource(serial="no-such-serial")


def test_missing_recording(tmp_path):
    _rs()
    with pytest.raises(SourceError, match="recording not found"):
        RealSenseSource(tmp_path / "absent.db3")


@pytest.mark.parametrize("name, content", [
    ("noise.db3", np.random.default_rng(0).bytes(4096)),          # not SQLite
    ("empty.db3", b""),                                           # SQLite without the rosbag2 tables
    ("noise.bag", np.random.default_rng(1).bytes(4096)),          # not a ROS 1 bag
    ("notes.txt", b"hello"),                                      # not a recording at all
])
def test_not_a_recording(tmp_path, name, content):
    _rs()
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match="not a RealSense recording|cannot read"):
        RealSenseSource(path)


def test_a_directory_is_not_a_recording(tmp_path):
    _rs()
    with pytest.raises(SourceError, match="not a readable file"):
        RealSenseSource(tmp_path)


def test_recording_takes_no_live_mode(recording):
    path, _ = recording
    with pytest.raises(ValueError, match="recorded with"):
        RealSenseSource(path, width=640)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "x.bag"}, "writes only .db3"),
    ({"name": "x.mp4"}, "must end in .db3"),
    ({"dtype": np.float32}, "uint16"),
    ({"fps": 2.5}, "whole-number"),
    ({"depth_units": 0.00001}, "does not fit 16 bits"),
    ({"timestamps": "reversed"}, "strictly increasing"),
    ({"color_shape": (4, 100, 100, 3)}, "color_frames must be"),
])
def test_record_synthetic_rejects_bad_input(tmp_path, hand, kwargs, match):
    _rs()
    frames = hand.frames[:4].astype(kwargs.get("dtype", np.uint16))
    ts = np.arange(4) / 50.0
    if kwargs.get("timestamps") == "reversed":
        ts = ts[::-1]
    color = np.zeros(kwargs["color_shape"], np.uint8) if "color_shape" in kwargs else None
    with pytest.raises(ValueError, match=match):
        record_synthetic(tmp_path / kwargs.get("name", "x.db3"), frames, hand.intrinsics, kwargs.get("fps", 50),
                         color, depth_units=kwargs.get("depth_units", 0.001), timestamps=ts)


def test_record_synthetic_records_again_when_the_recorder_drops_frames(hand, tmp_path, monkeypatch):
    """The SDK recorder drops frames when its write cache overflows: the file is counted and,
    if short, recorded again at real time (then half of it) before giving up."""
    _rs()
    from trt_tracker.stream import realsense_record

    speeds, counted = [], []
    record_once, count_frames = realsense_record._record_once, realsense_record._count_frames

    def spy_record(*args):
        speeds.append(args[-1])
        return record_once(*args)

    def lossy_count(rs, path, expected):
        counts = count_frames(rs, path, expected)
        counted.append(counts)
        return {**counts, "depth": counts["depth"] - 1} if len(counted) == 1 else counts   # first file "short"

    monkeypatch.setattr(realsense_record, "_record_once", spy_record)
    monkeypatch.setattr(realsense_record, "_count_frames", lossy_count)
    path = record_synthetic(tmp_path / "retry.db3", hand.frames[:5], hand.intrinsics, hand.fps, speed=50.0)
    assert speeds == [50.0, 1.0]
    assert counted == [{"depth": 5}, {"depth": 5}]
    assert [f.info["frame_number"] for f in RealSenseSource(path)] == list(range(5))

    monkeypatch.setattr(realsense_record, "_count_frames", lambda rs, path, expected: {"depth": expected - 1})
    with pytest.raises(RuntimeError, match="kept dropping frames"):
        record_synthetic(tmp_path / "lossy.db3", hand.frames[:5], hand.intrinsics, hand.fps, speed=50.0, attempts=3)
    assert speeds[2:] == [50.0, 1.0, 0.5]
