"""Synthetic hand depth data: subjects, motion, renderer, sensor model, sequences."""
from __future__ import annotations

import numpy as np
import pytest

from trt_tracker.camera import Intrinsics
from trt_tracker.data.hand import (GESTURES, LIMITS_DEG, CapsuleRaster, DepthSensorModel, HandDepthRenderer,
                                   HandScene, default_hand_subject, hand_fk, hand_intrinsics, hand_motion,
                                   joint_angles, make_hand_sequence, sample_hand_subject)
from trt_tracker.data.hand_motion import CONTACT_GESTURES, DIP_PIP_RATIO, DIP_PIP_SLACK_DEG, FINGER_JOINTS
from trt_tracker.data.msra15 import MSRA15_INTRINSICS
from trt_tracker.data.sequence import load_sequence, save_sequence
from trt_tracker.skeleton import HAND21


@pytest.fixture(scope="module")
def seq():
    return make_hand_sequence(11, n_frames=40)


def _motion(seed, n=150):
    rng = np.random.default_rng(seed)
    subject = sample_hand_subject(rng)
    J, details = hand_motion(subject, n, 50.0, rng, return_details=True)
    return subject, J, details


# ------------------------------------------------------------- sequences
def test_sequence_shapes_and_info(seq):
    assert seq.modality == "depth" and seq.skeleton is HAND21
    assert seq.intrinsics == MSRA15_INTRINSICS
    assert seq.frames.shape == (40, 240, 320) and seq.frames.dtype == np.uint16
    assert seq.joints_cam.shape == (40, 21, 3) and seq.joints_cam.dtype == np.float64
    assert seq.fps == 50.0 and len(seq) == 40
    info = seq.info
    assert info["seed"] == 11 and info["generator"] == "trt_tracker.data.hand" and info["generator_version"]
    assert info["gestures"] and all(g["gesture"] in GESTURES for g in info["gestures"])
    assert info["gestures"][0]["start_frame"] == 0


def test_determinism_from_seed():
    a = make_hand_sequence(5, n_frames=12)
    b = make_hand_sequence(5, n_frames=12)
    c = make_hand_sequence(6, n_frames=12)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.joints_cam, b.joints_cam)
    assert a.info == b.info
    assert not np.array_equal(a.joints_cam, c.joints_cam)
    assert not np.array_equal(a.frames, c.frames)


def test_other_image_size():
    s = make_hand_sequence(2, n_frames=5, size=(160, 120), fps=25.0)
    assert s.frames.shape == (5, 120, 160) and s.fps == 25.0
    assert s.intrinsics.width == 160 and s.intrinsics.fx == pytest.approx(241.42 / 2)
    uv = s.joints_uv
    assert np.all((uv >= 0) & (uv <= [159, 119]))


def test_round_trip_through_sequence_format(seq, tmp_path):
    short = seq.subsample(4)
    save_sequence(short, tmp_path / "hand")
    back = load_sequence(tmp_path / "hand", lazy=False)
    assert back.frames.dtype == np.uint16
    np.testing.assert_array_equal(back.frames, short.frames)      # lossless 16-bit PNG
    np.testing.assert_array_equal(back.joints_cam, short.joints_cam)
    assert back.skeleton is HAND21 and back.modality == "depth"
    assert back.info["seed"] == 11 and back.info["gestures"] == seq.info["gestures"]


def test_joints_in_front_and_inside_image():
    for seed in range(6):
        rng = np.random.default_rng(seed)
        subject = sample_hand_subject(rng)
        J = hand_motion(subject, 200, 50.0, rng)
        assert np.all(J[..., 2] > 100)
        wrist_z = J[:, 0, 2]
        assert wrist_z.min() >= 240 and wrist_z.max() <= 650
        uv = MSRA15_INTRINSICS.project(J)
        assert np.all(uv >= 11.9) and np.all(uv[..., 0] <= 319 - 11.9) and np.all(uv[..., 1] <= 239 - 11.9)


def test_hand_mostly_visible_in_frames(seq):
    r = HandDepthRenderer(seq.intrinsics, default_hand_subject(), 0, noise=False)
    _, mask = r.render(seq.joints_cam[0], return_mask=True)
    assert mask.sum() > 500          # a hand at 250-550 mm covers thousands of pixels
    ys, xs = np.nonzero(mask)
    assert xs.min() > 0 and xs.max() < 319 and ys.min() > 0 and ys.max() < 239


# ------------------------------------------------------------------ motion
def test_bone_lengths_exactly_constant():
    for seed in range(3):
        subject, J, _ = _motion(seed)
        L = np.linalg.norm(HAND21.bones(J)[:, HAND21.non_root], axis=-1)
        np.testing.assert_allclose(L, np.broadcast_to(subject.bone_lengths_mm[HAND21.non_root], L.shape),
                                   rtol=0, atol=1e-9)


