"""Peer smoothers run on the same single-frame outputs as our tracker.

All are causal (online) and come from their packages: the One Euro filter
(``oneeurofilter``), a constant-velocity Kalman filter (``filterpy``) and a
causal Savitzky–Golay filter (``scipy.signal``: a polynomial fitted over the
last n frames, evaluated at the newest).  Each takes ``(T, K, C)`` and returns
the filtered ``(T, K, C)``.
"""
from __future__ import annotations

import numpy as np


def one_euro(J: np.ndarray, fps: float, mincutoff: float, beta: float, dcutoff: float = 1.0) -> np.ndarray:
    """One Euro filter on every coordinate of every joint (Casiez et al. 2012)."""
    from OneEuroFilter import OneEuroFilter

    T, K, C = J.shape
    filters = [OneEuroFilter(freq=fps, mincutoff=mincutoff, beta=beta, dcutoff=dcutoff) for _ in range(K * C)]
    out = np.empty_like(J, dtype=np.float64)
    flat = J.reshape(T, K * C)
    of = out.reshape(T, K * C)
    for t in range(T):
        ts = t / fps
        for i, f in enumerate(filters):
            of[t, i] = f(float(flat[t, i]), ts)
    return out


def kalman_cv(J: np.ndarray, fps: float, q: float, r: float) -> np.ndarray:
    """Constant-velocity Kalman filter, every coordinate its own (position, velocity) state.

    ``q``: white-noise acceleration variance (mm²/s⁴ · s, discrete model of
    ``filterpy.common.Q_discrete_white_noise``); ``r``: measurement variance (mm²).
    All channels share one model, so one filter with a block-diagonal state
    runs them together (``KalmanFilter.batch_filter``).
    """
    from filterpy.common import Q_discrete_white_noise
    from filterpy.kalman import KalmanFilter

    T, K, C = J.shape
    n = K * C
    dt = 1.0 / fps
    kf = KalmanFilter(dim_x=2 * n, dim_z=n)
    kf.F = np.kron(np.eye(n), np.array([[1.0, dt], [0.0, 1.0]]))
    kf.H = np.kron(np.eye(n), np.array([[1.0, 0.0]]))
    kf.Q = Q_discrete_white_noise(dim=2, dt=dt, var=q, block_size=n, order_by_dim=True)
    kf.R = np.eye(n) * r
    z0 = J[0].reshape(n)
    kf.x = np.zeros((2 * n, 1))
    kf.x[0::2, 0] = z0
    kf.P = np.kron(np.eye(n), np.diag([r, 1e6]))
    means, _, _, _ = kf.batch_filter(J.reshape(T, n, 1))
    return means[:, 0::2, 0].reshape(T, K, C)


def savgol_causal(J: np.ndarray, window: int, order: int) -> np.ndarray:
    """Causal Savitzky–Golay: least-squares polynomial over the last ``window`` frames, at the newest.

    The first frames use the frames available (shorter windows, order capped).
    """
    from scipy.signal import savgol_coeffs

    T = len(J)
    out = np.empty_like(J, dtype=np.float64)
    coeffs = {}
    for t in range(T):
        n = min(window, t + 1)
        p = min(order, n - 1)
        if n == 1:
            out[t] = J[t]
            continue
        if (n, p) not in coeffs:
            # pos = n-1: evaluate the fit at the last sample; use="dot" orders taps oldest..newest.
            coeffs[(n, p)] = savgol_coeffs(n, p, pos=n - 1, use="dot")
        out[t] = np.tensordot(coeffs[(n, p)], J[t - n + 1:t + 1], axes=(0, 0))
    return out
