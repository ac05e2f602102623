"""Solver equivalence tests: banded offline and pre-factored online against dense least squares."""
from __future__ import annotations

import numpy as np
import pytest

from trt_tracker.skeleton import BODY17, HAND21
from trt_tracker.solver import DURATION_SETS, OnlineSolver, SpatialFusion, solve_sequence

PAR = np.array(BODY17.parents)


# ----------------------------------------------------------- dense references
def _dense_rows(T, K, parents, durations, alpha, gammas, J, B, deltas, weights, fixed=None):
    """Stack every residual of Eq. 8 as an explicit row (the slow, obvious way).

    ``fixed`` maps frame index (negative = before the unknowns) -> known joints,
    used for the windowed online reference.
    """
    fixed = fixed or {}
    rows, rhs = [], []

    def e(t, k):
        r = np.zeros(T * K)
        r[t * K + k] = 1.0
        return r

    for t in range(T):
        for k in range(K):
            w = 1.0 if weights is None else weights[t, k]
            rows.append(np.sqrt(w) * e(t, k))
            rhs.append(np.sqrt(w) * J[t, k])
            if alpha > 0 and parents[k] >= 0:
                rows.append(np.sqrt(alpha) * (e(t, k) - e(t, parents[k])))
                rhs.append(np.sqrt(alpha) * B[t, k])
            for d, g in zip(durations, gammas):
                s = t - d
                if 0 <= s < T:
                    rows.append(np.sqrt(g) * (e(t, k) - e(s, k)))
                    rhs.append(np.sqrt(g) * deltas[d][t, k])
                elif s in fixed:
                    rows.append(np.sqrt(g) * e(t, k))
                    rhs.append(np.sqrt(g) * (deltas[d][t, k] + fixed[s][k]))
    return np.array(rows), np.array(rhs)


def dense_solve(J, B, deltas, parents, durations, alpha, gammas, weights=None):
    T, K, C = J.shape
    M, y = _dense_rows(T, K, parents, durations, alpha, gammas, J, B, deltas, weights)
    x = np.linalg.lstsq(M, y, rcond=None)[0]
    return x.reshape(T, K, C)


def dense_online(J, B, deltas, parents, durations, alpha, gammas, W, weights=None):
    """Online reference: each frame, a dense solve over the last W frames; frames
    leaving the window are frozen at their last estimate and used as constants."""
    T, K, C = J.shape
    out, frozen = [], {}
    for t in range(T):
        lo = max(0, t - W + 1)
        sl = slice(lo, t + 1)
        fixed = {s - lo: frozen[s] for s in frozen}          # relative to the window start
        Jw, Bw = J[sl], None if B is None else B[sl]
        dw = {d: v[sl] for d, v in deltas.items()}
        ww = None if weights is None else weights[sl]
        M, y = _dense_rows(t + 1 - lo, K, parents, durations, alpha, gammas, Jw, Bw, dw, ww, fixed)
        x = np.linalg.lstsq(M, y, rcond=None)[0].reshape(-1, K, C)
        out.append(x[-1])
        if t - lo + 1 == W:
            frozen[lo] = x[0]
    return np.array(out)


# ------------------------------------------------------------------ data
def make_inputs(rng, T, K=17, C=3, durations=(1, 2, 3), noise=5.0, parents=PAR):
    """Noisy observations of a smooth random trajectory (a realistic, consistent-ish problem)."""
    base = np.cumsum(rng.normal(0, 3, size=(T, K, C)), axis=0) + rng.normal(0, 50, size=(1, K, C))
    J = base + rng.normal(0, noise, size=base.shape)
    nr = parents >= 0
    B = base.copy()
    B[:, nr] = base[:, nr] - base[:, parents[nr]]
    B += rng.normal(0, noise / 2, size=B.shape)
    deltas = {}
    for d in durations:
        D = np.full_like(base, np.nan)       # undefined where t-d is outside
        lo, hi = max(d, 0), T + min(d, 0)
        D[lo:hi] = base[lo:hi] - base[lo - d:hi - d] + rng.normal(0, noise / 3, size=D[lo:hi].shape)
        deltas[d] = D
    return J, B, deltas


