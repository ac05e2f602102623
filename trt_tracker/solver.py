"""Spatiotemporal least-squares tracking (seed 000, Eq. 8).

Given single-frame joints ``J[t,k]``, bone vectors ``B[t,k]`` and joint
displacements ``Δd[t,k]`` for durations ``d`` in ``D``, find ``Ĵ`` minimising

    Σ_t Σ_k  w[t,k] |Ĵ[t,k] - J[t,k]|²
           + α      |Ĵ[t,k] - Ĵ[t,parent(k)] - B[t,k]|²          (k not the root)
           + Σ_d γ_d |Ĵ[t,k] - Ĵ[t-d,k] - Δd[t,k]|²              (t-d inside the sequence)

with ``w = 1`` unless per-joint confidences are given.  The problem is linear;
the C coordinate columns (x, y, z or u, v, z) are independent and share one
normal matrix ``A``, so every solve has C right-hand sides.

* :func:`solve_sequence` solves a whole sequence, any durations (negative ones
  look forward in time).  Unknowns are ordered frame-major, so ``A`` is banded
  with half-bandwidth ``K·max|d|`` and a banded Cholesky solves it in O(T).
* :class:`OnlineSolver` tracks online with forward durations over a sliding
  window of ``W`` frames.  Terms reaching before the window use the solved
  values of frames that have left it as constants, so information keeps
  flowing.  With fixed weights the window's normal matrix is constant once the
  window is full, so the map from the window's inputs to the newest frame's
  estimate is a fixed matrix: an update is one matrix product.  Inputs live in
  ring buffers; the operator's columns are permuted per ring phase instead of
  moving data.  Works on NumPy or CuPy arrays and on a leading batch axis of S
  independent tracks.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["solve_sequence", "OnlineSolver", "SpatialFusion", "normal_equations", "parse_durations", "DURATION_SETS"]

#: The duration sets of seed 000 §4.
DURATION_SETS = {
    "single": (),
    "Df": (1,),
    "Dfb": (1, -1),
    "Dmf": (1, 2, 3),
    "Dmfb": (1, 2, 3, -1, -2, -3),
}


# --------------------------------------------------------------------- helpers
def _array_module(a):
    """NumPy or CuPy, by the type of ``a`` (without importing CuPy for NumPy input)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    return np


def _parents_of(skeleton_or_parents) -> np.ndarray:
    parents = getattr(skeleton_or_parents, "parents", skeleton_or_parents)
    parents = np.asarray(parents, dtype=np.int64).ravel()
    K = len(parents)
    if K == 0:
        raise ValueError("parents is empty")
    if np.sum(parents < 0) != 1:
        raise ValueError(f"parents must contain exactly one root (-1), got {parents.tolist()}")
    if np.any(parents >= K):
        raise ValueError(f"parents refer to joints outside 0..{K - 1}: {parents.tolist()}")
    return parents


def parse_durations(spec, online: bool = False) -> tuple[int, ...]:
    """The one duration parser: a set name of :data:`DURATION_SETS` (``"Dmf"``), a comma list
    (``"1,2,3"``), ``"none"``/``"single"``/``""`` (no temporal term), None, or a sequence of ints ->
    distinct non-zero ints in the given order.  ``online``: forward durations only (d > 0)."""
    if spec is None:
        return ()
    if isinstance(spec, str):
        s = spec.strip()
        if s.lower() in ("", "none", "single", "0"):
            return ()
        if s in DURATION_SETS:
            spec = DURATION_SETS[s]
        else:
            try:
                spec = [int(x) for x in s.split(",")]
            except ValueError:
                raise ValueError(f"durations {spec!r}: unknown duration set; use a set name "
                                 f"({', '.join(DURATION_SETS)}), a comma list of frame gaps such as 1,2,3, "
                                 "or none") from None
    out = []
    for d in spec:
        if int(d) != d or d == 0:
            raise ValueError(f"durations must be non-zero integers, got {list(spec)}")
        out.append(int(d))
    if len(set(out)) != len(out):
        raise ValueError(f"durations must be distinct, got {out}")
    if online and any(d < 0 for d in out):
        raise ValueError(
            f"online tracking needs forward durations (d > 0), got {out}; "
            "backward durations need future frames: use solve_sequence offline")
    return tuple(out)


