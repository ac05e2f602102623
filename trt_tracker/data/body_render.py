"""RGB rendering of synthetic BODY17 people seen by a :class:`.body_camera.BodyCamera`.

:class:`BodyRenderer` draws a person from camera-space joints: limbs as
capsules and torso, hips and head as ellipsoids (their exact perspective
outlines, from the dual quadric ``C* = K Q*_{3x3} K^T``), back to front
(painter's algorithm on depth), shaded by concentric strokes from a dark rim
to a lit centre, in the subject's clothing colours; over a background made
once per sequence and under random occluders (both :mod:`.body_scene`); then
motion blur (sub-frame exposure), gaussian blur and sensor noise from
pre-computed tiles.  A subject with a ``style`` (the varied appearance,
:func:`.body_subject.sample_style`) also gets a face, long hair or none, an
open jacket and garment patterns (drawn through a per-frame garment mask), and
at random a defocused background.  Everything per sequence is pre-computed so a 256 x 256
frame costs a few milliseconds on one core.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..camera import Intrinsics
from ..skeleton import BODY17
from .body_camera import WORLD_UP, BodyCamera
from .body_scene import _make_background, _make_occluder, _rgb_round_saturating
from .body_subject import BodySubject
from .rng import as_rng

_SHIFT = 4                      # OpenCV fixed-point bits for sub-pixel drawing
_ONE = 1 << _SHIFT


# ------------------------------------------------------------ small helpers
_MAX_LEVELS = 6


def _shade_ramps(colour, gain: float) -> list[list[tuple]]:
    """Colour ramps from a dark rim to a lit centre: ``ramps[n - 1]`` has ``n`` colours."""
    c = np.asarray(colour, float) * gain
    rim, hi = 0.55 * c, c + 0.18 * (255 - c) + 6
    ramps = []
    for n in range(1, _MAX_LEVELS + 1):
        x = np.linspace(0, 1, n) ** 0.7 if n > 1 else np.array([0.6])
        ramps.append([_rgb_round_saturating(rim + (hi - rim) * xi) for xi in x])
    return ramps


def _project_ellipsoids(centres: np.ndarray, axes: np.ndarray, semi: np.ndarray,
                        intr: Intrinsics) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Perspective outlines of ellipsoids in camera space.

    centres (E, 3) mm; axes (E, 3, 3) unit axes as columns; semi (E, 3) mm.
    The dual quadric ``Q* = [[A S^2 A^T - c c^T, -c], [-c^T, -1]]`` projects to
    the dual conic ``C* = K (A S^2 A^T - c c^T) K^T``; normalised to
    ``C*[2, 2] = -1`` it reads ``[[M - x0 x0^T, -x0], [-x0^T, -1]]`` with the
    ellipse centre ``x0`` and shape ``M`` (semi-axes: square roots of M's eigenvalues).

    Returns centres (E, 2) px, semi-axes (E, 2) px (major first), angles (E,) degrees.
    """
    Kc = intr.matrix
    M3 = np.einsum("eij,ej,ekj->eik", axes, semi**2, axes) - centres[:, :, None] * centres[:, None, :]
    Cs = Kc @ M3 @ Kc.T
    Cs = Cs / -Cs[:, 2:3, 2:3]
    x0 = -Cs[:, :2, 2]
    M = Cs[:, :2, :2] + x0[:, :, None] * x0[:, None, :]
    a, b, d = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
    mean, rad = (a + d) / 2, np.sqrt(((a - d) / 2) ** 2 + b**2)
    l1, l2 = mean + rad, np.maximum(mean - rad, 1e-6)
    angle = np.degrees(0.5 * np.arctan2(2 * b, a - d))
    return x0, np.sqrt(np.stack([l1, l2], -1)), angle


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross's generality costs ~10 us a call, too much per frame)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _orthonormal(up: np.ndarray, right_hint: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right, forward, up unit vectors from an up direction and a rough right direction."""
    u = up / np.linalg.norm(up)
    r = right_hint - (right_hint @ u) * u
    nr = np.linalg.norm(r)
    if nr < 1e-9:                                   # no usable hint: any right angle will do
        r = _cross(u, np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0]))
        nr = np.linalg.norm(r)
    r = r / nr
    return r, _cross(u, r), u


