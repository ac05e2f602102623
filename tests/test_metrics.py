"""Metrics on small cases whose answers are worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from trt_tracker import metrics as M
from trt_tracker.skeleton import BODY17, HAND21

CHAIN3 = [-1, 0, 1]  # root -> 1 -> 2


def rot_z(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


# ----------------------------------------------------------------- joint error
def test_mpjpe_offset_345():
    gt = np.array([[0.0, 0, 0], [100.0, 0, 0]])
    pred = gt + np.array([3.0, 4.0, 0.0])
    assert M.mpjpe(pred, gt) == pytest.approx(5.0)
    np.testing.assert_allclose(M.joint_errors(pred, gt), [5.0, 5.0])


def test_mpjpe_mixed_errors_mask_and_per_joint():
    gt = np.zeros((2, 2, 3))
    pred = np.zeros((2, 2, 3))
    pred[0, 0] = [3, 4, 0]  # 5
    pred[0, 1] = [0, 0, 1]  # 1
    pred[1, 0] = [6, 8, 0]  # 10
    pred[1, 1] = [0, 0, 0]  # 0
    assert M.mpjpe(pred, gt) == pytest.approx((5 + 1 + 10 + 0) / 4)
    np.testing.assert_allclose(M.mpjpe(pred, gt, per_joint=True), [7.5, 0.5])
    mask = np.array([[True, False], [True, True]])
    assert M.mpjpe(pred, gt, mask=mask) == pytest.approx((5 + 10 + 0) / 3)
    # A per-joint mask broadcasts over samples.
    assert M.mpjpe(pred, gt, mask=[False, True]) == pytest.approx(0.5)
    assert math.isnan(M.mpjpe(pred, gt, mask=np.zeros((2, 2), bool)))


def test_mpjpe_2d():
    assert M.mpjpe([[1.0, 1.0]], [[4.0, 5.0]]) == pytest.approx(5.0)


@pytest.mark.parametrize(
    "fn",
    [
        M.mpjpe,
        M.joint_errors,
        M.pa_mpjpe,
        M.procrustes_align,
        lambda p, g: M.bone_error(p, g, CHAIN3),
        lambda p, g: M.pck(p, g, 10.0),
        lambda p, g: M.pck_curve(p, g, [1.0, 2.0]),
        lambda p, g: M.auc(p, g),
        M.epe,
        lambda p, g: M.pcf_curve(p, g, [1.0]),
        lambda p, g: M.pcf(p, g, 1.0),
        M.accel_error,
        lambda p, g: M.evaluate(p, g, CHAIN3),
    ],
)
def test_shape_mismatch_raises_with_both_shapes(fn):
    pred = np.zeros((4, 3, 3))
    gt = np.zeros((4, 3, 2))
    with pytest.raises(ValueError, match=r"\(4, 3, 3\).*\(4, 3, 2\)"):
        fn(pred, gt)


def test_displacement_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape mismatch"):
        M.displacement_error(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="shape mismatch"):
        M.displacement_error_buckets(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)), np.zeros((2, 3, 3)))


def test_non_pose_input_raises():
    with pytest.raises(ValueError):
        M.mpjpe(np.zeros(3), np.zeros(3))


# ------------------------------------------------------------------ Procrustes
def test_procrustes_recovers_similarity_transform(rng):
    gt = rng.normal(scale=100.0, size=(17, 3))
    R = random_rotation(rng)
    s, t = 0.7, np.array([10.0, -20.0, 300.0])
    pred = s * gt @ R.T + t
    assert M.mpjpe(pred, gt) > 10.0
    assert M.pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-8)
    aligned, (s_hat, R_hat, t_hat) = M.procrustes_align(pred, gt, return_transform=True)
    np.testing.assert_allclose(aligned, gt, atol=1e-8)
    # The transform maps pred back onto gt: s' = 1/s, R' = R^T.
    assert s_hat == pytest.approx(1 / s)
    np.testing.assert_allclose(R_hat, R.T, atol=1e-10)
    np.testing.assert_allclose(s_hat * pred @ R_hat.T + t_hat, gt, atol=1e-8)


def test_procrustes_vectorised_over_leading_axes(rng):
    gt = rng.normal(scale=100.0, size=(2, 3, 5, 3))
    pred = np.empty_like(gt)
    for i in range(2):
        for j in range(3):
            pred[i, j] = (1 + i + j) * gt[i, j] @ random_rotation(rng).T + rng.normal(size=3) * 50
    assert M.pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-8)
    # Per-sample loop agrees with the batched call on noisy data.
    noisy = pred + rng.normal(scale=5.0, size=pred.shape)
    batched = M.procrustes_align(noisy, gt)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(batched[i, j], M.procrustes_align(noisy[i, j], gt[i, j]), atol=1e-9)


def test_procrustes_refuses_reflection():
    # A non-planar tetrahedron and its mirror image (x -> -x).
    gt = np.array([[0.0, 0, 0], [100, 0, 0], [0, 100, 0], [0, 0, 100]])
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    aligned, (s, R, t) = M.procrustes_align(mirrored, gt, return_transform=True)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    # With reflections allowed the error would be 0; a proper rotation cannot undo a mirror.
    assert M.pa_mpjpe(mirrored, gt) > 10.0
    # An improper map (det -1) would reach 0: the sign fix is what prevents it.
    np.testing.assert_allclose(mirrored @ np.diag([-1.0, 1.0, 1.0]), gt)
    # The answer is optimal among proper rotations: for random proper R (with
    # their own best scale and translation) the squared error is never lower.
    X = mirrored - mirrored.mean(0)
    Y = gt - gt.mean(0)
    best_sse = np.sum((aligned - gt) ** 2)
    rng = np.random.default_rng(1)
    for _ in range(500):
        Rr = random_rotation(rng)
        XR = X @ Rr.T
        s_opt = max(np.sum(XR * Y), 0.0) / np.sum(XR**2)
        assert np.sum((s_opt * XR - Y) ** 2) >= best_sse - 1e-6


def test_rigid_rotation_matches_scipy_kabsch(rng):
    from scipy.spatial.transform import Rotation

    gt = rng.normal(scale=100.0, size=(17, 3))
    pred = gt @ random_rotation(rng).T + rng.normal(scale=10.0, size=(17, 3))
    _, (s, R, _) = M.procrustes_align(pred, gt, scale=False, return_transform=True)
    ref, _ = Rotation.align_vectors(gt - gt.mean(0), pred - pred.mean(0))
    assert s == 1.0
    np.testing.assert_allclose(R, ref.as_matrix(), atol=1e-9)


def test_procrustes_rigid_and_2d():
    gt = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 20.0]])
    c, s = math.cos(0.3), math.sin(0.3)
    R = np.array([[c, -s], [s, c]])
    pred = 2.0 * gt @ R.T + [5.0, 5.0]
    assert M.pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    # Rigid alignment cannot undo the factor 2: the error stays positive.
    assert M.pa_mpjpe(pred, gt, scale=False) > 1.0
    rigid = gt @ R.T + [5.0, 5.0]
    assert M.pa_mpjpe(rigid, gt, scale=False) == pytest.approx(0.0, abs=1e-9)


def test_procrustes_degenerate_pred_collapses_to_centroid():
    gt = np.array([[0.0, 0, 0], [2.0, 0, 0]])
    pred = np.ones((2, 3))  # all joints on one point: scale 0
    np.testing.assert_allclose(M.procrustes_align(pred, gt), [[1.0, 0, 0], [1.0, 0, 0]])
    assert M.pa_mpjpe(pred, gt) == pytest.approx(1.0)


# ------------------------------------------------------------------------ bones
def test_bone_error_hand_example():
    gt = np.array([[0.0, 0, 0], [10.0, 0, 0], [20.0, 0, 0]])
    pred = gt.copy()
    pred[2] = [20.0, 3.0, 4.0]  # bone 2 off by (0, 3, 4) -> 5; bone 1 exact
    assert M.bone_error(pred, gt, CHAIN3) == pytest.approx((0 + 5) / 2)
    np.testing.assert_allclose(M.bone_error(pred, gt, CHAIN3, per_bone=True), [np.nan, 0.0, 5.0])
    # Translation does not change bone error.
    assert M.bone_error(pred + 123.0, gt, CHAIN3) == pytest.approx(2.5)
    # Moving the middle joint changes both bones attached to it.
    pred2 = gt.copy()
    pred2[1] += [3.0, 4.0, 0.0]
    assert M.bone_error(pred2, gt, CHAIN3) == pytest.approx(5.0)


def test_bone_error_accepts_skeleton_and_checks_parents(rng):
    gt = rng.normal(size=(4, 17, 3))
    assert M.bone_error(gt, gt, BODY17) == 0.0
    with pytest.raises(ValueError, match="parents"):
        M.bone_error(gt, gt, CHAIN3)


def test_bone_vectors_follow_seed000_direction():
    J = np.array([[1.0, 1, 1], [4.0, 5, 1], [4.0, 5, 13]])
    np.testing.assert_allclose(M.bone_vectors(J, CHAIN3), [[3, 4, 0], [0, 0, 12]])
    np.testing.assert_allclose(M.bone_lengths(J, CHAIN3), [5.0, 12.0])


def test_bone_std_constant_skeleton_is_zero(rng):
    base = np.zeros((17, 3))
    for k in BODY17.topological_order:
        p = BODY17.parents[k]
        if p >= 0:
            base[k] = base[p] + BODY17.bone_lengths_mm[k] * np.array([1.0, 0, 0])
    poses = np.stack([base @ random_rotation(rng).T + rng.normal(size=3) * 100 for _ in range(6)])
    assert M.bone_std(poses, BODY17) == pytest.approx(0.0, abs=1e-9)


def test_bone_std_population_std_and_groups():
    # One bone (2 joints). Lengths 10 and 20: population std = 5 (sample std would be 7.07).
    poses = np.zeros((2, 2, 3))
    poses[0, 1] = [10.0, 0, 0]
    poses[1, 1] = [0.0, 20.0, 0]
    assert M.bone_std(poses, [-1, 0]) == pytest.approx(5.0)
    assert M.bone_std(poses, [-1, 0], ddof=1) == pytest.approx(math.sqrt(50.0))

    # Chain of two bones; bone 1 lengths [10, 20], bone 2 lengths [30, 30]:
    # stds 5 and 0 -> mean over bones 2.5.
    J = np.zeros((2, 3, 3))
    J[0, 1], J[0, 2] = [10, 0, 0], [40, 0, 0]
    J[1, 1], J[1, 2] = [20, 0, 0], [50, 0, 0]
    assert M.bone_std(J, CHAIN3) == pytest.approx(2.5)
    np.testing.assert_allclose(M.bone_std(J, CHAIN3, per_bone=True), [np.nan, 5.0, 0.0])

    # Groups: subject A lengths [10, 20] (std 5), subject B lengths [100, 100, 130, 130] (std 15).
    # Pooled together the std would be larger; per group: mean(5, 15) = 10 for a single bone.
    L = [10, 20, 100, 100, 130, 130]
    P = np.zeros((6, 2, 3))
    P[:, 1, 0] = L
    groups = np.array(["A", "A", "B", "B", "B", "B"])
    assert M.bone_std(P, [-1, 0], groups=groups) == pytest.approx(10.0)
    assert M.bone_std(P, [-1, 0]) == pytest.approx(np.std(L))
    with pytest.raises(ValueError, match="groups"):
        M.bone_std(P, [-1, 0], groups=groups[:5])


# --------------------------------------------------------------- displacements
def test_displacement_error_adds_disp_to_previous_gt():
    gt_prev = np.zeros((1, 2, 3))
    gt_cur = np.array([[[10.0, 0, 0], [0, 0, 0]]])
    pred_disp = np.array([[[13.0, 4, 0], [0, 0, 0]]])  # joint 0 off by (3, 4, 0)
    assert M.displacement_error(pred_disp, gt_prev, gt_cur) == pytest.approx(2.5)
    # The true displacement scores 0.
    assert M.displacement_error(gt_cur - gt_prev, gt_prev, gt_cur) == 0.0


def test_displacement_buckets_hand_chosen():
    K = 6
    gt_prev = np.zeros((1, K, 3))
    # ground-truth displacement magnitudes: 10, 29.9 (easy) | 30, 45, 60 (middle) | 90 (hard)
    mags = np.array([10.0, 29.9, 30.0, 45.0, 60.0, 90.0])
    gt_cur = np.zeros((1, K, 3))
    gt_cur[0, :, 0] = mags
    # prediction errors per joint: 1, 3 | 2, 4, 6 | 12 (along y)
    errs = np.array([1.0, 3.0, 2.0, 4.0, 6.0, 12.0])
    pred_disp = gt_cur - gt_prev
    pred_disp[0, :, 1] += errs
    r = M.displacement_error_buckets(pred_disp, gt_prev, gt_cur)
    assert r["mean"] == pytest.approx(errs.mean())  # 28 / 6
    assert r["easy"] == pytest.approx(2.0)
    assert r["middle"] == pytest.approx(4.0)
    assert r["hard"] == pytest.approx(12.0)
    assert r["max"] == pytest.approx(mags.mean())  # error of predicting zero motion
    assert M.displacement_error(np.zeros_like(pred_disp), gt_prev, gt_cur) == pytest.approx(r["max"])
    assert r["frac_easy"] == pytest.approx(2 / 6)
    assert r["frac_middle"] == pytest.approx(3 / 6)
    assert r["frac_hard"] == pytest.approx(1 / 6)
    assert r["frac_easy"] + r["frac_middle"] + r["frac_hard"] == pytest.approx(1.0)
    assert r["n"] == 6


def test_displacement_buckets_empty_bucket_is_nan_and_custom_thresholds():
    gt_prev = np.zeros((2, 2, 3))
    gt_cur = np.full((2, 2, 3), 1.0)  # |d| = sqrt(3): all easy
    r = M.displacement_error_buckets(np.zeros_like(gt_prev), gt_prev, gt_cur)
    assert r["easy"] == pytest.approx(math.sqrt(3))
    assert math.isnan(r["middle"]) and math.isnan(r["hard"])
    assert r["frac_middle"] == 0.0 and r["frac_hard"] == 0.0
    r2 = M.displacement_error_buckets(np.zeros_like(gt_prev), gt_prev, gt_cur, thresholds=(0.5, 1.0))
    assert r2["frac_hard"] == 1.0 and math.isnan(r2["easy"])


def test_temporal_pairs_forward_and_backward():
    J = np.arange(5, dtype=float)[:, None, None] * np.ones((5, 1, 3))  # J[t] = t
    prev, cur = M.temporal_pairs(J, 2)
    np.testing.assert_allclose(prev[:, 0, 0], [0, 1, 2])
    np.testing.assert_allclose(cur[:, 0, 0], [2, 3, 4])
    np.testing.assert_allclose((cur - prev)[:, 0, 0], 2.0)  # Δ2[t] = J[t] - J[t-2]
    prev, cur = M.temporal_pairs(J, -1)  # t-d = t+1
    np.testing.assert_allclose(prev[:, 0, 0], [1, 2, 3, 4])
    np.testing.assert_allclose(cur[:, 0, 0], [0, 1, 2, 3])
    with pytest.raises(ValueError):
        M.temporal_pairs(J, 5)


# ------------------------------------------------------------------ PCK / AUC
def _poses_with_errors(errors):
    """(N, K, 3) predictions whose joint errors are exactly ``errors`` (N, K), gt = 0."""
    errors = np.asarray(errors, dtype=float)
    pred = np.zeros(errors.shape + (3,))
    pred[..., 2] = errors
    return pred, np.zeros_like(pred)


def test_pck_known_errors():
    pred, gt = _poses_with_errors([[10.0, 25.0], [30.0, 60.0]])
    assert M.pck(pred, gt, 20.0) == pytest.approx(0.25)
    assert M.pck(pred, gt, 30.0) == pytest.approx(0.75)  # inclusive: 30 <= 30
    assert M.pck(pred, gt, 5.0) == 0.0
    np.testing.assert_allclose(M.pck_curve(pred, gt, [5, 10, 29.9, 30, 100]), [0, 0.25, 0.5, 0.75, 1.0])


def test_pck_mask_averages_per_keypoint():
    # keypoint 0 errors [10, 40] -> PCK@20 = 1/2; keypoint 1 errors [10, (40 masked)] -> 1.
    pred, gt = _poses_with_errors([[10.0, 10.0], [40.0, 40.0]])
    mask = np.array([[True, True], [True, False]])
    assert M.pck(pred, gt, 20.0, mask=mask) == pytest.approx(0.75)


def test_auc_known_errors():
    # Errors 10 (always within 20..50) and 35 (within from 35 on) and 100 (never).
    pred, gt = _poses_with_errors([[10.0, 35.0, 100.0]])
    # PCK(τ) = 1/3 + 1/3·[τ >= 35]. Thresholds every 5 mm (n = 7: 20, 25, ..., 50)
    # give the curve 1/3, 1/3, 1/3, 2/3, 2/3, 2/3, 2/3. Trapezoids:
    # 2·(5·1/3) + 5·(1/3 + 2/3)/2 + 3·(5·2/3) = 10/3 + 5/2 + 10 = 95/6; / 30 = 19/36.
    assert M.auc(pred, gt, lo=20, hi=50, n=7) == pytest.approx(19 / 36)
    # All correct -> 1, none correct -> 0.
    p0, g0 = _poses_with_errors([[1.0, 2.0]])
    assert M.auc(p0, g0) == pytest.approx(1.0)
    p1, g1 = _poses_with_errors([[60.0, 70.0]])
    assert M.auc(p1, g1) == pytest.approx(0.0)
    # One error of exactly 35 at n=4 thresholds (20, 30, 40, 50): curve 0, 0, 1, 1
    # -> trapezoids (0 + 5 + 10) / 30 = 0.5.
    p2, g2 = _poses_with_errors([[35.0]])
    assert M.auc(p2, g2, 20, 50, n=4) == pytest.approx(0.5)


def test_area_under_curve_trapezoid():
    assert M.area_under_curve([0, 1, 2], [0, 1, 1]) == pytest.approx((0.5 + 1.0) / 2)
    with pytest.raises(ValueError):
        M.area_under_curve([0, 1], [1, 2, 3])


def test_epe_mean_median():
    # keypoint 0: [1, 2, 9] (mean 4, median 2); keypoint 1: [3, 3, 3] (mean 3, median 3)
    pred, gt = _poses_with_errors([[1.0, 3.0], [2.0, 3.0], [9.0, 3.0]])
    r = M.epe(pred, gt)
    assert r["mean"] == pytest.approx(3.5)
    assert r["median"] == pytest.approx(2.5)  # Zimmermann & Brox: mean of per-keypoint medians
    assert r["median_pooled"] == pytest.approx(3.0)  # median of [1, 2, 3, 3, 3, 9]


# ------------------------------------------------------------------------ PCF
def test_pcf_frames_straddling_thresholds():
    # frame max errors: 4, 9, 15, 30 (other joints smaller)
    pred, gt = _poses_with_errors([[1.0, 4.0], [9.0, 2.0], [15.0, 0.0], [3.0, 30.0]])
    np.testing.assert_allclose(M.pcf_curve(pred, gt, [3, 4, 10, 20, 40]), [0, 0.25, 0.5, 0.75, 1.0])
    assert M.pcf(pred, gt, 14.9) == pytest.approx(0.5)
    # The mean joint error of frame 3 is 16.5 but its max is 30: PCF uses the max.
    assert M.pcf(pred, gt, 20.0) == pytest.approx(0.75)
    # Masking the 30 mm joint makes frame 3 correct at 20 mm.
    mask = np.ones((4, 2), bool)
    mask[3, 1] = False
    assert M.pcf(pred, gt, 20.0, mask=mask) == pytest.approx(1.0)


# ------------------------------------------------------------- acceleration
def test_accel_error_linear_motion_is_zero():
    t = np.arange(6, dtype=float)
    gt = np.zeros((6, 2, 3))
    pred = gt + t[:, None, None] * np.array([1.0, 2.0, 3.0]) + 7.0  # offset + constant velocity
    assert M.accel_error(pred, gt) == pytest.approx(0.0)
    assert M.jitter(pred) == pytest.approx(0.0)


def test_accel_error_quadratic():
    # x(t) = 0.5·c·t² has second difference exactly c each frame.
    t = np.arange(5, dtype=float)
    pred = np.zeros((5, 1, 3))
    pred[:, 0, 0] = 0.5 * 4.0 * t**2  # a = 4 mm/frame²
    pred[:, 0, 1] = 0.5 * 3.0 * t**2  # a = 3 -> |a| = 5
    gt = np.zeros_like(pred)
    np.testing.assert_allclose(M.second_difference(pred)[:, 0], [[4, 3, 0]] * 3)
    assert M.accel_error(pred, gt) == pytest.approx(5.0)
    assert M.jitter(pred) == pytest.approx(5.0)
    # mm/s²: at 10 fps, Δt = 0.1 s -> 5 / 0.01 = 500.
    assert M.accel_error(pred, gt, fps=10) == pytest.approx(500.0)
    # gt with the same acceleration -> 0 error even though positions differ.
    assert M.accel_error(pred + t[:, None, None], pred) == pytest.approx(0.0)


def test_accel_error_time_axis_and_mask():
    t = np.arange(4, dtype=float)
    pred = np.zeros((2, 4, 1, 3))  # (S, T, K, C), time on axis 1
    pred[1, :, 0, 2] = t**2  # a = 2 for sequence 1, 0 for sequence 0
    gt = np.zeros_like(pred)
    assert M.accel_error(pred, gt, axis=1) == pytest.approx(1.0)
    # A 6 mm spike at frame 2 of one joint: the second difference of
    # [0, 0, 6, 0] is [6, -12] at t = 1, 2 -> mean |.| = 9.
    x = np.zeros((4, 1, 3))
    x[2, 0, 0] = 6.0
    assert M.accel_error(x, np.zeros_like(x)) == pytest.approx(9.0)
    # Invalidating frame 3 removes the t = 2 term (needs frames 1, 2, 3).
    mask = np.array([[True], [True], [True], [False]])
    assert M.accel_error(x, np.zeros_like(x), mask=mask) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="3 frames"):
        M.accel_error(x[:2], np.zeros_like(x[:2]))
    with pytest.raises(ValueError, match="leading axis"):
        M.accel_error(x, np.zeros_like(x), axis=-1)


# ---------------------------------------------------------------- evaluate
def test_evaluate_standard_set(rng):
    gt = rng.normal(scale=100.0, size=(10, 21, 3))
    r = M.evaluate(gt, gt, HAND21, auc_range=(20, 50), pcf_thresholds=[10, 20], pck_threshold=20)
    for key in ("mpjpe", "pa_mpjpe", "bone_error", "accel_error", "jitter", "bone_std", "bone_std_gt"):
        assert key in r
    assert r["mpjpe"] == 0.0 and r["bone_error"] == 0.0 and r["accel_error"] == 0.0
    assert r["pa_mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert r["bone_std"] == pytest.approx(r["bone_std_gt"])
    assert r["auc"] == 1.0 and r["pck"] == 1.0 and r["pcf@10"] == 1.0 and r["epe_mean"] == 0.0

    pred = gt + np.array([3.0, 4.0, 0.0])
    r = M.evaluate(pred, gt, HAND21)
    assert r["mpjpe"] == pytest.approx(5.0)
    assert r["pa_mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert r["bone_error"] == pytest.approx(0.0, abs=1e-9)
    assert r["accel_error"] == pytest.approx(0.0, abs=1e-9)
    # Independent samples (no time axis): no accel entries computed.
    r = M.evaluate(pred[:2], gt[:2], HAND21, time_axis=None)
    assert math.isnan(r["accel_error"])