def _gammas(gammas, durations) -> tuple[float, ...]:
    if isinstance(gammas, Mapping):
        missing = [d for d in durations if d not in gammas]
        if missing:
            raise ValueError(f"gammas has no weight for durations {missing}")
        g = [float(gammas[d]) for d in durations]
    elif np.ndim(gammas) == 0:
        g = [float(gammas)] * len(durations)
    else:
        g = [float(x) for x in gammas]
        if len(g) != len(durations):
            raise ValueError(f"{len(g)} gammas for {len(durations)} durations {list(durations)}")
    if any(x < 0 or not np.isfinite(x) for x in g):
        raise ValueError(f"gammas must be finite and >= 0, got {g}")
    return tuple(g)


def _check_alpha(alpha) -> float:
    alpha = float(alpha)
    if alpha < 0 or not np.isfinite(alpha):
        raise ValueError(f"alpha must be finite and >= 0, got {alpha}")
    return alpha


# ------------------------------------------------------------ normal equations
def normal_equations(T: int, parents, durations, alpha: float, gammas, data_weight=None):
    """The terms of Eq. 8 over a sequence of T frames, as index lists.

    Unknown ``(t, k)`` has index ``t*K + k``.  Returns a list of
    ``(kind, i, j, weight, (t, k))`` where ``kind`` is ``"data"``, ``"bone"``
    or a duration ``d``; a residual is ``x[i] - x[j] - target[t, k]`` (``j=-1``
    for the data term, whose target is ``J``).  Used by :func:`solve_sequence`
    and by the tests' dense reference.
    """
    parents = _parents_of(parents)
    K = len(parents)
    durations = parse_durations(durations)
    gammas = _gammas(gammas, durations)
    t, k = np.meshgrid(np.arange(T), np.arange(K), indexing="ij")
    t, k = t.ravel(), k.ravel()
    idx = t * K + k
    w = np.ones(T * K) if data_weight is None else np.asarray(data_weight, dtype=np.float64).reshape(T * K)
    out = [("data", idx, np.full_like(idx, -1), w, (t, k))]
    if alpha > 0:
        nr = parents[k] >= 0
        out.append(("bone", idx[nr], t[nr] * K + parents[k[nr]], np.full(nr.sum(), alpha), (t[nr], k[nr])))
    for d, g in zip(durations, gammas):
        if g == 0:
            continue
        ok = (t - d >= 0) & (t - d < T)
        out.append((d, idx[ok], (t[ok] - d) * K + k[ok], np.full(ok.sum(), g), (t[ok], k[ok])))
    return out


