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

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["solve_sequence", "OnlineSolver", "normal_equations", "DURATION_SETS"]

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


def _durations(durations, online: bool) -> tuple[int, ...]:
    if isinstance(durations, str):
        if durations not in DURATION_SETS:
            raise ValueError(f"unknown duration set {durations!r}; known: {sorted(DURATION_SETS)}")
        durations = DURATION_SETS[durations]
    out = []
    for d in durations:
        if int(d) != d or d == 0:
            raise ValueError(f"durations must be non-zero integers, got {list(durations)}")
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
@dataclass(frozen=True)
class _Term:
    """One family of residuals ``r = x[i] - x[j] - target`` (``j = -1``: no second unknown)."""

    i: np.ndarray
    j: np.ndarray
    weight: np.ndarray


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
    durations = _durations(durations, online=False)
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
    durations = _durations(durations, online=False)
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
    x = solveh_banded(ab, rhs, lower=False, check_finite=False)
    return np.moveaxis(x.reshape(T * K, -1, C), 1, 0).reshape(lead + (T, K, C))


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
    confidences : if True, ``update`` takes per-joint data weights ``weights``
        and the window is re-solved each frame (batched dense Cholesky-free solve)
        instead of the pre-factored operator.

    ``update(J, B, deltas)`` takes one frame: ``J`` (K, C) or (S, K, C) for S
    independent tracks (NumPy or CuPy, float32 or float64), ``B`` like ``J``,
    ``deltas`` {d: like J} with ``Δd = Ĵ[t] - Ĵ[t-d]``, and returns ``Ĵ[t]``
    like ``J``.  Before ``d`` frames have been seen, ``deltas[d]`` is ignored.
    """

    def __init__(self, skeleton, durations=(1,), alpha: float = 1.0, gammas=1.0, window: int = 16,
                 confidences: bool = False, check_finite: bool = True):
        self.parents = _parents_of(skeleton)
        self.K = len(self.parents)
        self.root = int(np.flatnonzero(self.parents < 0)[0])
        self.durations = _durations(durations, online=True)
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
        self.H = max(self.dmax, 1)          # history ring: frames that left the window
        self.confidences = bool(confidences)
        self.check_finite = bool(check_finite)
        self.Fo = 2 + len(self.durations)   # observation fields per frame: J, B, Δ_1..Δ_N
        self._base_cache: dict = {}
        self._phase_cache: dict = {}
        self.reset()

    # ------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all frames (all tracks); the next update starts a new track."""
        self.t = 0                          # frames seen
        self._xp = None
        self._shape = None                  # (S or None, C), dtype
        self._obs = None
        self._hist = None
        self._wts = None

    @property
    def frames_seen(self) -> int:
        return self.t

    # ------------------------------------------------------------ operator
    def _window_system(self, n: int, H: int):
        """Relation part of the window's normal equations in age coordinates.

        Window frames ``w = 0..n-1`` (oldest..newest) are unknowns ``w*K + k``;
        observations are addressed by age ``a = n-1-w`` (0 = newest) and field;
        history by age ``g = 0..H-1`` (0 = the frame just before the window).
        Returns ``A_rel`` (nK, nK) and ``b = Go·obs + Gh·hist`` coefficients
        ``Go`` (nK, W, Fo, K), ``Gh`` (nK, Hring, K), without the data term.
        """
        K, W, par = self.K, self.W, self.parents
        nK = n * K
        A = np.zeros((nK, nK))
        Go = np.zeros((nK, W, self.Fo, K))
        Gh = np.zeros((nK, self.H, K))
        ks = np.arange(K)
        nr = ks[par >= 0]
        for w in range(n):
            a = n - 1 - w
            if self.alpha > 0:
                # α |x[w,k] - x[w,p] - B[w,k]|²
                i, j, al = w * K + nr, w * K + par[nr], self.alpha
                A[i, i] += al
                np.add.at(A, (j, j), al)
                A[i, j] -= al
                A[j, i] -= al
                Go[i, a, 1, nr] += al
                np.add.at(Go, (j, a, 1, nr), -al)
            for f, (d, g) in enumerate(zip(self.durations, self.gammas)):
                # γ |x[w,k] - x[w-d,k] - Δd[w,k]|²
                if g == 0:
                    continue
                i, src = w * K + ks, w - d
                if src >= 0:
                    j = src * K + ks
                    A[i, i] += g
                    A[j, j] += g
                    A[i, j] -= g
                    A[j, i] -= g
                    Go[i, a, 2 + f, ks] += g
                    Go[j, a, 2 + f, ks] -= g
                elif -src <= H:
                    # The frame t-d has left the window: its solved value is a constant.
                    A[i, i] += g
                    Go[i, a, 2 + f, ks] += g
                    Gh[i, -src - 1, ks] += g
        return A, Go, Gh

    def _base_operator(self, n: int, H: int):
        """Fixed-weight map from (obs, hist) to the newest and oldest window frames."""
        key = (n, H)
        if key not in self._base_cache:
            K = self.K
            A, Go, Gh = self._window_system(n, H)
            nK = n * K
            # Data term with weight 1: A += I, b += J (field 0).
            A[np.arange(nK), np.arange(nK)] += 1.0
            for w in range(n):
                Go[w * K + np.arange(K), n - 1 - w, 0, np.arange(K)] += 1.0
            rows = np.r_[(n - 1) * K + np.arange(K), np.arange(K)]   # newest, then oldest
            E = np.zeros((nK, 2 * K))
            E[rows, np.arange(2 * K)] = 1.0
            # A is symmetric positive definite, so rows of A^-1 are solves against unit vectors.
            Xt = np.linalg.solve(A, E).T                              # (2K, nK)
            Mo = (Xt @ Go.reshape(nK, -1)).reshape(2 * K, self.W, self.Fo, K)
            Mh = (Xt @ Gh.reshape(nK, -1)).reshape(2 * K, self.H, K)
            self._base_cache[key] = (Mo, Mh)
        return self._base_cache[key]

    def _phase(self, t: int):
        """Ring slots <-> ages at time t (frame t is the newest)."""
        perm_o = (t - np.arange(self.W)) % self.W                    # slot -> age
        perm_h = (t - self.W - np.arange(self.H)) % self.H           # slot -> history age
        return perm_o, perm_h

    def _operator(self, n: int, H: int):
        """Phase-permuted operators in the working array module and dtype.

        The observation ring turns with period W and the history ring with
        period H, so they are cached separately (W + H copies, not lcm(W, H)).
        """
        ko, kh = (n, H, self.t % self.W), (n, H, self.t % self.H)
        Mo_ph, Mh_ph = self._phase_cache.get(ko), self._phase_cache.get(("h",) + kh)
        if Mo_ph is None or Mh_ph is None:
            Mo, Mh = self._base_operator(n, H)
            perm_o, perm_h = self._phase(self.t)
            xp, dtype = self._xp, self._dtype
            if Mo_ph is None:
                Mo_ph = xp.asarray(np.ascontiguousarray(Mo[:, perm_o].reshape(2 * self.K, -1)), dtype=dtype)
                self._phase_cache[ko] = Mo_ph
            if Mh_ph is None:
                Mh_ph = xp.asarray(np.ascontiguousarray(Mh[:, perm_h].reshape(2 * self.K, -1)), dtype=dtype)
                self._phase_cache[("h",) + kh] = Mh_ph
        return Mo_ph, Mh_ph

    # ------------------------------------------------------------ update
    def _allocate(self, J):
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
        if self._xp is not xp and self._phase_cache:
            self._phase_cache.clear()
        self._xp, self._dtype, self._shape = xp, dtype, (S, C)
        cols = (S or 1) * C
        self._obs = xp.zeros((self.W, self.Fo, self.K, cols), dtype=dtype)
        self._hist = xp.zeros((self.H, self.K, cols), dtype=dtype)
        self._wts = xp.ones((self.W, self.K, S or 1), dtype=dtype) if self.confidences else None

    def _to_cols(self, a, name):
        """(K, C) or (S, K, C) -> (K, S*C) in the buffer's layout."""
        if tuple(a.shape) != self._full_shape:
            raise ValueError(f"{name} has shape {tuple(a.shape)}, expected {self._full_shape}")
        if self._shape[0] is None:
            return a
        return a.transpose(1, 0, 2).reshape(self.K, -1)

    @property
    def _full_shape(self):
        S, C = self._shape
        return (self.K, C) if S is None else (S, self.K, C)

    def update(self, J, B=None, deltas=None, weights=None):
        """Add frame t and return its tracked joints ``Ĵ[t]`` (same shape and module as ``J``)."""
        if self._obs is None:
            self._allocate(J)
        xp = self._xp
        if _array_module(J) is not xp:
            raise TypeError("J switched between NumPy and CuPy; call reset() first")
        t, W, K = self.t, self.W, self.K
        slot = t % W
        obs = self._obs[slot]
        obs[0] = self._to_cols(J, "J")
        if self.alpha > 0:
            if B is None:
                raise ValueError("this solver uses bones (alpha > 0) but B is None; pass B or build it with alpha=0")
            obs[1] = self._to_cols(B, "B")
            obs[1, self.root] = 0               # the root's bone is not a term
        for f, d in enumerate(self.durations):
            if d > t:
                continue                     # frame t-d does not exist yet
            if deltas is None or d not in deltas:
                obs[...] = 0
                raise ValueError(f"no displacement for duration {d} at frame {t}; "
                                 f"deltas must hold every duration in {list(self.durations)}")
            obs[2 + f] = self._to_cols(deltas[d], f"deltas[{d}]")
        # One check covers every input of this frame.  A non-finite value would
        # spread through the operator (NaN * 0 = NaN) to every later estimate,
        # so the slot is cleared before raising.
        if self.check_finite and not bool(xp.isfinite(obs).all()):
            names = ["J", "B"] + [f"deltas[{d}]" for d in self.durations]
            bad = [names[f] for f in range(self.Fo) if not bool(xp.isfinite(obs[f]).all())]
            obs[...] = 0
            raise ValueError(f"frame {t}: {', '.join(bad)} contain(s) NaN or infinite values; "
                             "the frame was not added (drop it, or use confidences=True with weight 0)")
        n = min(t + 1, W)
        H = min(max(t + 1 - W, 0), self.dmax)
        if self.confidences:
            out = self._solve_weighted(n, H, weights)
        else:
            if weights is not None:
                raise ValueError("weights given but the solver was built with confidences=False")
            Mo, Mh = self._operator(n, H)
            out = Mo @ self._obs.reshape(-1, self._obs.shape[-1])
            if H:
                out += Mh @ self._hist.reshape(-1, self._hist.shape[-1])
        if n == W and self.dmax:
            # The oldest frame leaves the window with the next update: freeze its estimate.
            self._hist[(t - W + 1) % self.H] = out[K:]
        self.t = t + 1
        newest = out[:K]
        S, C = self._shape
        if S is None:
            return newest
        return newest.reshape(K, S, C).transpose(1, 0, 2)

    def _solve_weighted(self, n, H, weights):
        """Re-solve the window with per-joint data weights (changes every frame)."""
        xp, K, W = self._xp, self.K, self.W
        S = self._shape[0] or 1
        C = self._shape[1]
        if weights is None:
            raise ValueError("this solver was built with confidences=True: pass weights (K,) or (S, K)")
        wshape = (K,) if self._shape[0] is None else (S, K)
        if tuple(weights.shape) != wshape:
            raise ValueError(f"weights has shape {tuple(weights.shape)}, expected {wshape}")
        if bool(xp.any(weights < 0)) or not bool(xp.all(xp.isfinite(weights))):
            raise ValueError("weights must be finite and >= 0")
        t = self.t
        self._wts[t % W] = weights.reshape(S, K).T if self._shape[0] is not None else weights[:, None]
        key = ("w", n, H, t % W, t % self.H)
        op = self._phase_cache.get(key)
        if op is None:
            A_rel, Go, Gh = self._window_system(n, H)
            perm_o, perm_h = self._phase(t)
            op = tuple(xp.asarray(np.ascontiguousarray(m), dtype=self._dtype) for m in (
                A_rel, Go[:, perm_o].reshape(n * K, -1), Gh[:, perm_h].reshape(n * K, -1)))
            self._phase_cache[key] = op
        A_rel, Go, Gh = op
        # Window frame w (oldest first) sits in ring slot (t - n + 1 + w) % W.
        slots = [(t - n + 1 + w) % W for w in range(n)]
        wts = self._wts[slots]                                        # (n, K, S)
        Jw = self._obs[slots, 0].reshape(n, K, S, C)                  # (n, K, S, C)
        b = Go @ self._obs.reshape(-1, S * C) + Gh @ self._hist.reshape(-1, S * C)   # (nK, S*C)
        b = b.reshape(n * K, S, C) + (wts[..., None] * Jw).reshape(n * K, S, C)
        A = xp.broadcast_to(A_rel, (S, n * K, n * K)).copy()
        diag = xp.arange(n * K)
        A[:, diag, diag] += wts.reshape(n * K, S).T
        x = xp.linalg.solve(A, b.transpose(1, 0, 2))                  # (S, nK, C)
        rows = xp.concatenate([xp.arange((n - 1) * K, n * K), xp.arange(K)])
        out = x[:, rows]                                              # (S, 2K, C)
        return out.transpose(1, 0, 2).reshape(2 * K, S * C)
