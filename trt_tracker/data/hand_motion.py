"""Synthetic hands: subjects, a gesture library, forward kinematics and gesture-to-gesture motion.

Everything is deterministic from a :class:`numpy.random.Generator`.

Hand frame (right hand), origin at the wrist joint, orthonormal and
right-handed, columns of the rotation ``R`` that maps it to camera space:

* ``e_r`` radial: across the palm towards the thumb side;
* ``e_f`` distal: from the wrist towards the middle finger's MCP;
* ``e_p = e_r x e_f`` palmar: out of the palm.

``R = diag(1, -1, -1)`` is a hand with its palm towards the camera, fingers
up in the image and the thumb on the image's right.

Joint parameters (degrees), one row of four per finger in HAND21 order
(index, middle, ring, little, thumb):

* fingers: ``[mcp_flex, mcp_abd, pip_flex, dip_flex]``; flexion bends
  towards the palm, abduction turns the finger towards the thumb side;
  every segment of a finger stays in one plane (PIP and DIP are hinges);
* thumb: ``[cmc_abd, cmc_flex, mcp_flex, ip_flex]``: palmar abduction lifts
  the thumb out of the palm plane, CMC flexion swings it across the palm
  towards the little finger (opposition), MCP and IP are hinges that bend
  towards the thumb pad (which pronates as the thumb abducts).

Bone lengths are exactly the subject's at every frame: the kinematics only
ever places a joint at its parent plus ``length * unit vector``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from ..camera import Intrinsics
from ..skeleton import HAND21
from .rng import as_rng

MOTION_VERSION = "1"

FINGERS = ("index", "middle", "ring", "little", "thumb")
FINGER_PARAMS = ("mcp_flex", "mcp_abd", "pip_flex", "dip_flex")
THUMB_PARAMS = ("cmc_abd", "cmc_flex", "mcp_flex", "ip_flex")

#: Joint limits in degrees, shape (5, 4, 2): ``LIMITS_DEG[finger, param] = (lo, hi)``.
LIMITS_DEG = np.array([
    [[-20, 90], [-10, 25], [0, 110], [0, 80]],   # index (abduction: towards the thumb positive)
    [[-20, 90], [-15, 15], [0, 110], [0, 80]],   # middle
    [[-20, 90], [-20, 10], [0, 110], [0, 80]],   # ring
    [[-25, 90], [-30, 10], [0, 110], [0, 80]],   # little
    [[0, 75], [-20, 60], [-10, 65], [-15, 80]],  # thumb: cmc_abd, cmc_flex, mcp, ip
], dtype=np.float64)

#: DIP follows PIP loosely: ``|dip - DIP_PIP_RATIO * pip| <= DIP_PIP_SLACK_DEG``.
DIP_PIP_RATIO = 2.0 / 3.0
DIP_PIP_SLACK_DEG = 15.0

# Indices of the joints of finger f in HAND21: mcp, pip, dip, tip.
FINGER_JOINTS = np.array([[1 + 4 * f + j for j in range(4)] for f in range(5)])


def _g(index, middle, ring, little, thumb):
    return np.array([index, middle, ring, little, thumb], dtype=np.float64)


_TUCK_THUMB = (25, 45, 35, 30)  # thumb across the folded fingers

#: The gesture library: name -> (5, 4) joint parameters in degrees.
GESTURES: dict[str, np.ndarray] = {
    "open": _g((5, 12, 8, 5), (5, 0, 8, 5), (5, -10, 8, 5), (8, -20, 8, 5), (15, -10, 5, 5)),
    "flat": _g((0, 2, 3, 2), (0, 0, 3, 2), (0, -2, 3, 2), (0, -4, 3, 2), (5, 10, 5, 5)),
    "fist": _g((85, 2, 100, 65), (88, 0, 100, 65), (88, -3, 100, 65), (85, -6, 95, 60), _TUCK_THUMB),
    "point": _g((0, 3, 5, 3), (85, 0, 100, 65), (85, -3, 100, 65), (80, -6, 95, 60), (25, 40, 30, 25)),
    "pinch": _g((40, 3, 35, 25), (30, 0, 30, 20), (30, -5, 30, 20), (30, -10, 30, 20), (50, 30, 20, 20)),
    "ok": _g((45, 3, 45, 30), (10, 0, 10, 5), (10, -8, 10, 5), (12, -16, 10, 5), (50, 30, 20, 20)),
    "victory": _g((0, 14, 5, 3), (0, -8, 5, 3), (85, -3, 100, 65), (80, -6, 95, 60), (25, 45, 35, 30)),
    "thumbs_up": _g((88, 0, 100, 65), (88, 0, 100, 65), (88, -3, 100, 65), (85, -6, 95, 60), (10, -15, 0, 0)),
    "three": _g((0, 12, 5, 3), (0, 0, 5, 3), (0, -10, 5, 3), (80, -6, 95, 60), (30, 50, 40, 35)),
    "four": _g((0, 10, 5, 3), (0, 0, 5, 3), (0, -8, 5, 3), (0, -16, 5, 3), (30, 50, 40, 35)),
    "claw": _g((15, 10, 75, 55), (15, 0, 75, 55), (15, -8, 75, 55), (15, -16, 75, 55), (40, 20, 35, 40)),
    "rock": _g((0, 8, 5, 3), (85, 0, 100, 65), (85, -3, 100, 65), (0, -18, 5, 3), (25, 45, 35, 30)),
    "call": _g((85, 0, 100, 65), (88, 0, 100, 65), (88, -3, 100, 65), (0, -25, 5, 3), (5, -15, 0, 0)),
    "L": _g((0, 5, 5, 3), (85, 0, 100, 65), (85, -3, 100, 65), (80, -6, 95, 60), (5, -15, 0, 0)),
    "hook": _g((10, 5, 95, 65), (85, 0, 100, 65), (85, -3, 100, 65), (80, -6, 95, 60), (25, 45, 35, 30)),
}

#: Gestures whose thumb tip touches another fingertip: ``name -> finger index``.
CONTACT_GESTURES = {"pinch": 0, "ok": 0}


# ----------------------------------------------------------------- subjects
@dataclass(frozen=True, eq=False)
class HandSubject:
    """One synthetic right hand.

    ``bone_lengths_mm`` (21,) HAND21 bone lengths (root 0);
    ``radii_mm`` (5, 3) capsule radius of each finger segment (proximal,
    middle, distal), thinner distally; ``palm_thickness_mm``; ``spread_deg``
    (5,) angle of each wrist->MCP direction from ``e_f`` towards ``e_r``
    (the thumb's is its base); ``arch`` (5,) palmar component of those
    directions (the palm's arch); ``thumb_rest_deg`` angle of the resting
    thumb from ``e_f``; ``scale`` the overall size factor it was drawn with.
    """

    bone_lengths_mm: np.ndarray
    radii_mm: np.ndarray
    palm_thickness_mm: float
    spread_deg: np.ndarray
    arch: np.ndarray
    thumb_rest_deg: float = 40.0
    scale: float = 1.0
    _geom: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        L = np.asarray(self.bone_lengths_mm, dtype=np.float64)
        if L.shape != (HAND21.K,):
            raise ValueError(f"bone_lengths_mm must have {HAND21.K} entries, got shape {L.shape}")
        if np.any(L[1:] <= 0):
            raise ValueError("every non-root bone length must be positive")
        R = np.asarray(self.radii_mm, dtype=np.float64)
        if R.shape != (5, 3) or np.any(R <= 0):
            raise ValueError(f"radii_mm must be (5, 3) positive, got {R.shape}")
        if not self.palm_thickness_mm > 0:
            raise ValueError(f"palm_thickness_mm must be positive, got {self.palm_thickness_mm}")
        object.__setattr__(self, "bone_lengths_mm", L)
        object.__setattr__(self, "radii_mm", R)
        object.__setattr__(self, "spread_deg", np.asarray(self.spread_deg, dtype=np.float64).reshape(5))
        object.__setattr__(self, "arch", np.asarray(self.arch, dtype=np.float64).reshape(5))

    @property
    def segment_lengths(self) -> np.ndarray:
        """(5, 3) lengths MCP->PIP, PIP->DIP, DIP->TIP per finger."""
        return self.bone_lengths_mm[FINGER_JOINTS[:, 1:]]

    @property
    def metacarpal_lengths(self) -> np.ndarray:
        """(5,) wrist->MCP lengths."""
        return self.bone_lengths_mm[FINGER_JOINTS[:, 0]]

    def geometry(self) -> dict:
        """Rest-pose frames in the hand frame (cached)."""
        if not self._geom:
            self._geom.update(_rest_geometry(self))
        return self._geom

    def to_dict(self) -> dict:
        return {
            "scale": float(self.scale),
            "bone_lengths_mm": [round(float(x), 3) for x in self.bone_lengths_mm],
            "radii_mm": np.round(self.radii_mm, 3).tolist(),
            "palm_thickness_mm": round(float(self.palm_thickness_mm), 3),
        }


def sample_hand_subject(rng: np.random.Generator) -> HandSubject:
    """A random adult right hand around ``HAND21.bone_lengths_mm``.

    Overall scale 0.85-1.15, per-bone variation of a few percent, finger
    radii ~7-10 mm (thinner distally, the little finger thinnest, the
    thumb's metacarpal thicker), palm thickness 22-32 mm.
    """
    rng = as_rng(rng)
    scale = rng.uniform(0.85, 1.15)
    nominal = np.asarray(HAND21.bone_lengths_mm, dtype=np.float64)
    per_bone = np.clip(rng.normal(1.0, 0.035, size=nominal.shape), 0.92, 1.08)
    lengths = nominal * scale * per_bone
    lengths[HAND21.root] = 0.0
    base = np.array([
        [9.0, 8.2, 7.4],   # index
        [9.3, 8.5, 7.6],   # middle
        [8.8, 8.0, 7.2],   # ring
        [7.9, 7.2, 6.6],   # little
        [11.0, 9.6, 8.6],  # thumb: metacarpal (in the thenar), proximal, distal
    ])
    radii = base * np.sqrt(scale) * rng.uniform(0.93, 1.07) * np.clip(rng.normal(1, 0.03, base.shape), 0.94, 1.06)
    palm = rng.uniform(22.0, 32.0) * np.sqrt(scale)
    spread = np.array([15.0, 0.0, -13.0, -26.0, 52.0]) + rng.normal(0, 1.5, 5) * np.array([1, 0, 1, 1, 1])
    arch = np.array([0.04, 0.0, 0.05, 0.13, 0.30]) + rng.normal(0, 0.015, 5) * np.array([1, 0, 1, 1, 1])
    return HandSubject(lengths, radii, float(palm), spread, arch, float(rng.uniform(34.0, 44.0)), float(scale))


def default_hand_subject() -> HandSubject:
    """The nominal HAND21 hand (scale 1, no per-bone variation)."""
    return HandSubject(
        np.asarray(HAND21.bone_lengths_mm, dtype=np.float64),
        np.array([[9.0, 8.2, 7.4], [9.3, 8.5, 7.6], [8.8, 8.0, 7.2], [7.9, 7.2, 6.6], [11.0, 9.6, 8.6]]),
        27.0, np.array([15.0, 0.0, -13.0, -26.0, 52.0]), np.array([0.04, 0.0, 0.05, 0.13, 0.30]), 40.0, 1.0,
    )


# -------------------------------------------------------------- kinematics
def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rotate(v, k, theta):
    """Rodrigues: rotate vectors ``v`` (..., 3) about unit axes ``k`` (..., 3) by ``theta`` (...) radians."""
    c, s = np.cos(theta)[..., None], np.sin(theta)[..., None]
    return v * c + np.cross(k, v) * s + k * np.sum(k * v, axis=-1, keepdims=True) * (1 - c)


def _rest_geometry(subject: HandSubject) -> dict:
    e_r, e_f, e_p = np.eye(3)
    phi = np.radians(subject.spread_deg)
    dirs = _unit(np.sin(phi)[:, None] * e_r + np.cos(phi)[:, None] * e_f + subject.arch[:, None] * e_p)
    mcp = dirs * subject.metacarpal_lengths[:, None]
    # Finger rest frames: distal f along the metacarpal, radial r, palmar p = r x f.
    f = dirs[:4]
    r = _unit(e_r - np.sum(e_r * f, axis=1, keepdims=True) * f)
    p = np.cross(r, f)
    # Thumb rest frame: t0 in the palm plane, w0 towards the little finger, p0 palmar.
    th = np.radians(subject.thumb_rest_deg)
    t0 = np.sin(th) * e_r + np.cos(th) * e_f
    w0 = np.cross(e_p, t0)            # in the palm plane, pointing to the ulnar side
    if np.dot(w0, e_r) > 0:
        w0 = -w0
    p0 = e_p
    # The thumb pad faces across the palm and a little forward.
    n0 = _unit(0.8 * w0 + 0.6 * p0)
    return {"mcp": mcp, "f": f, "r": r, "p": p, "t0": t0, "w0": w0, "p0": p0, "n0": n0}


def hand_fk(params_deg: np.ndarray, subject: HandSubject) -> np.ndarray:
    """Joint parameters (..., 5, 4) degrees -> HAND21 joints (..., 21, 3) in the hand frame (mm)."""
    P = np.radians(np.asarray(params_deg, dtype=np.float64))
    if P.shape[-2:] != (5, 4):
        raise ValueError(f"joint parameters must be (..., 5, 4), got {P.shape}")
    g = subject.geometry()
    seg = subject.segment_lengths
    lead = P.shape[:-2]
    J = np.zeros(lead + (HAND21.K, 3))
    for i in range(4):
        flex, abd, pip, dip = (P[..., i, j] for j in range(4))
        h = np.cos(abd)[..., None] * g["f"][i] + np.sin(abd)[..., None] * g["r"][i]
        pos = np.broadcast_to(g["mcp"][i], lead + (3,))
        J[..., FINGER_JOINTS[i, 0], :] = pos
        angle = flex
        for s, extra in enumerate((None, pip, dip)):
            if extra is not None:
                angle = angle + extra
            u = np.cos(angle)[..., None] * h + np.sin(angle)[..., None] * g["p"][i]
            pos = pos + seg[i, s] * u
            J[..., FINGER_JOINTS[i, s + 1], :] = pos
    # Thumb.
    abd, flx, mcp, ip = (P[..., 4, j] for j in range(4))
    t0 = np.broadcast_to(g["t0"], lead + (3,))
    n0 = np.broadcast_to(g["n0"], lead + (3,))
    k1 = np.broadcast_to(_unit(np.cross(g["t0"], g["w0"])), lead + (3,))
    u = _rotate(t0, k1, flx)
    n = _rotate(n0, k1, flx)
    k2 = _unit(np.cross(u, np.broadcast_to(g["p0"], lead + (3,))))
    u1 = _rotate(u, k2, abd)
    n = _rotate(n, k2, abd)
    n1 = _rotate(n, u1, 0.5 * abd)    # the thumb pronates as it abducts
    pos = np.broadcast_to(g["mcp"][4], lead + (3,))
    J[..., FINGER_JOINTS[4, 0], :] = pos
    angle = np.zeros_like(abd)
    for s, extra in enumerate((None, mcp, ip)):
        if extra is not None:
            angle = angle + extra
        d = np.cos(angle)[..., None] * u1 + np.sin(angle)[..., None] * n1
        pos = pos + seg[4, s] * d
        J[..., FINGER_JOINTS[4, s + 1], :] = pos
    return J


def clip_params(params_deg: np.ndarray) -> np.ndarray:
    """Clip joint parameters (..., 5, 4) to :data:`LIMITS_DEG` and couple DIP to PIP."""
    p = np.clip(params_deg, LIMITS_DEG[..., 0], LIMITS_DEG[..., 1])
    pip = p[..., :4, 2]
    lo = np.maximum(LIMITS_DEG[:4, 3, 0], DIP_PIP_RATIO * pip - DIP_PIP_SLACK_DEG)
    hi = np.minimum(LIMITS_DEG[:4, 3, 1], DIP_PIP_RATIO * pip + DIP_PIP_SLACK_DEG)
    p[..., :4, 3] = np.clip(p[..., :4, 3], lo, hi)
    return p


def _solve_contact(params: np.ndarray, subject: HandSubject, finger: int) -> np.ndarray:
    """Adjust the thumb so that its tip touches ``finger``'s tip (pinch, OK)."""
    from scipy.optimize import minimize

    target_tip = FINGER_JOINTS[finger, 3]
    thumb_tip = FINGER_JOINTS[4, 3]
    # Pads touch, so the joints (on the finger axes) stay about two radii apart.
    gap = subject.radii_mm[finger, 2] + subject.radii_mm[4, 2]
    x0 = params[4].copy()

    target = hand_fk(params, subject)[target_tip]
    step = 1e-4 * np.vstack([np.zeros(4), np.eye(4), -np.eye(4)])   # central differences, one batched FK

    def cost_and_grad(x):
        p = np.repeat(params[None], 9, axis=0)
        p[:, 4] = x + step
        d = np.linalg.norm(hand_fk(p, subject)[:, thumb_tip] - target, axis=-1)
        c = (d - 0.8 * gap) ** 2 + 0.02 * np.sum((p[:, 4] - x0) ** 2, axis=-1)
        return c[0], (c[1:5] - c[5:9]) / 2e-4

    res = minimize(cost_and_grad, x0, jac=True, method="L-BFGS-B", bounds=[tuple(b) for b in LIMITS_DEG[4]])
    out = params.copy()
    out[4] = res.x
    return out


# ------------------------------------------------------------------ motion
def _min_jerk(s):
    s = np.clip(s, 0.0, 1.0)
    return s * s * s * (10 - 15 * s + 6 * s * s)


def _keyframe_track(times, values, t):
    """Minimum-jerk interpolation between keyframes ``(times[i], values[i])``; constant outside."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    t0, t1 = times[idx], times[idx + 1]
    w = _min_jerk((t - t0) / np.maximum(t1 - t0, 1e-9))
    shape = (-1,) + (1,) * (values.ndim - 1)
    return values[idx] + w.reshape(shape) * (values[idx + 1] - values[idx])


def _smooth_noise(rng, n, shape, sigma_frames, amplitude):
    """Low-frequency noise with unit-ish std scaled to ``amplitude``."""
    pad = int(4 * sigma_frames) + 1
    x = rng.standard_normal((n + 2 * pad,) + tuple(shape))
    y = gaussian_filter1d(x, sigma_frames, axis=0)[pad:pad + n]
    std = y.std() if y.size > 1 and y.std() > 0 else 1.0
    return amplitude * y / std


def _random_track(rng, n, fps, amplitude, dur_range, start=None):
    """A smooth random scalar trajectory in [-amplitude, amplitude]: min-jerk between random targets."""
    total = n / fps
    times, values = [0.0], [rng.uniform(-amplitude, amplitude) if start is None else start]
    while times[-1] <= total:
        times.append(times[-1] + rng.uniform(*dur_range))
        values.append(rng.uniform(-amplitude, amplitude))
    return _keyframe_track(times, values, np.arange(n) / fps)


@dataclass
class HandMotionDetails:
    """What :func:`hand_motion` drew, per frame."""

    params_deg: np.ndarray          # (T, 5, 4) joint parameters after limits and coupling
    rotation: np.ndarray            # (T, 3, 3) hand frame -> camera
    wrist: np.ndarray               # (T, 3) wrist position in camera space (mm)
    schedule: list                  # [{"gesture", "start_frame", "transition_frames"}] in order
    gesture_per_frame: list         # (T,) name of the gesture being held or approached


def _rot_axis(axis: int, angle) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about coordinate axis ``axis`` (right-hand rule) by ``angle`` radians."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    R = np.zeros(angle.shape + (3, 3))
    R[..., axis, axis] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def hand_motion(subject: HandSubject, n_frames: int, fps: float = 50.0, rng=None, *,
                intrinsics: Intrinsics | None = None, depth_range_mm=(250.0, 550.0),
                margin_px: float = 12.0, gestures=None, return_details: bool = False):
    """A gesture-to-gesture hand motion in camera space: (T, 21, 3) mm, x right, y down, z forward.

    Gestures from :data:`GESTURES` (or the names in ``gestures``) follow each
    other with random holds (0.2-1.2 s) and minimum-jerk transitions
    (0.25-0.8 s, each finger slightly delayed), a little jitter per visit and
    slow wobble; DIP is coupled to PIP and every parameter stays within
    :data:`LIMITS_DEG`.  The wrist turns smoothly about the hand's three axes
    (up to ±40-75° each, ±25-45° about the radial axis, around a random base
    orientation with the palm or the back towards the camera, rolled up to
    ±45° in the image) and translates so that every joint projects at least
    ``margin_px`` inside the image of ``intrinsics`` (MSRA15-like by default)
    at a wrist depth mostly within ``depth_range_mm``.

    ``rng`` is a :class:`numpy.random.Generator` or an int seed (required).
    With ``return_details`` also returns a :class:`HandMotionDetails`.
    """
    rng = as_rng(rng)
    if not isinstance(subject, HandSubject):
        raise ValueError(f"subject must be a HandSubject (see sample_hand_subject), got {type(subject).__name__}")
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    z_lo, z_hi = map(float, depth_range_mm)
    if not 100.0 <= z_lo < z_hi:
        raise ValueError(f"depth_range_mm must be (lo, hi) with 100 <= lo < hi, got {depth_range_mm}")
    if intrinsics is None:
        from .msra15 import MSRA15_INTRINSICS as intrinsics
    if isinstance(gestures, str):
        gestures = [gestures]
    names = list(GESTURES) if gestures is None else list(gestures)
    unknown = [g for g in names if g not in GESTURES]
    if unknown or not names:
        raise ValueError(f"unknown gestures {unknown}; choose from {sorted(GESTURES)}")
    n = int(n_frames)
    t = np.arange(n) / fps

    # ---- gesture schedule: per-finger keyframes (hold, transition, hold, ...)
    delays_max = 0.12
    key_times, key_values, schedule = [0.0], [], []
    current = names[rng.integers(len(names))]
    p = _gesture_instance(current, subject, rng)
    key_values.append(p)
    schedule.append({"gesture": current, "start_frame": 0, "transition_frames": 0})
    now = 0.0
    while now <= n / fps + delays_max:
        now += rng.uniform(0.2, 1.2)               # hold
        key_times.append(now)
        key_values.append(p)
        choices = [g for g in names if g != current] or names
        current = choices[rng.integers(len(choices))]
        p = _gesture_instance(current, subject, rng)
        dur = rng.uniform(0.25, 0.8)
        schedule.append({"gesture": current, "start_frame": int(np.ceil(now * fps)),
                         "transition_frames": int(round(dur * fps))})
        now += dur
        key_times.append(now)
        key_values.append(p)
    schedule = [s for s in schedule if s["start_frame"] < n]
    key_times, key_values = np.array(key_times), np.stack(key_values)
    delays = rng.uniform(0.0, delays_max, size=5)
    params = np.stack([_keyframe_track(key_times, key_values[:, f], t - delays[f]) for f in range(5)], axis=1)
    params = params + _smooth_noise(rng, n, (5, 4), 0.3 * fps, 2.0)
    params = clip_params(params)
    starts = np.array([s["start_frame"] for s in schedule])
    gesture_per_frame = [schedule[int(np.searchsorted(starts, i, side="right") - 1)]["gesture"] for i in range(n)]

    local = hand_fk(params, subject)                            # (T, 21, 3) hand frame

    # ---- orientation: base (palm or back to the camera, rolled in the image) + smooth turns
    R0 = np.diag([1.0, -1.0, -1.0])
    yaw0 = (np.pi if rng.random() < 0.5 else 0.0) + np.radians(rng.uniform(-30, 30))
    roll0 = np.radians(rng.uniform(-45, 45))
    Rbase = _rot_axis(2, roll0) @ R0 @ _rot_axis(1, yaw0)
    amps = np.radians(rng.uniform(40, 75, size=3)) * np.array([0.6, 1.0, 1.0])  # radial axis (wrist flex) smaller
    ang = np.stack([_random_track(rng, n, fps, a, (0.8, 2.5), start=rng.uniform(-a, a) * 0.5) for a in amps], axis=1)
    ang = ang + _smooth_noise(rng, n, (3,), 0.2 * fps, np.radians(1.5))
    Rrel = _rot_axis(0, ang[:, 0]) @ _rot_axis(1, ang[:, 1]) @ _rot_axis(2, ang[:, 2])
    R = Rbase @ Rrel                                            # (T, 3, 3)
    rel = np.einsum("tij,tkj->tki", R, local)                   # camera-space offsets from the wrist

    # ---- depth: random track, pushed back where the hand would not fit in the image
    W, H = intrinsics.width, intrinsics.height
    z_mid, z_amp = 0.5 * (z_lo + z_hi), 0.5 * (z_hi - z_lo)
    z_track = z_mid + _random_track(rng, n, fps, z_amp, (1.0, 3.0))
    z_need = np.maximum(_min_depth(rel, intrinsics, margin_px), 120.0 - rel[..., 2].min(axis=1))
    win = int(round(0.5 * fps))
    if n > 1:
        sig = max(win / 3.0, 1e-3)
        z_need = gaussian_filter1d(maximum_filter1d(z_need, 2 * win + 1, mode="nearest"), sig,
                                   mode="nearest", truncate=win / sig)
    z = np.maximum(z_track, z_need + 5.0)

    # ---- x, y: a smooth position within the per-frame feasible interval
    sx = 0.5 + 0.5 * _random_track(rng, n, fps, 0.85, (0.8, 2.5))
    sy = 0.5 + 0.5 * _random_track(rng, n, fps, 0.85, (0.8, 2.5))
    zk = z[:, None] + rel[..., 2]
    x_lo = np.max((margin_px - intrinsics.cx) * zk / intrinsics.fx - rel[..., 0], axis=1)
    x_hi = np.min((W - 1 - margin_px - intrinsics.cx) * zk / intrinsics.fx - rel[..., 0], axis=1)
    y_lo = np.max((margin_px - intrinsics.cy) * zk / intrinsics.fy - rel[..., 1], axis=1)
    y_hi = np.min((H - 1 - margin_px - intrinsics.cy) * zk / intrinsics.fy - rel[..., 1], axis=1)
    wrist = np.stack([x_lo + sx * (x_hi - x_lo), y_lo + sy * (y_hi - y_lo), z], axis=1)
    joints = wrist[:, None, :] + rel
    if return_details:
        return joints, HandMotionDetails(params, R, wrist, schedule, gesture_per_frame)
    return joints


def _min_depth(rel: np.ndarray, intr: Intrinsics, margin: float) -> np.ndarray:
    """Smallest wrist depth (T,) at which offsets ``rel`` (T, K, 3) fit inside the image with ``margin``.

    For each axis and pair of joints (j, k) the interval condition
    ``lo_j(z) <= hi_k(z)`` is linear in z; the bound is its maximum.
    """
    out = np.full(rel.shape[0], -np.inf)
    for axis, c, f, size in ((0, intr.cx, intr.fx, intr.width), (1, intr.cy, intr.fy, intr.height)):
        a = rel[..., axis]
        zr = rel[..., 2]
        span = size - 1 - 2 * margin
        if span <= 0:
            raise ValueError(f"margin_px={margin} leaves no room in a {intr.width}x{intr.height} image")
        # z >= [(a_k - a_j) f + (m - c) z_j - (size-1-m-c) z_k] / span  for all j, k
        num = ((a[:, None, :] - a[:, :, None]) * f + (margin - c) * zr[:, :, None]
               - (size - 1 - margin - c) * zr[:, None, :])
        out = np.maximum(out, num.max(axis=(1, 2)) / span)
    return out


def _gesture_instance(name: str, subject: HandSubject, rng: np.random.Generator) -> np.ndarray:
    """The gesture's parameters with a little per-visit jitter (and thumb contact solved)."""
    p = GESTURES[name] + rng.normal(0.0, 3.0, size=(5, 4))
    p = clip_params(p)
    if name in CONTACT_GESTURES:
        p = clip_params(_solve_contact(p, subject, CONTACT_GESTURES[name]))
    return p


def joint_angles(joints_cam: np.ndarray, rotation: np.ndarray, subject: HandSubject) -> np.ndarray:
    """Measure hinge angles back from joints: (T, 5, 3) degrees.

    Fingers (rows 0-3): MCP flexion (elevation of the proximal segment
    towards the palm, out of the finger's rest plane), then signed PIP and
    DIP flexion (positive bends towards the palm).  Thumb (row 4): 0, then
    the unsigned MCP and IP bend angles.  ``rotation`` (T, 3, 3) is the hand
    frame of :class:`HandMotionDetails`.  The tests use it to check the
    joint limits from the geometry, independently of the parameters.
    """
    J = np.asarray(joints_cam, dtype=np.float64)
    local = np.einsum("tji,tkj->tki", rotation, J - J[:, :1])   # R^T (J - wrist)
    g = subject.geometry()
    out = np.zeros(J.shape[:1] + (5, 3))
    for f in range(5):
        segs = _unit(np.diff(local[:, FINGER_JOINTS[f]], axis=1))   # (T, 3, 3): u1, u2, u3
        if f < 4:
            out[:, f, 0] = np.degrees(np.arcsin(np.clip(segs[:, 0] @ g["p"][f], -1, 1)))
        for s in (1, 2):
            a, b = segs[:, s - 1], segs[:, s]
            cr = np.cross(a, b)
            ang = np.degrees(np.arctan2(np.linalg.norm(cr, axis=-1), np.sum(a * b, -1)))
            if f < 4:
                # The hinge axis of a flexed finger lies along its lateral direction, which
                # stays within 30 degrees of the rest radial axis r (abduction <= 30).
                ang = np.where(cr @ g["r"][f] >= 0, ang, -ang)
            out[:, f, s] = ang
    return out