# ------------------------------------------------------------- offline tests
@pytest.mark.parametrize("name", list(DURATION_SETS))
@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_solve_sequence_equals_dense(rng, name, alpha):
    durations = DURATION_SETS[name]
    gammas = [0.5 + 0.3 * i for i in range(len(durations))]
    J, B, deltas = make_inputs(rng, T=14, durations=durations)
    got = solve_sequence(J, B if alpha else None, deltas, BODY17, durations, alpha, gammas)
    ref = dense_solve(J, B, {d: np.nan_to_num(v) for d, v in deltas.items()}, PAR, durations, alpha, gammas)
    assert np.abs(got - ref).max() < 1e-6


def test_solve_sequence_weights_2d_and_batch(rng):
    durations = (1, -2, 3)
    J, B, deltas = make_inputs(rng, T=11, C=2, durations=durations)
    w = rng.uniform(0.0, 2.0, size=(11, 17))
    got = solve_sequence(J, B, deltas, BODY17, durations, 0.5, 1.5, weights=w)
    ref = dense_solve(J, B, {d: np.nan_to_num(v) for d, v in deltas.items()}, PAR, durations, 0.5, [1.5] * 3, w)
    assert np.abs(got - ref).max() < 1e-6
    # A leading batch axis solves each sequence independently.
    J2, B2, d2 = make_inputs(rng, T=11, C=2, durations=durations)
    batch = solve_sequence(np.stack([J, J2]), np.stack([B, B2]), {d: np.stack([deltas[d], d2[d]]) for d in durations},
                           BODY17, durations, 0.5, 1.5, weights=w)
    assert np.abs(batch[0] - got).max() < 1e-9
    assert np.abs(batch[1] - solve_sequence(J2, B2, d2, BODY17, durations, 0.5, 1.5, weights=w)).max() < 1e-9


def test_solve_sequence_recovers_consistent_truth(rng):
    """Exact relations and exact joints: the truth is the unique minimiser."""
    T = 30
    gt = np.cumsum(rng.normal(0, 10, size=(T, 21, 3)), axis=0)
    B = HAND21.bones(gt)
    deltas = {d: np.vstack([np.full((d, 21, 3), np.nan), gt[d:] - gt[:-d]]) for d in (1, 2, 3)}
    out = solve_sequence(gt, B, deltas, HAND21, "Dmf", 2.0, [1, 1, 1])
    assert np.abs(out - gt).max() < 1e-8


def test_solve_sequence_is_linear_time(rng):
    """O(T): the banded solve handles a long sequence (dense would need 34k x 34k)."""
    T = 2000
    J, B, deltas = make_inputs(rng, T=T, durations=(1, 2, 3, -1, -2, -3))
    out = solve_sequence(J, B, deltas, BODY17, "Dmfb", 1.0, 1.0)
    assert out.shape == J.shape and np.all(np.isfinite(out))
    # Spot-check the interior against a dense solve of a sub-problem is not exact (boundary terms),
    # so check optimality instead: the gradient of the objective vanishes at the solution.
    grad = np.zeros_like(out)
    grad += out - J
    nr = PAR >= 0
    rb = out[:, nr] - out[:, PAR[nr]] - B[:, nr]
    grad[:, nr] += rb
    np.add.at(grad, (slice(None), PAR[nr]), -rb)
    for d in (1, 2, 3, -1, -2, -3):
        lo, hi = max(d, 0), T + min(d, 0)
        r = out[lo:hi] - out[lo - d:hi - d] - deltas[d][lo:hi]
        grad[lo:hi] += r
        grad[lo - d:hi - d] -= r
    assert np.abs(grad).max() < 1e-7