def solve_sequence(J, B=None, deltas=None, parents=None, durations=(), alpha: float = 1.0,
                   gammas=1.0, weights=None):
    """Solve Eq. 8 over a whole sequence.

    Parameters
    ----------
    J : (T, K, C) single-frame joints (leading batch axes allowed: (..., T, K, C))
    B : (..., T, K, C) bone vectors ``J[k] - J[parent(k)]`` (root row ignored), or None
    deltas : {d: (..., T, K, C)} displacements ``Ĵ[t] - Ĵ[t-d]``; rows where ``t-d``
        falls outside the sequence are ignored (may be NaN)
    parents : a :class:`~trt_tracker.skeleton.Skeleton` or the parent list
    durations : iterable of non-zero ints (negative allowed) or a name from
        :data:`DURATION_SETS`
    alpha, gammas : weights of the bone and displacement terms (gammas: scalar,
        one per duration, or {d: gamma})
    weights : (T, K) per-joint confidences on the data term (default 1)

    Returns
    -------
    Ĵ : same shape as J, float64.  CuPy input is solved on the host and returned as CuPy.
    """
    from scipy.linalg import solveh_banded

    xp = _array_module(J)
    if xp is not np:
        Jh = xp.asnumpy(J)
        Bh = None if B is None else xp.asnumpy(B)
        dh = None if deltas is None else {d: xp.asnumpy(v) for d, v in deltas.items()}
        wh = None if weights is None else xp.asnumpy(weights)
        return xp.asarray(solve_sequence(Jh, Bh, dh, parents, durations, alpha, gammas, wh))

    if parents is None:
        raise ValueError("solve_sequence needs parents (a Skeleton or a parent list)")
    parents = _parents_of(parents)
    durations = parse_durations(durations)
    gammas = _gammas(gammas, durations)
    alpha = _check_alpha(alpha)
    J = np.asarray(J, dtype=np.float64)
    if J.ndim < 3 or J.shape[-2] != len(parents):
        raise ValueError(f"J must be (..., T, K={len(parents)}, C), got {J.shape}")
    T, K, C = J.shape[-3:]
    lead = J.shape[:-3]
    _check_finite("J", J)
    if alpha > 0:
        if B is None:
            raise ValueError("alpha > 0 but no bones B given (pass alpha=0 to track without bones)")
        B = np.asarray(B, dtype=np.float64)
        if B.shape != J.shape:
            raise ValueError(f"B has shape {B.shape}, expected {J.shape} like J")
        _check_finite("B", B[..., parents >= 0, :])
    deltas = _check_deltas(deltas, durations, J.shape)
    for d in durations:
        # Only rows whose frame t-d exists are used; those must be finite.
        lo, hi = max(d, 0), T + min(d, 0)
        if hi > lo and not np.all(np.isfinite(deltas[d][..., lo:hi, :, :])):
            raise ValueError(f"deltas[{d}] contains NaN or infinite values in frames {lo}..{hi - 1}, "
                             "where frame t-d exists; only the other rows may be NaN")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (T, K):
            raise ValueError(f"weights must be (T, K) = ({T}, {K}), got {weights.shape}")
        if np.any(weights < 0) or not np.all(np.isfinite(weights)):
            raise ValueError("weights must be finite and >= 0")
    if T == 0:
        return J.copy()

    # Right-hand sides: the batch and coordinate columns side by side.
    def cols(a):  # (..., T, K, C) -> (T*K, prod(lead)*C)
        return np.moveaxis(a.reshape((-1, T * K, C)), 0, 1).reshape(T * K, -1)

    terms = normal_equations(T, parents, durations, alpha, gammas, weights)
    targets = {"data": cols(J), "bone": cols(B) if alpha > 0 else None}
    for d in durations:
        targets[d] = cols(np.nan_to_num(deltas[d]))
    n = T * K
    span = max([K - 1] + [abs(d) * K for d in durations])
    ab = np.zeros((span + 1, n))           # upper banded storage: ab[span + i - j, j] = A[i, j]
    rhs = np.zeros((n, targets["data"].shape[1]))
    for kind, i, j, w, (tt, kk) in terms:
        tgt = targets[kind][tt * K + kk] * w[:, None]
        # residual x_i - x_j - target: A += w (e_i - e_j)(e_i - e_j)^T, b += w target (e_i - e_j)
        np.add.at(ab[span], i, w)
        np.add.at(rhs, i, tgt)
        pair = j >= 0
        if pair.any():
            ip, jp, wp = i[pair], j[pair], w[pair]
            np.add.at(ab[span], jp, wp)
            np.add.at(rhs, jp, -tgt[pair])
            lo, hi = np.minimum(ip, jp), np.maximum(ip, jp)
            np.add.at(ab, (span + lo - hi, hi), -wp)
    try:
        x = solveh_banded(ab, rhs, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        raise ValueError(_SINGULAR) from None
    return np.moveaxis(x.reshape(T * K, -1, C), 1, 0).reshape(lead + (T, K, C))


_SINGULAR = ("the least-squares system is singular: some joints have zero data weight and no relation "
             "term ties them to a weighted joint; give every joint a positive weight in some frame")


def _check_finite(name, a):
    xp = _array_module(a)
    if not bool(xp.all(xp.isfinite(a))):
        raise ValueError(f"{name} contains NaN or infinite values; mask them with weights=0 or drop those frames")


def _check_deltas(deltas, durations, shape):
    deltas = {} if deltas is None else dict(deltas)
    missing = [d for d in durations if d not in deltas]
    extra = [d for d in deltas if d not in durations]
    if missing:
        raise ValueError(f"no displacements given for durations {missing} (deltas has {sorted(deltas)})")
    if extra:
        raise ValueError(f"displacements given for durations {extra} that are not in durations {list(durations)}")
    out = {}
    for d in durations:
        v = deltas[d]
        if tuple(v.shape) != tuple(shape):
            raise ValueError(f"deltas[{d}] has shape {tuple(v.shape)}, expected {tuple(shape)} like J")
        out[d] = v if _array_module(v) is not np else np.asarray(v, dtype=np.float64)
    return out


# ------------------------------------------------------------------ online
class OnlineSolver:
    """Sliding-window online solver of Eq. 8 with forward durations.

    Parameters
    ----------
    skeleton : Skeleton or parent list (K joints)
    durations : forward durations (d > 0), e.g. ``(1, 2, 3)`` or ``"Dmf"``
    alpha : bone-term weight (0: no bones; then ``B`` may be None)
    gammas : displacement weights (scalar, one per duration, or {d: gamma})
    window : W frames solved jointly (W >= max(durations))
    confidences : if True, ``update`` takes per-joint data weights and the
        window's normal matrix changes every frame, so it is re-solved (batched
        ``linalg.solve``) instead of applying the pre-factored operator.
    check_finite : reject frames with NaN/inf inputs (one check per update).

    ``update(J, B, deltas)`` takes one frame: ``J`` (K, C) or (S, K, C) for S
    independent tracks (NumPy or CuPy, float32 or float64), ``B`` like ``J``,
    ``deltas`` {d: like J} with ``Δd = Ĵ[t] - Ĵ[t-d]``, and returns ``Ĵ[t]``
    like ``J``.  Before ``d`` frames have been seen, ``deltas[d]`` is ignored.

    How an update works.  Window frames ``w = 0..n-1`` (oldest..newest) are the
    unknowns; the window's normal equations are ``A x = b``.  ``A`` depends only
    on the fill state (n, number of frozen frames available), so the rows of
    ``A⁻¹`` for the newest and the oldest frame are computed once per state.
    ``b`` is kept in a ring buffer of W rows and updated incrementally: frame t
    adds its own contributions ``J + α(B - Σ_children B) + Σ_d γ_d Δd`` to its
    row and ``-γ_d Δd`` to row ``t-d``; when a frame leaves the window its last
    estimate ``v`` is frozen and ``γ_d v`` is added to the rows of the frames
    ``d`` later.  The ring's rows are in slot order, so instead of moving data
    the operator's columns are permuted for each of the W ring phases.
    """

    def __init__(self, skeleton, durations=(1,), alpha: float = 1.0, gammas=1.0, window: int = 16,
                 confidences: bool = False, check_finite: bool = True):
        self.parents = _parents_of(skeleton)
        self.K = len(self.parents)
        self.root = int(np.flatnonzero(self.parents < 0)[0])
        self.durations = parse_durations(durations, online=True)
        self.gammas = _gammas(gammas, self.durations)
        self.alpha = _check_alpha(alpha)
        window = int(window)
        self.dmax = max(self.durations, default=0)
        if window < 1:
            raise ValueError(f"window must be >= 1 frame, got {window}")
        if window < self.dmax:
            raise ValueError(f"window ({window}) is smaller than the largest duration ({self.dmax}); "
                             f"use window >= {self.dmax}")
        self.W = window
        self.H = max(self.dmax, 1)          # frozen-estimate ring (frames that left the window)
        self.confidences = bool(confidences)
        self.check_finite = bool(check_finite)
        # Bone contributions to b: row k gets +α B[k], row parent(k) gets -α B[k].
        P = np.zeros((self.K, self.K))
        for k, p in enumerate(self.parents):
            if p >= 0:
                P[k, k] += self.alpha
                P[p, k] -= self.alpha
        self._P_np = P
        # Terms with a non-zero weight, in increasing d.
        self._terms = tuple(sorted((d, g) for d, g in zip(self.durations, self.gammas) if g > 0))
        self._A_cache: dict = {}
        self._op_cache: dict = {}
        self.reset()

    # ------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all frames (all tracks); the next update starts a new track."""
        self.t = 0                          # frames seen
        self._xp = None
        self._shape = None                  # (S or None, C)
        self._b = None                      # (W, K, S*C) right-hand side rows, by ring slot
        self._hist = None                   # (H, K, S*C) frozen estimates, by ring slot
        self._wts = None                    # (W, K, S) data weights (confidences mode)

    @property
    def frames_seen(self) -> int:
        return self.t

    # ------------------------------------------------------------ operator
    def window_matrix(self, n: int, H: int) -> np.ndarray:
        """Normal matrix of the window's relation terms (no data term), (nK, nK).

        ``n`` frames in the window, ``H`` frozen frames before it.  A term
        reaching a frozen frame keeps only its diagonal part; one reaching a
        frame that never existed is dropped.
        """
        key = (n, H)
        if key not in self._A_cache:
            K, par = self.K, self.parents
            A = np.zeros((n * K, n * K))
            ks = np.arange(K)
            nr = ks[par >= 0]
            for w in range(n):
                if self.alpha > 0:
                    # α |x[w,k] - x[w,p] - B[w,k]|²
                    i, j, al = w * K + nr, w * K + par[nr], self.alpha
                    A[i, i] += al
                    np.add.at(A, (j, j), al)
                    A[i, j] -= al
                    A[j, i] -= al
                for d, g in self._terms:
                    # γ |x[w,k] - x[w-d,k] - Δd[w,k]|²
                    i, src = w * K + ks, w - d
                    if src >= 0:
                        j = src * K + ks
                        A[i, i] += g
                        A[j, j] += g
                        A[i, j] -= g
                        A[j, i] -= g
                    elif -src <= H:
                        A[i, i] += g
            self._A_cache[key] = A
        return self._A_cache[key]

    def _rows_by_age(self, n: int, H: int) -> np.ndarray:
        """Rows of ``A⁻¹`` for the newest and oldest window frame, by frame age: (2K, W, K).

        Computed once per fill state (n, H); ages >= n (empty slots) are zero.
        """
        key = ("rows", n, H)
        rows_by_age = self._A_cache.get(key)
        if rows_by_age is None:
            K = self.K
            A = self.window_matrix(n, H) + np.eye(n * K)            # + data term (weight 1)
            rows = np.r_[(n - 1) * K + np.arange(K), np.arange(K)]  # newest, then oldest
            E = np.zeros((n * K, 2 * K))
            E[rows, np.arange(2 * K)] = 1.0
            Xt = np.linalg.solve(A, E).T.reshape(2 * K, n, K)       # A symmetric: rows of A^-1
            rows_by_age = np.zeros((2 * K, self.W, K))
            rows_by_age[:, :n] = Xt[:, ::-1]                        # age a = n-1-w
            self._A_cache[key] = rows_by_age
        return rows_by_age

    def _operator(self, n: int, H: int):
        """:meth:`_rows_by_age` with columns in ring-slot order for the current phase.

        Shape (2K, W*K) in the working array module and dtype; cached per fill
        state and ring phase (a column permutation of the same rows).
        """
        key = (n, H, self.t % self.W)
        op = self._op_cache.get(key)
        if op is None:
            op = self._rows_by_age(n, H)[:, self._slot_ages()].reshape(2 * self.K, self.W * self.K)
            op = self._xp.asarray(np.ascontiguousarray(op), dtype=self._dtype)
            self._op_cache[key] = op
        return op

    def _slot_ages(self) -> np.ndarray:
        """Age (0 = newest) of the frame in each ring slot when frame ``t`` is the newest."""
        return (self.t - np.arange(self.W)) % self.W

    # ------------------------------------------------------------ update
    def _allocate(self, J):
        if not hasattr(J, "shape"):
            J = np.asarray(J, dtype=np.float64)
        xp = _array_module(J)
        if J.ndim == 2:
            S, (K, C) = None, J.shape
        elif J.ndim == 3:
            S, K, C = J.shape
        else:
            raise ValueError(f"J must be (K, C) or (S, K, C), got shape {tuple(J.shape)}")
        if K != self.K:
            raise ValueError(f"J has {K} joints but the skeleton has {self.K}")
        if C not in (2, 3):
            raise ValueError(f"J must have 2 or 3 coordinates per joint, got {C}")
        dtype = J.dtype if J.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        if (self._op_cache and (xp, dtype) != getattr(self, "_op_kind", None)):
            self._op_cache.clear()
        self._op_kind = (xp, dtype)
        self._xp, self._dtype, self._shape = xp, dtype, (S, C)
        self._array_type = type(J) if hasattr(J, "shape") else np.ndarray
        self._full_shape = (self.K, C) if S is None else (S, self.K, C)
        cols = (S or 1) * C
        self._b = xp.zeros((self.W, self.K, cols), dtype=dtype)
        self._hist = xp.zeros((self.H, self.K, cols), dtype=dtype)
        self._wts = xp.ones((self.W, self.K, S or 1), dtype=dtype) if self.confidences else None
        self._P = xp.asarray(self._P_np, dtype=dtype)

    def _to_cols(self, a, name):
        """(K, C) or (S, K, C) -> (K, S*C), the ring's layout (a view when S is None)."""
        if not hasattr(a, "shape"):
            a = self._xp.asarray(a, dtype=self._dtype)     # lists and tuples
        if a.shape != self._full_shape:
            raise ValueError(f"{name} has shape {tuple(a.shape)}, expected {self._full_shape}")
        if type(a) is not self._array_type and _array_module(a) is not self._xp:
            raise TypeError(f"{name} is not a {self._xp.__name__} array like the first frame; call reset() first")
        if self._shape[0] is None:
            return a
        return a.transpose(1, 0, 2).reshape(self.K, -1)

    def update(self, J, B=None, deltas=None, weights=None):
        """Add frame t and return its tracked joints ``Ĵ[t]`` (same shape and module as ``J``)."""
        if self._b is None:
            self._allocate(J)
        xp, t, W, K = self._xp, self.t, self.W, self.K
        n = min(t + 1, W)                                   # frames in the window, t included
        H = min(max(t + 1 - W, 0), self.dmax)               # frozen frames available before it
        if self.confidences:
            w = self._check_weights(weights)
        elif weights is not None:
            raise ValueError("weights given but the solver was built with confidences=False")

        # This frame's own contribution to its row of b (nothing is stored yet,
        # so a rejected frame leaves no trace).
        Jc = self._to_cols(J, "J")
        own = Jc * w.repeat(self._shape[1], axis=1) if self.confidences \
            else xp.array(Jc, dtype=self._dtype, copy=True)
        if self.alpha > 0:
            if B is None:
                raise ValueError("this solver uses bones (alpha > 0) but B is None; pass B or build it with alpha=0")
            own += self._P @ self._to_cols(B, "B")
        # Terms whose frame t-d exists (all of them once t >= max d), γ-weighted.
        active = self._terms if t >= self.dmax else [(d, g) for d, g in self._terms if d <= t]
        Dg = []
        for d, g in active:
            if deltas is None or d not in deltas:
                missing = [d for d, _ in active if deltas is None or d not in deltas]
                raise ValueError(f"no displacement for duration(s) {missing} at frame {t}; "
                                 f"deltas must hold every duration in {list(self.durations)}")
            Dg.append(g * self._to_cols(deltas[d], f"deltas[{d}]"))
            own += Dg[-1]
        # One check covers every input: NaN/inf in any of them reaches `own`.
        if self.check_finite and not bool(xp.isfinite(own).all()):
            raise ValueError(self._nonfinite_message(J, B, deltas))

        # Store: -γ Δd goes to the row of frame t-d while that frame is in the
        # window; a frame t-d already frozen (only when d == W) adds +γ v here.
        for (d, g), Dgi in zip(active, Dg):
            if d >= n:
                own += g * self._hist[(t - d) % self.H]
        self._b[t % W] = own
        for (d, g), Dgi in zip(active, Dg):
            if d < n:
                self._b[(t - d) % W] -= Dgi
        if self.confidences:
            self._wts[t % W] = w
            out = self._solve_weighted(n, H)
        else:
            out = self._operator(n, H) @ self._b.reshape(W * K, -1)
        if n == W and self.dmax:
            # The oldest frame s leaves with the next update: freeze its estimate v
            # and move its terms with frames s+d (still in the window) to their rows.
            s, v = t - W + 1, out[K:]
            self._hist[s % self.H] = v
            for d, g in self._terms:
                if d < W:
                    self._b[(s + d) % W] += g * v
        self.t = t + 1
        newest = out[:K]
        S, C = self._shape
        return newest if S is None else newest.reshape(K, S, C).transpose(1, 0, 2)

    def _check_weights(self, weights):
        xp, K = self._xp, self.K
        if weights is None:
            raise ValueError("this solver was built with confidences=True: pass weights (K,) or (S, K)")
        wshape = (K,) if self._shape[0] is None else (self._shape[0], K)
        if tuple(weights.shape) != wshape:
            raise ValueError(f"weights has shape {tuple(weights.shape)}, expected {wshape}")
        w = xp.asarray(weights, dtype=self._dtype)
        if bool(xp.any(w < 0)) or not bool(xp.all(xp.isfinite(w))):
            raise ValueError("weights must be finite and >= 0")
        return w.reshape(K, 1) if self._shape[0] is None else w.T        # (K, S)

    def _nonfinite_message(self, J, B, deltas) -> str:
        xp = self._xp
        names = [("J", J)] + ([("B", B)] if self.alpha > 0 else [])
        names += [(f"deltas[{d}]", deltas[d]) for d, _ in self._terms if d <= self.t]
        bad = [name for name, a in names if not bool(xp.isfinite(a).all())]
        return (f"frame {self.t}: {', '.join(bad)} contain(s) NaN or infinite values; the frame was not "
                "added (drop it, or use confidences=True with weight 0 for missing joints)")

    def _solve_weighted(self, n, H):
        """Re-solve the window with per-joint data weights (the matrix changes every frame)."""
        xp, K, W, t = self._xp, self.K, self.W, self.t
        S, C = self._shape[0] or 1, self._shape[1]
        key = ("A", n, H)
        A_rel = self._op_cache.get(key)
        if A_rel is None:
            A_rel = self._op_cache[key] = xp.asarray(self.window_matrix(n, H), dtype=self._dtype)
        slots = [(t - n + 1 + w) % W for w in range(n)]             # window frame w -> ring slot
        b = self._b[slots].reshape(n * K, S, C).transpose(1, 0, 2)  # (S, nK, C)
        A = xp.broadcast_to(A_rel, (S, n * K, n * K)).copy()
        diag = xp.arange(n * K)
        A[:, diag, diag] += self._wts[slots].reshape(n * K, S).T
        try:
            x = xp.linalg.solve(A, b)                               # (S, nK, C)
        except np.linalg.LinAlgError:
            raise ValueError(f"frame {t}: {_SINGULAR}") from None
        out = xp.concatenate([x[:, (n - 1) * K:], x[:, :K]], axis=1)   # newest, oldest: (S, 2K, C)
        return out.transpose(1, 0, 2).reshape(2 * K, S * C)


# ------------------------------------------------------------ spatial fusion
class SpatialFusion:
    """Each frame's single-frame joints and bone vectors fused by generalised least squares.

    Eq. 8's bone term weighs every joint and bone alike (one alpha) as if their errors were independent.  They
    are not: the spatial network sees the crop the pose network saw, so its bones share much of the pose's own
    bones' errors, and neighbouring joints err together.  With the covariance ``S`` of the errors of a frame's
    measurements ``m = [J; B]`` (per coordinate: K joints then the K-1 non-root bones, depths relative to the
    root joint's) measured on validation sequences, the best linear unbiased estimate of the frame's joints is
    ``x = (Hᵀ S⁻¹ H)⁻¹ Hᵀ S⁻¹ m`` with ``H = [I; L]`` (``L`` the bones' incidence matrix): one fixed
    ``(K, 2K-1)`` matrix per coordinate, so a frame costs one small matrix product.  The fused joints replace
    ``J`` in the solver, which then runs without its bone term (``alpha = 0``); the temporal term works as before.

    ``operators``: (C, K, 2K-1).  :meth:`fit` measures them; :meth:`save` / :meth:`load` keep them in a model
    directory (``fusion.npz``, written by ``trt-tracker calibrate``).  Works on NumPy or CuPy arrays with any
    leading batch axes.
    """

    def __init__(self, skeleton, operators, info: dict | None = None):
        self.parents = _parents_of(skeleton)
        self.K = len(self.parents)
        self.root = int(np.flatnonzero(self.parents < 0)[0])
        self.non_root = np.flatnonzero(self.parents >= 0)
        ops = np.asarray(operators, dtype=np.float64)
        if ops.ndim != 3 or ops.shape[1:] != (self.K, 2 * self.K - 1) or ops.shape[0] not in (2, 3):
            raise ValueError(f"fusion operators must be (C, K={self.K}, 2K-1={2 * self.K - 1}) with C 2 or 3, "
                             f"got {ops.shape}; re-run trt-tracker calibrate for this model")
        if not np.all(np.isfinite(ops)):
            raise ValueError("fusion operators contain NaN or infinite values; re-run trt-tracker calibrate")
        self.operators = ops
        self.info = dict(info or {})
        self._cache: dict = {}

    @staticmethod
    def incidence(parents) -> np.ndarray:
        """``H = [I; L]`` ((2K-1, K)): the measurements a frame's joints ``x`` imply, ``[x; x[k] - x[parent(k)]]``."""
        parents = _parents_of(parents)
        K = len(parents)
        nr = np.flatnonzero(parents >= 0)
        L = np.zeros((len(nr), K))
        L[np.arange(len(nr)), nr] = 1.0
        L[np.arange(len(nr)), parents[nr]] = -1.0
        return np.vstack([np.eye(K), L])

    def measurements(self, J, B):
        """(..., K, C) joints and bones -> (..., C, 2K-1): the joints (depths relative to the root's), then the
        non-root bones."""
        xp = _array_module(J)
        J = xp.asarray(J, dtype=xp.float64)
        B = xp.asarray(B, dtype=xp.float64)
        if J.shape != B.shape or J.shape[-2:] != (self.K, self.operators.shape[0]):
            raise ValueError(f"J and B must both be (..., K={self.K}, C={self.operators.shape[0]}), got "
                             f"{tuple(J.shape)} and {tuple(B.shape)}")
        if J.shape[-1] == 3:
            J = xp.concatenate([J[..., :2], J[..., 2:] - J[..., self.root : self.root + 1, 2:]], -1)
        m = xp.concatenate([J, B[..., self.non_root, :]], -2)
        return xp.swapaxes(m, -1, -2)

    def __call__(self, J, B):
        """Fused joints, like ``J`` (its root joint's depth kept: the solver's depths stay root-relative)."""
        xp = _array_module(J)
        key = (xp.__name__, np.dtype(J.dtype).str)
        ops = self._cache.get(key)
        if ops is None:
            ops = self._cache[key] = xp.asarray(self.operators, dtype=J.dtype if J.dtype in (np.float32, np.float64)
                                                else np.float64)
        m = self.measurements(J, B).astype(ops.dtype)
        x = xp.einsum("ckm,...cm->...kc", ops, m)
        if J.shape[-1] == 3:
            x[..., 2] += J[..., self.root : self.root + 1, 2]
        return x

    @classmethod
    def fit(cls, skeleton, J, B, truth, shrink: float = 0.0, info: dict | None = None) -> "SpatialFusion":
        """Operators from predictions ``J``, ``B`` and true joints ``truth`` ((N, K, C) each, N frames of
        validation sequences): each coordinate's error covariance (about zero: a bias counts as error) shrunk
        towards its diagonal by ``shrink`` in [0, 1] (1: independent errors, per-row weights)."""
        if not 0.0 <= float(shrink) <= 1.0:
            raise ValueError(f"shrink must be in [0, 1], got {shrink}")
        K = len(_parents_of(skeleton))
        f = cls(skeleton, np.zeros((np.shape(J)[-1], K, 2 * K - 1)))     # for its indices and measurements()
        J, B, G = (np.asarray(a, dtype=np.float64) for a in (J, B, truth))
        if G.shape != J.shape or J.ndim != 3:
            raise ValueError(f"J, B and truth must all be (N, K, C), got {J.shape}, {B.shape}, {G.shape}")
        if len(J) < 2 * f.K:
            raise ValueError(f"{len(J)} frames cannot measure a {2 * f.K - 1}-dimensional error covariance; "
                             "calibrate on more validation sequences")
        H = cls.incidence(f.parents)
        E = f.measurements(J, B) - f.measurements(G, G - G[:, np.where(f.parents < 0, np.arange(f.K), f.parents)])
        ops = []
        for c in range(J.shape[-1]):
            S = E[:, c].T @ E[:, c] / len(E)
            S = (1 - shrink) * S + shrink * np.diag(np.diag(S))
            # The root's relative depth is 0 by definition (no error): a tiny variance keeps S invertible.
            S[np.diag_indices_from(S)] += 1e-9 * max(float(np.trace(S)) / len(S), 1e-12) + 1e-12
            Si = np.linalg.inv(S)
            ops.append(np.linalg.solve(H.T @ Si @ H, H.T @ Si))
        return cls(skeleton, np.stack(ops), {**(info or {}), "shrink": float(shrink), "frames": int(len(J))})

    def save(self, path) -> None:
        import json

        np.savez(path, operators=self.operators, parents=self.parents,
                 info=np.array(json.dumps(self.info)))

    @classmethod
    def load(cls, path, skeleton=None) -> "SpatialFusion":
        """Read :meth:`save`'s file; ``skeleton``: the model's, which its parents must match."""
        import json

        try:
            with np.load(path, allow_pickle=False) as z:
                ops, parents, info = z["operators"], z["parents"], json.loads(str(z["info"]))
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path}: not a fusion file ({e}); re-run trt-tracker calibrate") from None
        if skeleton is not None and not np.array_equal(parents, _parents_of(skeleton)):
            raise ValueError(f"{path}: calibrated for another skeleton ({len(parents)} joints); re-run "
                             "trt-tracker calibrate for this model")
        return cls(parents, ops, info)
