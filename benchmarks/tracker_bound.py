"""What limits the tracker's gain with these networks?  Error anatomy, relation quality and oracles.

For a model directory's networks on the card's held-out test sequences, per frame rate:

* single-frame MPJPE split into a per-sequence bias (each joint's mean error vector over a
  sequence, which no temporal term can remove) and the rest;
* the relation networks' errors per coordinate (u, v px; z mm; mean absolute) beside what the
  pose network alone implies: bones of the single-frame pose against the spatial network's, and
  the difference of two single-frame poses against the temporal network's displacements (d = 1),
  with the zero-motion baseline;
* oracles: the online tracker (Dmf+bone, best weights on a grid) when the relation errors are
  scaled by lambda (relation = ground truth + lambda x network error): bones only, displacements
  only, both.  lambda = 1 is the networks as they are, 0 ground-truth relations: how good the
  spatial or temporal network must become for a given gain;
* oracles of the tracker's weighting with the networks as they are: Dmf+bone with (alpha, gamma)
  chosen separately for (u, v) and for z (the coordinates are independent least-squares problems),
  and the bone term alone with per-joint, per-coordinate weights set to the inverse of each term's
  mean squared error on these sequences (weighted least squares for independent errors): whether a
  better weighting, not better networks, would lift the gain;
* oracles of two priors a tracker could add (the bone term alone): a robust (Huber) data term, re-weighted
  from each joint's disagreement with its bones, and bone depths set from each sequence's true bone lengths
  and the network's (u, v) (bone-length constancy; the true lengths make it an upper bound);
* the persistence of the single-frame errors (their autocorrelation over lags of 1 to 16 frames, each
  sequence's bias removed) and the temporal term alone (Df) on the poses as they are against the same pose
  errors shuffled in time: whether the frames' errors are independent enough for a relation between frames
  to average them out;
* the bones' independence from the pose: their errors' correlation with those of the single-frame pose's own
  bones, and the tracker with bones of the very same errors drawn from 40 frames away or another sequence
  (errors of the same size no longer shared with the pose: what bones trained to add to the pose could give);
* what no bone term can remove: each frame's shift of the whole skeleton (the mean of its joints' errors), for
  the single-frame pose, the bone term and the bone term with exact bones;
* whether the bones' pooling location bounds them: pooled at the true joints' parents, or at a first fusion's;
* forward gaps past the pose errors' persistence (up to 12 frames): their displacement errors and the tracker
  with them;
* for a pose network with depths about the crop's centre: depths anchored at the root joint's prediction (the
  card) or at the centre, single-frame and with the bone term;
* the bone term with weights for correlated errors: each frame's joints and bones fused by generalised least
  squares with their errors' covariance measured on validation sequences (how many a tracker must calibrate
  on), then the temporal term;
* crops drawn anew per frame (shifted, scaled, turned; the spatial network's own crop): whether decorrelating the
  single-frame errors over time lets the tracker average them;
* the duration set (durations 1, 2, 3): each duration's displacement errors, their correlation with each
  other's and the pose's at the same frame, what a frame's estimate gains from them with correlated
  (generalised least squares) and per-term weights, and the temporal-only tracker with Df, Dmf and Dmf with
  per-duration gammas (whether multi-step tracking can help with these networks, and why not).

The grid is searched on the same test sequences (an oracle, not a card figure).

    python -m benchmarks.tracker_bound --model export/body-lite

Writes ``benchmarks/results/tracker_bound-<model>.json`` and ``.png``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine_info

LAMBDAS = (1.0, 0.9, 0.8, 0.5, 0.25, 0.0)
ALPHAS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)   # body-lite's fourth-round bones want 10 on the card
GAMMAS = (0.03, 0.1, 0.3, 1.0, 3.0)
DURATIONS = (1, 2, 3)


def gt_deltas(J: np.ndarray, d: int) -> np.ndarray:
    D = np.full(J.shape, np.nan)
    D[d:] = J[d:] - J[:-d]
    return D


def gt_bones(J: np.ndarray, parents: np.ndarray) -> np.ndarray:
    par = np.where(parents < 0, np.arange(len(parents)), parents)
    return J - J[:, par]


def relation_errors(P: list) -> dict:
    """Mean absolute errors per coordinate (u, v, z) of the relations and what single frames imply."""
    sp, sf, tn, tp, tz = [], [], [], [], []
    for s, p in P:
        J, par = s.joints_2p5d, s.skeleton.parents_array
        B = gt_bones(J, par)
        nr = s.skeleton.non_root
        sp.append(np.abs(p["B"] - B)[:, nr].reshape(-1, 3))
        sf.append(np.abs(gt_bones(p["J"], par) - B)[:, nr].reshape(-1, 3))
        G = J[1:] - J[:-1]
        tn.append(np.abs(p["deltas"][1][1:] - G).reshape(-1, 3))
        tp.append(np.abs((p["J"][1:] - p["J"][:-1]) - G).reshape(-1, 3))
        tz.append(np.abs(G).reshape(-1, 3))

    def m(xs):
        return [round(float(x), 3) for x in np.concatenate(xs).mean(0)]
    return {"bones": {"spatial_network": m(sp), "from_single_frame_poses": m(sf)},
            "displacements_d1": {"temporal_network": m(tn), "single_frame_difference": m(tp), "zero_motion": m(tz)}}


def blue_sd(cov: np.ndarray, independent: bool = False) -> float:
    """The error sd of the best linear unbiased combination of estimates of one value with error covariance
    ``cov`` (generalised least squares); ``independent``: weighted by each estimate's inverse variance as if
    their errors were uncorrelated (what per-term weights in a least-squares solve can do), its true sd."""
    cov = np.atleast_2d(cov)
    one = np.ones(len(cov))
    w = one / np.diag(cov) if independent else np.linalg.solve(cov, one)
    w = w / w.sum()
    return float(np.sqrt(w @ cov @ w))


def _frame_errors(P: list) -> np.ndarray:
    """(1 + len(DURATIONS), n, 3) errors (u, v px; z mm) on the frames that have every duration: the
    single-frame pose's (depths relative to the root's), then each duration's displacement's."""
    dmax = max(DURATIONS)
    e = {k: [] for k in ("pose", *DURATIONS)}
    for s, p in P:
        J = s.joints_2p5d
        Ep = p["J"] - J
        Ep[..., 2] -= Ep[:, s.skeleton.root : s.skeleton.root + 1, 2]
        e["pose"].append(Ep[dmax:].reshape(-1, 3))
        for d in DURATIONS:
            e[d].append((p["deltas"][d] - gt_deltas(J, d))[dmax:].reshape(-1, 3))
    return np.stack([np.concatenate(e[k]) for k in e])


def duration_errors(P: list) -> dict:
    """The temporal network's displacement errors over each duration d of DURATIONS, on the frames that have
    all of them, per coordinate (u, v px; z mm): their rms, the correlation of the errors of the single-frame
    pose and of every duration at the same frame (all four estimate the same frame's joints from its image),
    and what they are worth: the error sd of the frame's joints estimated from its pose and the earlier
    frames' *true* joints plus the displacements, best linear unbiased (``gls``) and with one weight per
    term (``per_term``, inverse variance: what the tracker's gammas can do), for the pose alone, with d = 1
    (Df) and with every duration (Dmf).  When the durations' errors are correlated, more of them add little;
    with per-term weights they can even hurt.  The true earlier joints make it a bound: where a network's
    displacement errors are proportional to the motion (it predicts little of it: the hand's depth), the
    best combination extrapolates the true trajectory and the bound is loose."""
    E = _frame_errors(P)
    out = {"terms": ["pose", *[f"d{d}" for d in DURATIONS]], "rms": {}, "correlation": {}, "sd": {}}
    for c, name in enumerate("uvz"):
        X = E[..., c] - E[..., c].mean(1, keepdims=True)
        cov = X @ X.T / X.shape[1]
        sd = np.sqrt(np.diag(cov))
        out["rms"][name] = [round(float(x), 3) for x in np.sqrt((E[..., c] ** 2).mean(1))]
        out["correlation"][name] = np.round(cov / np.outer(sd, sd), 3).tolist()
        n = len(cov)
        out["sd"][name] = {
            "pose": round(float(sd[0]), 3),
            **{f"{label}_{kind}": round(blue_sd(cov[np.ix_(idx, idx)], kind == "per_term"), 3)
               for label, idx in (("Df", [0, 1]), ("Dmf", list(range(n)))) for kind in ("gls", "per_term")}}
    return out


def duration_oracles(P: list) -> dict:
    """The online tracker with the temporal term alone (no bones) on ``P``, gamma searched on ``P``: Df, Dmf
    with one gamma for every duration (the card's), and Dmf with per-duration gammas (seed 000 Eq. 8's gamma_n)
    in the ratios of the inverse mean squared errors of the durations' displacements (mean over u, v, z)."""
    ms = (_frame_errors(P)[1:] ** 2).mean(1)                         # (durations, 3)
    ratio = np.mean(ms[0] / ms, axis=1)                              # per duration, 1 for d = 1
    return {"Df": best_temporal(P, (1,), np.ones(1)), "Dmf": best_temporal(P, DURATIONS, np.ones(len(DURATIONS))),
            "Dmf_inverse_mse": best_temporal(P, DURATIONS, ratio)}


def best_temporal(P: list, durations, weights) -> dict:
    """The online tracker with the temporal term alone (no bones) on ``P``, the card's gammas times the
    per-duration ``weights`` searched on ``P`` (an oracle): its MPJPE and gammas."""
    from trt_tracker.evaluate import GAMMAS as CARD_GAMMAS, mpjpe, to_cam, track

    errs = {g: float(np.mean([mpjpe(to_cam(s, track(p, s.skeleton, durations, 0.0, tuple(g * weights))),
                                    s.joints_cam) for s, p in P])) for g in CARD_GAMMAS}
    g = min(errs, key=errs.get)
    return {"mpjpe": errs[g], "gamma": g, "gammas": [round(float(x), 4) for x in g * weights]}


LAGS = (1, 2, 4, 8, 16)


def error_autocorrelation(P: list, lags=LAGS) -> dict:
    """{"u" / "v" / "z": [correlation of the pose's error at frame t with its error at t + lag, per lag]} over
    the sequences ``P`` (u, v px; z relative to the root's), each sequence's per-joint mean error removed."""
    out = {}
    for c, name in enumerate("uvz"):
        num, den = {lag: 0.0 for lag in lags}, 0.0
        for s, p in P:
            E = p["J"] - s.joints_2p5d
            if c == 2:
                E = E.copy()
                E[..., 2] -= E[:, s.skeleton.root : s.skeleton.root + 1, 2]
            X = E[..., c] - E[..., c].mean(0)              # (T, K): bias removed
            den += float((X * X).sum())
            for lag in lags:
                num[lag] += float((X[lag:] * X[:-lag]).sum()) if lag < len(X) else 0.0
        out[name] = [round(num[lag] / den, 3) for lag in lags]
    return out


def error_persistence(P: list, seed: int = 0) -> dict:
    """Whether the single-frame errors persist from frame to frame, and what that costs the temporal term.

    ``autocorrelation``: per coordinate (u, v px; z mm relative to the root's), the correlation of the pose's
    error at frame t with its error at t + lag, each sequence's per-joint mean error (its bias) removed first.
    ``tracker_df``: the online tracker with the temporal term alone (Df, gamma searched on ``P``: an oracle) on
    the networks' poses as they are, and on poses whose errors were shuffled in time within each sequence (the
    same errors, no longer persistent) with the same displacements: how much of the temporal term's gain the
    persistence takes away."""
    from trt_tracker.evaluate import mpjpe, to_cam

    out = {"lags": list(LAGS), "autocorrelation": error_autocorrelation(P)}
    rng = np.random.default_rng(seed)
    shuffled = []
    for s, p in P:
        E = p["J"] - s.joints_2p5d
        shuffled.append((s, {**p, "J": s.joints_2p5d + E[rng.permutation(len(E))]}))

    def best(preds):
        single = float(np.mean([mpjpe(to_cam(s, p["J"]), s.joints_cam) for s, p in preds]))
        r = best_temporal(preds, (1,), np.ones(1))
        return {"single_mpjpe": single, "mpjpe": r["mpjpe"], "gamma": r["gamma"], "reduction": 1 - r["mpjpe"] / single}
    out["tracker_df"] = {"as_predicted": best(P), "errors_shuffled_in_time": best(shuffled)}
    return out


def oracle(P: list, lam_bones: float, lam_displ: float) -> dict:
    """Best Dmf+bone MPJPE over the grid with relation errors scaled by the lambdas."""
    from trt_tracker.evaluate import mpjpe, to_cam, track

    preds = []
    for s, p in P:
        J, par = s.joints_2p5d, s.skeleton.parents_array
        B = gt_bones(J, par)
        q = dict(p)
        q["B"] = B + lam_bones * (p["B"] - B)
        q["deltas"] = {d: gt_deltas(J, d) + lam_displ * (p["deltas"][d] - gt_deltas(J, d)) for d in DURATIONS}
        preds.append((s, q))
    best = (np.inf, None, None)
    for a, g in itertools.product(ALPHAS, GAMMAS):
        e = float(np.mean([mpjpe(to_cam(s, track(q, s.skeleton, DURATIONS, a, g)), s.joints_cam) for s, q in preds]))
        if e < best[0]:
            best = (e, a, g)
    return {"mpjpe": best[0], "alpha": best[1], "gamma": best[2]}


def bone_independence(P: list, shift: int = 40) -> dict:
    """How much of the bones' value is lost to errors they share with the pose: the correlation (per
    coordinate) of the spatial network's bone errors with those of the single-frame pose's own bones, and the
    online tracker (Dmf+bone, grid on ``P``) with bones of the very same errors moved away from the pose's:
    drawn from ``shift`` frames later in the same sequence (cyclically), or from the next sequence (same
    frame index): errors of the same size that no longer share the pose's."""
    nr = P[0][0].skeleton.non_root
    G = [gt_bones(s.joints_2p5d, s.skeleton.parents_array) for s, _ in P]
    E = [p["B"] - g for (_, p), g in zip(P, G)]                     # the bones' errors
    eb = np.concatenate([e[:, nr].reshape(-1, 3) for e in E])
    ej = np.concatenate([(gt_bones(p["J"], s.skeleton.parents_array) - g)[:, nr].reshape(-1, 3)
                         for (s, p), g in zip(P, G)])
    out = {"correlation_with_pose_bones_uvz": [round(float(np.corrcoef(eb[:, c], ej[:, c])[0, 1]), 3)
                                               for c in range(3)],
           "as_predicted": oracle(P, 1.0, 1.0)}

    def moved(errors_of):
        return [(s, {**p, "B": G[i] + errors_of(i, len(s))}) for i, (s, p) in enumerate(P)]

    def shifted(i, T):
        return np.roll(E[i], -(shift % T), axis=0)

    def other(i, T):
        e = E[(i + 1) % len(P)]
        return e[np.arange(T) % len(e)]

    out[f"errors_{shift}_frames_away"] = oracle(moved(shifted), 1.0, 1.0)
    out["errors_of_another_sequence"] = oracle(moved(other), 1.0, 1.0)
    return out


def _bone_rows(parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-root joints and the (bones x K) incidence matrix L: (L x)[b] = x[k_b] - x[parent(k_b)]."""
    nr = np.flatnonzero(parents >= 0)
    L = np.zeros((len(nr), len(parents)))
    L[np.arange(len(nr)), nr] = 1.0
    L[np.arange(len(nr)), parents[nr]] = -1.0
    return nr, L


def weighting_oracles(P: list) -> dict:
    """Best MPJPE on ``P`` of Dmf+bone with one (alpha, gamma) for all coordinates against one for (u, v) and
    one for z; and of the bone term alone, uniform alpha against per-joint inverse-MSE weights (both grids
    searched on ``P``: oracles)."""
    from trt_tracker.evaluate import mpjpe, to_cam, track

    grid = list(itertools.product(ALPHAS, GAMMAS))
    sols = {k: [track(p, s.skeleton, DURATIONS, *k) for s, p in P] for k in grid}

    def mixed(k_uv, k_z):
        errs = []
        for i, (s, _) in enumerate(P):
            X = sols[k_uv][i].copy()
            X[..., 2] = sols[k_z][i][..., 2]
            errs.append(mpjpe(to_cam(s, X), s.joints_cam))
        return float(np.mean(errs))

    shared = min(grid, key=lambda k: mixed(k, k))
    split = min(itertools.product(grid, grid), key=lambda kk: mixed(*kk))
    out = {"dmf_bone_shared": {"mpjpe": mixed(shared, shared), "alpha_gamma": shared},
           "dmf_bone_per_axis": {"mpjpe": mixed(*split), "alpha_gamma_uv": split[0], "alpha_gamma_z": split[1]}}

    sk = P[0][0].skeleton
    par = sk.parents_array
    K = len(par)
    nr, L = _bone_rows(par)                       # bone rows: x[k] - x[parent(k)]

    def bones_only(w, a):
        """Per frame: min sum_k w[k,c] (x - J)^2 + a[k,c] (x[k] - x[par] - B)^2, each coordinate c alone."""
        inv = [np.linalg.inv(np.diag(w[:, c]) + L.T @ np.diag(a[nr, c]) @ L) for c in range(3)]
        errs = []
        for s, p in P:
            X = np.empty_like(p["J"])
            for c in range(3):
                X[..., c] = (p["J"][..., c] * w[:, c] + (p["B"][:, nr, c] * a[nr, c]) @ L) @ inv[c].T
            errs.append(mpjpe(to_cam(s, X), s.joints_cam))
        return float(np.mean(errs))

    one = np.ones((K, 3))
    eJ = np.concatenate([p["J"] - s.joints_2p5d for s, p in P])
    eJ[..., 2] -= eJ[:, sk.root : sk.root + 1, 2]            # depths count relative to the root's
    eB = np.concatenate([p["B"] - gt_bones(s.joints_2p5d, par) for s, p in P])
    msJ, msB = (eJ ** 2).mean(0), (eB ** 2).mean(0)
    msJ[sk.root, 2] = msJ[:, 2].mean()                       # the root's relative depth is 0 by definition
    wJ, wB = 1 / np.maximum(msJ, 1e-9), 1 / np.maximum(msB, 1e-9)
    wJ, wB = wJ / wJ.mean(0), wB / wB[nr].mean(0)
    scales = ALPHAS
    a_uni = min(scales, key=lambda a: bones_only(one, a * one))
    a_w = min(scales, key=lambda a: bones_only(wJ, a * wB))
    out["bone_uniform"] = {"mpjpe": bones_only(one, a_uni * one), "alpha": a_uni}
    out["bone_inverse_mse"] = {"mpjpe": bones_only(wJ, a_w * wB), "scale": a_w}
    return out


def solve_bones_irls(s, p: dict, alpha: float, huber_mm: float = 0.0, iters: int = 3) -> np.ndarray:
    """Per frame: min_x sum_k w_k |x_k - J_k|^2 + alpha |x_k - x_parent - B_k|^2 (each coordinate alone), with
    w_k = min(1, huber_mm / r_k) re-weighted ``iters`` times from r_k, the data residual in camera mm (u, v
    scaled by the joint's depth over the focal length): a robust (Huber) data term, so a single-frame joint that
    its bones disagree with counts less.  ``huber_mm`` 0: plain least squares (w = 1)."""
    par = s.skeleton.parents_array
    nr, L = _bone_rows(par)
    J, B = p["J"], p["B"]
    K = len(par)
    rhs_b = alpha * np.einsum("bk,tbc->tkc", L, B[:, nr])
    A_b = alpha * L.T @ L
    root = s.skeleton.root
    depth = s.root_depth[:, None] + J[..., 2] - J[:, root : root + 1, 2]
    w = np.ones(J.shape[:2])
    for _ in range(iters if huber_mm > 0 else 1):
        X = np.linalg.solve(A_b[None] + w[:, :, None] * np.eye(K)[None], w[..., None] * J + rhs_b)
        if huber_mm <= 0:
            break
        R = X - J
        r = np.sqrt((R[..., 0] * depth / s.intrinsics.fx) ** 2 + (R[..., 1] * depth / s.intrinsics.fy) ** 2
                    + R[..., 2] ** 2)
        w = np.minimum(1.0, huber_mm / np.maximum(r, 1e-9))
    return X


def bones_from_lengths(s, p: dict, lengths: np.ndarray) -> np.ndarray:
    """The spatial network's bones with each depth component replaced by the one that gives the bone the
    3D length ``lengths`` (K,) mm with the network's (u, v) and the single-frame parent's depth: the root of
    |X_k - X_parent| = L nearest the network's own z (the vertex of the quadratic when no root is real)."""
    par = s.skeleton.parents_array
    nr = np.flatnonzero(par >= 0)
    J, B = p["J"], p["B"]
    intr, root = s.intrinsics, s.skeleton.root
    zp = s.root_depth[:, None] + J[:, par[nr], 2] - J[:, root : root + 1, 2]       # parents' camera depths
    ap, bp = (J[:, par[nr], 0] - intr.cx) / intr.fx, (J[:, par[nr], 1] - intr.cy) / intr.fy
    ak = (J[:, par[nr], 0] + B[:, nr, 0] - intr.cx) / intr.fx
    bk = (J[:, par[nr], 1] + B[:, nr, 1] - intr.cy) / intr.fy
    ex, ey = (ak - ap) * zp, (bk - bp) * zp
    # |(ex + ak dz, ey + bk dz, dz)|^2 = L^2, a quadratic in the bone's depth dz
    a2, a1, a0 = 1 + ak ** 2 + bk ** 2, 2 * (ex * ak + ey * bk), ex ** 2 + ey ** 2 - lengths[nr] ** 2
    disc = np.sqrt(np.maximum(a1 ** 2 - 4 * a2 * a0, 0.0))
    r1, r2 = (-a1 + disc) / (2 * a2), (-a1 - disc) / (2 * a2)
    z = B[:, nr, 2]
    out = B.copy()
    out[:, nr, 2] = np.where(np.abs(r1 - z) <= np.abs(r2 - z), r1, r2)
    return out


def prior_oracles(P: list) -> dict:
    """Two priors a tracker could add, with the networks as they are (grids searched on ``P``: oracles), for
    the bone term alone: a robust (Huber) data term (:func:`solve_bones_irls`), and the bones' depths set
    from each sequence's true bone lengths (:func:`bones_from_lengths`; with lengths a live tracker would
    have to estimate, so an upper bound), each against plain least squares."""
    from trt_tracker.evaluate import mpjpe, to_cam

    def err(preds, alpha, huber=0.0):
        return float(np.mean([mpjpe(to_cam(s, solve_bones_irls(s, p, alpha, huber)), s.joints_cam)
                              for s, p in preds]))

    def bone_z_error(preds):
        nr = preds[0][0].skeleton.non_root
        return float(np.mean([np.abs(p["B"] - gt_bones(s.joints_2p5d, s.skeleton.parents_array))[:, nr, 2].mean()
                              for s, p in preds]))

    def with_true_lengths(s, p):
        lengths = np.median(np.linalg.norm(gt_bones(s.joints_cam, s.skeleton.parents_array), axis=-1), axis=0)
        return {**p, "B": bones_from_lengths(s, p, lengths)}

    scales = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    a = min(scales, key=lambda a: err(P, a))
    out = {"bone_least_squares": {"mpjpe": err(P, a), "alpha": a, "bone_z_error_mm": bone_z_error(P)}}
    # Huber thresholds as shares of the single-frame MPJPE.
    single = np.mean([mpjpe(to_cam(s, p["J"]), s.joints_cam) for s, p in P])
    hubers = [float(f * single) for f in (0.125, 0.25, 0.5, 1.0)]
    best = min(itertools.product(scales, hubers), key=lambda ah: err(P, *ah))
    out["bone_huber_data"] = {"mpjpe": err(P, *best), "alpha": best[0], "huber_mm": best[1]}
    Q = [(s, with_true_lengths(s, p)) for s, p in P]
    a = min(scales, key=lambda a: err(Q, a))
    out["bone_true_lengths"] = {"mpjpe": err(Q, a), "alpha": a, "bone_z_error_mm": bone_z_error(Q)}
    return out


def _bone_term(P: list, to_cam_fn=None) -> dict:
    """The online tracker with the bone term alone on ``P``, alpha searched on ``P``: MPJPE and alpha."""
    from trt_tracker.evaluate import mpjpe, to_cam, track

    to_cam_fn = to_cam_fn or to_cam
    errs = {a: float(np.mean([mpjpe(to_cam_fn(s, track(p, s.skeleton, (), a, 0.0)), s.joints_cam) for s, p in P]))
            for a in ALPHAS}
    a = min(errs, key=errs.get)
    return {"mpjpe": errs[a], "alpha": a}


def common_shift(P: list) -> dict:
    """How much of the error is a shift of the whole skeleton, which no bone term can remove: per frame, the mean
    of the joints' error vectors (camera mm), for the single-frame pose, the bone term (as predicted) and the
    bone term with exact bones; ``shift_mm`` its mean length, ``shift_rms_xyz_mm`` per axis, ``rest_mm`` the
    MPJPE once each frame's shift is removed."""
    from trt_tracker.evaluate import to_cam, track

    def anatomy(estimate) -> dict:
        E = [to_cam(s, estimate(s, p)) - s.joints_cam for s, p in P]
        c = np.concatenate([e.mean(1) for e in E])
        return {"mpjpe": float(np.mean([np.linalg.norm(e, axis=-1).mean() for e in E])),
                "shift_mm": float(np.linalg.norm(c, axis=-1).mean()),
                "shift_rms_xyz_mm": [round(float(x), 3) for x in np.sqrt((c ** 2).mean(0))],
                "rest_mm": float(np.mean([np.linalg.norm(e - e.mean(1, keepdims=True), axis=-1).mean() for e in E]))}
    a = _bone_term(P)["alpha"]
    exact = [(s, {**p, "B": gt_bones(s.joints_2p5d, s.skeleton.parents_array)}) for s, p in P]
    a_exact = _bone_term(exact)["alpha"]
    return {"single_frame": anatomy(lambda s, p: p["J"]),
            "bone_term": {**anatomy(lambda s, p: track(p, s.skeleton, (), a, 0.0)), "alpha": a},
            "bone_term_exact_bones": {**anatomy(lambda s, p: track({**p, "B": gt_bones(s.joints_2p5d,
                                                                                        s.skeleton.parents_array)},
                                                                   s.skeleton, (), a_exact, 0.0)),
                                      "alpha": a_exact}}


def pooling_location(P: list, pred) -> dict:
    """Whether where the bones are pooled bounds them: the bone term with the spatial network's bones pooled at
    the parents of the single-frame pose's joints (as the tracker does), of the true joints, and of a first
    bone-term fusion's joints (a second pass a tracker could make)."""
    from trt_tracker.evaluate import predict_sequence, track

    first = _bone_term(P)
    out = {"pose_joints": first}
    for name, at in (("true_joints", lambda s, p: s.joints_2p5d),
                     ("first_fusion", lambda s, p: track(p, s.skeleton, (), first["alpha"], 0.0))):
        Q = [(s, {**p, "B": predict_sequence(s, pred, (), reuse=p, bones_at=at(s, p))["B"]}) for s, p in P]
        out[name] = _bone_term(Q)
    return out


LONG_GAPS = (1, 2, 4, 8, 12)


def long_gaps(P: list, pred, gaps=LONG_GAPS) -> dict:
    """Forward durations longer than the pose errors' persistence: each gap's displacement error (mean
    absolute, u, v px; z mm) against zero motion, and the online tracker with the bone term and duration sets
    reaching past the persistence (alpha, gamma and window 16 or 32 searched on ``P``)."""
    from trt_tracker.evaluate import mpjpe, predict_sequence, to_cam, track

    Q = [(s, {**p, "deltas": {**p["deltas"], **predict_sequence(s, pred, [g for g in gaps if g not in p["deltas"]],
                                                                 reuse=p)["deltas"]}}) for s, p in P]
    out = {"displacement_errors_uvz": {}, "trackers": {}}
    for g in gaps:
        e, z = [], []
        for s, p in Q:
            G = gt_deltas(s.joints_2p5d, g)[g:]
            e.append(np.abs(p["deltas"][g][g:] - G).reshape(-1, 3))
            z.append(np.abs(G).reshape(-1, 3))
        out["displacement_errors_uvz"][str(g)] = {"network": np.concatenate(e).mean(0).round(3).tolist(),
                                                   "zero_motion": np.concatenate(z).mean(0).round(3).tolist()}
    for durs in [d for d in ((1,), (1, 4), (1, 8), (1, 4, 8), (1, 4, 8, 12), (8,)) if set(d) <= set(gaps)]:
        best = (np.inf, None)
        for a, g, w in itertools.product((0.3, 1.0, 3.0), GAMMAS, (16, 32)):
            if w > max(durs):
                e = float(np.mean([mpjpe(to_cam(s, track(p, s.skeleton, durs, a, g, window=w)), s.joints_cam)
                                   for s, p in Q]))
                if e < best[0]:
                    best = (e, {"alpha": a, "gamma": g, "window": w})
        out["trackers"][",".join(map(str, durs)) + "+bone"] = {"mpjpe": best[0], **best[1]}
    return out


def centre_anchor(P: list) -> dict:
    """For a pose network whose depths are about the crop's depth centre (the true root depth on the card):
    each joint's depth anchored at its root joint's prediction (the card's root-relative protocol) or at the
    crop's centre (its own output), single-frame and with the bone term (alpha searched on ``P``)."""
    from trt_tracker.camera import p2p5d_to_cam
    from trt_tracker.evaluate import mpjpe, to_cam

    root = P[0][0].skeleton.root
    centred = []
    for s, p in P:
        J = p["J"].copy()
        J[..., 2] += (p["root_depth"] - s.root_depth)[:, None]       # back to z about the crop's centre
        centred.append((s, {**p, "J": J}))

    def to_cam_centre(s, X):
        return p2p5d_to_cam(X, s.intrinsics, s.root_depth + X[:, root, 2], root)

    out = {}
    for name, Q, fn in (("root_joint", P, to_cam), ("crop_centre", centred, to_cam_centre)):
        single = float(np.mean([mpjpe(fn(s, p["J"]), s.joints_cam) for s, p in Q]))
        b = _bone_term(Q, fn)
        out[name] = {"single_mpjpe": single, "bone_term": b, "reduction": 1 - b["mpjpe"] / single}
    return out



def gls_fused(P: list, V: list, shrink: float) -> list:
    """``P`` with each frame's joints fused with its bones by generalised least squares
    (:class:`~trt_tracker.solver.SpatialFusion`), the errors' covariance measured on ``V`` and shrunk towards
    its diagonal by ``shrink``."""
    from trt_tracker.evaluate import fit_fusion, fused_predictions

    return fused_predictions(P, fit_fusion(V, shrink))

GLS_COUNTS = (16, 48, 144)
GLS_SHRINKS = (0.0, 0.1, 0.3)


def correlated_weighting(P: list, V: list, counts=GLS_COUNTS, shrinks=GLS_SHRINKS) -> dict:
    """The bone term with weights for correlated errors: each frame's joints and bones fused by generalised
    least squares (:func:`gls_fused`, the tracker's gls variants) with their errors' covariance measured on the first n validation
    sequences of ``V`` (n in ``counts``: how many a tracker must calibrate on; shrunk towards the diagonal by
    each of ``shrinks``), against the bone term with one alpha (searched on ``P``); the best fusion then the
    temporal term (Df, gamma searched on ``P``) against Df+bone; and the covariance measured on ``P`` itself
    (in-sample: an optimistic bound)."""
    from trt_tracker.evaluate import GAMMAS as CARD_GAMMAS, mpjpe, to_cam, track

    def err(Q, durations=(), alpha=0.0, gamma=0.0):
        return float(np.mean([mpjpe(to_cam(s, track(p, s.skeleton, durations, alpha, gamma)), s.joints_cam)
                              for s, p in Q]))

    single = err(P)
    out = {"single_mpjpe": single, "bone_term": _bone_term(P), "gls": {}}
    counts = [c for c in counts if c <= len(V)] or [len(V)]
    n_max = max(counts)
    best = (np.inf, None)
    for n in counts:
        for sh in shrinks:
            e = err(gls_fused(P, V[:n], sh))
            out["gls"][f"{n} sequences, shrink {sh:g}"] = e
            if n == n_max and e < best[0]:
                best = (e, sh)
    Q = gls_fused(P, V[:n_max], best[1])
    df = {g: err(Q, (1,), 0.0, g) for g in CARD_GAMMAS}
    g = min(df, key=df.get)
    grid = {(a, g2): err(P, (1,), a, g2) for a, g2 in itertools.product(ALPHAS, GAMMAS)}
    k = min(grid, key=grid.get)
    out["gls_then_df"] = {"mpjpe": df[g], "gamma": g, "shrink": best[1], "validation_sequences": n_max,
                          "reduction": 1 - df[g] / single}
    out["df_bone"] = {"mpjpe": grid[k], "alpha": k[0], "gamma": k[1], "reduction": 1 - grid[k] / single}
    out["gls_in_sample"] = err(gls_fused(P, P, 0.0))
    return out


def predict_dithered(seq, pred, shift: float, scale: float, rotation_deg: float, seed: int = 0,
                     spatial_own: bool = False) -> dict:
    """:func:`~trt_tracker.evaluate.predict_sequence` (d = 1) with each frame's crop for the pose and spatial
    networks moved by up to ``shift`` x its size, scaled by up to exp(+-``scale``) and turned by up to
    +-``rotation_deg``, drawn anew per frame (uniform; the temporal network's pairs as on the card);
    ``spatial_own``: the spatial network gets a crop of its own draw."""
    from trt_tracker.camera import CropBox, box_from_points
    from trt_tracker.codec import split_root_depth
    from trt_tracker.evaluate import _batched, predict_sequence

    c, T, sk = pred.codec, len(seq), seq.skeleton
    P, root_z = seq.joints_2p5d, seq.root_depth

    def tf_of(t, salt):
        b = box_from_points(P[t, :, :2], pred.margin)
        r = np.random.default_rng([seed, salt, t])
        dx, dy = r.uniform(-shift, shift, 2) * b.size
        return c.transform(CropBox(b.cx + dx, b.cy + dy, b.size * np.exp(r.uniform(-scale, scale))),
                           r.uniform(-rotation_deg, rotation_deg))

    tfs = [tf_of(t, 0) for t in range(T)]
    stfs = [tf_of(t, 1) for t in range(T)] if spatial_own else tfs

    def crops(idx, tf):
        return np.stack([c.crop_input(seq.frames[t], tf[t], seq.modality, root_z[t]) for t in idx])

    Jn = _batched(pred.pose, T, lambda idx: (crops(idx, tfs),), pred.batch)
    J = np.stack([c.decode_points(Jn[t], tfs[t]) for t in range(T)])
    out = {"deltas": {}}
    if pred.z_ref == "centre":
        J, out["root_depth"] = split_root_depth(J, root_z, sk.root)
    out["J"] = J
    par = np.where(sk.parents_array < 0, np.arange(sk.K), sk.parents_array)
    rel = [c.encode_points(J[t], stfs[t])[par, :2] if spatial_own else Jn[t][par, :2] for t in range(T)]
    Bn = _batched(pred.spatial, T, lambda idx: (crops(idx, stfs), np.stack([rel[t] for t in idx])), pred.batch)
    B = np.stack([c.decode_vectors(Bn[t], stfs[t]) for t in range(T)])
    B[:, sk.root] = 0.0
    out["B"] = B
    out["deltas"] = predict_sequence(seq, pred, (1,), reuse=out)["deltas"]
    return out


DITHERS = {"shift_scale_5pct": (0.05, 0.05, 0.0, False), "and_rotation_15deg": (0.05, 0.05, 15.0, False),
           "spatial_own_crop_10pct": (0.10, 0.10, 0.0, True)}


def crop_dither(P: list, pred, dithers=DITHERS) -> dict:
    """Whether crops drawn anew per frame decorrelate the single-frame errors over time enough for the tracker
    to average them: per dither of :data:`DITHERS` (shift, scale, rotation, the spatial network's own crop), the
    single-frame MPJPE, the error autocorrelation at lag 1 and Df+bone (alpha, gamma searched on the sequences),
    against the card's crops (``P``: sequences with their frames)."""
    from trt_tracker.evaluate import mpjpe, to_cam, track

    def summary(Q):
        grid = {k: float(np.mean([mpjpe(to_cam(s, track(p, s.skeleton, (1,), *k)), s.joints_cam) for s, p in Q]))
                for k in itertools.product(ALPHAS, GAMMAS)}
        k = min(grid, key=grid.get)
        single = float(np.mean([mpjpe(to_cam(s, p["J"]), s.joints_cam) for s, p in Q]))
        return {"single_mpjpe": single, "autocorrelation_lag1_uvz": [v[0] for v in
                                                                     error_autocorrelation(Q, (1,)).values()],
                "df_bone": {"mpjpe": grid[k], "alpha": k[0], "gamma": k[1], "reduction": 1 - grid[k] / single}}

    out = {"card_crops": summary(P)}
    for name, (shift, scale, rot, own) in dithers.items():
        out[name] = {"shift": shift, "scale": scale, "rotation_deg": rot, "spatial_own_crop": own,
                     **summary([(s, predict_dithered(s, pred, shift, scale, rot, 1, own)) for s, _ in P])}
    return out


def plot(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = list(out["fps"])
    fig, axes = plt.subplots(1, len(rates), figsize=(max(4.2 * len(rates), 7.0), 3.8), squeeze=False,
                             sharey=True)
    for ax, f in zip(axes[0], rates):
        r = out["fps"][f]
        for key, label in (("bones", "bones x lambda"), ("displacements", "displacements x lambda"),
                           ("both", "both x lambda")):
            xs = LAMBDAS
            ys = [100 * (1 - r["oracle"][key][f"{lam:g}"]["mpjpe"] / r["single_mpjpe"]) for lam in xs]
            ax.plot(xs, ys, marker="o", label=label)
        ax.set_title(f"{f} fps: single-frame {r['single_mpjpe']:.1f} mm")
        ax.set_xlabel("relation error scale lambda (1 = the networks)")
        ax.invert_xaxis()
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("MPJPE reduction of Dmf+bone (%)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{out['model']}: tracker gain if the relation networks' errors shrank (oracle)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="export/body-lite")
    ap.add_argument("--fps", type=float, nargs="+", default=[25.0, 8.0, 2.5])
    ap.add_argument("--sequences", type=int, default=8, help="test sequences (the card's first seeds)")
    ap.add_argument("--val-sequences", type=int, default=144,
                    help="validation sequences whose errors' covariance the correlated weighting measures (0: skip "
                         "it; about 5 s each for the hand at 25 fps on 2 cores)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/tracker_bound-"
                                                         "<model>.json; the plot beside it)")
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from trt_tracker.models.graphs import load_model_dir
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import load_sequences, mpjpe, predict_sequence, to_cam, torch_predictor, without_frames
    from trt_tracker.train import TEST_SEEDS, VAL_SEEDS

    nets = load_model_dir(args.model)
    cfg = nets["pose"][1]
    pred = torch_predictor(cfg, nets["pose"][0], nets["spatial"][0], nets["temporal"][0])
    seqs = load_sequences(cfg.modality, range(TEST_SEEDS, TEST_SEEDS + args.sequences), 300, progress=True)
    out = {"machine": machine_info(), "model": args.model, "sequences": args.sequences, "durations": DURATIONS,
           "lambdas": LAMBDAS, "grid": {"alphas": ALPHAS, "gammas": GAMMAS}, "fps": {}}
    for fps in args.fps:
        P = [(s, predict_sequence(s, pred, DURATIONS)) for s in tqdm([s.at_fps(fps) for s in seqs],
                                                                      desc=f"predicting at {fps:g} fps")]
        r = {"single_mpjpe": float(np.mean([mpjpe(to_cam(s, p["J"]), s.joints_cam) for s, p in P]))}
        bias, rest = [], []
        for s, p in P:
            E = to_cam(s, p["J"]) - s.joints_cam
            bias.append(np.linalg.norm(E.mean(0), axis=-1).mean())
            rest.append(np.linalg.norm(E - E.mean(0), axis=-1).mean())
        r["bias_mm"], r["rest_mm"] = float(np.mean(bias)), float(np.mean(rest))
        r["relation_errors_uvz"] = relation_errors(P)
        r["durations"] = {**duration_errors(P), "tracker_oracles": duration_oracles(P)}
        r["oracle"] = {key: {f"{lam:g}": oracle(P, lb, ld) for lam in tqdm(LAMBDAS, desc=f"oracle {key}")
                             for lb, ld in [((lam, 1.0) if key == "bones" else (1.0, lam) if key == "displacements"
                                             else (lam, lam))]}
                       for key in ("bones", "displacements", "both")}
        r["weighting_oracles"] = weighting_oracles(P)
        r["prior_oracles"] = prior_oracles(P)
        r["persistence"] = error_persistence(P)
        r["bone_independence"] = bone_independence(P)
        r["common_shift"] = common_shift(P)
        r["pooling_location"] = pooling_location(P, pred)
        r["long_gaps"] = long_gaps(P, pred)
        if "root_depth" in P[0][1]:
            r["centre_anchor"] = centre_anchor(P)
        if args.val_sequences > 0:
            V = [(without_frames(s), predict_sequence(s, pred, ()))
                 for s in (make_sequence(cfg.modality, VAL_SEEDS + i, 300).at_fps(fps)
                           for i in tqdm(range(args.val_sequences), desc=f"validation sequences at {fps:g} fps"))]
            r["correlated_weighting"] = correlated_weighting(P, V)
        r["crop_dither"] = crop_dither(P, pred)
        out["fps"][f"{fps:g}"] = r
        print(json.dumps({f"{fps:g} fps": {k: r[k] for k in ("single_mpjpe", "bias_mm", "rest_mm",
                                                              "relation_errors_uvz")}}, indent=1))
        for key in r["oracle"]:
            print(f"  {key}: " + ", ".join(f"x{lam}: {v['mpjpe']:.1f}" for lam, v in r["oracle"][key].items()))
        print("  weightings: " + ", ".join(f"{k} {v['mpjpe']:.2f}" for k, v in r["weighting_oracles"].items()))
        print("  priors: " + ", ".join(f"{k} {v['mpjpe']:.2f}" for k, v in r["prior_oracles"].items()))
        per = r["persistence"]
        print(f"  pose error autocorrelation at lags {LAGS}: " + ", ".join(
            f"{c} {v}" for c, v in per["autocorrelation"].items()) + "; Df alone: " + ", ".join(
            f"{k} {v['single_mpjpe']:.2f} -> {v['mpjpe']:.2f}" for k, v in per["tracker_df"].items()))
        bi = r["bone_independence"]
        print(f"  bone errors' correlation with the pose's bones (u, v, z) {bi['correlation_with_pose_bones_uvz']}; "
              "Dmf+bone with the same bone errors as predicted / from 40 frames away / from another sequence: "
              + " / ".join(f"{bi[k]['mpjpe']:.2f}" for k in ("as_predicted", "errors_40_frames_away",
                                                             "errors_of_another_sequence")))
        cs = r["common_shift"]
        print("  per-frame shift of the whole skeleton (mm): " + ", ".join(
            f"{k} {v['mpjpe']:.2f} (shift {v['shift_mm']:.2f}, rest {v['rest_mm']:.2f})" for k, v in cs.items()))
        print("  bone term with bones pooled at the parents of: " + ", ".join(
            f"{k} {v['mpjpe']:.2f}" for k, v in r["pooling_location"].items()))
        print("  long gaps, +bone: " + ", ".join(f"{k} {v['mpjpe']:.2f}" for k, v in r["long_gaps"]["trackers"].items()))
        if "centre_anchor" in r:
            print("  depths anchored at: " + ", ".join(
                f"{k} {v['single_mpjpe']:.2f} -> {v['bone_term']['mpjpe']:.2f} ({-100 * v['reduction']:.1f} %)"
                for k, v in r["centre_anchor"].items()))
        if "correlated_weighting" in r:
            cw = r["correlated_weighting"]
            print(f"  bone term {cw['bone_term']['mpjpe']:.2f}; fused with correlated weights (GLS), covariance from "
                  + ", ".join(f"{k} {v:.2f}" for k, v in cw["gls"].items())
                  + f"; in-sample {cw['gls_in_sample']:.2f}; GLS then Df {cw['gls_then_df']['mpjpe']:.2f} "
                  f"({-100 * cw['gls_then_df']['reduction']:.1f} %) against Df+bone {cw['df_bone']['mpjpe']:.2f} "
                  f"({-100 * cw['df_bone']['reduction']:.1f} %)")
        print("  crops drawn per frame (single -> Df+bone): " + ", ".join(
            f"{k} {v['single_mpjpe']:.2f} -> {v['df_bone']['mpjpe']:.2f} ({-100 * v['df_bone']['reduction']:.1f} %)"
            for k, v in r["crop_dither"].items()))
        dur = r["durations"]
        print(f"  durations {DURATIONS}: rms z {dur['rms']['z']}, sd z {dur['sd']['z']}; temporal term alone: "
              + ", ".join(f"{k} {v['mpjpe']:.2f}" for k, v in dur["tracker_oracles"].items()))
    path = args.out or RESULTS / f"tracker_bound-{Path(args.model).name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    plot(out, path.with_suffix(".png"))
    print(f"wrote {path} and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
