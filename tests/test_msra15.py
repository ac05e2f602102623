"""MSRA Hand 2015 reader/writer: the binary layout, axes, joint order and error messages."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from trt_tracker.data.msra15 import (MSRA15_GESTURES, MSRA15_INTRINSICS, MSRA15_TO_HAND21, MSRA15FormatError,
                                     MSRA15Frames, MSRA15Subject,
                                     camera_to_msra15, load_msra15_sequence, msra15_to_camera, read_depth_bin,
                                     read_joints, write_depth_bin, write_joints, write_msra15_sequence)
from trt_tracker.data.sequence import load_sequence, save_sequence
from trt_tracker.skeleton import HAND21

F = 241.42


def _joints(rng, n):
    """Camera-space HAND21 poses around 350 mm in front of the camera."""
    base = rng.normal(0, 40, size=(1, 21, 3)) + [10.0, -5.0, 350.0]
    return base + rng.normal(0, 3, size=(n, 21, 3))


def _frames_with_markers(J):
    """Depth frames: a 5x5 patch at each joint's pixel holding the joint's depth, zeros elsewhere."""
    T = len(J)
    frames = np.zeros((T, 240, 320), np.uint16)
    uv = np.rint(MSRA15_INTRINSICS.project(J)).astype(int)
    for t in range(T):
        for k in np.argsort(-J[t, :, 2]):          # far to near: the nearest marker ends on top
            u, v = uv[t, k]
            frames[t, v - 2:v + 3, u - 2:u + 3] = int(round(J[t, k, 2]))
    return frames


@pytest.fixture
def written(tmp_path):
    rng = np.random.default_rng(0)
    J = _joints(rng, 3)
    frames = _frames_with_markers(J)
    folder = write_msra15_sequence(tmp_path, 3, "TIP", frames, J)
    return tmp_path, folder, J, frames


def test_layout_and_header(written):
    root, folder, J, frames = written
    assert folder == root / "P3" / "TIP"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["000000_depth.bin", "000001_depth.bin", "000002_depth.bin", "joint.txt"]
    for i in range(3):
        data = (folder / f"{i:06d}_depth.bin").read_bytes()
        w, h, left, top, right, bottom = struct.unpack("<6i", data[:24])
        ys, xs = np.nonzero(frames[i])
        assert (w, h) == (320, 240)
        assert (left, top, right, bottom) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert len(data) == 24 + 4 * (right - left) * (bottom - top)
        crop = np.frombuffer(data, "<f4", offset=24).reshape(bottom - top, right - left)   # row-major
        np.testing.assert_array_equal(crop, frames[i][top:bottom, left:right])


def test_box_placement(tmp_path):
    yy, xx = np.mgrid[0:240, 0:320]
    depth = (300.0 + xx + 0.001 * yy).astype(np.float32)   # every pixel distinct
    box = (37, 21, 151, 99)
    assert write_depth_bin(tmp_path / "000000_depth.bin", depth, box) == box
    full, got_box = read_depth_bin(tmp_path / "000000_depth.bin")
    assert got_box == box and full.shape == (240, 320) and full.dtype == np.float32
    left, top, right, bottom = box
    np.testing.assert_array_equal(full[top:bottom, left:right], depth[top:bottom, left:right])
    outside = np.ones((240, 320), bool)
    outside[top:bottom, left:right] = False
    assert np.all(full[outside] == 0)
    as_u16, _ = read_depth_bin(tmp_path / "000000_depth.bin", np.uint16)
    assert as_u16.dtype == np.uint16 and as_u16[top, left] == round(300.0 + left + 0.001 * top)


def test_axis_conversion_and_order(written):
    _, folder, J, _ = written
    # the stored numbers, read naively: z negative and y up (V2V-PoseNet / DeepPrior++ convention)
    raw = np.loadtxt(folder / "joint.txt", skiprows=1).reshape(-1, 21, 3)
    assert np.all(raw[..., 2] < 0)
    np.testing.assert_allclose(raw, J * [1, -1, -1], atol=1e-5)
    assert int((folder / "joint.txt").read_text().split()[0]) == 3
    cam = read_joints(folder / "joint.txt")
    np.testing.assert_allclose(cam, J, atol=1e-5)
    np.testing.assert_array_equal(read_joints(folder / "joint.txt", camera=False), raw)
    # public loaders project the raw numbers as u = f x / (-z) + 160, v = 120 - f y / (-z)
    u_pub = F * raw[..., 0] / -raw[..., 2] + 160
    v_pub = 120 - F * raw[..., 1] / -raw[..., 2]
    uv = MSRA15_INTRINSICS.project(cam)
    np.testing.assert_allclose(uv[..., 0], u_pub, atol=1e-9)
    np.testing.assert_allclose(uv[..., 1], v_pub, atol=1e-9)
    # MSRA15's order is HAND21's: wrist, then index, middle, ring, little, thumb (mcp, pip, dip, tip)
    np.testing.assert_array_equal(MSRA15_TO_HAND21, np.arange(21))
    assert HAND21.names[0] == "wrist" and HAND21.names[1:5] == ("index_mcp", "index_pip", "index_dip", "index_tip")
    assert HAND21.names[17:] == ("thumb_mcp", "thumb_pip", "thumb_dip", "thumb_tip")
    np.testing.assert_allclose(camera_to_msra15(msra15_to_camera(raw)), raw)


def test_projected_joints_land_on_written_markers(written):
    root, _, J, _ = written
    seq = load_msra15_sequence(root, "P3", "TIP")
    uv = np.rint(seq.intrinsics.project(seq.joints_cam)).astype(int)
    for t in range(len(seq)):
        frame = seq.frames[t]
        for k in range(21):
            assert frame[uv[t, k, 1], uv[t, k, 0]] > 0
        # the nearest joint's marker is on top where markers overlap
        near = int(np.argmin(J[t, :, 2]))
        assert frame[uv[t, near, 1], uv[t, near, 0]] == round(J[t, near, 2])


def test_load_sequence(written):
    root, folder, J, frames = written
    seq = load_msra15_sequence(root, 3, "TIP")
    assert seq.skeleton is HAND21 and seq.modality == "depth" and len(seq) == 3
    assert seq.intrinsics.as_array().tolist() == [241.42, 241.42, 160.0, 120.0, 320, 240]
    assert isinstance(seq.frames, MSRA15Frames)                 # lazy
    assert seq.frames[1].dtype == np.uint16 and seq.frames[1].shape == (240, 320)
    np.testing.assert_array_equal(np.asarray(seq.frames), frames)
    np.testing.assert_array_equal(seq.frames[-1], frames[2])
    np.testing.assert_allclose(seq.joints_cam, J, atol=1e-5)
    sub = seq.subsample(2)
    assert len(sub) == 2
    np.testing.assert_array_equal(sub.frames[1], frames[2])
    assert seq.info["subject"] == "P3" and seq.info["gesture"] == "TIP"
    with pytest.raises(IndexError):
        seq.frames[3]


def test_subject_listing(written, tmp_path):
    root, _, J, frames = written
    write_msra15_sequence(root, "P3", "1", frames[:2], J[:2])
    write_msra15_sequence(root, "P3", "Y", frames[:1], J[:1])
    s = MSRA15Subject(root, 3)
    assert s.gestures == ["1", "TIP", "Y"]                      # MSRA15's order, not alphabetical
    assert s.num_frames() == {"1": 2, "TIP": 3, "Y": 1}
    assert [len(q) for q in s] == [2, 3, 1]
    assert len(s["Y"]) == 1 and "TIP" in MSRA15_GESTURES
    with pytest.raises(FileNotFoundError, match="P7"):
        MSRA15Subject(root, 7)


def test_round_trip_to_sequence_format(written, tmp_path):
    root, _, J, frames = written
    seq = load_msra15_sequence(root, "P3", "TIP")
    save_sequence(seq, tmp_path / "converted")
    back = load_sequence(tmp_path / "converted", lazy=False)
    np.testing.assert_array_equal(back.frames, frames)
    np.testing.assert_allclose(back.joints_cam, seq.joints_cam)


def test_synthetic_hand_through_msra15_layout(tmp_path):
    from trt_tracker.data.hand import make_hand_sequence

    seq = make_hand_sequence(4, n_frames=3)
    write_msra15_sequence(tmp_path, 0, "5", seq.frames, seq.joints_cam)
    back = load_msra15_sequence(tmp_path, 0, "5")
    np.testing.assert_array_equal(np.asarray(back.frames), seq.frames)
    np.testing.assert_allclose(back.joints_cam, seq.joints_cam, atol=1e-5)


# ------------------------------------------------------------------ errors
def test_truncated_depth_file(written):
    _, folder, _, _ = written
    path = folder / "000001_depth.bin"
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(MSRA15FormatError, match=r"000001_depth\.bin.*truncated.*expected"):
        read_depth_bin(path)
    path.write_bytes(data + b"\0\0\0\0")
    with pytest.raises(MSRA15FormatError, match=r"000001_depth\.bin.*trailing"):
        read_depth_bin(path)
    path.write_bytes(data[:10])
    with pytest.raises(MSRA15FormatError, match="header"):
        read_depth_bin(path)


def test_box_outside_image(tmp_path):
    path = tmp_path / "000000_depth.bin"
    path.write_bytes(struct.pack("<6i", 320, 240, 300, 10, 330, 20) + b"\0" * 4 * 300)
    with pytest.raises(MSRA15FormatError, match=r"000000_depth\.bin.*right=330.*320x240"):
        read_depth_bin(path)
    path.write_bytes(struct.pack("<6i", -5, 240, 0, 0, 0, 0))
    with pytest.raises(MSRA15FormatError, match="image size"):
        read_depth_bin(path)
    with pytest.raises(FileNotFoundError, match="nothere"):
        read_depth_bin(tmp_path / "nothere_depth.bin")
    with pytest.raises(ValueError, match="does not fit"):
        write_depth_bin(path, np.zeros((240, 320)), (0, 0, 400, 10))


def test_joint_file_errors(written, tmp_path):
    root, folder, J, _ = written
    (folder / "joint.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"P3.TIP.joint\.txt"):
        load_msra15_sequence(root, "P3", "TIP")
    bad = tmp_path / "joint.txt"
    write_joints(bad, J)
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(MSRA15FormatError, match=r"joint\.txt.*says 3 frames but 2"):
        read_joints(bad)
    lines[2] = " ".join(lines[2].split()[:62])
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(MSRA15FormatError, match=r"line 3 has 62 numbers"):
        read_joints(bad)
    bad.write_text("three\n")
    with pytest.raises(MSRA15FormatError, match="frame count"):
        read_joints(bad)
    with pytest.raises(FileNotFoundError, match="MSRA15 folder"):
        load_msra15_sequence(root, "P3", "RP")
    with pytest.raises(ValueError, match="joints must be"):
        write_joints(bad, np.zeros((2, 20, 3)))


def test_missing_depth_file(written):
    root, folder, _, _ = written
    (folder / "000002_depth.bin").unlink()
    with pytest.raises(MSRA15FormatError, match=r"000002_depth\.bin.*missing"):
        load_msra15_sequence(root, "P3", "TIP")
    seq = load_msra15_sequence(root, "P3", "TIP", check_files=False)
    with pytest.raises(FileNotFoundError, match="000002_depth"):
        seq.frames[2]


def test_writer_refuses_to_overwrite(written):
    root, _, J, frames = written
    with pytest.raises(FileExistsError, match="overwrite"):
        write_msra15_sequence(root, "P3", "TIP", frames, J)
    write_msra15_sequence(root, "P3", "TIP", frames[:1], J[:1], overwrite=True)
    assert len(load_msra15_sequence(root, "P3", "TIP")) == 1
    with pytest.raises(ValueError, match="2 frames but 1 poses"):
        write_msra15_sequence(root, "P4", "TIP", frames[:2], J[:1])
    with pytest.raises(ValueError, match="subject"):
        write_msra15_sequence(root, None, "TIP", frames[:1], J[:1])