# -------------------------------------------------------------- online tests
@pytest.mark.parametrize("durations", [(), (1,), (1, 2), (1, 2, 3), (2, 4)])
def test_online_long_window_equals_offline_prefix(rng, durations):
    """Window >= T: each online estimate is the last row of solve_sequence over the frames so far."""
    T = 12
    J, B, deltas = make_inputs(rng, T=T, durations=durations)
    gam = [1.0 + i for i in range(len(durations))]
    solver = OnlineSolver(BODY17, durations, alpha=0.8, gammas=gam, window=T)
    for t in range(T):
        got = solver.update(J[t], B[t], {d: deltas[d][t] for d in durations})
        ref = solve_sequence(J[:t + 1], B[:t + 1], {d: v[:t + 1] for d, v in deltas.items()},
                             BODY17, durations, 0.8, gam)[-1]
        assert np.abs(got - ref).max() < 1e-6, t


@pytest.mark.parametrize("durations,W", [((1,), 1), ((1,), 4), ((1, 2, 3), 3), ((1, 2, 3), 5), ((1, 3), 6)])
def test_online_sliding_window_equals_dense_reference(rng, durations, W):
    """Window < T: frames leaving the window are frozen and enter as constants."""
    T = 20
    J, B, deltas = make_inputs(rng, T=T, durations=durations)
    gam = [0.6 * (i + 1) for i in range(len(durations))]
    solver = OnlineSolver(BODY17, durations, alpha=1.3, gammas=gam, window=W)
    got = np.array([solver.update(J[t], B[t], {d: deltas[d][t] for d in durations}) for t in range(T)])
    ref = dense_online(J, B, {d: np.nan_to_num(v) for d, v in deltas.items()}, PAR, durations, 1.3, gam, W)
    assert np.abs(got - ref).max() < 1e-6


def test_online_confidences_equal_dense_reference(rng):
    T, W, durations = 15, 4, (1, 2)
    J, B, deltas = make_inputs(rng, T=T, durations=durations)
    w = rng.uniform(0.05, 3.0, size=(T, 17))
    solver = OnlineSolver(BODY17, durations, alpha=0.9, gammas=[1.0, 0.5], window=W, confidences=True)
    got = np.array([solver.update(J[t], B[t], {d: deltas[d][t] for d in durations}, weights=w[t])
                    for t in range(T)])
    ref = dense_online(J, B, {d: np.nan_to_num(v) for d, v in deltas.items()}, PAR, durations, 0.9, [1.0, 0.5], W, w)
    assert np.abs(got - ref).max() < 1e-6
    # Unit confidences reproduce the pre-factored path.
    a = OnlineSolver(BODY17, durations, 0.9, [1.0, 0.5], W, confidences=True)
    b = OnlineSolver(BODY17, durations, 0.9, [1.0, 0.5], W)
    for t in range(T):
        ins = (J[t], B[t], {d: deltas[d][t] for d in durations})
        assert np.abs(a.update(*ins, weights=np.ones(17)) - b.update(*ins)).max() < 1e-8


def test_online_batch_equals_single_tracks(rng):
    S, T, durations = 4, 25, (1, 2, 3)
    data = [make_inputs(rng, T=T, durations=durations) for _ in range(S)]
    batched = OnlineSolver(BODY17, durations, 1.0, 1.0, window=6)
    singles = [OnlineSolver(BODY17, durations, 1.0, 1.0, window=6) for _ in range(S)]
    for t in range(T):
        Jb = np.stack([d[0][t] for d in data])
        Bb = np.stack([d[1][t] for d in data])
        Db = {dd: np.stack([d[2][dd][t] for d in data]) for dd in durations}
        out = batched.update(Jb, Bb, Db)
        assert out.shape == (S, 17, 3)
        for s in range(S):
            ref = singles[s].update(data[s][0][t], data[s][1][t], {dd: data[s][2][dd][t] for dd in durations})
            assert np.abs(out[s] - ref).max() < 1e-9


def test_online_float32_close_to_float64(rng):
    T, durations = 40, (1, 2, 3)
    J, B, deltas = make_inputs(rng, T=T, durations=durations)
    s64 = OnlineSolver(BODY17, durations, 1.0, 1.0, window=8)
    s32 = OnlineSolver(BODY17, durations, 1.0, 1.0, window=8)
    for t in range(T):
        ins = {d: deltas[d][t] for d in durations}
        a = s64.update(J[t], B[t], ins)
        b = s32.update(J[t].astype(np.float32), B[t].astype(np.float32),
                       {d: v.astype(np.float32) for d, v in ins.items()})
        assert b.dtype == np.float32
        assert np.abs(a - b).max() < 1e-4 * (1 + np.abs(a).max())


