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

    Single-frame joints: ``J = gt + body + own + outliers`` where

    * ``body_sigma`` (x, y, z): an error shared by all joints of a frame (the
      root's depth and the body's scale are what a single-frame network gets
      most wrong); correlated in time with time constant ``body_corr_time_s``;
    * ``joint_sigma`` (x, y, z): each joint's own error, correlated in time
      with time constant ``joint_corr_time_s`` (neighbouring frames look alike,
      so a network errs alike on them: an AR(1) process whose lag-one
      correlation is ``exp(-dt / tau)`` at the sequence's frame interval dt);
    * ``joint_outlier_rate``/``joint_outlier_mm``: fraction of joints per frame
      displaced by a gross error of that size (random direction).

    Bones: ``bone_sigma`` per axis plus ``bone_outlier_rate`` gross errors.
    Displacements: per-axis std ``disp_sigma0 + disp_sigma_rel * |true displacement|``
    plus ``disp_outlier_rate`` gross errors of ``disp_outlier_rel`` times the
    true displacement plus ``joint_outlier_mm / 4``.

    Defaults follow the seeds' HM36 figures: single-frame MPJPE ~60 mm (Table 5),
    Bone Error ~40 mm (Table 2), Displ Error 2.6 / 6.1 / 14.8 mm at
    25 / 8 / 2.5 fps for mean true displacements 4.3 / 12.7 / 39 mm (Table 3).
    """

    joint_sigma: tuple[float, float, float] = (25.0, 25.0, 35.0)
    body_sigma: tuple[float, float, float] = (10.0, 10.0, 30.0)
    joint_corr_time_s: float = 0.1
    body_corr_time_s: float = 0.5
    joint_outlier_rate: float = 0.02
    joint_outlier_mm: float = 200.0
    bone_sigma: float = 25.0
    bone_outlier_rate: float = 0.01
    disp_sigma0: float = 0.7
    disp_sigma_rel: float = 0.22
    disp_outlier_rate: float = 0.01
    disp_outlier_rel: float = 1.0

    def scaled(self, s: float) -> "NoiseModel":
        """Every error size multiplied by ``s`` (rates and relative sizes unchanged)."""
        return replace(self, joint_sigma=tuple(x * s for x in self.joint_sigma),
                       body_sigma=tuple(x * s for x in self.body_sigma),
                       joint_outlier_mm=self.joint_outlier_mm * s, bone_sigma=self.bone_sigma * s,
                       disp_sigma0=self.disp_sigma0 * s)

    def rho(self, corr_time_s: float, fps: float) -> float:
        """Lag-one correlation of an AR(1) error with time constant ``corr_time_s`` at ``fps``."""
        return float(np.exp(-1.0 / (fps * corr_time_s))) if corr_time_s > 0 else 0.0


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
                          rng: np.random.Generator | None = None, fps: float = 25.0):
    """Noisy single-frame joints, bones and displacements for a ground-truth sequence.

    Parameters
    ----------
    gt : (T, K, 3) ground-truth joints (mm)
    parents : Skeleton or parent list
    durations : durations d (negative allowed) to make displacements ``Δd[t] ≈ gt[t] - gt[t-d]`` for
    fps : frame rate of ``gt`` (sets the temporal correlation of the single-frame error)

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

    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    own = _ar1(rng, (T, K, 3), noise.rho(noise.joint_corr_time_s, fps)) * np.asarray(noise.joint_sigma)
    body = _ar1(rng, (T, 1, 3), noise.rho(noise.body_corr_time_s, fps)) * np.asarray(noise.body_sigma)
    J = gt + own + body
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
