"""Synthetic BODY17 data: subjects, motion (FK, limits, root motion), cameras, renderer, sequences."""
from __future__ import annotations

import numpy as np
import pytest

from trt_tracker.camera import Intrinsics
from trt_tracker.data.body import (ACTIONS, BODY_GENERATOR_VERSION, DOFS, JOINT_LIMITS_DEG, BodyRenderer,
                                   body_motion, frame_motion, make_body_sequence, sample_body_camera,
                                   sample_body_subject, simulate_body)
from trt_tracker.data.body_kinematics import clamp_angles, dof
from trt_tracker.data.body_render import _project_ellipsoids
from trt_tracker.data.sequence import load_sequence, save_sequence
from trt_tracker.skeleton import BODY17

FPS = 50.0


@pytest.fixture(scope="module")
def subject():
    return sample_body_subject(np.random.default_rng(7))


@pytest.fixture(scope="module")
def motions(subject):
    """One 6 s motion per action, same subject and seed."""
    return {a: simulate_body(a, subject, 300, FPS, np.random.default_rng(11)) for a in ACTIONS}


@pytest.fixture(scope="module")
def short_seq():
    return make_body_sequence(5, n_frames=24)


# ----------------------------------------------------------------- subject
def test_subjects_vary_and_are_symmetric():
    subjects = [sample_body_subject(np.random.default_rng(s)) for s in range(20)]
    L = np.stack([s.bone_lengths_mm for s in subjects])
    nominal = np.asarray(BODY17.bone_lengths_mm)
    ratio = L[:, 1:] / nominal[1:]
    assert ratio.min() > 0.85 * 0.92 - 1e-9 and ratio.max() < 1.15 * 1.08 + 1e-9
    assert np.ptp(L[:, 2]) > 20.0                             # thigh lengths differ between subjects
    for a, b in BODY17.flip_pairs:
        np.testing.assert_allclose(L[:, a], L[:, b])
    assert len({s.colors["shirt"] for s in subjects}) > 10


def test_subject_is_deterministic():
    a, b = (sample_body_subject(np.random.default_rng(3)) for _ in range(2))
    assert a.to_dict() == b.to_dict()
    assert sample_body_subject(np.random.default_rng(4)).to_dict() != a.to_dict()