# ----------------------------------------------------------------- renderer
# Capsules are (start point, end point, radius mm, colour key); points index the
# extended point array built by BodyRenderer._points (0..16 are the joints).
_HAND_L, _HAND_R, _HEEL_L, _TOE_L, _HEEL_R, _TOE_R, _NECK_TOP = 17, 18, 19, 20, 21, 22, 23
_HAIR_TOP, _HAIR_END = 24, 25           # long hair: a capsule behind the head down to the shoulders
_N_POINTS = 26


def garment_pattern(pattern: dict, size: tuple[int, int], base_rgb, rng: np.random.Generator) -> np.ndarray | None:
    """(H, W, 3) float32 per-channel gain that draws ``pattern`` (:func:`.body_subject._pattern`) over a
    garment of colour ``base_rgb`` (1: the garment's own shaded colour; towards the pattern's second
    colour where the pattern is on); None for a plain garment.  In image space, made once per sequence
    (a pattern that slides over a moving body; a pose network looks at one frame)."""
    kind = pattern["kind"]
    if kind == "plain":
        return None
    W, H = size
    period = pattern["period"] * W / 256.0
    a = np.radians(pattern["angle_deg"])
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    t1 = (x * np.cos(a) + y * np.sin(a)) / period
    t2 = (-x * np.sin(a) + y * np.cos(a)) / period
    if kind == "stripes":
        m = (np.mod(t1, 1.0) < 0.45).astype(np.float32)
    elif kind == "checks":
        m = 0.5 * ((np.mod(t1, 1.0) < 0.5).astype(np.float32) + (np.mod(t2, 1.0) < 0.5).astype(np.float32))
    elif kind == "print":                               # dots on a lattice, jittered in size
        d = np.hypot(np.mod(t1, 1.0) - 0.5, np.mod(t2, 1.0) - 0.5)
        m = (d < rng.uniform(0.15, 0.35)).astype(np.float32)
    else:                                               # mottled: smooth noise at the pattern's scale
        from .body_scene import _fractal_noise

        cells = max(2, int(round(W / max(period * 2, 2.0))))
        m = np.clip(0.5 + 0.35 * _fractal_noise(rng, H, W, base_cells=cells, octaves=2), 0, 1)
    m = cv2.GaussianBlur(m, (0, 0), 0.6)
    ratio = np.clip((np.asarray(pattern["colour"], np.float32) + 12) / (np.asarray(base_rgb, np.float32) + 12),
                    0.15, 4.0)
    s = float(pattern["strength"])
    return (1.0 + (s * m)[..., None] * (ratio - 1.0)).astype(np.float32)