def test_subjects_vary_around_nominal():
    rng = np.random.default_rng(0)
    subjects = [sample_hand_subject(rng) for _ in range(30)]
    scales = np.array([s.scale for s in subjects])
    assert 0.85 <= scales.min() and scales.max() <= 1.15 and scales.std() > 0.05
    nominal = np.asarray(HAND21.bone_lengths_mm)[1:]
    for s in subjects:
        ratio = s.bone_lengths_mm[1:] / nominal / s.scale
        assert np.all(np.abs(ratio - 1) <= 0.081)
        assert np.all((s.radii_mm >= 5.5) & (s.radii_mm <= 12.5))
        assert np.all(np.diff(s.radii_mm, axis=1) < 0)          # thinner distally
        assert 18 <= s.palm_thickness_mm <= 38


def test_flexion_limits_and_coupling():
    for seed in range(4):
        subject, J, d = _motion(seed)
        p = d.params_deg
        assert np.all(p >= LIMITS_DEG[..., 0] - 1e-9) and np.all(p <= LIMITS_DEG[..., 1] + 1e-9)
        dip, pip = p[:, :4, 3], p[:, :4, 2]
        assert np.all(np.abs(dip - DIP_PIP_RATIO * pip) <= DIP_PIP_SLACK_DEG + 1e-9)
        # measured back from the joints, independently of the parameters
        ang = joint_angles(J, d.rotation, subject)
        np.testing.assert_allclose(ang[:, :4, 0], p[:, :4, 0], atol=1e-4)      # MCP flexion
        np.testing.assert_allclose(ang[:, :4, 1:], p[:, :4, 2:], atol=1e-6)    # PIP, DIP
        np.testing.assert_allclose(ang[:, 4, 1:], np.abs(p[:, 4, 2:]), atol=1e-6)  # thumb MCP, IP
        assert np.all(ang[:, :4, 1] >= -1e-6) and np.all(ang[:, :4, 1] <= 110 + 1e-6)
        assert np.all(ang[:, :4, 2] >= -1e-6) and np.all(ang[:, :4, 2] <= 80 + 1e-6)


def test_motion_covers_gestures_and_moves_realistically():
    seen = set()
    for seed in range(8):
        _, J, d = _motion(seed, n=250)
        seen.update(g["gesture"] for g in d.schedule)
        v = np.linalg.norm(np.diff(J, axis=0), axis=-1) * 50.0      # mm/s at 50 fps
        assert np.median(v) < 600 and v[:, 0].max() < 1500 and v.max() < 3000
    assert len(GESTURES) >= 8 and len(seen) >= 8


def test_wrist_rotation_range():
    spans = []
    for seed in range(5):
        _, _, d = _motion(seed, n=400)
        R = d.rotation
        rel = np.einsum("ji,tjk->tik", R[0], R)   # rotation relative to the first frame
        ang = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))
        spans.append(ang.max())
    assert 30 < max(spans) < 200


def test_contact_gestures_touch():
    from trt_tracker.data.hand_motion import _gesture_instance

    for seed in range(3):
        rng = np.random.default_rng(seed)
        subject = sample_hand_subject(rng)
        for name, finger in CONTACT_GESTURES.items():
            J = hand_fk(_gesture_instance(name, subject, rng), subject)
            gap = np.linalg.norm(J[FINGER_JOINTS[4, 3]] - J[FINGER_JOINTS[finger, 3]])
            assert gap < 25.0, (name, gap)


def test_bad_arguments():
    s = default_hand_subject()
    with pytest.raises(ValueError, match="rng"):
        hand_motion(s, 10, 50.0, None)
    with pytest.raises(ValueError, match="n_frames"):
        hand_motion(s, 0, 50.0, 0)
    with pytest.raises(ValueError, match="fps"):
        hand_motion(s, 10, -1.0, 0)
    with pytest.raises(ValueError, match="unknown gestures"):
        hand_motion(s, 10, 50.0, 0, gestures=["wave"])
    with pytest.raises(ValueError, match="HandSubject"):
        hand_motion("hand", 10, 50.0, 0)
    with pytest.raises(ValueError, match="seed"):
        make_hand_sequence("1")
    with pytest.raises(ValueError, match="n_frames"):
        make_hand_sequence(1, n_frames=0)
    with pytest.raises(ValueError, match="size"):
        make_hand_sequence(1, n_frames=2, size=(8, 8))
    r = HandDepthRenderer(None, s, 0)
    with pytest.raises(ValueError, match=r"\(21, 3\)"):
        r.render(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="NaN"):
        r.render(np.full((21, 3), np.nan))
    with pytest.raises(ValueError, match="probability"):
        DepthSensorModel(speckle=2.0)
    with pytest.raises(ValueError, match="max_range"):
        DepthSensorModel(min_range_mm=500, max_range_mm=400)
    with pytest.raises(ValueError, match="size"):
        hand_intrinsics((10, 10))


