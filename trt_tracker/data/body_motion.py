"""Synthetic BODY17 subjects and motion: joint angles -> forward kinematics -> world joints.

World frame: millimetres, right-handed, **z up**, the floor is ``z = 0``.
The body frame at rest (yaw 0) has x to the subject's right, y forward and
z up.  Cameras (:mod:`.body_render`) map world points to camera space
(x right, y down, z forward).

Pose parametrisation (one rotation per bone, seed 000's bone ``k`` goes from
``parent(k)`` to ``k``)::

    G[0]  = Rz(yaw) @ exp([-tilt, roll, 0])              root orientation
    G[k]  = G[parent(k)] @ L[k](angles)                  bone k's global rotation
    J[k]  = J[parent(k)] + G[k] @ (rest_dir[k] * len[k]) bone k's end point

so every bone keeps its length exactly.  Ball joints (hips, shoulders, spine,
head) use a swing vector ``exp([a_x, a_y, 0])`` followed by a twist ``Rz``;
hinges (knees, elbows) rotate about the local x axis and bend one way only.
All angles are clamped to :data:`JOINT_LIMITS_DEG`.

Actions (:data:`ACTIONS`) produce joint-angle curves, a yaw rate, a ballistic
lift and a foot-contact weight.  The root is then placed so that the feet
stay on the floor and the supporting foot does not slide (soft foot locking):
walking translates the body, turning pivots it, jumping lifts it.
Everything is deterministic given a :class:`numpy.random.Generator`.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter1d

from ..skeleton import BODY17
from .rng import as_rng

ACTIONS = ("walk", "wave", "reach", "squat", "turn", "jump", "kick", "box", "stretch")

GRAVITY_MM_S2 = 9810.0

# ----------------------------------------------------------------- skeleton
K = BODY17.K
PARENTS = BODY17.parents
R_ANKLE, L_ANKLE = BODY17.index("r_ankle"), BODY17.index("l_ankle")


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


#: Rest direction of each bone in its parent's frame (x right, y forward, z up): standing, arms hanging.
REST_DIRECTIONS = np.stack([
    np.zeros(3),               # 0 root
    _unit([1, 0, 0]),          # 1 r_hip
    _unit([0, 0, -1]),         # 2 r_knee   (thigh)
    _unit([0, 0, -1]),         # 3 r_ankle  (shin)
    _unit([-1, 0, 0]),         # 4 l_hip
    _unit([0, 0, -1]),         # 5 l_knee
    _unit([0, 0, -1]),         # 6 l_ankle
    _unit([0, 0.02, 1]),       # 7 torso    (lower spine)
    _unit([0, 0.05, 1]),       # 8 neck     (upper spine, to the thorax)
    _unit([0, 0.40, 0.92]),    # 9 nose     (neck, to the face)
    _unit([0, -0.35, 0.94]),   # 10 head    (face to the crown)
    _unit([-1, 0, -0.12]),     # 11 l_shoulder (clavicle)
    _unit([0, 0, -1]),         # 12 l_elbow (upper arm)
    _unit([0, 0, -1]),         # 13 l_wrist (forearm)
    _unit([1, 0, -0.12]),      # 14 r_shoulder
    _unit([0, 0, -1]),         # 15 r_elbow
    _unit([0, 0, -1]),         # 16 r_wrist
])

# ----------------------------------------------------------- joint limits
_SIDES = ("l", "r")
_LIMITS: dict[str, tuple[float, float]] = {
    "pelvis_tilt": (-15.0, 30.0),   # + leans the whole body forward
    "pelvis_roll": (-15.0, 15.0),
    "spine_flex": (-30.0, 90.0),    # + bends forward (split over the two spine bones)
    "spine_side": (-35.0, 35.0),    # + bends to the right
    "spine_twist": (-45.0, 45.0),   # + turns the chest to the left
    "head_flex": (-45.0, 60.0),     # + nods down
    "head_side": (-35.0, 35.0),
    "head_twist": (-75.0, 75.0),    # + looks left
}
for _s in _SIDES:
    _LIMITS.update({
        f"{_s}_clav_elev": (-10.0, 30.0),   # + shrugs
        f"{_s}_clav_prot": (-20.0, 25.0),   # + shoulder forward
        f"{_s}_sh_flex": (-60.0, 180.0),    # + arm forward / up
        f"{_s}_sh_abd": (-30.0, 180.0),     # + arm out to the side / up
        f"{_s}_sh_twist": (-90.0, 90.0),
        f"{_s}_elbow": (0.0, 150.0),        # hinge, bends one way only
        f"{_s}_hip_flex": (-30.0, 125.0),   # + leg forward
        f"{_s}_hip_abd": (-25.0, 50.0),     # + leg out to the side
        f"{_s}_hip_twist": (-40.0, 40.0),
        f"{_s}_knee": (0.0, 150.0),         # hinge, bends one way only
    })

#: Joint-angle limits in degrees, ``{dof: (lo, hi)}``.
JOINT_LIMITS_DEG: dict[str, tuple[float, float]] = dict(_LIMITS)
#: Degree-of-freedom names; column order of the ``angles`` arrays.
DOFS: tuple[str, ...] = tuple(JOINT_LIMITS_DEG)
D = len(DOFS)
_IDX = {name: i for i, name in enumerate(DOFS)}
_LO = np.radians([JOINT_LIMITS_DEG[n][0] for n in DOFS])
_HI = np.radians([JOINT_LIMITS_DEG[n][1] for n in DOFS])
#: Largest swing (elevation) of the ball joints, degrees.
SWING_LIMITS_DEG = {"sh": 180.0, "hip": 130.0}


def dof(name: str) -> int:
    """Column of a degree of freedom in the ``angles`` arrays."""
    try:
        return _IDX[name]
    except KeyError:
        raise KeyError(f"unknown degree of freedom {name!r}; known: {DOFS}") from None


def clamp_angles(angles: np.ndarray) -> np.ndarray:
    """Clamp ``angles`` (..., D) radians to the joint limits and the ball joints' swing cones."""
    a = np.clip(np.asarray(angles, dtype=np.float64), _LO, _HI)
    for s in _SIDES:
        for j, lim in SWING_LIMITS_DEG.items():
            i, k = _IDX[f"{s}_{j}_flex"], _IDX[f"{s}_{j}_abd"]
            swing = np.hypot(a[..., i], a[..., k])
            scale = np.minimum(1.0, np.radians(lim) / np.maximum(swing, 1e-12))
            a[..., i] *= scale
            a[..., k] *= scale
    return a