def test_online_reset_and_nan_rejection(rng):
    T, durations = 20, (1, 2)
    J, B, deltas = make_inputs(rng, T=T, durations=durations)
    s = OnlineSolver(BODY17, durations, 1.0, 1.0, window=5)
    first = np.array([s.update(J[t], B[t], {d: deltas[d][t] for d in durations}) for t in range(T)])
    s.reset()
    assert s.frames_seen == 0
    again = []
    for t in range(T):
        if t == 7:
            bad = J[t].copy()
            bad[3, 1] = np.nan
            with pytest.raises(ValueError, match=r"frame 7: J"):
                s.update(bad, B[t], {d: deltas[d][t] for d in durations})
            badd = {d: deltas[d][t].copy() for d in durations}
            badd[2][0, 0] = np.inf
            with pytest.raises(ValueError, match=r"deltas\[2\]"):
                s.update(J[t], B[t], badd)
        again.append(s.update(J[t], B[t], {d: deltas[d][t] for d in durations}))
    # Rejected frames leave no trace.
    assert np.abs(np.array(again) - first).max() < 1e-12


def test_online_consistent_truth_is_fixed_point(rng):
    T = 30
    gt = np.cumsum(rng.normal(0, 10, size=(T, 17, 3)), axis=0)
    B = BODY17.bones(gt)
    s = OnlineSolver(BODY17, (1, 2, 3), alpha=1.0, gammas=1.0, window=4)
    for t in range(T):
        out = s.update(gt[t], B[t], {d: gt[t] - gt[t - d] for d in (1, 2, 3) if t - d >= 0})
        assert np.abs(out - gt[t]).max() < 1e-8


# ---------------------------------------------------------------- validation
def test_validation_messages(rng):
    with pytest.raises(ValueError, match="forward durations"):
        OnlineSolver(BODY17, (1, -1))
    with pytest.raises(ValueError, match="smaller than the largest duration"):
        OnlineSolver(BODY17, (1, 2, 8), window=4)
    with pytest.raises(ValueError, match="distinct"):
        OnlineSolver(BODY17, (1, 1))
    with pytest.raises(ValueError, match="non-zero"):
        solve_sequence(np.zeros((3, 17, 3)), None, {}, BODY17, (0,), alpha=0)
    with pytest.raises(ValueError, match="unknown duration set"):
        OnlineSolver(BODY17, "Dxyz")
    with pytest.raises(ValueError, match="gammas"):
        OnlineSolver(BODY17, (1, 2), gammas=[1.0])
    with pytest.raises(ValueError, match="exactly one root"):
        OnlineSolver([0, 0, 1])
    s = OnlineSolver(BODY17, (1,), alpha=1.0, window=3)
    with pytest.raises(ValueError, match="skeleton has 17"):
        s.update(np.zeros((16, 3)), np.zeros((16, 3)))
    s = OnlineSolver(BODY17, (1,), alpha=1.0, window=3)
    with pytest.raises(ValueError, match="B is None"):
        s.update(np.zeros((17, 3)))
    s.update(np.zeros((17, 3)), np.zeros((17, 3)))
    with pytest.raises(ValueError, match="expected \\(17, 3\\)"):
        s.update(np.zeros((17, 3)), np.zeros((17, 2)), {1: np.zeros((17, 3))})
    with pytest.raises(ValueError, match=r"no displacement for duration\(s\) \[1\]"):
        s.update(np.zeros((17, 3)), np.zeros((17, 3)), {})
    J, B, deltas = make_inputs(rng, T=5, durations=(1,))
    with pytest.raises(ValueError, match="no displacements given for durations \\[2\\]"):
        solve_sequence(J, B, deltas, BODY17, (1, 2))
    with pytest.raises(ValueError, match="no bones"):
        solve_sequence(J, None, deltas, BODY17, (1,), alpha=1.0)
    with pytest.raises(ValueError, match="NaN"):
        Jn = J.copy()
        Jn[2, 2, 2] = np.nan
        solve_sequence(Jn, B, deltas, BODY17, (1,))
    with pytest.raises(ValueError, match="weights"):
        solve_sequence(J, B, deltas, BODY17, (1,), weights=np.ones((5, 16)))
    bad = {1: deltas[1].copy()}
    bad[1][3, 4, 0] = np.nan                          # a used row: must not be silently zeroed
    with pytest.raises(ValueError, match=r"deltas\[1\] contains NaN .* frames 1\.\.4"):
        solve_sequence(J, B, bad, BODY17, (1,))
    with pytest.raises(ValueError, match="singular"):
        solve_sequence(J, None, {}, BODY17, (), alpha=0, weights=np.zeros((5, 17)))
    s = OnlineSolver(BODY17, (), alpha=0.0, window=2, confidences=True)
    with pytest.raises(ValueError, match="frame 0: the least-squares system is singular"):
        s.update(np.zeros((17, 3)), weights=np.zeros(17))