# ------------------------------------------------------------------- raster
def test_single_capsule_centre_line_depth():
    intr = MSRA15_INTRINSICS
    raster = CapsuleRaster(intr)
    z = np.full((240, 320), np.inf)
    z0, r = 400.0, 10.0
    raster.draw(z, [[-40.0, 0.0, z0]], [[40.0, 0.0, z0]], [r])
    assert z[120, 160] == pytest.approx(z0 - r, abs=1e-9)
    # along the projected axis (the ray meets the axis), depth = axis depth - radius
    u_end = int(40.0 / z0 * intr.fx + intr.cx)
    row = z[120, 320 - u_end + 2: u_end - 1]
    np.testing.assert_allclose(row, z0 - r, atol=1e-9)
    # off the axis the surface recedes; beyond the radius nothing is hit
    v_off = 120 + int(0.7 * r / z0 * intr.fy)
    assert z0 - r < z[v_off, 160] < z0
    assert np.isinf(z[120 + int(1.2 * r / z0 * intr.fy) + 1, 160])
    # rounded end: the sphere of radius r around the end point
    uc = int(round(40.0 / z0 * intr.fx + intr.cx))
    assert z[120, uc] == pytest.approx(z0 - r, abs=0.05)
    # and the noise-free renderer path rounds it to whole mm
    sensor = DepthSensorModel()
    assert sensor.quantize(z)[120, 160] == int(z0 - r)


def test_zbuffer_nearer_capsule_wins_in_any_order():
    raster = CapsuleRaster(MSRA15_INTRINSICS)
    A = np.array([[-50.0, 0.0, 500.0], [0.0, -50.0, 350.0]])
    B = np.array([[50.0, 0.0, 500.0], [0.0, 50.0, 350.0]])
    r = np.array([12.0, 8.0])
    outs = []
    for order in ([0, 1], [1, 0]):
        z = np.full((240, 320), np.inf)
        lab = np.full((240, 320), -1)
        raster.draw(z, A[order], B[order], r[order], lab, np.array(order))
        outs.append((z, lab))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    z, lab = outs[0]
    assert z[120, 160] == pytest.approx(350.0 - 8.0) and lab[120, 160] == 1       # the crossing: near one
    u_far = 160 + int(30.0 / 500.0 * 241.42)
    assert z[120, u_far] == pytest.approx(500.0 - 12.0) and lab[120, u_far] == 0  # only the far one there
    assert np.isinf(z[10, 10]) and lab[10, 10] == -1


def test_capsule_exact_against_brute_force():
    """Ray marching on a few random capsules agrees with the closed-form hit."""
    intr = Intrinsics(200.0, 200.0, 31.5, 23.5, 64, 48)
    raster = CapsuleRaster(intr)
    rng = np.random.default_rng(0)
    for _ in range(4):
        A = rng.uniform([-60, -40, 250], [60, 40, 450])
        B = A + rng.normal(0, 40, 3)
        r = rng.uniform(5, 20)
        z = raster.draw(np.full((48, 64), np.inf), A[None], B[None], [r])
        ts = np.linspace(150, 600, 9001)  # distance along each unit ray, 0.05 mm steps
        d = np.stack([raster.dx, raster.dy, raster.dz], -1)[::4, ::4]
        P = d[..., None, :] * ts[:, None]
        ba = B - A
        s = np.clip(((P - A) @ ba) / (ba @ ba), 0, 1)
        dist = np.linalg.norm(P - (A + s[..., None] * ba), axis=-1)
        inside = dist <= r
        first = np.where(inside.any(-1), ts[np.argmax(inside, -1)], np.inf) * d[..., 2]
        sub = z[::4, ::4]
        hit = np.isfinite(first) & np.isfinite(sub)
        assert hit.sum() >= 3
        assert np.sum(np.isfinite(first) != np.isfinite(sub)) <= 1      # a grazing ray may differ
        np.testing.assert_allclose(sub[hit], first[hit], atol=0.1)


def test_rendered_surface_lies_in_front_of_joints(seq):
    """The ray through a (non-tip) joint's pixel enters that joint's capsule first."""
    r = HandDepthRenderer(seq.intrinsics, default_hand_subject(), 0, noise=False)
    non_tip = [k for k in range(21) if k not in FINGER_JOINTS[:, 3]]
    for i in range(0, 40, 8):
        J = seq.joints_cam[i]
        z = r.render_clean(J)
        uv = np.rint(seq.intrinsics.project(J)).astype(int)
        for k in non_tip:
            assert z[uv[k, 1], uv[k, 0]] <= J[k, 2] + 1e-6