# --------------------------------------------------------------- rotations
def rot_x(a: np.ndarray) -> np.ndarray:
    """Rotations about x by angles ``a`` (T,) -> (T, 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*np.shape(a), 3, 3)


def rot_z(a: np.ndarray) -> np.ndarray:
    """Rotations about z by angles ``a`` (T,) -> (T, 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*np.shape(a), 3, 3)


def rotvec_to_matrix(w: np.ndarray) -> np.ndarray:
    """Rodrigues: rotation vectors (..., 3) -> matrices (..., 3, 3).

    ``R = I + sin(t)/t [w]x + (1 - cos(t))/t^2 [w]x^2`` with ``t = |w|``.
    """
    w = np.asarray(w, dtype=np.float64)
    t = np.linalg.norm(w, axis=-1)[..., None, None]
    Wx = np.zeros(w.shape[:-1] + (3, 3))
    Wx[..., 0, 1], Wx[..., 0, 2] = -w[..., 2], w[..., 1]
    Wx[..., 1, 0], Wx[..., 1, 2] = w[..., 2], -w[..., 0]
    Wx[..., 2, 0], Wx[..., 2, 1] = -w[..., 1], w[..., 0]
    small = t < 1e-8
    ts = np.where(small, 1.0, t)
    a = np.where(small, 1.0, np.sin(ts) / ts)
    b = np.where(small, 0.5, (1 - np.cos(ts)) / ts**2)
    return np.eye(3) + a * Wx + b * (Wx @ Wx)


def _swing_twist(ax: np.ndarray, ay: np.ndarray, twist: np.ndarray) -> np.ndarray:
    """``exp([ax, ay, 0]) @ Rz(twist)`` for (T,) angle arrays -> (T, 3, 3)."""
    return rotvec_to_matrix(np.stack([ax, ay, np.zeros_like(ax)], -1)) @ rot_z(twist)


def local_rotations(angles: np.ndarray) -> dict[int, np.ndarray]:
    """Each bone's rotation in its parent's frame, ``{k: (T, 3, 3)}``; absent bones are identity.

    Side sign ``s`` (+1 right, -1 left) mirrors abduction, twist, clavicle
    elevation and protraction so that equal angles give mirror poses.
    """
    A = lambda name: angles[:, _IDX[name]]  # noqa: E731
    L: dict[int, np.ndarray] = {}
    # Spine: forward flexion tilts the up-pointing bones towards +y, i.e. Rx(-flex); split over two bones.
    half = _swing_twist(-A("spine_flex") / 2, A("spine_side") / 2, A("spine_twist") / 2)
    L[BODY17.index("torso")] = half
    L[BODY17.index("neck")] = half
    L[BODY17.index("nose")] = _swing_twist(-A("head_flex"), A("head_side"), A("head_twist"))
    for side, s, hip, knee, ankle, clav, elbow, wrist in (
        ("r", 1.0, "r_hip", "r_knee", "r_ankle", "r_shoulder", "r_elbow", "r_wrist"),
        ("l", -1.0, "l_hip", "l_knee", "l_ankle", "l_shoulder", "l_elbow", "l_wrist"),
    ):
        # Down-pointing limbs: Rx(+flex) swings the end forward, Ry(-s*abd) swings it outwards.
        L[BODY17.index(knee)] = _swing_twist(A(f"{side}_hip_flex"), -s * A(f"{side}_hip_abd"),
                                             s * A(f"{side}_hip_twist"))
        L[BODY17.index(ankle)] = rot_x(-A(f"{side}_knee"))          # the shin folds backwards
        elev, prot = A(f"{side}_clav_elev"), A(f"{side}_clav_prot")
        L[BODY17.index(clav)] = rotvec_to_matrix(np.stack([np.zeros_like(elev), -s * elev, s * prot], -1))
        L[BODY17.index(elbow)] = _swing_twist(A(f"{side}_sh_flex"), -s * A(f"{side}_sh_abd"),
                                              s * A(f"{side}_sh_twist"))
        L[BODY17.index(wrist)] = rot_x(A(f"{side}_elbow"))          # the forearm folds forwards
    return L