class BodyRenderer:
    """Draws RGB frames of one subject seen by one camera.

    Parameters
    ----------
    intrinsics : the camera's pinhole intrinsics (image size included)
    subject : sizes and colours of the person
    rng : randomness for everything made once per sequence (background,
        occluders, lighting, blur, noise)
    camera : the camera's pose, for a background ray-cast from the right
        viewpoint and the person's shadow on the floor; None: a camera
        1.15 m high looking 5 degrees down
    person_box : ``(x0, y0, x1, y1)`` pixels the person occupies over the
        sequence, where occluders are placed; None: the central half
    occluders : number of occluders (None: 0-2 at random)
    motion_blur, blur, noise, antialias : effects (all on by default)

    :meth:`render` is a pure function of the joints and frame index, so
    frames can be rendered in any order.
    """

    def __init__(self, intrinsics: Intrinsics, subject: BodySubject, rng: np.random.Generator,
                 camera: BodyCamera | None = None, person_box=None, *, occluders: int | None = None,
                 motion_blur: bool = True, blur: bool = True, noise: bool = True, antialias: bool = True):
        rng = as_rng(rng)
        self.intr, self.subject = intrinsics, subject
        W, H = intrinsics.width, intrinsics.height
        self.size = (W, H)
        if camera is None:
            look_down = 4000.0 * np.tan(np.radians(5.0))
            camera = BodyCamera("h36m", intrinsics, 0.0, 4000.0, 1150.0, (0.0, 0.0, 1150.0 - look_down))
        self.camera = camera
        R, C = camera.rotation, camera.position
        # Floor plane in camera space: n . X + d = 0 with n = R @ up (world up seen from the camera).
        self._floor_n, self._floor_d = R @ WORLD_UP, float(C[2])
        rng_bg, rng_occ, rng_fx = rng.spawn(3)
        self.background = _make_background(rng_bg, intrinsics, R, C, np.asarray(camera.target_mm, float))

        # Lighting: a highlight offset towards the light in the image, an overall gain.
        light_ang = np.radians(-90 + rng_fx.uniform(-70, 70))     # mostly from above
        self._light = np.array([np.cos(light_ang), np.sin(light_ang)])
        gain = rng_fx.uniform(0.8, 1.1)
        col = subject.colors
        style = subject.style or {}
        # An open jacket takes the shirt's place on arms and torso; the shirt shows down the front.
        upper = tuple(style["jacket"]) if style.get("jacket") else col["shirt"]
        hair = col["skin"] if style.get("hair") == "bald" else col["hair"]
        forearm = upper if subject.long_sleeves else col["skin"]
        shin = col["skin"] if subject.shorts else col["trousers"]
        part_colours = {"shirt": upper, "trousers": col["trousers"], "skin": col["skin"], "inner": col["shirt"],
                        "hair": hair, "shoes": col["shoes"], "forearm": forearm, "shin": shin}
        self._ramps = {k: _shade_ramps(c, gain) for k, c in part_colours.items()}
        r = subject.radii_mm
        L = BODY17.index
        self._capsules = [
            (L("l_shoulder"), L("l_elbow"), r["upper_arm"], "shirt"),
            (L("r_shoulder"), L("r_elbow"), r["upper_arm"], "shirt"),
            (L("l_elbow"), L("l_wrist"), r["forearm"], "forearm"),
            (L("r_elbow"), L("r_wrist"), r["forearm"], "forearm"),
            (L("l_wrist"), _HAND_L, 0.85 * r["hand"], "skin"),
            (L("r_wrist"), _HAND_R, 0.85 * r["hand"], "skin"),
            (L("l_hip"), L("l_knee"), r["thigh"], "trousers"),
            (L("r_hip"), L("r_knee"), r["thigh"], "trousers"),
            (L("l_knee"), L("l_ankle"), r["shin"], "shin"),
            (L("r_knee"), L("r_ankle"), r["shin"], "shin"),
            (_HEEL_L, _TOE_L, r["foot"], "shoes"),
            (_HEEL_R, _TOE_R, r["foot"], "shoes"),
            (L("neck"), _NECK_TOP, r["neck"], "skin"),
            (L("l_shoulder"), L("l_shoulder"), 1.1 * r["upper_arm"], "shirt"),     # deltoids
            (L("r_shoulder"), L("r_shoulder"), 1.1 * r["upper_arm"], "shirt"),
        ]
        n_plain = len(self._capsules)
        self._long_hair = style.get("hair") == "long"
        if self._long_hair:
            self._capsules.append((_HAIR_TOP, _HAIR_END, 0.8 * r["head"][0], "hair"))
        self._cap_a = np.array([c[0] for c in self._capsules])
        self._cap_b = np.array([c[1] for c in self._capsules])
        self._cap_r = np.array([c[2] for c in self._capsules])
        self._cap_bias = np.zeros(len(self._capsules))
        self._cap_bias[n_plain - 2:n_plain] = -40.0     # deltoids over the chest's outline
        if self._long_hair:
            self._cap_bias[n_plain] = 0.6 * r["head"][1]   # behind the head and neck
        semi = [r["chest"], r["belly"], r["hips"], r["head"], np.asarray(r["head"]) * (0.86, 0.7, 0.8)]
        self._ell_colour = ("shirt", "shirt", "trousers", "hair", "skin")
        self._jacket = bool(style.get("jacket"))
        if self._jacket:                                # the shirt down the open front
            semi.append(np.asarray(r["chest"]) * (0.32, 0.78, 0.92))
            self._ell_colour += ("inner",)
        self._ell_semi = np.array(semi, dtype=np.float64)
        self._face = bool(style.get("face"))
        self._face_colours = {"eye": (28, 24, 24), "white": (235, 232, 225),
                              "brow": _rgb_round_saturating(0.7 * np.asarray(col["hair"], float)),
                              "mouth": _rgb_round_saturating(np.asarray(col["skin"], float) * (0.72, 0.5, 0.5)),
                              "nose": _rgb_round_saturating(np.asarray(col["skin"], float) * 0.82)}
        self._lt = cv2.LINE_AA if antialias else cv2.LINE_8

        # Occluders around the person.
        if person_box is None:
            person_box = (0.25 * W, 0.2 * H, 0.75 * W, 0.9 * H)
        n_occ = (int(rng_occ.choice([0, 1, 1, 2])) if occluders is None else int(occluders))
        if n_occ < 0:
            raise ValueError(f"occluders must be >= 0, got {occluders}")
        self._occluders = [_make_occluder(rng_occ, tuple(map(float, person_box)), W, H) for _ in range(n_occ)]

        # Varied appearance (subject.style): garment patterns and a defocused background, from a fourth
        # stream so the plain renderer's three are untouched.
        # Label of each colour key in the garment mask the patterns are drawn through; bare forearms and
        # shins (short sleeves, shorts) are skin, not part of the garment.
        self._label_of = {"shirt": 1, "trousers": 2, "forearm": 1 if subject.long_sleeves else 0,
                          "shin": 0 if subject.shorts else 2}
        self._patterns = {}
        if style:
            rng_style = rng.spawn(1)[0]
            for garment, base in (("shirt", upper), ("trousers", col["trousers"])):
                tex = garment_pattern(style["patterns"][garment], (W, H), base, rng_style)
                if tex is not None:
                    self._patterns[self._label_of[garment]] = tex
            if rng_style.random() < 0.35:
                self.background = cv2.GaussianBlur(self.background, (0, 0), rng_style.uniform(1.0, 3.5) * W / 256)
        self._labels = np.zeros((H, W), np.uint8) if self._patterns else None

        # Camera effects.
        self.motion_blur = motion_blur
        self._exposure = rng_fx.uniform(0.3, 0.7)            # fraction of the frame interval
        sigma = rng_fx.uniform(0.0, 0.9) if blur else 0.0
        self._blur_sigma = sigma if sigma > 0.3 else 0.0
        self._noise = None
        if noise:
            pad = 32
            sd = rng_fx.uniform(1.5, 6.0)
            luma = rng_fx.normal(0, sd, (H + pad, W + pad, 1))
            chroma = rng_fx.normal(0, sd * 0.5, (H + pad, W + pad, 3))
            n = np.clip(np.round(luma + chroma), -255, 255)
            self._noise = (np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8))
            self._noise_offsets = rng_fx.integers(0, pad + 1, (997, 2))
        self._scratch = np.empty((H, W, 3), np.uint8)

    # ------------------------------------------------------------ geometry
    def _points(self, J: np.ndarray) -> tuple[np.ndarray, tuple, np.ndarray]:
        """Joints (K, 3) plus derived points (hands, heels, toes, head base) in camera space.

        Returns the points (N, 3), the head's (right, forward, up) axes and the head's centre (3,).
        """
        r = self.subject.radii_mm
        P = np.empty((_N_POINTS, 3))
        P[:17] = J
        for hand, wrist, elbow in ((_HAND_L, 13, 12), (_HAND_R, 16, 15)):
            d = J[wrist] - J[elbow]
            P[hand] = J[wrist] + d * (1.5 * r["hand"] / max(np.linalg.norm(d), 1e-6))
        # Feet: perpendicular to the shin, pointing where the body faces.
        right = J[1] - J[4]
        up = J[7] - J[0]
        forward = _cross(up, right)
        forward /= max(np.linalg.norm(forward), 1e-6)
        fl = r["foot_len"]
        for heel, toe, knee, ankle in ((_HEEL_L, _TOE_L, 5, 6), (_HEEL_R, _TOE_R, 2, 3)):
            s = J[ankle] - J[knee]
            s /= max(np.linalg.norm(s), 1e-6)
            f = forward - (forward @ s) * s
            f /= max(np.linalg.norm(f), 1e-6)
            P[heel] = J[ankle] - 0.2 * fl * f + 0.5 * self.subject.ankle_height_mm * s
            P[toe] = J[ankle] + 0.62 * fl * f + 0.55 * self.subject.ankle_height_mm * s
        head_frame = _orthonormal(J[10] - J[8], right)
        _, hf, hu = head_frame
        semi_head = r["head"]
        head_centre = 0.5 * (J[9] + J[10]) - 0.3 * semi_head[1] * hf
        P[_NECK_TOP] = head_centre - 0.5 * semi_head[2] * hu
        P[_HAIR_TOP] = head_centre - 0.1 * semi_head[1] * hf
        P[_HAIR_END] = head_centre - 1.45 * semi_head[2] * hu - 0.45 * semi_head[1] * hf
        return P, head_frame, head_centre

    def _ellipsoids(self, J: np.ndarray, head: tuple, head_centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centres (E, 3) and axes (E, 3, 3) (columns: width, depth, height) of chest, belly, hips, head, face."""
        sh = J[14] - J[11]
        hip = J[1] - J[4]
        chest = _orthonormal(J[8] - J[7], sh)
        belly = _orthonormal(J[7] - J[0], sh / max(np.linalg.norm(sh), 1e-6) + hip / max(np.linalg.norm(hip), 1e-6))
        hips = _orthonormal(J[7] - J[0], hip)
        semi = self._ell_semi
        c = np.stack([
            J[8] - 0.65 * semi[0, 2] * chest[2],            # chest: widest just below the shoulders
            0.5 * (J[0] + J[7]) + 0.15 * semi[1, 2] * belly[2],
            J[0] - 0.2 * semi[2, 2] * hips[2],
            head_centre,
            head_centre + 0.4 * semi[3, 1] * head[1] - 0.12 * semi[3, 2] * head[2],
        ] + ([J[8] - 0.6 * semi[0, 2] * chest[2] + 0.3 * semi[0, 1] * chest[1]] if self._jacket else []))
        frames = (chest, belly, hips, head, head) + ((chest,) if self._jacket else ())
        axes = np.stack([np.stack(f, -1) for f in frames])
        return c, axes

    def _draw_face(self, img: np.ndarray, centre: np.ndarray, head: tuple) -> None:
        """Eyes, brows, a nose shadow and a mouth on the face ellipsoid's front, when it faces the camera."""
        r, f, u = head
        a, b, c = self._ell_semi[4]
        if f @ centre > -0.2 * np.linalg.norm(centre):        # facing away (or edge-on): nothing to draw
            return
        intr, lt, col = self.intr, self._lt, self._face_colours

        def at(x, z, out=1.0):
            y = np.sqrt(max(1.0 - x * x - z * z, 0.0)) * out
            p = centre + r * a * x + f * b * y + u * c * z
            return np.array([intr.fx * p[0] / p[2] + intr.cx, intr.fy * p[1] / p[2] + intr.cy]), p[2]

        def pt(q):
            return int(round(q[0] * _ONE)), int(round(q[1] * _ONE))

        eye_mm = 0.11 * a
        for side in (-1, 1):
            q, z = at(0.36 * side, 0.12)
            rad = intr.fx * eye_mm / z
            if rad >= 1.6:
                cv2.ellipse(img, pt(q), (int(rad * _ONE), int(0.6 * rad * _ONE)), 0, 0, 360, col["white"], -1, lt,
                            _SHIFT)
            cv2.circle(img, pt(q), max(int(0.55 * rad * _ONE), _ONE // 2), col["eye"], -1, lt, _SHIFT)
            b0, _ = at(0.16 * side, 0.33)
            b1, _ = at(0.55 * side, 0.3)
            cv2.line(img, pt(b0), pt(b1), col["brow"], max(1, int(round(0.5 * rad))), lt, _SHIFT)
        q, z = at(0.0, -0.12, 1.05)
        rad = intr.fx * 0.1 * a / z
        cv2.ellipse(img, pt(q + (0, 0.5 * rad)), (max(int(rad * _ONE), 1), max(int(0.5 * rad * _ONE), 1)), 0, 0, 360,
                    col["nose"], -1, lt, _SHIFT)
        m0, _ = at(-0.27, -0.45)
        m1, _ = at(0.27, -0.45)
        cv2.line(img, pt(m0), pt(m1), col["mouth"], max(1, int(round(0.6 * rad))), lt, _SHIFT)

    # ------------------------------------------------------------- drawing
    def _draw_person(self, img: np.ndarray, J: np.ndarray) -> None:
        intr = self.intr
        P, head, head_centre = self._points(J)
        z = P[:, 2]
        uv = np.empty((len(P), 2))
        uv[:, 0] = intr.fx * P[:, 0] / z + intr.cx
        uv[:, 1] = intr.fy * P[:, 1] / z + intr.cy
        q = np.round(uv * _ONE).astype(np.int64)
        lt, light = self._lt, self._light
        ops = []
        # Capsules: depth of the midpoint, radius projected there.
        zm = 0.5 * (z[self._cap_a] + z[self._cap_b]) + self._cap_bias
        rpx = intr.fx * self._cap_r / np.maximum(zm, 1.0)
        d = uv[self._cap_b] - uv[self._cap_a]
        normal = np.stack([-d[:, 1], d[:, 0]], -1) / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
        # shift the inner strokes towards the light, across the limb
        off = (normal @ light)[:, None] * normal * rpx[:, None]
        for i, (a, b, _, key) in enumerate(self._capsules):
            ops.append((zm[i], 0, i, a, b, key))
        # Ellipsoids.
        centres, axes = self._ellipsoids(J, head, head_centre)
        e_uv, e_ax, e_ang = _project_ellipsoids(centres, axes, self._ell_semi, intr)
        for i in range(len(centres)):
            ops.append((centres[i, 2], 1, i, 0, 0, self._ell_colour[i]))
        if self._face:
            ops.append((centres[4, 2] - 1.0, 2, 4, 0, 0, "skin"))     # just after the face
        ops.sort(key=lambda o: -o[0])
        labels = self._labels
        if labels is not None:
            labels.fill(0)
        for _, kind, i, a, b, key in ops:
            if kind == 2:
                self._draw_face(img, centres[i], head)
                continue
            ramps = self._ramps[key]
            if labels is not None:
                lab = self._label_of.get(key, 0)
                if kind == 0:
                    cv2.line(labels, tuple(map(int, q[a])), tuple(map(int, q[b])), lab,
                             max(1, int(round(2 * rpx[i]))), cv2.LINE_8, _SHIFT)
                else:
                    cv2.ellipse(labels, tuple(map(int, e_uv[i] * _ONE)), tuple(map(int, e_ax[i] * _ONE)),
                                float(e_ang[i]), 0, 360, lab, -1, cv2.LINE_8, _SHIFT)
            if kind == 0:
                # Capsule: strokes of decreasing width, lighter and shifted towards the light.
                t = 2 * rpx[i]
                n = min(_MAX_LEVELS, 1 + int(t / 3))
                pa, pb = q[a], q[b]
                for j, colour in enumerate(ramps[n - 1]):
                    s = 1.0 - 0.7 * j / n
                    o = (1.0 - s) * off[i] * 0.5 * _ONE
                    cv2.line(img, (int(pa[0] + o[0]), int(pa[1] + o[1])), (int(pb[0] + o[0]), int(pb[1] + o[1])),
                             colour, max(1, int(round(s * t))), lt, _SHIFT)
            else:
                # Ellipsoid outline, then shrinking lighter ellipses shifted towards the light.
                c, ax, ang = e_uv[i], e_ax[i], float(e_ang[i])
                n = min(_MAX_LEVELS, 1 + int(ax[1] / 2))
                for j, colour in enumerate(ramps[n - 1]):
                    s = 1.0 - 0.7 * j / n
                    cc = (c + (1.0 - s) * 0.6 * ax[1] * light) * _ONE
                    cv2.ellipse(img, (int(cc[0]), int(cc[1])), (int(s * ax[0] * _ONE), int(s * ax[1] * _ONE)),
                                ang, 0, 360, colour, -1, lt, _SHIFT)
        if labels is not None:
            for lab, gain in self._patterns.items():
                on = labels == lab
                if on.any():
                    img[on] = np.clip(img[on] * gain[on], 0, 255).astype(np.uint8)

    def _draw_shadow(self, img: np.ndarray, J: np.ndarray) -> None:
        """A soft dark ellipse on the floor under the pelvis."""
        n, dist = self._floor_n, self._floor_d
        g = J[0] - (n @ J[0] + dist) * n                      # the root's foot point on the floor
        if g[2] < 300.0:
            return
        right = J[1] - J[4]
        r, f, u = _orthonormal(n, right)
        semi = np.array([[1.5 * self.subject.radii_mm["hips"][0] + 80, 260.0, 1.0]])
        c, ax, ang = _project_ellipsoids(g[None], np.stack([r, f, u], -1)[None], semi, self.intr)
        c, ax, ang = c[0], ax[0], float(ang[0])
        H, W = img.shape[:2]
        pad = int(ax[0]) + 4
        x0, y0 = max(int(c[0]) - pad, 0), max(int(c[1]) - pad, 0)
        x1, y1 = min(int(c[0]) + pad + 1, W), min(int(c[1]) + pad + 1, H)
        if x0 >= x1 or y0 >= y1 or ax[1] < 1:
            return
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.ellipse(m, (int(round((c[0] - x0) * _ONE)), int(round((c[1] - y0) * _ONE))),
                    (int(ax[0] * _ONE), int(ax[1] * _ONE)), ang, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
        m = cv2.GaussianBlur(m, (0, 0), max(1.0, 0.25 * ax[1]))
        roi = img[y0:y1, x0:x1]
        roi[:] = (roi * (1.0 - 0.45 / 255.0 * m[..., None].astype(np.float32))).astype(np.uint8)

    def _draw_scene(self, img: np.ndarray, J: np.ndarray) -> None:
        np.copyto(img, self.background)
        self._draw_shadow(img, J)
        self._draw_person(img, J)

    # -------------------------------------------------------------- public
    def render(self, joints_cam: np.ndarray, index: int = 0, joints_prev: np.ndarray | None = None) -> np.ndarray:
        """One frame (H, W, 3) uint8 RGB.

        Parameters
        ----------
        joints_cam : (K, 3) camera-space joints, mm, all in front of the camera
        index : frame number (moves the occluders, picks the noise)
        joints_prev : (K, 3) the previous frame's joints; with motion blur on,
            the shutter is open over the last ``exposure`` fraction of the
            interval and fast limbs smear
        """
        out = np.empty((self.size[1], self.size[0], 3), np.uint8)
        self.render_into(out, joints_cam, index, joints_prev)
        return out

    def render_into(self, out: np.ndarray, joints_cam: np.ndarray, index: int = 0,
                    joints_prev: np.ndarray | None = None) -> np.ndarray:
        """Like :meth:`render`, writing into ``out`` (H, W, 3) uint8."""
        J = np.asarray(joints_cam, dtype=np.float64)
        if J.shape != (BODY17.K, 3):
            raise ValueError(f"joints_cam must be ({BODY17.K}, 3), got {J.shape}")
        if np.any(J[:, 2] <= 100.0):
            raise ValueError("all joints must be in front of the camera (z > 100 mm)")
        subframes = 1
        if self.motion_blur and joints_prev is not None:
            Jp = np.asarray(joints_prev, dtype=np.float64)
            if Jp.shape != J.shape:
                raise ValueError(f"joints_prev must be ({BODY17.K}, 3), got {Jp.shape}")
            # image displacement of the fastest joint while the shutter is open
            start = J + self._exposure * (Jp - J)
            if np.all(start[:, 2] > 100.0):
                shift = self.intr.project(J) - self.intr.project(start)
                subframes = int(np.clip(np.ceil(np.abs(shift).max() / 1.5), 1, 4))
        if subframes == 1:
            self._draw_scene(out, J)
        else:
            acc = np.zeros(out.shape, np.float32)
            for s in range(subframes):
                a = self._exposure * s / (subframes - 1)
                self._draw_scene(self._scratch, J + a * (Jp - J))
                cv2.accumulate(self._scratch, acc)
            cv2.convertScaleAbs(acc, out, 1.0 / subframes)
        for occ in self._occluders:
            occ.paste(out, index)
        if self._blur_sigma:
            cv2.GaussianBlur(out, (0, 0), self._blur_sigma, dst=out)
        if self._noise is not None:
            H, W = out.shape[:2]
            oy, ox = self._noise_offsets[index % len(self._noise_offsets)]
            pos, neg = self._noise
            cv2.add(out, pos[oy:oy + H, ox:ox + W], dst=out)
            cv2.subtract(out, neg[oy:oy + H, ox:ox + W], dst=out)
        return out

    def render_sequence(self, joints_cam: np.ndarray, progress: bool = False) -> np.ndarray:
        """Frames (T, H, W, 3) uint8 for camera-space joints (T, K, 3), with motion blur between frames."""
        J = np.asarray(joints_cam, dtype=np.float64)
        if J.ndim != 3 or J.shape[1:] != (BODY17.K, 3):
            raise ValueError(f"joints_cam must be (T, {BODY17.K}, 3), got {J.shape}")
        frames = np.empty((len(J), self.size[1], self.size[0], 3), np.uint8)
        it = range(len(J))
        if progress:
            from tqdm import tqdm

            it = tqdm(it, desc="rendering", unit="frame")
        for i in it:
            self.render_into(frames[i], J[i], i, J[i - 1] if i > 0 else None)
        return frames
