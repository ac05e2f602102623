"""Simulated network outputs: noisy single-frame joints, bones and displacements from ground truth.

Used to study the solver before (and independently of) trained networks.  The
error model follows what the seeds report for real networks:

* single-frame joints have the largest error (seed 000 Table 5: ~60 mm on
  HM36), anisotropic (depth worse than image-plane), partly correlated in time
  (a network errs similarly on similar neighbouring frames: AR(1) noise), plus
  occasional gross outliers (a joint detected far away, as after a left/right
  confusion);
* bone vectors are better (Table 2: ~40 mm);
* displacement error grows with the true displacement (Table 3: ~2.5 mm at
  25 fps up to ~15 mm at 2.5 fps; Easy/Middle/Hard buckets), so it depends on
  the duration and the motion speed; occasional outliers too.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class NoiseModel:
    """Error model of the simulated observations (all in mm, the units of the poses).

    ``joint_sigma``: per-axis std of the single-frame error ``(x, y, z)``;
    ``joint_rho``: lag-one correlation of that error over frames (AR(1));
    ``joint_outlier_rate``/``joint_outlier_mm``: fraction of joints per frame
    displaced by a gross error of that size (random direction);
    ``bone_sigma``, ``bone_outlier_rate``: bone vector error;
    ``disp_sigma0`` + ``disp_sigma_rel`` * |true displacement|: displacement error std;
    ``disp_outlier_rate``: fraction of displacement vectors with a gross error of
    ``disp_outlier_rel`` times the true displacement plus ``joint_outlier_mm / 4``.
    """

    joint_sigma: tuple[float, float, float] = (25.0, 25.0, 45.0)
    joint_rho: float = 0.6
    joint_outlier_rate: float = 0.02
    joint_outlier_mm: float = 200.0
    bone_sigma: float = 18.0
    bone_outlier_rate: float = 0.01
    disp_sigma0: float = 2.0
    disp_sigma_rel: float = 0.15
    disp_outlier_rate: float = 0.01
    disp_outlier_rel: float = 1.0

    def scaled(self, s: float) -> "NoiseModel":
        """Every error size multiplied by ``s`` (rates unchanged)."""
        return replace(self, joint_sigma=tuple(x * s for x in self.joint_sigma),
                       joint_outlier_mm=self.joint_outlier_mm * s, bone_sigma=self.bone_sigma * s,
                       disp_sigma0=self.disp_sigma0 * s)


def _random_directions(rng, shape):
    v = rng.normal(size=shape + (3,))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _ar1(rng, shape, rho):
    """Unit-variance AR(1) noise along axis 0."""
    e = rng.normal(size=shape)
    out = np.empty(shape)
    out[0] = e[0]
    c = np.sqrt(1 - rho**2)
    for t in range(1, shape[0]):
        out[t] = rho * out[t - 1] + c * e[t]
    return out


def simulate_observations(gt: np.ndarray, parents, durations=(1,), noise: NoiseModel | None = None,
                          rng: np.random.Generator | None = None):
    """Noisy single-frame joints, bones and displacements for a ground-truth sequence.

    Parameters
    ----------
    gt : (T, K, 3) ground-truth joints (mm)
    parents : Skeleton or parent list
    durations : durations d (negative allowed) to make displacements ``Δd[t] ≈ gt[t] - gt[t-d]`` for

    Returns
    -------
    J : (T, K, 3) single-frame joints
    B : (T, K, 3) bones ``J[k] - J[parent(k)]`` (root row: the root position, noisy)
    deltas : {d: (T, K, 3)}; rows where ``t-d`` is outside the sequence are NaN
    """
    noise = noise or NoiseModel()
    rng = rng or np.random.default_rng()
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[-1] != 3:
        raise ValueError(f"gt must be (T, K, 3), got {gt.shape}")
    parents = np.asarray(getattr(parents, "parents", parents))
    T, K, _ = gt.shape
    if len(parents) != K:
        raise ValueError(f"{len(parents)} parents for {K} joints")

    sig = np.asarray(noise.joint_sigma, dtype=np.float64)
    J = gt + _ar1(rng, (T, K, 3), noise.joint_rho) * sig
    out = rng.random((T, K)) < noise.joint_outlier_rate
    J[out] += _random_directions(rng, (int(out.sum()),)) * noise.joint_outlier_mm

    nr = parents >= 0
    B = gt.copy()
    B[:, nr] = gt[:, nr] - gt[:, parents[nr]]
    B += rng.normal(size=B.shape) * noise.bone_sigma
    out = rng.random((T, K)) < noise.bone_outlier_rate
    B[out] += _random_directions(rng, (int(out.sum()),)) * noise.joint_outlier_mm / 2

    deltas = {}
    for d in durations:
        D = np.full_like(gt, np.nan)
        lo, hi = max(d, 0), T + min(d, 0)
        if hi > lo:
            true = gt[lo:hi] - gt[lo - d:hi - d]
            mag = np.linalg.norm(true, axis=-1, keepdims=True)
            D[lo:hi] = true + rng.normal(size=true.shape) * (noise.disp_sigma0 + noise.disp_sigma_rel * mag)
            out = rng.random(true.shape[:2]) < noise.disp_outlier_rate
            gross = noise.disp_outlier_rel * mag[out] + noise.joint_outlier_mm / 4
            D[lo:hi][out] += _random_directions(rng, (int(out.sum()),)) * gross
        deltas[d] = D
    return J, B, deltas
