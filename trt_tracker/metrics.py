"""Evaluation metrics (NumPy only; DESIGN §8).

Every pose array is ``(..., K, C)``: K joints, C = 3 (mm) or C = 2 (pixels);
the leading axes are samples (frames, sequences, batch).  Every metric starts
with a shape check and returns floats, arrays or dicts of floats; none prints.

Metrics and where they come from:

========================  =====================================================
``mpjpe``                 Joint Error (seed 000 §5.1, seed 002 §5.1)
``pa_mpjpe``              PA Joint Error: MPJPE after a similarity Procrustes
                          alignment per sample (seed 002 §5.1)
``bone_error``            Bone Error: mean per-bone position error (seed 002)
``bone_std``              Bone Std: per bone, the std of its length over the
                          samples of one subject; mean over bones (seed 002)
``displacement_error``    Displ Error: estimated displacement added to the
                          ground-truth pose of frame t-d, Joint Error against
                          frame t (seed 000 Table 2, 3)
``displacement_error_buckets``  Easy/Middle/Hard by ground-truth displacement
                          (seed 000 Table 3)
``pck`` / ``pck_curve`` / ``auc`` / ``epe``
                          hand RGB protocol of Zimmermann & Brox (seed 000
                          supplement Tables 3, 4)
``pcf`` / ``pcf_curve``   percentage of correct frames (MSRA15, seed 000 §5.2)
``accel_error`` / ``jitter``  acceleration error, smoothness (not in the seeds)
``evaluate``              the standard set in one dict, for tables
========================  =====================================================

Conventions
-----------
* Bones follow seed 000: ``B[..., k] = J[..., k] - J[..., parent(k)]``; the
  root has no bone and is left out of bone metrics.  ``parents`` is a
  :class:`~trt_tracker.skeleton.Skeleton` or a sequence of K ints (-1: root).
* Displacements follow DESIGN §1: ``Δd[t] = J[t] - J[t-d]``.
* Threshold comparisons are inclusive (``error <= threshold`` is correct), as
  in Zimmermann & Brox's ``EvalUtil._get_pck``.  Bucket edges: easy
  ``m < 30``, middle ``30 <= m <= 60``, hard ``m > 60`` (mm).
* ``mask`` arguments are boolean ``(..., K)`` (True = joint counts); a metric
  over an empty selection is NaN, never an exception.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = [
    "joint_errors",
    "mpjpe",
    "procrustes_align",
    "pa_mpjpe",
    "bone_vectors",
    "bone_lengths",
    "bone_error",
    "bone_std",
    "temporal_pairs",
    "displacement_error",
    "displacement_error_buckets",
    "pck",
    "pck_curve",
    "area_under_curve",
    "auc",
    "epe",
    "pcf",
    "pcf_curve",
    "second_difference",
    "accel_error",
    "jitter",
    "evaluate",
]


# --------------------------------------------------------------------- helpers
def _as_pose(x, name: str = "pose") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"{name} must be (..., K, C), got shape {x.shape}")
    return x


def _check_pair(predicted, target, pred_name: str = "predicted", target_name: str = "target"):
    """Both as float64 arrays of the same ``(..., K, C)`` shape (VideoPose3D style)."""
    predicted = _as_pose(predicted, pred_name)
    target = _as_pose(target, target_name)
    if predicted.shape != target.shape:
        raise ValueError(
            f"shape mismatch: {pred_name} {predicted.shape} vs {target_name} {target.shape}"
        )
    return predicted, target


def _check_mask(mask, shape: tuple[int, ...]) -> np.ndarray | None:
    """Boolean mask broadcast to ``shape`` (the ``(..., K)`` error shape)."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != bool:
        mask = mask != 0
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to errors {shape}") from None