# ------------------------------------------------------------------ sensor
def test_noise_grows_with_depth():
    intr = MSRA15_INTRINSICS
    sensor = DepthSensorModel(edge_dropout=0, speckle=0, blob_rate=0, shadow=False)
    rng = np.random.default_rng(0)
    stds = {}
    for depth in (300.0, 600.0, 1000.0):
        clean = np.full((240, 320), depth)
        out = sensor.apply(clean, intr, rng).astype(np.float64)
        assert np.all(out > 0)
        stds[depth] = (out - depth).std()
        assert abs((out - depth).mean()) < 0.5 + 0.1 * stds[depth]
    assert 0.5 < stds[300.0] < 2.0
    assert 2.5 < stds[1000.0] < 8.0
    assert stds[300.0] < stds[600.0] < stds[1000.0]
    # the model's sigma is ~1 mm at 300 mm and a few mm at 1 m
    assert sensor.sigma(300.0) == pytest.approx(1.0, abs=0.1)
    assert 3.0 < sensor.sigma(1000.0) < 5.0


def test_range_limits_and_quantisation():
    sensor = DepthSensorModel(min_range_mm=150, max_range_mm=1200)
    z = np.array([[100.0, 300.4, 1199.6, 1300.0, np.inf]])
    np.testing.assert_array_equal(sensor.quantize(z), [[0, 300, 1200, 0, 0]])


def test_holes_present_and_at_edges(seq):
    frames = seq.frames
    zero_frac = (frames == 0).mean()
    assert 0.001 < zero_frac < 0.5
    r = HandDepthRenderer(seq.intrinsics, default_hand_subject(), 0, noise=False,
                          scene=HandScene(wall=((0, 0, 1), 900.0)))
    z = r.render_clean(seq.joints_cam[0])
    sensor = DepthSensorModel(speckle=0, blob_rate=0, shadow=False, edge_dropout=0.6)
    out = sensor.apply(z, seq.intrinsics, np.random.default_rng(0))
    import cv2

    zf = z.astype(np.float32)
    grad = cv2.morphologyEx(zf, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    edge = grad > 50
    assert edge.sum() > 50
    assert (out[edge] == 0).mean() > 0.3
    assert (out[~edge] == 0).mean() < 0.01


def test_noisy_render_close_to_clean():
    subject, J, _ = _motion(3, n=5)
    r = HandDepthRenderer(MSRA15_INTRINSICS, subject, 0, scene=HandScene(wall=((0, 0, 1), 1000.0)))
    clean = r.render(J[2], noise=False).astype(float)
    noisy = r.render(J[2]).astype(float)
    both = (clean > 0) & (noisy > 0)
    _, mask = r.render(J[2], noise=False, return_mask=True)
    inner = both & mask
    assert inner.sum() > 300
    assert np.median(np.abs(noisy[inner] - clean[inner])) < 3.0


def test_hand_enters_from_a_side():
    """``enter=(side, frames)``: the hand and arm slide in; the ground truth moves with them, frames with no
    joint in view are hidden, and from ``frames`` on the motion is the generated one."""
    from trt_tracker.data.hand import make_hand_sequence
    from trt_tracker.data.sequence import entering

    plain = make_hand_sequence(7, 24, noise=False)
    for side in ("left", "bottom"):
        seq = make_hand_sequence(7, 24, noise=False, enter=(side, 12))
        np.testing.assert_array_equal(seq.joints_cam[12:], plain.joints_cam[12:])
        np.testing.assert_array_equal(seq.frames[12:], plain.frames[12:])
        uv = seq.joints_2p5d[..., :2]
        inside = ((uv >= 0) & (uv < [seq.intrinsics.width, seq.intrinsics.height])).all(-1).any(-1)
        hidden = seq.info["hidden"]
        assert hidden == list(range(len(hidden))) and len(hidden) >= 1 and not inside[hidden].any()
        assert inside[len(hidden):].all() and seq.info["enter"] == [side, 12]
        axis = 0 if side == "left" else 1
        d = np.diff(uv[:12, 0, axis])                      # the wrist only moves one way while entering...
        assert (d > 0).all() if side == "left" else (d < 0).all()
        assert np.any(seq.frames[0] != plain.frames[0])  # ... and frame 0 shows the scene without the hand
    with pytest.raises(ValueError, match="side must be one of"):
        entering(plain.joints_cam, plain.intrinsics, "behind", 5)