# ------------------------------------------------------------ spatial fusion
def _fusion_data(rng, N=600, rho=0.8):
    """Joints and bones whose bone errors share ``rho`` of the pose's own bones' errors."""
    K = len(PAR)
    G = rng.normal(size=(N, K, 3)) * np.array([20.0, 20.0, 50.0])
    G[:, 0, 2] = 0.0                                    # depths relative to the root's
    e = rng.normal(size=G.shape) * np.array([2.0, 2.0, 6.0])
    par = np.where(PAR < 0, np.arange(K), PAR)
    B = (G - G[:, par]) + rho * (e - e[:, par]) + rng.normal(size=G.shape) * np.array([1.0, 1.0, 3.0])
    B[:, 0] = 0.0
    return G + e, B, G


def test_spatial_fusion_is_generalised_least_squares(rng):
    """Each coordinate's operator equals whitened least squares (the slow, obvious way) with the measured
    covariance; a diagonal covariance of equal variances per kind is Eq. 8's bone term (alpha = var J / var B);
    correlated bones are worth more fused than with one alpha; the root's depth is kept."""
    J, B, G = _fusion_data(rng)
    K = len(PAR)
    f = SpatialFusion.fit(BODY17, J, B, G, shrink=0.0)
    H = SpatialFusion.incidence(PAR)
    m, mg = f.measurements(J, B), f.measurements(G, G - G[:, np.where(PAR < 0, np.arange(K), PAR)])
    for c in (0, 2):
        E = m[:, c] - mg[:, c]
        S = E.T @ E / len(E)
        S[np.diag_indices_from(S)] += 1e-6 * (c == 2)    # z: the root's relative depth has no error
        C = np.linalg.cholesky(S)
        x = np.linalg.lstsq(np.linalg.solve(C, H), np.linalg.solve(C, m[7, c]), rcond=None)[0]
        assert np.allclose(f(J[7], B[7])[:, c] - (J[7, 0, c] if c == 2 else 0), x, atol=1e-4)
    assert np.allclose(f(J, B)[:, 0, 2], J[:, 0, 2], atol=1e-5)       # the root's depth as given
    # Independent errors of one size per kind, diagonal: the bone term's least squares, alpha = 4.
    Ji = G + rng.normal(size=G.shape)
    Bi = (G - G[:, np.where(PAR < 0, np.arange(K), PAR)]) + 0.5 * rng.normal(size=G.shape)
    fd = SpatialFusion.fit(BODY17, Ji, Bi, G, shrink=1.0)
    ref = solve_sequence(Ji[:20, None], Bi[:20, None], {}, BODY17, (), alpha=4.0)[:, 0]
    assert np.abs(fd(Ji[:20], Bi[:20]) - ref)[..., :2].mean() < 0.05
    # Bones of unequal accuracy (one arm's ten times the rest's) sharing the pose's errors: the fusion (fitted
    # on other frames) beats the best single alpha.
    scale = np.where(np.isin(np.arange(K), [1, 2, 3]), 0.3, 3.0)[None, :, None]

    def arm(N):
        J, B, G = _fusion_data(rng, N, rho=0.5)
        B = B + (scale - 1.0) * (B - (G - G[:, np.where(PAR < 0, np.arange(K), PAR)]))
        return J, B, G

    fa = SpatialFusion.fit(BODY17, *arm(600))
    Jt, Bt, Gt = arm(200)
    err = lambda X: np.linalg.norm((X - Gt)[..., :2], axis=-1).mean()
    best_alpha = min(err(solve_sequence(Jt[:, None], Bt[:, None], {}, BODY17, (), alpha=a)[:, 0])
                     for a in (0.1, 0.3, 1, 3, 10, 30))
    assert err(fa(Jt, Bt)) < 0.85 * best_alpha