# ------------------------------------------------------------------ motion
@pytest.mark.parametrize("action", ACTIONS)
def test_bone_lengths_constant_and_equal_to_subject(motions, subject, action):
    J = motions[action].joints
    assert J.shape == (300, 17, 3) and J.dtype == np.float64
    lengths = np.linalg.norm(BODY17.bones(J)[:, BODY17.non_root], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(subject.bone_lengths_mm[BODY17.non_root], lengths.shape),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("action", ACTIONS)
def test_joint_limits_respected(motions, action):
    m = motions[action]
    deg = np.degrees(m.angles)
    for i, name in enumerate(DOFS):
        lo, hi = JOINT_LIMITS_DEG[name]
        assert deg[:, i].min() >= lo - 1e-9 and deg[:, i].max() <= hi + 1e-9, name
    J, G = m.joints, m.rotations
    # Geometric hinge check: interior knee/elbow angle in [30, 180] degrees, and the
    # bend is one-way about the upper segment's own x axis (knees back, elbows forward).
    for top, mid, end, sign in ((1, 2, 3, -1), (4, 5, 6, -1), (11, 12, 13, +1), (14, 15, 16, +1)):
        u, v = J[:, mid] - J[:, top], J[:, end] - J[:, mid]
        cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        flexion = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        assert flexion.max() <= 150.0 + 1e-6
        hinge_axis = G[:, mid, :, 0]                         # the upper segment's local x axis
        side = sign * (np.cross(u, v) * hinge_axis).sum(-1)
        assert side.min() >= -1e-6 * np.linalg.norm(u, axis=-1).max() ** 2


def test_clamp_angles_clips_and_limits_swing():
    a = np.full((1, len(DOFS)), np.radians(400.0))
    c = clamp_angles(a)
    for i, name in enumerate(DOFS):
        assert np.degrees(c[0, i]) <= JOINT_LIMITS_DEG[name][1] + 1e-9
    swing = np.hypot(c[0, dof("r_sh_flex")], c[0, dof("r_sh_abd")])
    assert np.degrees(swing) <= 180.0 + 1e-9


@pytest.mark.parametrize("action", ACTIONS)
def test_action_moves_with_plausible_speed(motions, action):
    J = motions[action].joints
    speed = np.linalg.norm(np.diff(J, axis=0), axis=-1) * FPS / 1000.0  # m/s
    rel = J - J[:, :1]
    rel_speed = np.linalg.norm(np.diff(rel, axis=0), axis=-1) * FPS / 1000.0
    assert rel_speed.mean(0).max() > 0.15, "some joint must move relative to the root"
    assert speed.max() < 8.0, "no joint faster than a kick"
    # smooth: per-frame accelerations stay physical (< 25 g anywhere)
    acc = np.linalg.norm(np.diff(J, 2, axis=0), axis=-1) * FPS**2 / 1000.0
    assert acc.max() < 250.0


def test_actions_differ(motions):
    names = list(ACTIONS)
    rel = {a: motions[a].joints - motions[a].joints[:, :1] for a in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = np.linalg.norm(rel[a] - rel[b], axis=-1).mean()
            assert d > 30.0, f"{a} and {b} look alike ({d:.1f} mm)"


def test_fast_actions_have_large_displacements_at_low_fps(motions):
    wrist = [BODY17.index("l_wrist"), BODY17.index("r_wrist")]
    for action in ("wave", "box", "reach"):
        J = motions[action].joints[::20, wrist]                 # 2.5 fps
        step = np.linalg.norm(np.diff(J, axis=0), axis=-1)
        assert step.max() > 150.0, action
        v = np.linalg.norm(np.diff(motions[action].joints[:, wrist], axis=0), axis=-1) * FPS / 1000.0
        assert 1.5 < v.max() < 6.0, action


def test_root_motion(motions, subject):
    walk = motions["walk"].joints[:, 0]
    assert np.linalg.norm(walk[-1, :2] - walk[0, :2]) > 500.0 or np.ptp(walk[:, 0]) > 500.0
    turn = motions["turn"]
    assert np.ptp(turn.yaw) > np.radians(60)
    jump = motions["jump"]
    assert (jump.contact == 0).any()
    stand_height = np.median(motions["wave"].joints[:, 0, 2])
    assert jump.joints[:, 0, 2].max() > stand_height + 50.0
    # feet never go through the floor (ankles keep their height above the soles)
    for m in motions.values():
        assert m.joints[:, [3, 6], 2].min() > subject.ankle_height_mm - 20.0


def test_transition_between_actions(subject):
    m = simulate_body(["walk", "squat"], subject, 250, FPS, np.random.default_rng(0))
    assert m.actions == ("walk", "squat") and m.segments[0] == 0 and 0 < m.segments[1] < 250
    J = m.joints
    v = np.linalg.norm(np.diff(J, axis=0), axis=-1) * FPS / 1000.0
    assert v.max() < 8.0
    lengths = np.linalg.norm(BODY17.bones(J)[:, BODY17.non_root], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(subject.bone_lengths_mm[BODY17.non_root], lengths.shape),
                               atol=1e-6)


def test_body_motion_is_deterministic(subject):
    a = body_motion("reach", subject, 50, rng=np.random.default_rng(1))
    b = body_motion("reach", subject, 50, rng=np.random.default_rng(1))
    c = body_motion("reach", subject, 50, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_arguments(subject):
    with pytest.raises(ValueError, match="walk"):
        body_motion("moonwalk", subject, 10)
    with pytest.raises(ValueError, match="n_frames"):
        body_motion("walk", subject, 0)
    with pytest.raises(ValueError, match="h36m"):
        sample_body_camera(np.random.default_rng(0), kind="fisheye")
    with pytest.raises(ValueError, match="seed"):
        make_body_sequence(-1, n_frames=2)
    with pytest.raises(ValueError, match="squat"):
        make_body_sequence(0, n_frames=2, action="fly")


# ----------------------------------------------------------------- cameras
@pytest.mark.parametrize("kind", ["h36m", "webcam"])
def test_camera_sees_every_joint(motions, kind):
    for i, (action, m) in enumerate(motions.items()):
        cam = frame_motion(sample_body_camera(np.random.default_rng(i), kind), m.joints)
        X = cam.world_to_camera(m.joints)
        assert X[..., 2].min() > 1000.0
        uv = cam.intrinsics.project(X)
        W, H = cam.intrinsics.width, cam.intrinsics.height
        assert uv[..., 0].min() >= 0 and uv[..., 0].max() <= W - 1, action
        assert uv[..., 1].min() >= 0 and uv[..., 1].max() <= H - 1, action
        np.testing.assert_allclose(cam.camera_to_world(X), m.joints, atol=1e-6)
        # image y points down: the head is above the pelvis in standing actions
        if action in ("wave", "box", "walk"):
            assert np.median(uv[:, BODY17.index("head"), 1] - uv[:, 0, 1]) < 0


def test_camera_intrinsics():
    h = sample_body_camera(np.random.default_rng(0), "h36m")
    assert (h.intrinsics.width, h.intrinsics.height) == (256, 256)
    assert h.intrinsics.fx == pytest.approx(1145.0 * 256 / 1000, rel=0.01)
    assert 1000.0 <= h.height_mm <= 1300.0 and 3000.0 <= h.distance_mm <= 6000.0
    w = sample_body_camera(np.random.default_rng(0), "webcam")
    assert (w.intrinsics.width, w.intrinsics.height) == (640, 480)
    hfov = 2 * np.degrees(np.arctan(320 / w.intrinsics.fx))
    assert 55.0 <= hfov <= 65.0
    assert sample_body_camera(np.random.default_rng(0), "webcam", size=(320, 240)).intrinsics.width == 320


def test_subject_fills_a_good_fraction_of_the_default_image(short_seq):
    uv = short_seq.joints_uv
    height = (uv[..., 1].max(-1) - uv[..., 1].min(-1)).max()
    assert height > 0.3 * 256


def test_ellipsoid_projection_of_a_sphere():
    intr = Intrinsics(300.0, 300.0, 128.0, 128.0, 256, 256)
    Z, r = 4000.0, 150.0
    c, ax, _ = _project_ellipsoids(np.array([[0.0, 0.0, Z]]), np.eye(3)[None], np.array([[r, r, r]]), intr)
    np.testing.assert_allclose(c[0], [128.0, 128.0])
    np.testing.assert_allclose(ax[0], 300.0 * r / np.sqrt(Z**2 - r**2))
    # an off-axis sphere's outline touches the projections of its tangent rays
    X = np.array([[800.0, -300.0, 3000.0]])
    c, ax, ang = _project_ellipsoids(X, np.eye(3)[None], np.array([[r, r, r]]), intr)
    centre_ray = X[0] / np.linalg.norm(X[0])
    half_angle = np.arcsin(r / np.linalg.norm(X[0]))
    # rotate the centre ray by the half angle in the plane containing the optical axis
    axis = np.cross(centre_ray, [0.0, 0.0, 1.0])
    axis /= np.linalg.norm(axis)
    for s in (-1, 1):
        a = s * half_angle
        d = (centre_ray * np.cos(a) + np.cross(axis, centre_ray) * np.sin(a))
        p = intr.project(d * 1000.0)
        # p lies on the ellipse: ((p-c) R)^T diag(1/ax^2) ((p-c) R) = 1
        t = np.radians(ang[0])
        R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        q = (p - c[0]) @ R
        assert (q**2 / ax[0] ** 2).sum() == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------- renderer
def test_renderer_draws_a_person(subject, motions):
    m = motions["wave"]
    cam = frame_motion(sample_body_camera(np.random.default_rng(0), "h36m"), m.joints)
    X = cam.world_to_camera(m.joints)
    r = BodyRenderer(cam.intrinsics, subject, np.random.default_rng(0), camera=cam, occluders=0,
                     noise=False, blur=False, motion_blur=False)
    img = r.render(X[10])
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    assert img.std() > 5.0
    diff = np.abs(img.astype(int) - r.background.astype(int)).sum(-1)
    uv = np.round(cam.intrinsics.project(X[10])).astype(int)
    at_joints = diff[uv[:, 1], uv[:, 0]]
    assert (at_joints > 20).mean() > 0.8, "most joints are covered by the person"
    assert (diff > 0).mean() < 0.3, "the rest is background"
    assert (diff[:, :20] == 0).all() or uv[:, 0].min() < 30, "far from the person nothing changes"
    # different colours, different person pixels
    other = sample_body_subject(np.random.default_rng(99))
    r2 = BodyRenderer(cam.intrinsics, other, np.random.default_rng(0), camera=cam, occluders=0,
                      noise=False, blur=False, motion_blur=False)
    assert not np.array_equal(r2.render(X[10]), img)


def test_render_is_a_pure_function_of_the_frame(subject, motions):
    m = motions["box"]
    cam = frame_motion(sample_body_camera(np.random.default_rng(1), "h36m"), m.joints)
    X = cam.world_to_camera(m.joints[:12])
    r = BodyRenderer(cam.intrinsics, subject, np.random.default_rng(5), camera=cam, occluders=2)
    frames = r.render_sequence(X)
    for i in (11, 3, 7):
        np.testing.assert_array_equal(r.render(X[i], i, X[i - 1]), frames[i])
    with pytest.raises(ValueError, match="in front"):
        r.render(X[0] * np.array([1.0, 1.0, -1.0]))


def test_motion_blur_smears_fast_limbs(subject, motions):
    m = motions["box"]
    cam = frame_motion(sample_body_camera(np.random.default_rng(1), "h36m"), m.joints)
    X = cam.world_to_camera(m.joints)
    wrist_speed = np.linalg.norm(np.diff(X[:, 16], axis=0), axis=-1)
    i = int(wrist_speed.argmax()) + 1
    r = BodyRenderer(cam.intrinsics, subject, np.random.default_rng(5), camera=cam, occluders=0, noise=False)
    assert not np.array_equal(r.render(X[i], i, X[i - 1]), r.render(X[i], i))


# --------------------------------------------------------------- sequences
def test_sequence_shapes_and_info(short_seq):
    seq = short_seq
    assert seq.modality == "rgb" and seq.skeleton is BODY17 and seq.fps == 50.0
    assert seq.frames.shape == (24, 256, 256, 3) and seq.frames.dtype == np.uint8
    assert seq.joints_cam.shape == (24, 17, 3) and seq.joints_cam.dtype == np.float64
    assert seq.info["seed"] == 5 and seq.info["generator_version"] == BODY_GENERATOR_VERSION
    assert seq.info["camera"] == "h36m" and all(a in ACTIONS for a in seq.info["actions"])
    uv = seq.joints_uv
    assert (uv >= 0).all() and (uv <= 255).all() and (seq.joints_cam[..., 2] > 0).all()
    assert seq.frames.reshape(24, -1).std(1).min() > 5.0
    assert not np.array_equal(seq.frames[0], seq.frames[-1])


def test_sequence_determinism(short_seq):
    again = make_body_sequence(5, n_frames=24)
    np.testing.assert_array_equal(again.frames, short_seq.frames)
    np.testing.assert_array_equal(again.joints_cam, short_seq.joints_cam)
    assert again.info == short_seq.info
    other = make_body_sequence(6, n_frames=24)
    assert not np.array_equal(other.frames, short_seq.frames)
    assert not np.allclose(other.joints_cam, short_seq.joints_cam)


def test_webcam_sequence_and_fixed_action():
    seq = make_body_sequence(2, n_frames=4, camera="webcam", action=["jump", "kick"])
    assert seq.frames.shape == (4, 480, 640, 3)
    assert seq.info["actions"] == ["jump", "kick"] and seq.info["camera"] == "webcam"
    assert make_body_sequence(2, n_frames=2, size=128).frames.shape == (2, 128, 128, 3)


def test_sequence_round_trip(short_seq, tmp_path):
    path = save_sequence(short_seq, tmp_path / "body")
    back = load_sequence(path, lazy=False)
    np.testing.assert_array_equal(back.frames, short_seq.frames)
    np.testing.assert_array_equal(back.joints_cam, short_seq.joints_cam)
    np.testing.assert_array_equal(back.timestamps, short_seq.timestamps)
    assert back.intrinsics == short_seq.intrinsics
    assert back.fps == short_seq.fps and back.skeleton is BODY17 and back.modality == "rgb"
    assert back.info == short_seq.info


def test_subject_equality_and_too_few_frames():
    from trt_tracker.data.body import body_motion, sample_body_subject

    a = sample_body_subject(np.random.default_rng(1))
    assert a == a and a != sample_body_subject(np.random.default_rng(1))   # identity, no array truth-value error
    with pytest.raises(ValueError, match="2 actions need at least 2 frames"):
        body_motion(["walk", "wave"], a, 1, rng=np.random.default_rng(0))


# ------------------------------------------------------ varied appearance
def _frontal_renderer(style, seed=0):
    """A renderer of subject 7 standing still, facing the camera, without effects; its person box."""
    from dataclasses import replace

    subj = replace(sample_body_subject(np.random.default_rng(7)), long_sleeves=True, shorts=False, style=style)
    m = simulate_body("wave", subj, 10, FPS, np.random.default_rng(11))
    cam = frame_motion(sample_body_camera(np.random.default_rng(0), "h36m", 512), m.joints)
    X = cam.world_to_camera(m.joints[0])
    r = BodyRenderer(cam.intrinsics, subj, np.random.default_rng(seed), camera=cam, occluders=0,
                     noise=False, blur=False, motion_blur=False)
    return r, X


STYLE = {"hair": "short", "face": False, "jacket": None,
         "patterns": {"shirt": {"kind": "plain", "period": 6.0, "angle_deg": 0.0, "strength": 0.8,
                                "colour": [250, 250, 250]},
                      "trousers": {"kind": "plain", "period": 6.0, "angle_deg": 0.0, "strength": 0.8,
                                   "colour": [250, 250, 250]}}}


def test_varied_appearance_keeps_people_motion_and_camera():
    plain, varied = make_body_sequence(3, n_frames=6), make_body_sequence(3, n_frames=6, appearance="varied")
    np.testing.assert_array_equal(plain.joints_cam, varied.joints_cam)
    assert plain.info["camera_pose"] == varied.info["camera_pose"]
    sp, sv = plain.info["subject"], dict(varied.info["subject"])
    assert set(sv.pop("style")) == {"hair", "face", "jacket", "patterns"} and sp == sv
    assert "appearance" not in plain.info and varied.info["appearance"] == "varied"
    assert not np.array_equal(plain.frames, varied.frames)
    with pytest.raises(ValueError, match="appearance must be one of"):
        make_body_sequence(3, n_frames=2, appearance="fancy")


def test_varied_styles_cover_every_option():
    styles = [sample_body_subject(np.random.default_rng(s), varied=True).style for s in range(200)]
    assert {s["hair"] for s in styles} == {"short", "long", "bald"}
    assert 0.2 < np.mean([s["jacket"] is not None for s in styles]) < 0.5
    kinds = {s["patterns"]["shirt"]["kind"] for s in styles}
    assert kinds == {"plain", "stripes", "checks", "print", "mottled"}
    assert sample_body_subject(np.random.default_rng(1)).style == {}


@pytest.mark.parametrize("kind", ["stripes", "checks", "print", "mottled"])
def test_garment_pattern_gain(kind):
    from trt_tracker.data.body_render import garment_pattern

    p = {**STYLE["patterns"]["shirt"], "kind": kind, "period": 8.0}
    gain = garment_pattern(p, (64, 48), (100, 50, 50), np.random.default_rng(0))
    assert gain.shape == (48, 64, 3) and gain.dtype == np.float32
    assert gain.min() >= 1.0 - 1e-6 and gain.max() > 1.5, "towards the brighter second colour, never darker"
    assert gain[..., 0].std() > 0.05, "a pattern, not a uniform tint"
    assert garment_pattern({**p, "kind": "plain"}, (64, 48), (100, 50, 50), np.random.default_rng(0)) is None


def test_pattern_is_drawn_on_its_garment_only():
    r0, X = _frontal_renderer(STYLE)
    striped = {**STYLE, "patterns": {**STYLE["patterns"], "shirt": {**STYLE["patterns"]["shirt"], "kind": "stripes"}}}
    r1, _ = _frontal_renderer(striped)
    a, b = r0.render(X).astype(int), r1.render(X).astype(int)
    changed = np.abs(a - b).sum(-1) > 0
    uv = r0.intr.project(X)
    assert changed.sum() > 200, "the shirt shows stripes"
    ys, xs = np.nonzero(changed)
    L = BODY17.index
    # only on the upper body: nothing below the knees, nothing far off the body
    assert ys.max() < min(uv[L("l_knee"), 1], uv[L("r_knee"), 1])
    assert xs.min() > uv[:, 0].min() - 40 and xs.max() < uv[:, 0].max() + 40


def test_face_is_drawn_only_towards_the_camera():
    r0, X = _frontal_renderer(STYLE)
    r1, _ = _frontal_renderer({**STYLE, "face": True})
    c = X[0]
    turned = (X - c) * np.array([-1.0, 1.0, -1.0]) + c        # 180 degrees about the vertical through the pelvis
    shown = []
    for J in (X, turned):
        head = r0.intr.project(J)[BODY17.index("head")]
        changed = np.abs(r0.render(J).astype(int) - r1.render(J).astype(int)).sum(-1) > 0
        ys, xs = np.nonzero(changed)
        if changed.any():
            assert changed.sum() > 10 and np.hypot(xs - head[0], ys - head[1]).max() < 40, "features on the face"
        shown.append(bool(changed.any()))
    assert sorted(shown) == [False, True], "a face one way round, the back of the head the other"


def test_jacket_and_long_hair_change_the_look():
    r0, X = _frontal_renderer(STYLE)
    base = r0.render(X)
    for style in ({**STYLE, "jacket": [20, 20, 30]}, {**STYLE, "hair": "long"}, {**STYLE, "hair": "bald"}):
        r, _ = _frontal_renderer(style)
        assert not np.array_equal(r.render(X), base), style


def test_stream_appearance_is_checked():
    from trt_tracker.data.samples import SampleStreamConfig

    assert SampleStreamConfig(appearance="varied").appearance == "varied"
    with pytest.raises(ValueError, match="appearance must be"):
        SampleStreamConfig(appearance="fancy")
