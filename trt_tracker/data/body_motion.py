"""Synthetic BODY17 motion: actions -> joint angles -> forward kinematics -> world joints.

World frame and pose parametrisation: :mod:`.body_kinematics`; the actions'
joint-angle curves: :mod:`.body_actions`; subjects: :mod:`.body_subject`.

Actions (:data:`ACTIONS`) produce joint-angle curves, a yaw rate, a ballistic
lift and a foot-contact weight.  The root is then placed so that the feet
stay on the floor and the supporting foot does not slide (soft foot locking):
walking translates the body, turning pivots it, jumping lifts it.
Everything is deterministic given a :class:`numpy.random.Generator`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..skeleton import BODY17
from .body_actions import _ACTION_FNS, _idle_amplitudes, _neutral_pose, _smooth_noise
from .body_kinematics import clamp_angles, forward_kinematics
from .body_subject import BodySubject
from .rng import as_rng

ACTIONS = ("walk", "wave", "reach", "squat", "turn", "jump", "kick", "box", "stretch")
assert set(_ACTION_FNS) == set(ACTIONS)

R_ANKLE, L_ANKLE = BODY17.index("r_ankle"), BODY17.index("l_ankle")


# ----------------------------------------------------------------- motion
@dataclass
class BodyMotion:
    """A synthetic motion in the world frame (mm, z up, floor at z = 0).

    joints : (T, K, 3) world joints
    angles : (T, D) joint angles (radians, columns :data:`.body_kinematics.DOFS`), within the limits
    yaw : (T,) heading (radians)
    rotations : (T, K, 3, 3) each bone's global rotation
    contact : (T,) 1 when the feet bear weight, 0 in flight
    actions : the actions, in order; ``segments`` their start frames
    """

    joints: np.ndarray
    angles: np.ndarray
    yaw: np.ndarray
    rotations: np.ndarray
    contact: np.ndarray
    actions: tuple[str, ...]
    segments: tuple[int, ...]
    fps: float
    subject: BodySubject = field(repr=False)


def _check_actions(action) -> tuple[str, ...]:
    actions = (action,) if isinstance(action, str) else tuple(action)
    if not actions:
        raise ValueError(f"need at least one action; choose from {ACTIONS}")
    for a in actions:
        if a not in _ACTION_FNS:
            raise ValueError(f"unknown action {a!r}; choose from {ACTIONS}")
    return actions


def _softmin(h: np.ndarray, tau: float) -> np.ndarray:
    """Smooth minimum over the last axis: ``-tau log sum exp(-h / tau)``."""
    m = h.min(-1, keepdims=True)
    return (m - tau * np.log(np.exp(-(h - m) / tau).sum(-1, keepdims=True)))[..., 0]


def _place_root(J_rel: np.ndarray, contact: np.ndarray, lift: np.ndarray, ankle_height: float,
                fps: float) -> np.ndarray:
    """Root trajectory (T, 3) that keeps the feet on the floor without sliding.

    Vertical: the lower ankle sits ``ankle_height`` above the floor (soft
    minimum); in flight the standing height is interpolated between take-off
    and landing and the ballistic ``lift`` is added (then smoothed over 30 ms).
    Horizontal: the root moves against the weighted motion of the feet relative to it,
    ``dr = -contact * sum_i w_i dF_i`` with ``w = softmax(-h / 20 mm - |v| / 300 mm/s)``
    (``h``, ``v``: each foot's height and speed relative to the root), so the
    lower, slower (supporting) foot stays put; jumps go straight up.
    """
    T = len(J_rel)
    feet = J_rel[:, [R_ANKLE, L_ANKLE], :]                         # (T, 2, 3)
    h = feet[..., 2]
    z = ankle_height - _softmin(h, 8.0)
    on_ground = contact > 0.5
    if not on_ground.all() and on_ground.any():
        idx = np.arange(T)
        z[~on_ground] = np.interp(idx[~on_ground], idx[on_ground], z[on_ground])
    # Take-off and landing: without ankles the legs cannot match the ballistic velocity
    # exactly, so soften the switch over ~30 ms.
    z = gaussian_filter1d(z + lift, sigma=0.03 * fps, mode="nearest")
    root = np.zeros((T, 3))
    root[:, 2] = z
    if T > 1:
        speed = np.linalg.norm(np.gradient(feet, axis=0), axis=-1) * fps          # (T, 2) mm/s
        w = np.exp(-(h - h.min(-1, keepdims=True)) / 20.0 - (speed - speed.min(-1, keepdims=True)) / 300.0)
        w /= w.sum(-1, keepdims=True)
        w_mid = 0.5 * (w[1:] + w[:-1])                              # (T-1, 2)
        dF = np.diff(feet[..., :2], axis=0)                         # (T-1, 2, 2)
        step = -(w_mid[..., None] * dF).sum(1)                      # (T-1, 2)
        c = 0.5 * (contact[1:] + contact[:-1])
        root[1:, :2] = np.cumsum(c[:, None] * step, axis=0)
    return root


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def simulate_body(action, subject: BodySubject, n_frames: int, fps: float = 50.0, rng=None,
                  transition_s: tuple[float, float] = (0.6, 1.2)) -> BodyMotion:
    """Simulate a motion; see :func:`body_motion` (this also returns angles, rotations and segments)."""
    actions = _check_actions(action)
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    n_frames = int(n_frames)
    if n_frames < len(actions):
        raise ValueError(f"{len(actions)} actions need at least {len(actions)} frames, got {n_frames}")
    rng = as_rng(rng, none_seed=0)
    t = np.arange(n_frames) / fps
    neutral = _neutral_pose(rng)
    idle = _smooth_noise(t, rng, _idle_amplitudes())
    tracks = [_ACTION_FNS[a](t, child, neutral, subject) for a, child in zip(actions, rng.spawn(len(actions)))]

    # Segment boundaries (evenly spread with jitter) and smooth cross-fades between actions.
    n = len(actions)
    starts = [0]
    weights = np.ones((n, n_frames))
    if n > 1:
        edges = np.linspace(0, n_frames, n + 1)
        for j in range(1, n):
            starts.append(int(np.clip(edges[j] + rng.uniform(-0.2, 0.2) * n_frames / n, 1, n_frames - 1)))
        starts = sorted(starts)
        ramp = rng.uniform(*transition_s) * fps
        # cumulative switch functions s_j(t): 0 before boundary j, 1 after
        S = [_smoothstep((np.arange(n_frames) - (b - ramp / 2)) / ramp) for b in starts[1:]]
        for j in range(n):
            on = S[j - 1] if j > 0 else np.ones(n_frames)
            off = S[j] if j < n - 1 else np.zeros(n_frames)
            weights[j] = np.clip(on - off, 0, 1)
        weights /= weights.sum(0, keepdims=True)

    def blend(field: str) -> np.ndarray:
        """Weighted sum of one curve over the actions: sum_j w_j(t) x_j(t)."""
        return sum(w.reshape(-1, *[1] * (getattr(tr, field).ndim - 1)) * getattr(tr, field)
                   for w, tr in zip(weights, tracks))

    angles = clamp_angles(blend("angles") + idle)
    yaw_rate, lift, contact = blend("yaw_rate"), blend("lift"), blend("contact")

    # Heading: integrate the yaw rate (trapezoid rule) from 0.
    yaw = np.concatenate([[0.0], np.cumsum(0.5 * (yaw_rate[1:] + yaw_rate[:-1]) / fps)])
    J_rel, G = forward_kinematics(angles, subject.bone_lengths_mm, yaw)
    root = _place_root(J_rel, contact, lift, subject.ankle_height_mm, fps)
    joints = J_rel + root[:, None, :]
    return BodyMotion(joints, angles, yaw, G, contact, actions, tuple(starts), float(fps), subject)


def body_motion(action, subject: BodySubject, n_frames: int, fps: float = 50.0, rng=None) -> np.ndarray:
    """World joints (n_frames, K, 3) float64 in mm (z up, floor z = 0) for an action.

    Parameters
    ----------
    action : one of :data:`ACTIONS`, or a sequence of them to play in turn
        with smooth transitions
    subject : from :func:`sample_body_subject`; bone lengths stay exactly constant
    n_frames : number of frames
    fps : frame rate (the paper's data is 50 fps)
    rng : :class:`numpy.random.Generator` or an int seed (None: seed 0);
        sets phase, speed and amplitudes
    """
    return simulate_body(action, subject, n_frames, fps, rng).joints