def test_spatial_fusion_batches_float32_saves_and_rejects_bad_input(rng, tmp_path):
    J, B, G = _fusion_data(rng, 200)
    f = SpatialFusion.fit(BODY17, J, B, G, shrink=0.2, info={"sequences": 3})
    batch = f(J[:6].reshape(2, 3, 17, 3), B[:6].reshape(2, 3, 17, 3))
    assert np.allclose(batch.reshape(6, 17, 3), f(J[:6], B[:6]))
    single = f(J[0].astype(np.float32), B[0].astype(np.float32))
    assert single.dtype == np.float32 and np.allclose(single, f(J[0], B[0]), atol=1e-3)
    f.save(tmp_path / "fusion.npz")
    g = SpatialFusion.load(tmp_path / "fusion.npz", BODY17)
    assert np.array_equal(g.operators, f.operators) and g.info == {"sequences": 3, "shrink": 0.2, "frames": 200}
    with pytest.raises(ValueError, match="another skeleton"):
        SpatialFusion.load(tmp_path / "fusion.npz", HAND21)
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="not a fusion file"):
        SpatialFusion.load(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match=r"\(\.\.\., K=17, C=3\)"):
        f(J[0, :5], B[0, :5])
    with pytest.raises(ValueError, match="more validation sequences"):
        SpatialFusion.fit(BODY17, J[:5], B[:5], G[:5])
    with pytest.raises(ValueError, match="shrink"):
        SpatialFusion.fit(BODY17, J, B, G, shrink=1.5)
    with pytest.raises(ValueError, match="re-run trt-tracker calibrate"):
        SpatialFusion(BODY17, np.zeros((3, 17, 30)))


# ----------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_cupy_equals_numpy(rng):
    import cupy as cp

    S, T, durations = 8, 30, (1, 2, 3)
    J, B, deltas = make_inputs(rng, T=T * S, durations=durations)
    J, B = J.reshape(T, S, 17, 3), B.reshape(T, S, 17, 3)
    D = {d: np.nan_to_num(v).reshape(T, S, 17, 3) for d, v in deltas.items()}
    for conf in (False, True):
        a = OnlineSolver(BODY17, durations, 1.0, 1.0, window=8, confidences=conf)
        b = OnlineSolver(BODY17, durations, 1.0, 1.0, window=8, confidences=conf)
        w = rng.uniform(0.1, 2, size=(T, S, 17))
        for t in range(T):
            kw = {"weights": w[t]} if conf else {}
            kwg = {"weights": cp.asarray(w[t])} if conf else {}
            ref = a.update(J[t], B[t], {d: D[d][t] for d in durations}, **kw)
            got = b.update(cp.asarray(J[t]), cp.asarray(B[t]), {d: cp.asarray(D[d][t]) for d in durations}, **kwg)
            assert isinstance(got, cp.ndarray)
            assert float(cp.abs(got - cp.asarray(ref)).max()) < 1e-6
    Jt = J[:, 0]
    Bt = B[:, 0]
    Dt = {d: deltas[d].reshape(T, S, 17, 3)[:, 0] for d in durations}
    ref = solve_sequence(Jt, Bt, Dt, BODY17, durations)
    got = solve_sequence(cp.asarray(Jt), cp.asarray(Bt), {d: cp.asarray(v) for d, v in Dt.items()}, BODY17, durations)
    assert float(cp.abs(got - cp.asarray(ref)).max()) < 1e-9