def forward_kinematics(angles: np.ndarray, bone_lengths_mm: np.ndarray,
                       yaw: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joints relative to the root, in world orientation.

    Parameters
    ----------
    angles : (T, D) radians, columns :data:`DOFS`
    bone_lengths_mm : (K,) length of each joint's bone (root ignored)
    yaw : (T,) heading about the world's z axis, radians (default 0)

    Returns
    -------
    J : (T, K, 3) mm, root at the origin
    G : (T, K, 3, 3) each bone's global rotation (columns: its local x, y, z axes)
    """
    angles = np.atleast_2d(np.asarray(angles, dtype=np.float64))
    T = len(angles)
    if angles.shape != (T, D):
        raise ValueError(f"angles must be (T, {D}), got {angles.shape}")
    lengths = np.asarray(bone_lengths_mm, dtype=np.float64)
    if lengths.shape != (K,):
        raise ValueError(f"bone_lengths_mm must be ({K},), got {lengths.shape}")
    yaw = np.zeros(T) if yaw is None else np.asarray(yaw, dtype=np.float64)
    L = local_rotations(angles)
    G = np.empty((T, K, 3, 3))
    J = np.zeros((T, K, 3))
    tilt, roll = angles[:, _IDX["pelvis_tilt"]], angles[:, _IDX["pelvis_roll"]]
    G[:, 0] = rot_z(yaw) @ rotvec_to_matrix(np.stack([-tilt, roll, np.zeros(T)], -1))
    offsets = REST_DIRECTIONS * lengths[:, None]
    for k in BODY17.topological_order[1:]:
        p = PARENTS[k]
        G[:, k] = G[:, p] @ L[k] if k in L else G[:, p]
        J[:, k] = J[:, p] + G[:, k] @ offsets[k]
    return J, G


# ----------------------------------------------------------------- subject
_SKIN_TONES = ((255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 90),
               (161, 102, 64), (120, 75, 45), (85, 55, 35))
_HAIR = ((20, 18, 16), (60, 40, 25), (110, 75, 40), (200, 165, 100), (150, 150, 145), (140, 60, 30))
_TROUSERS = ((40, 60, 110), (30, 30, 35), (170, 150, 110), (90, 90, 95), (60, 80, 50), (120, 40, 40))
_SYMMETRIC_BONES = ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16), (7,), (8,), (9,), (10,))


def _rgb(c) -> tuple[int, int, int]:
    return tuple(int(np.clip(round(float(x)), 0, 255)) for x in c)


@dataclass(frozen=True, eq=False)
class BodySubject:
    """One synthetic person, constant over a sequence.

    bone_lengths_mm : (K,) float64, root 0, left/right symmetric
    radii_mm : limb and body-part sizes: capsule radii ``thigh, shin,
        upper_arm, forearm, neck, hand, foot``, foot length ``foot_len``,
        ellipsoid semi-axes ``chest, belly, hips, head`` as (width, depth, height)
    colors : RGB tuples ``shirt, trousers, skin, hair, shoes``
    long_sleeves, shorts : clothing style (forearms / shins in skin colour or not)
    ankle_height_mm : height of the ankle joints above the soles
    scale : overall size factor relative to :data:`BODY17`'s nominal lengths
    """

    bone_lengths_mm: np.ndarray
    radii_mm: dict
    colors: dict
    long_sleeves: bool = True
    shorts: bool = False
    ankle_height_mm: float = 80.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        lengths = np.asarray(self.bone_lengths_mm, dtype=np.float64)
        if lengths.shape != (K,) or np.any(lengths[1:] <= 0):
            raise ValueError(f"bone_lengths_mm must be ({K},) with positive non-root entries, got {lengths}")
        for a, b in BODY17.flip_pairs:
            if not np.isclose(lengths[a], lengths[b]):
                raise ValueError(f"bone lengths must be left/right symmetric: {a}={lengths[a]}, {b}={lengths[b]}")
        object.__setattr__(self, "bone_lengths_mm", lengths)
        missing = {"shirt", "trousers", "skin", "hair", "shoes"} - set(self.colors)
        if missing:
            raise ValueError(f"colors is missing {sorted(missing)}")

    @property
    def leg_length_mm(self) -> float:
        """Hip joint to ankle, straight leg."""
        return float(self.bone_lengths_mm[2] + self.bone_lengths_mm[3])

    def to_dict(self) -> dict:
        """JSON-friendly description (lists, floats, bools)."""
        return {
            "bone_lengths_mm": [float(x) for x in self.bone_lengths_mm],
            "radii_mm": {k: ([float(x) for x in v] if np.ndim(v) else float(v)) for k, v in self.radii_mm.items()},
            "colors": {k: [int(x) for x in v] for k, v in self.colors.items()},
            "long_sleeves": bool(self.long_sleeves),
            "shorts": bool(self.shorts),
            "ankle_height_mm": float(self.ankle_height_mm),
            "scale": float(self.scale),
        }


def _random_garment_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r = rng.random()
    if r < 0.15:                                   # white / light grey
        v = rng.uniform(0.8, 0.97)
        return _rgb(np.full(3, 255 * v) + rng.normal(0, 4, 3))
    if r < 0.3:                                    # black / dark grey
        v = rng.uniform(0.08, 0.3)
        return _rgb(np.full(3, 255 * v) + rng.normal(0, 4, 3))
    h, s, v = rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.35, 0.95)
    return _rgb(255 * np.array(colorsys.hsv_to_rgb(h, s, v)))


def sample_body_subject(rng) -> BodySubject:
    """A random adult: overall scale 0.85-1.15, +-4 % per (symmetric) bone, girth, clothes and colours."""
    rng = as_rng(rng)
    scale = rng.uniform(0.85, 1.15)
    nominal = np.asarray(BODY17.bone_lengths_mm, dtype=np.float64)
    lengths = nominal * scale
    for group in _SYMMETRIC_BONES:
        lengths[list(group)] *= np.clip(rng.normal(1.0, 0.04), 0.92, 1.08)
    lengths[0] = 0.0
    girth = rng.uniform(0.85, 1.25) * scale
    shoulder_w = lengths[11]
    hip_w = lengths[1]
    radii = {
        "thigh": 78.0 * girth, "shin": 56.0 * girth, "upper_arm": 47.0 * girth, "forearm": 38.0 * girth,
        "neck": 50.0 * girth, "hand": 45.0 * scale, "foot": 42.0 * scale, "foot_len": 230.0 * scale,
        # ellipsoids: (half width, half depth, half height)
        "chest": (1.1 * shoulder_w * np.sqrt(girth / scale), 105.0 * girth, 0.62 * (lengths[8] + 70.0 * scale)),
        "belly": (1.05 * hip_w * np.sqrt(girth / scale), 100.0 * girth, 0.6 * lengths[7]),
        "hips": (1.2 * hip_w * np.sqrt(girth / scale), 105.0 * girth, 100.0 * scale),
        "head": (76.0 * scale, 92.0 * scale, 108.0 * scale),
    }
    skin = np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], float) + rng.normal(0, 6, 3)
    hair = skin * 0.9 if rng.random() < 0.06 else np.array(_HAIR[rng.integers(len(_HAIR))], float) + rng.normal(0, 8, 3)
    trousers = (np.array(_TROUSERS[rng.integers(len(_TROUSERS))], float) + rng.normal(0, 10, 3)
                if rng.random() < 0.7 else np.array(_random_garment_colour(rng), float))
    r = rng.random()
    shoes = (np.full(3, rng.uniform(15, 60)) if r < 0.5                      # dark
             else np.full(3, rng.uniform(190, 240)) if r < 0.75                # white
             else np.array(_random_garment_colour(rng), float))
    colors = {"shirt": _random_garment_colour(rng), "trousers": _rgb(trousers), "skin": _rgb(skin),
              "hair": _rgb(hair), "shoes": _rgb(shoes)}
    return BodySubject(
        bone_lengths_mm=lengths, radii_mm=radii, colors=colors,
        long_sleeves=bool(rng.random() < 0.6), shorts=bool(rng.random() < 0.2),
        ankle_height_mm=80.0 * scale, scale=float(scale),
    )


# ---------------------------------------------------------------- actions
@dataclass
class _Track:
    """One action's curves over the whole sequence.

    angles (T, D) rad; yaw_rate (T,) rad/s (+ turns left); lift (T,) mm of
    ballistic flight above standing; contact (T,) 1 when the feet bear weight.
    """

    angles: np.ndarray
    yaw_rate: np.ndarray
    lift: np.ndarray
    contact: np.ndarray


def _pose(base: np.ndarray, **deg: float) -> np.ndarray:
    """Copy of ``base`` (D,) with some DOFs set (degrees)."""
    p = base.copy()
    for name, value in deg.items():
        p[_IDX[name]] = np.radians(value)
    return p


def _sided(side: str, **deg: float) -> dict[str, float]:
    """``_sided("r", sh_flex=90)`` -> ``{"r_sh_flex": 90}``."""
    return {f"{side}_{k}": v for k, v in deg.items()}


def _neutral_pose(rng: np.random.Generator) -> np.ndarray:
    """Relaxed standing pose with per-sequence variation, (D,) radians."""
    base = np.zeros(D)
    deg = {"spine_flex": rng.uniform(0, 8), "head_flex": rng.uniform(-5, 10), "pelvis_tilt": rng.uniform(0, 6)}
    abd, elbow, hip_abd, knee = rng.uniform(6, 14), rng.uniform(8, 22), rng.uniform(2, 6), rng.uniform(2, 8)
    for s in _SIDES:
        deg.update(_sided(s, sh_abd=abd + rng.normal(0, 1.5), elbow=elbow + rng.normal(0, 3),
                          sh_twist=rng.uniform(-10, 10), hip_abd=hip_abd, knee=knee, hip_flex=rng.uniform(0, 4)))
    return _pose(base, **deg)


def _smooth_noise(t: np.ndarray, rng: np.random.Generator, amp_deg: np.ndarray,
                  f_lo: float = 0.15, f_hi: float = 0.8, terms: int = 3) -> np.ndarray:
    """Band-limited random wobble (T, D): a sum of sinusoids with random frequencies and phases."""
    out = np.zeros((len(t), len(amp_deg)))
    for _ in range(terms):
        f = rng.uniform(f_lo, f_hi, len(amp_deg))
        ph = rng.uniform(0, 2 * np.pi, len(amp_deg))
        out += np.sin(2 * np.pi * f * t[:, None] + ph)
    return out * np.radians(amp_deg) / np.sqrt(terms)


def _idle_amplitudes() -> np.ndarray:
    amp = np.full(D, 1.5)
    for n in ("head_flex", "head_side", "head_twist"):
        amp[_IDX[n]] = 4.0
    for n in ("pelvis_tilt", "pelvis_roll"):
        amp[_IDX[n]] = 0.8
    return amp


def _interp_keys(t: np.ndarray, times: list[float], poses: list[np.ndarray]) -> np.ndarray:
    """Monotone cubic (PCHIP) interpolation of key poses: C1, no overshoot past the keys."""
    times = np.asarray(times, dtype=np.float64)
    order = np.argsort(times, kind="stable")
    times, poses = times[order], np.asarray(poses)[order]
    keep = np.concatenate([[True], np.diff(times) > 1e-6])
    return PchipInterpolator(times[keep], poses[keep], axis=0, extrapolate=True)(t)


def _bump(x: np.ndarray, kappa: float) -> np.ndarray:
    """Periodic bump peaking at x = 0 (von Mises shape), in [0, 1]."""
    return np.exp(kappa * (np.cos(x) - 1.0))


def _keyframed(t: np.ndarray, rng: np.random.Generator, neutral: np.ndarray, cycle) -> np.ndarray:
    """Repeat ``cycle(rng, t0) -> (key times, key poses)`` from a random phase until past the end.

    The sequence may start anywhere inside a cycle.  Returns the PCHIP-interpolated angles (T, D).
    """
    t_end = t[-1] if len(t) else 0.0
    t0 = -rng.uniform(0.0, 1.5)
    times, poses = [t0 - 0.5], [neutral]
    while t0 <= t_end + 0.5:
        ct, cp = cycle(rng, t0)
        times += ct
        poses += cp
        t0 = ct[-1]
    times.append(t0 + 1.0)
    poses.append(poses[-1])
    return _interp_keys(t, times, poses)


def _walk(t, rng, neutral, subject) -> _Track:
    T = len(t)
    f = rng.uniform(0.8, 1.0)                          # gait cycles per second (two steps)
    A_h = np.radians(rng.uniform(16.0, 24.0))          # hip flexion amplitude
    A_a = A_h * rng.uniform(0.6, 1.3)                  # arm swing amplitude
    K_sw = rng.uniform(50.0, 62.0)                     # peak swing knee flexion (deg)
    phi_r = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
    ang = np.tile(neutral, (T, 1))
    for side, phi, phi_other in (("r", phi_r, phi_r + np.pi), ("l", phi_r + np.pi, phi_r)):
        # Hip swings sinusoidally (max forward at heel strike, phi = pi/2).
        ang[:, _IDX[f"{side}_hip_flex"]] += np.radians(4.0) + A_h * np.sin(phi)
        # Knee: large flexion in early swing, small loading bump after heel strike.
        ang[:, _IDX[f"{side}_knee"]] += np.radians(K_sw * _bump(phi + np.pi / 4, 2.5)
                                                   + 12.0 * _bump(phi - 0.75 * np.pi, 4.0))
        ang[:, _IDX[f"{side}_hip_abd"]] += np.radians(2.0) * np.sin(phi + 0.5)
        # Arms swing with the opposite leg; elbows bend more in front.
        ang[:, _IDX[f"{side}_sh_flex"]] += A_a * np.sin(phi_other)
        ang[:, _IDX[f"{side}_elbow"]] += np.radians(8.0 + 12.0 * (1 + np.sin(phi_other)) / 2)
    ang[:, _IDX["spine_twist"]] += -np.radians(5.0) * np.sin(phi_r)
    ang[:, _IDX["pelvis_roll"]] += np.radians(3.0) * np.sin(phi_r)
    ang[:, _IDX["spine_flex"]] += np.radians(rng.uniform(2, 6))
    # Walk on a circle of radius R (bounded, like Human3.6M's loops): yaw rate = v / R,
    # with the stride speed v = 4 * leg * sin(A_h) * f.
    v = 4.0 * subject.leg_length_mm * np.sin(A_h) * f
    R = rng.uniform(1000.0, 1600.0)
    yaw_rate = np.full(T, rng.choice([-1.0, 1.0]) * v / R)
    return _Track(ang, yaw_rate, np.zeros(T), np.ones(T))


def _wave(t, rng, neutral, subject) -> _Track:
    T = len(t)
    r = rng.random()
    sides = ("r",) if r < 0.55 else ("l",) if r < 0.9 else ("r", "l")
    freq = rng.uniform(1.2, 2.4)
    amp_twist, amp_elbow = rng.uniform(12.0, 25.0), rng.uniform(5.0, 12.0)
    # Upper arm out and up by `abd`, forearm near vertical: elbow ~ 180 - abd.
    abd = {s: rng.uniform(85.0, 120.0) for s in sides}
    raised = {s: _pose(np.zeros(D), **_sided(s, sh_abd=abd[s], sh_flex=rng.uniform(0, 30),
                                               sh_twist=rng.uniform(-85, -65),
                                               elbow=180.0 - abd[s] + rng.uniform(-15, 10),
                                               clav_elev=rng.uniform(5, 15)))
              for s in sides}

    def cycle(rng, t0):
        up = t0 + rng.uniform(0.6, 0.9)
        hold = up + rng.uniform(1.5, 3.5)
        down = hold + rng.uniform(0.6, 0.9)
        rest = down + rng.uniform(0.4, 1.8)
        return [up, hold, down, rest], [np.ones(1), np.ones(1), np.zeros(1), np.zeros(1)]

    env = _keyframed(t, rng, np.zeros(1), cycle)
    env = np.clip(env[:, 0], 0, 1)
    osc = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    ang = np.tile(neutral, (T, 1))
    for s in sides:
        target = raised[s]
        for name in ("sh_abd", "sh_flex", "sh_twist", "elbow", "clav_elev"):
            i = _IDX[f"{s}_{name}"]
            ang[:, i] = neutral[i] + env * (target[i] - neutral[i])
        ang[:, _IDX[f"{s}_sh_twist"]] += env * np.radians(amp_twist) * osc
        ang[:, _IDX[f"{s}_elbow"]] += env * np.radians(amp_elbow) * np.cos(2 * np.pi * freq * t)
    look = 1.0 if sides == ("l",) else -1.0 if sides == ("r",) else 0.0
    ang[:, _IDX["head_twist"]] += env * np.radians(rng.uniform(5, 20)) * look
    ang[:, _IDX["spine_side"]] += env * np.radians(rng.uniform(0, 8)) * look
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _reach(t, rng, neutral, subject) -> _Track:
    T = len(t)
    side = [rng.choice(_SIDES)]

    def cycle(rng, t0):
        if rng.random() < 0.4:
            side[0] = "l" if side[0] == "r" else "r"
        s = side[0]
        flex = rng.uniform(30, 170)
        low = flex < 70
        deg = _sided(s, sh_flex=flex, sh_abd=rng.uniform(-15, 80), sh_twist=rng.uniform(-40, 40),
                     elbow=rng.uniform(0, 35), clav_prot=rng.uniform(5, 20),
                     clav_elev=rng.uniform(10, 25) if flex > 120 else 0.0)
        sign = 1.0 if s == "l" else -1.0      # turn the chest towards the reaching side
        deg.update(spine_flex=rng.uniform(15, 45) if low else rng.uniform(-5, 10),
                   spine_twist=sign * rng.uniform(0, 25), spine_side=-sign * rng.uniform(0, 12),
                   head_flex=float(np.clip(-(flex - 60) / 3, -30, 30)), head_twist=sign * rng.uniform(0, 20))
        if low:
            deg.update(r_knee=rng.uniform(5, 25), l_knee=rng.uniform(5, 25))
        target = _pose(neutral, **deg)
        a = t0 + rng.uniform(0.45, 0.9)
        b = a + rng.uniform(0.15, 0.6)
        c = b + rng.uniform(0.45, 0.9)
        d = c + rng.uniform(0.2, 1.0)
        return [a, b, c, d], [target, target, neutral, neutral]

    ang = _keyframed(t, rng, neutral, cycle)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _squat(t, rng, neutral, subject) -> _Track:
    T = len(t)
    arms = rng.choice(["forward", "hips", "behind_head"])

    def cycle(rng, t0):
        d = rng.uniform(0.5, 1.0)
        deg = {"spine_flex": 15 + 25 * d, "head_flex": -10 * d, "pelvis_tilt": 5 + 10 * d}
        for s in _SIDES:
            deg.update(_sided(s, hip_flex=50 + 60 * d, knee=60 + 70 * d, hip_abd=rng.uniform(6, 15)))
            if arms == "forward":
                deg.update(_sided(s, sh_flex=rng.uniform(50, 95), sh_abd=rng.uniform(0, 15), elbow=rng.uniform(0, 30)))
            elif arms == "hips":
                deg.update(_sided(s, sh_abd=30, sh_flex=-15, elbow=110, sh_twist=-20))
            else:
                deg.update(_sided(s, sh_abd=120, sh_flex=20, elbow=140, sh_twist=-70))
        down_pose = _pose(neutral, **deg)
        a = t0 + rng.uniform(0.8, 1.4)
        b = a + rng.uniform(0.1, 0.6)
        c = b + rng.uniform(0.7, 1.2)
        e = c + rng.uniform(0.3, 1.2)
        return [a, b, c, e], [down_pose, down_pose, neutral, neutral]

    ang = _keyframed(t, rng, neutral, cycle)
    if arms != "forward":   # hold the arm pose throughout
        for s in _SIDES:
            held = {"hips": dict(sh_abd=30, sh_flex=-15, elbow=110, sh_twist=-20),
                    "behind_head": dict(sh_abd=120, sh_flex=20, elbow=140, sh_twist=-70)}[arms]
            for k, v in held.items():
                ang[:, _IDX[f"{s}_{k}"]] = np.radians(v)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _turn(t, rng, neutral, subject) -> _Track:
    T = len(t)
    times, yaws = [-1.0], [0.0]
    t0, yaw = -rng.uniform(0.0, 1.0), 0.0
    while t0 <= t[-1] + 1.0:
        delta = np.radians(rng.uniform(60, 180)) * rng.choice([-1.0, 1.0])
        rate = np.radians(rng.uniform(70, 150))
        times += [t0, t0 + abs(delta) / rate]
        yaws += [yaw, yaw + delta]
        yaw += delta
        t0 = times[-1] + rng.uniform(0.3, 1.5)
    yaw_curve = PchipInterpolator(np.asarray(times), np.asarray(yaws))
    yaw_rate = yaw_curve.derivative()(t)
    # Stepping while turning: each foot lifts in turn, as much as the body turns.
    intensity = np.clip(np.abs(yaw_rate) / np.radians(90), 0, 1)
    phi = 2 * np.pi * rng.uniform(1.6, 2.2) * t + rng.uniform(0, 2 * np.pi)
    ang = np.tile(neutral, (T, 1))
    for side, ph in (("r", phi), ("l", phi + np.pi)):
        lift = np.maximum(0.0, np.sin(ph)) * intensity
        ang[:, _IDX[f"{side}_hip_flex"]] += np.radians(18.0) * lift
        ang[:, _IDX[f"{side}_knee"]] += np.radians(35.0) * lift
        ang[:, _IDX[f"{side}_sh_flex"]] += np.radians(8.0) * np.sin(ph + np.pi) * intensity
    # Head and chest lead the turn.
    ang[:, _IDX["head_twist"]] += np.clip(0.35 * yaw_rate, -0.8, 0.8)
    ang[:, _IDX["spine_twist"]] += np.clip(0.15 * yaw_rate, -0.4, 0.4)
    return _Track(ang, yaw_rate, np.zeros(T), np.ones(T))


def _jump(t, rng, neutral, subject) -> _Track:
    T = len(t)
    style = rng.choice(["swing", "jack", "tuck"])
    flights: list[tuple[float, float]] = []

    def cycle(rng, t0):
        depth = rng.uniform(0.6, 1.0)
        crouch = {"spine_flex": 30 * depth, "pelvis_tilt": 8 * depth, "head_flex": -5}
        ext = {"spine_flex": 0.0, "pelvis_tilt": 0.0}
        air = dict(ext)
        for s in _SIDES:
            crouch.update(_sided(s, hip_flex=65 * depth, knee=90 * depth, sh_flex=-25 * depth, elbow=15))
            ext.update(_sided(s, hip_flex=-3, knee=2))
            if style == "swing":
                ext.update(_sided(s, sh_flex=rng.uniform(10, 30), elbow=10))
                air.update(_sided(s, hip_flex=5, knee=15, sh_flex=rng.uniform(35, 55), elbow=15))
            elif style == "jack":
                ext.update(_sided(s, sh_abd=40, elbow=10))
                air.update(_sided(s, hip_abd=rng.uniform(15, 25), knee=5, sh_abd=rng.uniform(65, 90), elbow=10))
            else:
                ext.update(_sided(s, sh_flex=30, elbow=20))
                air.update(_sided(s, hip_flex=rng.uniform(30, 45), knee=rng.uniform(35, 55), sh_flex=40, elbow=60))
        p_crouch, p_ext, p_air = _pose(neutral, **crouch), _pose(neutral, **ext), _pose(neutral, **air)
        # Landing absorbs with the legs; the arms come down slowly afterwards.
        p_land = _pose(p_ext, **{k: 0.6 * v for k, v in crouch.items() if "sh_" not in k})
        t_f = rng.uniform(0.25, 0.4)                        # flight time, s
        a = t0 + rng.uniform(0.4, 0.6)                      # bottom of the crouch
        take = a + rng.uniform(0.2, 0.26)                  # take-off, legs extended
        land = take + t_f
        absorb = land + rng.uniform(0.15, 0.25)
        stand = absorb + rng.uniform(0.3, 0.5)
        rest = stand + rng.uniform(0.1, 0.9)
        flights.append((take, land))
        # The legs are still extending at take-off (the extended key comes just after it), so the
        # root's upward velocity carries on into the flight instead of restarting from zero.
        return ([a, take + 0.04, take + t_f / 2, land, absorb, stand, rest],
                [p_crouch, p_ext, p_air, p_ext, p_land, neutral, neutral])

    ang = _keyframed(t, rng, neutral, cycle)
    lift, contact = np.zeros(T), np.ones(T)
    for take, land in flights:
        # Ballistic flight: z = v0 tau - g tau^2 / 2 with v0 = g t_f / 2.
        tau = t - take
        inside = (tau >= 0) & (t <= land)
        v0 = GRAVITY_MM_S2 * (land - take) / 2
        lift[inside] = v0 * tau[inside] - GRAVITY_MM_S2 * tau[inside] ** 2 / 2
        contact[inside] = 0.0
    return _Track(ang, np.zeros(T), lift, contact)


def _guard(neutral: np.ndarray, rng: np.random.Generator, lead: str) -> np.ndarray:
    deg = {"spine_flex": rng.uniform(5, 15), "head_flex": rng.uniform(5, 15)}
    for s in _SIDES:
        deg.update(_sided(s, sh_flex=rng.uniform(35, 55), sh_abd=rng.uniform(15, 25), elbow=rng.uniform(110, 130),
                          sh_twist=rng.uniform(-20, 0), knee=rng.uniform(12, 25)))
    deg[f"{lead}_hip_flex"] = rng.uniform(10, 18)
    deg[f"{'l' if lead == 'r' else 'r'}_hip_flex"] = -rng.uniform(3, 10)
    return _pose(neutral, **deg)


def _kick(t, rng, neutral, subject) -> _Track:
    T = len(t)
    guard = _guard(neutral, rng, rng.choice(_SIDES))

    def cycle(rng, t0):
        s = rng.choice(_SIDES)
        side_kick = rng.random() < 0.3
        other = "l" if s == "r" else "r"
        lean = {"spine_flex": -5.0, f"{other}_knee": 15.0}
        if side_kick:
            lean.update(spine_side=(-20.0 if s == "r" else 20.0))
            chamber = _pose(guard, **lean, **_sided(s, hip_flex=45, hip_abd=45, knee=110, hip_twist=-30))
            strike = _pose(guard, **lean, **_sided(s, hip_flex=20, hip_abd=50, knee=10, hip_twist=-35))
        else:
            chamber = _pose(guard, **lean, **_sided(s, hip_flex=rng.uniform(70, 95), knee=rng.uniform(90, 120)))
            strike = _pose(guard, **lean, **_sided(s, hip_flex=rng.uniform(75, 100), knee=rng.uniform(5, 20)))
        a = t0 + rng.uniform(0.25, 0.35)
        b = a + rng.uniform(0.22, 0.3)
        c = b + rng.uniform(0.2, 0.3)
        d = c + rng.uniform(0.2, 0.3)
        e = d + rng.uniform(0.4, 1.2)
        return [a, b, c, d, e], [chamber, strike, chamber, guard, guard]

    ang = _keyframed(t, rng, guard, cycle)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _box(t, rng, neutral, subject) -> _Track:
    T = len(t)
    lead = rng.choice(_SIDES)
    guard = _guard(neutral, rng, lead)

    def cycle(rng, t0):
        s = rng.choice(_SIDES)
        kind = rng.choice(["jab", "jab", "hook", "uppercut"])
        sign = 1.0 if s == "r" else -1.0         # a right punch turns the chest to the left
        if kind == "jab":
            deg = _sided(s, sh_flex=rng.uniform(80, 95), sh_abd=rng.uniform(0, 15), elbow=rng.uniform(0, 15),
                         clav_prot=rng.uniform(10, 20))
            deg.update(spine_twist=sign * rng.uniform(10, 20))
        elif kind == "hook":
            deg = _sided(s, sh_flex=rng.uniform(60, 80), sh_abd=rng.uniform(75, 90), elbow=rng.uniform(80, 100),
                         sh_twist=-60)
            deg.update(spine_twist=sign * rng.uniform(20, 30))
        else:
            deg = _sided(s, sh_flex=rng.uniform(60, 90), sh_abd=rng.uniform(5, 15), elbow=rng.uniform(90, 110))
            deg.update(spine_twist=sign * rng.uniform(5, 15), spine_flex=0.0)
        strike = _pose(guard, **deg)
        a = t0 + rng.uniform(0.25, 0.35)
        b = a + rng.uniform(0.25, 0.35)
        c = b + rng.uniform(0.1, 0.6)
        return [a, b, c], [strike, guard, guard]

    ang = _keyframed(t, rng, guard, cycle)
    bounce = np.sin(2 * np.pi * rng.uniform(1.5, 2.2) * t + rng.uniform(0, 2 * np.pi))
    for s in _SIDES:
        ang[:, _IDX[f"{s}_knee"]] += np.radians(5.0) * bounce
        ang[:, _IDX[f"{s}_hip_flex"]] += np.radians(2.5) * bounce
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _stretch(t, rng, neutral, subject) -> _Track:
    T = len(t)

    def both(**kw):
        out = {}
        for s in _SIDES:
            out.update(_sided(s, **kw))
        return out

    def pose_named(name: str) -> np.ndarray:
        if name == "overhead":
            return _pose(neutral, head_flex=-15,
                         **both(sh_flex=rng.uniform(165, 180), sh_abd=10, elbow=rng.uniform(0, 15)))
        if name == "side_bend":
            side = rng.choice([-1.0, 1.0])
            return _pose(neutral, spine_side=side * rng.uniform(25, 35), **both(sh_flex=170, sh_abd=15, elbow=10))
        if name == "toe_touch":
            return _pose(neutral, spine_flex=rng.uniform(70, 90), pelvis_tilt=rng.uniform(15, 25), head_flex=30,
                         **both(sh_flex=rng.uniform(60, 90), elbow=5, knee=rng.uniform(0, 10)))
        if name == "t_pose":
            return _pose(neutral, **both(sh_abd=rng.uniform(80, 95), elbow=rng.uniform(0, 10)))
        if name == "twist":
            return _pose(neutral, spine_twist=rng.choice([-1.0, 1.0]) * rng.uniform(30, 45),
                         **both(sh_abd=90, elbow=5))
        s = rng.choice(_SIDES)  # cross-body arm stretch
        return _pose(neutral, **_sided(s, sh_flex=90, sh_abd=-30, elbow=5, clav_prot=15))

    names = ("overhead", "side_bend", "toe_touch", "t_pose", "twist", "cross")

    def cycle(rng, t0):
        p = pose_named(names[rng.integers(len(names))])
        a = t0 + rng.uniform(1.0, 2.0)
        b = a + rng.uniform(0.5, 1.5)
        c = b + rng.uniform(0.8, 1.6)
        d = c + rng.uniform(0.2, 0.8)
        return [a, b, c, d], [p, p, neutral, neutral]

    ang = _keyframed(t, rng, neutral, cycle)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


_ACTION_FNS = {"walk": _walk, "wave": _wave, "reach": _reach, "squat": _squat, "turn": _turn,
               "jump": _jump, "kick": _kick, "box": _box, "stretch": _stretch}
assert set(_ACTION_FNS) == set(ACTIONS)


# ----------------------------------------------------------------- motion
@dataclass
class BodyMotion:
    """A synthetic motion in the world frame (mm, z up, floor at z = 0).

    joints : (T, K, 3) world joints
    angles : (T, D) joint angles (radians, columns :data:`DOFS`), within the limits
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
