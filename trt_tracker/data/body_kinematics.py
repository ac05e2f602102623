"""BODY17 kinematics: degrees of freedom, joint limits, rotations and forward kinematics.

World frame: millimetres, right-handed, **z up**, the floor is ``z = 0``.
The body frame at rest (yaw 0) has x to the subject's right, y forward and
z up.  Cameras (:mod:`.body_camera`) map world points to camera space
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
"""
from __future__ import annotations

import numpy as np

from ..skeleton import BODY17

# ----------------------------------------------------------------- skeleton
K = BODY17.K
PARENTS = BODY17.parents


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