def _masked_mean(values: np.ndarray, mask: np.ndarray | None, axis=None):
    """Mean of ``values`` where ``mask``; NaN where nothing is selected."""
    if mask is None:
        mask = np.ones(values.shape, dtype=bool)
    total = np.sum(np.where(mask, values, 0.0), axis=axis)
    count = np.sum(mask, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return float(out) if np.ndim(out) == 0 else out


def _parents_array(parents, K: int) -> np.ndarray:
    parents = getattr(parents, "parents", parents)  # a Skeleton or a sequence
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    if parents.shape[0] != K:
        raise ValueError(f"parents has {parents.shape[0]} entries but poses have K={K} joints")
    if np.any(parents >= K):
        raise ValueError(f"parents {parents.tolist()} index outside 0..{K - 1}")
    if not np.any(parents < 0):
        raise ValueError("parents has no root (no entry < 0)")
    return parents


def _non_root(parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(joints with a parent, their parents)."""
    nr = np.flatnonzero(parents >= 0)
    return nr, parents[nr]


# ----------------------------------------------------------------- joint error
def joint_errors(predicted, target) -> np.ndarray:
    """Euclidean error of every joint.

    predicted, target : (..., K, C)
    returns : (..., K)
    """
    predicted, target = _check_pair(predicted, target)
    # e[..., k] = ||P[..., k, :] - G[..., k, :]||_2
    return np.linalg.norm(predicted - target, axis=-1)


def mpjpe(predicted, target, mask=None, per_joint: bool = False):
    """Mean per-joint position error ("Joint Error").

    predicted, target : (..., K, C)
    mask : optional boolean (..., K), True where the joint counts
    per_joint : if True return (K,), the error of each joint averaged over
        all leading axes (NaN for a joint never selected)
    returns : float (mm if the inputs are mm), NaN if the mask selects nothing
    """
    e = joint_errors(predicted, target)
    m = _check_mask(mask, e.shape)
    if per_joint:
        K = e.shape[-1]
        return _masked_mean(e.reshape(-1, K), None if m is None else m.reshape(-1, K), axis=0)
    # MPJPE = (1 / N) Σ_n Σ_k m[n,k] ||P[n,k] - G[n,k]||,  N = Σ m
    return _masked_mean(e, m)


# ------------------------------------------------------------------ Procrustes
def procrustes_align(predicted, target, scale: bool = True, return_transform: bool = False):
    """Similarity-align each predicted pose to its target (Umeyama 1991).

    For every sample (all leading axes) find rotation R (det R = +1), scale s
    and translation t minimising ``Σ_k ||s R p_k + t - g_k||²`` over the K joints.
    Reflections are not allowed: when the SVD solution would be improper the
    sign of the last singular vector is flipped (as in VideoPose3D's
    ``p_mpjpe``), so a mirrored pose does not align to zero error.

    predicted, target : (..., K, C)
    scale : if False, s = 1 (rigid alignment)
    return_transform : also return ``(s (...,), R (..., C, C), t (..., C))``
        with ``aligned = s[..., None, None] * predicted @ R.mT + t[..., None, :]``
    returns : aligned (..., K, C)  [, (s, R, t)]
    """
    predicted, target = _check_pair(predicted, target)
    mu_p = predicted.mean(axis=-2, keepdims=True)
    mu_g = target.mean(axis=-2, keepdims=True)
    X = predicted - mu_p  # (..., K, C)
    Y = target - mu_g
    # Cross-covariance H = Xᵀ Y (C×C); maximise tr(R_rowᵀ H) with R_row = U D Vᵀ.
    H = np.swapaxes(X, -1, -2) @ Y
    U, S, Vt = np.linalg.svd(H)
    # D = diag(1, ..., 1, sign det(U Vᵀ)) keeps the rotation proper (det = +1).
    d = np.where(np.linalg.det(U @ Vt) < 0, -1.0, 1.0)
    D = np.ones(S.shape)
    D[..., -1] = d
    R_row = (U * D[..., None, :]) @ Vt  # acts on row vectors: x_row @ R_row
    if scale:
        # s = tr(D S) / ||X||²_F   (Umeyama Eq. 42)
        norm_x = np.sum(X**2, axis=(-2, -1))
        s = np.where(norm_x > 0, np.sum(S * D, axis=-1) / np.where(norm_x > 0, norm_x, 1.0), 0.0)
    else:
        s = np.ones(S.shape[:-1])
    # aligned = s X R_row + μ_g
    aligned = s[..., None, None] * (X @ R_row) + mu_g
    if not return_transform:
        return aligned
    R = np.swapaxes(R_row, -1, -2)  # column-vector convention: x' = s R x + t
    # t = μ_g - s R μ_p
    t = (mu_g - s[..., None, None] * (mu_p @ R_row))[..., 0, :]
    return aligned, (s, R, t)


def pa_mpjpe(predicted, target, scale: bool = True, per_joint: bool = False):
    """MPJPE after per-sample Procrustes alignment ("PA Joint Error").

    predicted, target : (..., K, C); each leading index is aligned on its own
    scale : similarity (True, the usual protocol) or rigid (False) alignment
    returns : float, or (K,) with ``per_joint``
    """
    predicted, target = _check_pair(predicted, target)
    aligned = procrustes_align(predicted, target, scale=scale)
    return mpjpe(aligned, target, per_joint=per_joint)


# ------------------------------------------------------------------------ bones
def bone_vectors(J, parents) -> np.ndarray:
    """Bones of the non-root joints, in joint index order.

    J : (..., K, C);  returns (..., K-1, C) with ``B[k] = J[k] - J[parent(k)]``
    """
    J = _as_pose(J, "joints")
    nr, par = _non_root(_parents_array(parents, J.shape[-2]))
    # B[..., k] = J[..., k] - J[..., parent(k)]
    return J[..., nr, :] - J[..., par, :]


def bone_lengths(J, parents) -> np.ndarray:
    """Lengths of the non-root bones: (..., K-1)."""
    return np.linalg.norm(bone_vectors(J, parents), axis=-1)


def bone_error(predicted, target, parents, per_bone: bool = False):
    """Mean per-bone position error ("Bone Error", seed 002).

    Mean over samples and non-root joints of ``||B_pred[k] - B_gt[k]||``.
    Translation-invariant; applies to 2D and 3D.

    predicted, target : (..., K, C)
    parents : Skeleton or K parent indices
    per_bone : if True return (K,), each joint's bone error averaged over the
        leading axes, NaN at the root (which has no bone)
    """
    predicted, target = _check_pair(predicted, target)
    K = predicted.shape[-2]
    parents = _parents_array(parents, K)
    # e_b[..., k] = ||(P[k] - P[parent(k)]) - (G[k] - G[parent(k)])||
    e = np.linalg.norm(bone_vectors(predicted, parents) - bone_vectors(target, parents), axis=-1)
    if not per_bone:
        return float(np.mean(e)) if e.size else float("nan")
    out = np.full(K, np.nan)
    out[parents >= 0] = e.reshape(-1, e.shape[-1]).mean(axis=0)
    return out


def bone_std(poses, parents, groups=None, ddof: int = 0, per_bone: bool = False):
    """Bone length standard deviation ("Bone Std", seed 002).

    For each bone, the standard deviation of its length over the samples
    (all leading axes of ``poses``, e.g. N of (N, K, C)); then the mean over
    bones.  With ``groups`` (one label per sample: subject or sequence id) the
    std is taken within each group, and the result is the **mean over groups
    of the mean over bones** (groups weigh equally, whatever their size).

    poses : (..., K, C), usually the predictions
    groups : optional labels, shape = the leading shape of ``poses``
    ddof : 0 = population std (default, divides by n), 1 = sample std.
        A group of one sample contributes 0 with ddof=0 (NaN with ddof=1).
    per_bone : if True return (K,) (mean over groups of each bone's std),
        NaN at the root
    """
    poses = _as_pose(poses, "poses")
    K = poses.shape[-2]
    parents = _parents_array(parents, K)
    L = bone_lengths(poses, parents)  # (..., K-1)
    lead = L.shape[:-1]
    L = L.reshape(-1, L.shape[-1])  # (N, K-1)
    if groups is None:
        labels = np.zeros(L.shape[0], dtype=np.int64)
    else:
        groups = np.asarray(groups)
        if groups.shape != lead:
            raise ValueError(f"groups shape {groups.shape} must equal the sample shape {lead}")
        labels = groups.reshape(-1)
    if L.shape[0] == 0:
        return float("nan") if not per_bone else np.full(K, np.nan)
    per_group = []
    for g in np.unique(labels):
        Lg = L[labels == g]
        if Lg.shape[0] - ddof <= 0:
            per_group.append(np.full(L.shape[1], np.nan))
            continue
        # σ_b = sqrt( Σ_n (L[n,b] - mean_n L[·,b])² / (n - ddof) )
        per_group.append(np.std(Lg, axis=0, ddof=ddof))
    per_group = np.stack(per_group)  # (G, K-1)
    if per_bone:
        out = np.full(K, np.nan)
        out[parents >= 0] = per_group.mean(axis=0)
        return out
    return float(np.mean(per_group.mean(axis=1)))


# --------------------------------------------------------------- displacements
def temporal_pairs(J, d: int, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(J[t-d], J[t])`` for every t where both frames exist.

    ``d`` may be negative (backward: frame t-d comes after t).  The ground-truth
    displacement is ``cur - prev`` (``Δd[t] = J[t] - J[t-d]``); slice predicted
    displacements the same way as ``cur``:  for d > 0, t = d..T-1; for d < 0,
    t = 0..T-1-|d|.

    J : (T, ..., K, C) with time on ``axis``;  returns (prev, cur)
    """
    J = _as_pose(J, "joints")
    d = int(d)
    if d == 0:
        raise ValueError("duration d must be non-zero")
    axis = axis % J.ndim
    if axis >= J.ndim - 2:
        raise ValueError(f"time axis {axis} must be a leading axis of shape {J.shape}")
    T = J.shape[axis]
    if abs(d) >= T:
        raise ValueError(f"|d|={abs(d)} needs more than {T} frames")
    take = lambda a, b: np.take(J, np.arange(a, b), axis=axis)  # noqa: E731
    if d > 0:
        return take(0, T - d), take(d, T)
    return take(-d, T), take(0, T + d)


def displacement_error(pred_disp, gt_prev, gt_cur, mask=None, per_joint: bool = False):
    """Displacement error ("Displ Error", seed 000).

    The estimated displacement is added to the ground-truth pose of frame
    t-d and the result is scored by Joint Error against frame t:
    ``mean ||(G[t-d] + Δ̂) - G[t]|| = mean ||Δ̂ - (G[t] - G[t-d])||``.

    pred_disp, gt_prev, gt_cur : (..., K, C)
    returns : float (or (K,) with ``per_joint``)
    """
    pred_disp, gt_prev = _check_pair(pred_disp, gt_prev, "pred_disp", "gt_prev")
    pred_disp, gt_cur = _check_pair(pred_disp, gt_cur, "pred_disp", "gt_cur")
    # Ĵ[t] = G[t-d] + Δ̂d[t]
    return mpjpe(gt_prev + pred_disp, gt_cur, mask=mask, per_joint=per_joint)


def displacement_error_buckets(
    pred_disp, gt_prev, gt_cur, thresholds: tuple[float, float] = (30.0, 60.0), mask=None
) -> dict:
    """Displ Error split by ground-truth displacement (seed 000 Table 3).

    Each joint of each sample falls in a bucket by its ground-truth
    displacement magnitude ``m = ||G[t] - G[t-d]||``: easy ``m < lo``,
    middle ``lo <= m <= hi``, hard ``m > hi`` (lo, hi = ``thresholds``,
    30 and 60 mm in the paper).

    Returns a dict of floats:

    ``mean``      Displ Error over all joints
    ``easy``, ``middle``, ``hard``  Displ Error within each bucket (NaN if empty)
    ``max``       the mean ground-truth displacement magnitude, i.e. the Displ
                  Error of predicting zero motion.  This is our reading of
                  Table 3's "(Max 39.2)" under *Mean*: it is the reference
                  error a method must beat (39.2 / 12.7 / 4.32 mm at 2.5 / 8 /
                  25 fps scale with the frame gap 10 / 3 / 1, as a mean
                  displacement does, and 19.7 % of joints moving > 60 mm at
                  2.5 fps rules out a maximum of 39.2).
    ``frac_easy``, ``frac_middle``, ``frac_hard``  share of joints per bucket
                  (the percentages printed under the bucket names)
    ``n``         number of joints scored
    """
    pred_disp, gt_prev = _check_pair(pred_disp, gt_prev, "pred_disp", "gt_prev")
    pred_disp, gt_cur = _check_pair(pred_disp, gt_cur, "pred_disp", "gt_cur")
    lo, hi = (float(v) for v in thresholds)
    if not lo <= hi:
        raise ValueError(f"thresholds must be (lo, hi) with lo <= hi, got {thresholds}")
    # e[..., k] = ||G[t-d] + Δ̂ - G[t]||
    err = joint_errors(gt_prev + pred_disp, gt_cur)
    # m[..., k] = ||G[t] - G[t-d]||
    mag = np.linalg.norm(gt_cur - gt_prev, axis=-1)
    valid = _check_mask(mask, err.shape)
    if valid is None:
        valid = np.ones(err.shape, dtype=bool)
    n = int(valid.sum())
    buckets = {
        "easy": mag < lo,
        "middle": (mag >= lo) & (mag <= hi),
        "hard": mag > hi,
    }
    out = {"mean": _masked_mean(err, valid), "max": _masked_mean(mag, valid)}
    for name, sel in buckets.items():
        sel = sel & valid
        out[name] = _masked_mean(err, sel)
        out[f"frac_{name}"] = float(sel.sum() / n) if n else float("nan")
    out["n"] = n
    return out


# ------------------------------------------------------------------ PCK / AUC
def _per_keypoint_errors(predicted, target, mask) -> list[np.ndarray]:
    """Errors grouped by keypoint over all samples (visible ones only)."""
    e = joint_errors(predicted, target)
    K = e.shape[-1]
    m = _check_mask(mask, e.shape)
    e = e.reshape(-1, K)
    if m is None:
        return [e[:, k] for k in range(K)]
    m = m.reshape(-1, K)
    return [e[m[:, k], k] for k in range(K)]


def pck_curve(predicted, target, thresholds, mask=None) -> np.ndarray:
    """PCK at each threshold (Zimmermann & Brox protocol).

    For each keypoint the fraction of its (visible) samples with error
    ``<= threshold``, then the mean over keypoints that have samples.  Without
    a mask this equals the fraction of all joints within the threshold.

    predicted, target : (..., K, C);  thresholds : (T,)  -> returns (T,)
    """
    predicted, target = _check_pair(predicted, target)
    thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    curves = []
    for e in _per_keypoint_errors(predicted, target, mask):
        if e.size == 0:
            continue
        e = np.sort(e)
        # PCK_k(τ) = |{n : e[n,k] <= τ}| / N_k
        curves.append(np.searchsorted(e, thresholds, side="right") / e.size)
    if not curves:
        return np.full(thresholds.shape, np.nan)
    return np.mean(curves, axis=0)


def pck(predicted, target, threshold: float, mask=None) -> float:
    """Percentage (fraction in [0, 1]) of correct keypoints: error <= threshold."""
    return float(pck_curve(predicted, target, [threshold], mask=mask)[0])


def area_under_curve(x, y) -> float:
    """Normalised trapezoid area ``∫ y dx / (x[-1] - x[0])`` (a mean height)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"need 1-D x, y of equal length >= 2, got {x.shape} and {y.shape}")
    span = x[-1] - x[0]
    if span <= 0:
        raise ValueError("x must increase")
    # A = Σ_i (y[i] + y[i+1]) / 2 · (x[i+1] - x[i]) / (x[-1] - x[0])
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)) / span)


def auc(predicted, target, lo: float = 20.0, hi: float = 50.0, n: int = 20, mask=None) -> float:
    """Area under the PCK curve over thresholds [lo, hi] (mm), normalised to [0, 1].

    The 3D hand protocol of Zimmermann & Brox (``get_measures(0.020, 0.050, 20)``):
    ``n`` evenly spaced thresholds ``linspace(lo, hi, n)``, trapezoid rule,
    divided by ``hi - lo``.  Their per-keypoint AUCs averaged over keypoints
    equal the AUC of the keypoint-averaged curve (the rule is linear).
    """
    if n < 2:
        raise ValueError("auc needs n >= 2 thresholds")
    thresholds = np.linspace(lo, hi, n)
    return area_under_curve(thresholds, pck_curve(predicted, target, thresholds, mask=mask))


def epe(predicted, target, mask=None) -> dict:
    """End-point error statistics (hand RGB protocol).

    Returns a dict:

    ``mean``    mean over keypoints of each keypoint's mean error
                (= the mean over all joints and frames without a mask)
    ``median``  mean over keypoints of each keypoint's median error, exactly
                as Zimmermann & Brox's ``EvalUtil.get_measures`` reports it
    ``median_pooled``  the median over all joints and frames together
    """
    predicted, target = _check_pair(predicted, target)
    per_kp = [e for e in _per_keypoint_errors(predicted, target, mask) if e.size]
    if not per_kp:
        return {"mean": float("nan"), "median": float("nan"), "median_pooled": float("nan")}
    return {
        "mean": float(np.mean([e.mean() for e in per_kp])),
        "median": float(np.mean([np.median(e) for e in per_kp])),
        "median_pooled": float(np.median(np.concatenate(per_kp))),
    }


# ------------------------------------------------------------------------ PCF
def _frame_max_errors(predicted, target, mask) -> np.ndarray:
    e = joint_errors(predicted, target)
    K = e.shape[-1]
    e = e.reshape(-1, K)
    if mask is None:
        return e.max(axis=1) if e.size else np.zeros(0)
    m = _check_mask(mask, (*predicted.shape[:-2], K)).reshape(-1, K)
    keep = m.any(axis=1)  # frames with no scored joint are left out
    return np.where(m, e, -np.inf)[keep].max(axis=1)


def pcf_curve(predicted, target, thresholds, mask=None) -> np.ndarray:
    """Percentage of correct frames (fractions in [0, 1]) at each threshold.

    A frame (one index of the leading axes) is correct when its **maximum**
    joint error is ``<= threshold`` (MSRA15 protocol, seed 000 §5.2).

    predicted, target : (..., K, C);  thresholds : (T,) -> returns (T,)
    """
    predicted, target = _check_pair(predicted, target)
    thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    fmax = np.sort(_frame_max_errors(predicted, target, mask))
    if fmax.size == 0:
        return np.full(thresholds.shape, np.nan)
    # PCF(τ) = |{f : max_k e[f,k] <= τ}| / F
    return np.searchsorted(fmax, thresholds, side="right") / fmax.size


def pcf(predicted, target, threshold: float, mask=None) -> float:
    """Fraction of frames whose maximum joint error is <= ``threshold``."""
    return float(pcf_curve(predicted, target, [threshold], mask=mask)[0])


# ------------------------------------------------------------- acceleration
def _time_axis(x: np.ndarray, axis: int) -> int:
    ax = axis % x.ndim
    if ax >= x.ndim - 2:
        raise ValueError(f"time axis {axis} must be a leading axis of shape {x.shape}")
    if x.shape[ax] < 3:
        raise ValueError(f"acceleration needs at least 3 frames on axis {ax}, got {x.shape[ax]}")
    return ax


def second_difference(J, axis: int = 0) -> np.ndarray:
    """``a[t] = J[t+1] - 2 J[t] + J[t-1]`` for t = 1..T-2 (length T-2 on ``axis``)."""
    J = _as_pose(J, "joints")
    ax = _time_axis(J, axis)
    T = J.shape[ax]
    sl = lambda a, b: np.take(J, np.arange(a, b), axis=ax)  # noqa: E731
    # a[t] = J[t+1] - 2 J[t] + J[t-1]
    return sl(2, T) - 2.0 * sl(1, T - 1) + sl(0, T - 2)


def accel_error(predicted, target, fps: float | None = None, axis: int = 0, mask=None) -> float:
    """Acceleration error: mean over t = 1..T-2 and joints of ``||a_pred - a_gt||``.

    ``a`` is the second difference along the time ``axis`` (mm/frame²); with
    ``fps`` the result is in mm/s² (times fps²).  With a ``mask`` (..., K) a
    term counts only if the joint is valid in frames t-1, t and t+1.
    """
    predicted, target = _check_pair(predicted, target)
    ax = _time_axis(predicted, axis)
    # ||(P[t+1] - 2P[t] + P[t-1]) - (G[t+1] - 2G[t] + G[t-1])||
    e = np.linalg.norm(second_difference(predicted - target, axis=ax), axis=-1)
    m = None
    if mask is not None:
        full = _check_mask(mask, predicted.shape[:-1])
        T = full.shape[ax]
        sl = lambda a, b: np.take(full, np.arange(a, b), axis=ax)  # noqa: E731
        m = sl(0, T - 2) & sl(1, T - 1) & sl(2, T)
    out = _masked_mean(e, m)
    return out * float(fps) ** 2 if fps is not None else out


def jitter(poses, fps: float | None = None, axis: int = 0) -> float:
    """Mean magnitude of the second difference (mm/frame², or mm/s² with fps).

    A reference-free smoothness measure of one trajectory.
    """
    a = second_difference(poses, axis=axis)
    out = float(np.mean(np.linalg.norm(a, axis=-1)))
    return out * float(fps) ** 2 if fps is not None else out


# --------------------------------------------------------------------- tables
def evaluate(
    predicted,
    target,
    parents,
    *,
    groups=None,
    time_axis: int | None = 0,
    fps: float | None = None,
    pck_threshold: float | None = None,
    auc_range: tuple[float, float] | None = None,
    pcf_thresholds: Sequence[float] | None = None,
) -> dict:
    """The standard metric set for tables.

    Always: ``mpjpe``, ``pa_mpjpe``, ``bone_error``, ``bone_std`` (of the
    predictions, per ``groups``), ``bone_std_gt`` (of the targets, a sanity
    floor) and, when ``time_axis`` is given and it has >= 3 frames,
    ``accel_error`` and ``jitter`` (NaN otherwise).  On request: ``pck``
    (at ``pck_threshold``), ``auc`` (over ``auc_range``), ``epe_mean`` /
    ``epe_median``, and ``pcf@<τ>`` for each of ``pcf_thresholds``.
    """
    predicted, target = _check_pair(predicted, target)
    out = {
        "mpjpe": mpjpe(predicted, target),
        "pa_mpjpe": pa_mpjpe(predicted, target),
        "bone_error": bone_error(predicted, target, parents),
        "bone_std": bone_std(predicted, parents, groups=groups),
        "bone_std_gt": bone_std(target, parents, groups=groups),
    }
    nan = float("nan")
    if time_axis is not None and predicted.ndim > 2 and predicted.shape[time_axis % predicted.ndim] >= 3:
        out["accel_error"] = accel_error(predicted, target, fps=fps, axis=time_axis)
        out["jitter"] = jitter(predicted, fps=fps, axis=time_axis)
    else:
        out["accel_error"] = nan
        out["jitter"] = nan
    if pck_threshold is not None:
        out["pck"] = pck(predicted, target, pck_threshold)
    if auc_range is not None:
        out["auc"] = auc(predicted, target, lo=auc_range[0], hi=auc_range[1])
        e = epe(predicted, target)
        out["epe_mean"], out["epe_median"] = e["mean"], e["median"]
    if pcf_thresholds is not None:
        for tau, v in zip(pcf_thresholds, pcf_curve(predicted, target, pcf_thresholds)):
            out[f"pcf@{tau:g}"] = float(v)
    return out
