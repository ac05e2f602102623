"""Cameras and RGB rendering for synthetic BODY17 people.

Cameras (:class:`BodyCamera`) are pinholes placed in the world of
:mod:`.body_motion` (mm, z up, floor ``z = 0``) and map world points to camera
space (mm; x right, y down, z forward).  Two kinds:

* ``"h36m"``: Human3.6M-like, focal length 1.145 x the image side (H36M's
  ~1145 px at 1000 x 1000), 1.05-1.25 m high, looking slightly down;
* ``"webcam"``: about 60 degrees horizontal field of view at 640 x 480,
  0.9-1.6 m high, in front of the person.

:class:`BodyRenderer` draws a person from camera-space joints: limbs as
capsules and torso, hips and head as ellipsoids (their exact perspective
outlines, from the dual quadric ``C* = K Q*_{3x3} K^T``), back to front
(painter's algorithm on depth), shaded by concentric strokes from a dark rim
to a lit centre, in the subject's clothing colours; over a background made
once per sequence (a textured floor and walls ray-cast from the real camera
pose, furniture-like clutter, illumination gradient) and under random
occluders; then motion blur (sub-frame exposure), gaussian blur and sensor
noise from pre-computed tiles.  Everything per sequence is pre-computed so a
256 x 256 frame costs a few milliseconds on one core.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..camera import Intrinsics
from ..skeleton import BODY17
from .body_motion import BodySubject
from .rng import as_rng

CAMERA_KINDS = ("h36m", "webcam")
#: Human3.6M's focal length relative to its 1000 px image side.
H36M_FOCAL_PER_SIDE = 1145.0 / 1000.0

_SHIFT = 4                      # OpenCV fixed-point bits for sub-pixel drawing
_ONE = 1 << _SHIFT
_WORLD_UP = np.array([0.0, 0.0, 1.0])


# ------------------------------------------------------------------ cameras
def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (3, 3) whose rows are the camera's right, down and forward axes."""
    f = np.asarray(target, float) - np.asarray(position, float)
    f /= np.linalg.norm(f)
    r = np.cross(f, _WORLD_UP)
    n = np.linalg.norm(r)
    if n < 1e-9:
        raise ValueError("look_at: the camera cannot look straight up or down")
    r /= n
    d = np.cross(f, r)
    return np.stack([r, d, f])


@dataclass(frozen=True)
class BodyCamera:
    """A pinhole camera placed around a subject.

    The camera stands ``distance_mm`` (horizontally) from ``target_mm`` in the
    direction ``(-sin(azimuth), cos(azimuth), 0)`` (azimuth 0: in front of a
    subject facing +y), ``height_mm`` above the floor, and looks at the target.
    """

    kind: str
    intrinsics: Intrinsics
    azimuth: float
    distance_mm: float
    height_mm: float
    target_mm: tuple[float, float, float] = (0.0, 0.0, 900.0)

    @property
    def position(self) -> np.ndarray:
        """Camera centre in the world (3,) mm."""
        a = np.array([-np.sin(self.azimuth), np.cos(self.azimuth), 0.0])
        C = np.asarray(self.target_mm, float) + self.distance_mm * a
        C[2] = self.height_mm
        return C

    @property
    def rotation(self) -> np.ndarray:
        """World-to-camera rotation (3, 3): ``X_cam = R (X_world - C)``."""
        return look_at(self.position, np.asarray(self.target_mm, float))

    def world_to_camera(self, X: np.ndarray) -> np.ndarray:
        """World points (..., 3) mm -> camera space (..., 3) mm: ``X_cam = R (X - C)``."""
        return (np.asarray(X, dtype=np.float64) - self.position) @ self.rotation.T

    def camera_to_world(self, X: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`world_to_camera`: ``X = R^T X_cam + C``."""
        return np.asarray(X, dtype=np.float64) @ self.rotation + self.position

    def to_dict(self) -> dict:
        return {"kind": self.kind, "azimuth_rad": float(self.azimuth), "distance_mm": float(self.distance_mm),
                "height_mm": float(self.height_mm), "target_mm": [float(x) for x in self.target_mm],
                "position_mm": [float(x) for x in self.position]}


def _image_size(kind: str, size) -> tuple[int, int]:
    if size is None:
        return (256, 256) if kind == "h36m" else (640, 480)
    if np.ndim(size) == 0:
        s = int(size)
        if s != size or s < 16:
            raise ValueError(f"size must be an integer side >= 16 or a (width, height) pair, got {size!r}")
        return s, s
    w, h = (int(x) for x in size)
    if w < 16 or h < 16:
        raise ValueError(f"image size must be at least 16 x 16, got {w} x {h}")
    return w, h


def sample_body_camera(rng, kind: str = "h36m", size=None) -> BodyCamera:
    """A random camera looking at a subject standing at the world origin.

    Parameters
    ----------
    kind : ``"h36m"`` (focal 1.145 x side, 1.05-1.25 m high, any azimuth) or
        ``"webcam"`` (55-65 degree horizontal FOV, 0.9-1.6 m high, in front)
    size : image side (square), or ``(width, height)``; default 256 x 256 for
        ``h36m`` and 640 x 480 for ``webcam``

    The camera stands 3-5 m away (3-4.5 m for webcams); :func:`frame_motion`
    re-aims it at a whole motion and backs off until the motion fits.
    """
    if kind not in CAMERA_KINDS:
        raise ValueError(f"unknown camera kind {kind!r}; choose one of {CAMERA_KINDS}")
    rng = as_rng(rng)
    W, H = _image_size(kind, size)
    if kind == "h36m":
        f = H36M_FOCAL_PER_SIDE * max(W, H) * rng.uniform(0.995, 1.005)
        cx = (W - 1) / 2 + rng.uniform(-0.01, 0.01) * W
        cy = (H - 1) / 2 + rng.uniform(-0.01, 0.01) * H
        intr = Intrinsics(f, f * rng.uniform(0.998, 1.002), cx, cy, W, H)
        azimuth = rng.uniform(-np.pi, np.pi)
        distance = rng.uniform(3000.0, 4000.0)
        height = rng.uniform(1050.0, 1250.0)
    else:
        intr = Intrinsics.from_fov(W, H, rng.uniform(55.0, 65.0))
        azimuth = np.radians(rng.uniform(-40.0, 40.0))
        distance = rng.uniform(3000.0, 4500.0)
        height = rng.uniform(900.0, 1600.0)
    return BodyCamera(kind, intr, float(azimuth), float(distance), float(height))


def frame_motion(camera: BodyCamera, joints_world: np.ndarray, margin: float = 0.1,
                 max_distance_mm: float = 20000.0) -> BodyCamera:
    """Re-aim ``camera`` at a motion and back it off until every joint of every frame is in view.

    Parameters
    ----------
    joints_world : (T, K, 3) or (K, 3) world joints, mm
    margin : free border kept around the joints, as a fraction of the
        shorter image side (room for the limbs' thickness, hands, feet, hair)

    The camera keeps its kind, intrinsics, azimuth and height; its target
    becomes the centre of the joints' bounding box and its distance grows
    (by 4 % steps) from the sampled one until the joints project inside.
    """
    X = np.asarray(joints_world, dtype=np.float64).reshape(-1, 3)
    if not 0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin}")
    intr = camera.intrinsics
    lo, hi = X.min(0), X.max(0)
    cam = replace(camera, target_mm=tuple(float(x) for x in (lo + hi) / 2))
    m = margin * min(intr.width, intr.height)
    while cam.distance_mm <= max_distance_mm:
        Xc = cam.world_to_camera(X)
        if np.all(Xc[:, 2] > 500.0):
            uv = intr.project(Xc)
            if (uv[:, 0].min() >= m and uv[:, 0].max() <= intr.width - 1 - m
                    and uv[:, 1].min() >= m and uv[:, 1].max() <= intr.height - 1 - m):
                return cam
        cam = replace(cam, distance_mm=cam.distance_mm * 1.04)
    raise ValueError(f"the motion does not fit in view within {max_distance_mm} mm "
                     f"(extent {np.round(hi - lo)} mm); use a larger image or field of view")


# ------------------------------------------------------------ small helpers
def _rgb(c) -> tuple[int, int, int]:
    return tuple(int(x) for x in np.clip(np.round(np.asarray(c, float)), 0, 255))


_MAX_LEVELS = 6


def _shade_ramps(colour, gain: float) -> list[list[tuple]]:
    """Colour ramps from a dark rim to a lit centre: ``ramps[n - 1]`` has ``n`` colours."""
    c = np.asarray(colour, float) * gain
    rim, hi = 0.55 * c, c + 0.18 * (255 - c) + 6
    ramps = []
    for n in range(1, _MAX_LEVELS + 1):
        x = np.linspace(0, 1, n) ** 0.7 if n > 1 else np.array([0.6])
        ramps.append([_rgb(rim + (hi - rim) * xi) for xi in x])
    return ramps


def _fractal_noise(rng: np.random.Generator, h: int, w: int, base_cells: int = 4, octaves: int = 4,
                   persistence: float = 0.5) -> np.ndarray:
    """Smooth value noise (h, w) float32 with zero mean and unit standard deviation."""
    out = np.zeros((h, w), np.float32)
    amp, cells = 1.0, base_cells
    for _ in range(octaves):
        g = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
        up = cv2.resize(g, (w * (cells + 3) // cells + 1, h * (cells + 3) // cells + 1), interpolation=cv2.INTER_CUBIC)
        oy, ox = rng.integers(0, up.shape[0] - h + 1), rng.integers(0, up.shape[1] - w + 1)
        out += amp * up[oy:oy + h, ox:ox + w]
        amp *= persistence
        cells *= 2
    out -= out.mean()
    return out / max(float(out.std()), 1e-6)


def _random_colour(rng: np.random.Generator, s=(0.1, 0.7), v=(0.3, 0.95)) -> np.ndarray:
    return 255 * np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v)))


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


# -------------------------------------------------------------- background
def _make_background(rng: np.random.Generator, intr: Intrinsics, R: np.ndarray, C: np.ndarray,
                     target: np.ndarray) -> np.ndarray:
    """A room seen by the camera: textured floor and walls (ray-cast), clutter, lighting. (H, W, 3) uint8 RGB."""
    W, H = intr.width, intr.height
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rays = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones_like(u)], -1) @ R  # world dirs
    img = np.zeros((H, W, 3), np.float32)
    t_best = np.full((H, W), np.inf)

    # Floor z = 0: t = -C_z / d_z for rays going down.
    dz = rays[..., 2]
    t_floor = np.where(dz < -1e-9, -C[2] / np.where(dz < -1e-9, dz, -1.0), np.inf)
    floor = t_floor < np.inf
    P = C + np.where(floor, t_floor, 0.0)[..., None] * rays
    x, y = P[..., 0], P[..., 1]
    style = rng.choice(["tiles", "planks", "carpet"])
    base = _random_colour(rng, s=(0.05, 0.5), v=(0.3, 0.85))
    if style == "tiles":
        s = rng.uniform(300, 700)
        ix, iy = np.floor(x / s).astype(np.int64), np.floor(y / s).astype(np.int64)
        jitter = rng.normal(0, 8, (32, 32, 3)).astype(np.float32)
        other = base * rng.uniform(0.7, 1.0) if rng.random() < 0.5 else base
        checker = ((ix + iy) % 2 == 0)[..., None]
        tex = np.where(checker, base, other) + jitter[ix % 32, iy % 32]
        fx_, fy_ = x / s - ix, y / s - iy
        grout = (np.minimum(np.minimum(fx_, 1 - fx_), np.minimum(fy_, 1 - fy_)) * s < 6)[..., None]
        tex = np.where(grout, base * 0.55, tex)
    elif style == "planks":
        w_p, l_p = rng.uniform(120, 250), rng.uniform(900, 2000)
        th = rng.uniform(0, np.pi)
        a_, b_ = x * np.cos(th) + y * np.sin(th), -x * np.sin(th) + y * np.cos(th)
        row = np.floor(b_ / w_p).astype(np.int64)
        col = np.floor((a_ + (row % 4) * l_p / 4) / l_p).astype(np.int64)
        wood = np.array([150, 105, 65]) * rng.uniform(0.6, 1.3) if rng.random() < 0.7 else base
        jitter = rng.normal(0, 12, (64, 64, 1)).astype(np.float32)
        grain = 6 * np.sin(a_ / rng.uniform(15, 40) + 3 * np.sin(b_ / 37.0))[..., None]
        tex = wood + jitter[row % 64, col % 64] + grain
        seam = ((b_ / w_p - row) * w_p < 4)[..., None]
        tex = np.where(seam, wood * 0.5, tex)
    else:
        tex = base + 10 * _fractal_noise(rng, H, W, 16, 3)[..., None]
    fade = np.exp(-np.where(floor, t_floor, 0.0) / 20000.0)[..., None]   # far floor fades to its mean colour
    tex = fade * tex + (1 - fade) * base
    img = np.where(floor[..., None], tex, img)
    t_best = np.where(floor, t_floor, t_best)

    # Walls: a back wall behind the subject, sometimes a side wall (a corner).
    fwd = np.asarray(target, float) - C
    fwd[2] = 0.0
    fwd /= np.linalg.norm(fwd)
    walls = [(np.asarray(target, float) + fwd * rng.uniform(1500, 4000), fwd)]
    if rng.random() < 0.5:
        ang = rng.choice([-1, 1]) * np.radians(rng.uniform(50, 85))
        n2 = np.array([np.cos(ang) * fwd[0] - np.sin(ang) * fwd[1], np.sin(ang) * fwd[0] + np.cos(ang) * fwd[1], 0.0])
        walls.append((np.asarray(target, float) + n2 * rng.uniform(2000, 4500), n2))
    for point, n in walls:
        denom = rays @ n
        t_wall = np.where(denom > 1e-9, ((point - C) @ n) / np.where(denom > 1e-9, denom, 1.0), np.inf)
        hit = t_wall < t_best
        if not hit.any():
            continue
        Pw = C + np.where(hit, t_wall, 0.0)[..., None] * rays
        side = np.cross(_WORLD_UP, n)
        s_coord, z = (Pw - point) @ side, Pw[..., 2]
        wall_col = _random_colour(rng, s=(0.0, 0.35), v=(0.55, 0.95))
        noise = _fractal_noise(rng, H, W, 6, 4)[..., None]
        tex = wall_col * (1.0 - 0.00012 * np.clip(z, 0, 3000)[..., None]) + rng.uniform(2, 6) * noise
        for _ in range(rng.integers(2, 7)):                 # posters, windows, doors, shelves
            kind = rng.choice(["poster", "window", "door", "shelf"])
            s0 = rng.uniform(-4000, 4000)
            if kind == "door":
                w_, z0, h_ = rng.uniform(800, 1000), 0.0, rng.uniform(1950, 2150)
            elif kind == "shelf":
                w_, z0, h_ = rng.uniform(800, 2000), rng.uniform(800, 1800), rng.uniform(25, 45)
            else:
                w_, z0, h_ = rng.uniform(400, 1500), rng.uniform(800, 1400), rng.uniform(400, 1200)
            inside = (s_coord > s0) & (s_coord < s0 + w_) & (z > z0) & (z < z0 + h_)
            if kind == "window":
                sky = np.array([200, 220, 245]) * rng.uniform(0.8, 1.05)
                c = sky - 40 * ((z - z0) / h_)[..., None]
                frame_ = ((np.abs(s_coord - (s0 + w_ / 2)) < 25) | (np.abs(z - (z0 + h_ / 2)) < 25)
                          | (s_coord < s0 + 40) | (s_coord > s0 + w_ - 40) | (z < z0 + 40) | (z > z0 + h_ - 40))
                c = np.where(frame_[..., None], np.array([235, 235, 230]) * rng.uniform(0.6, 1.0), c)
            elif kind == "poster":
                c1, c2 = _random_colour(rng, (0.3, 0.9)), _random_colour(rng, (0.3, 0.9))
                stripes = (np.sin((s_coord * rng.uniform(-1, 1) + z) / rng.uniform(40, 200)) > 0)[..., None]
                c = np.where(stripes, c1, c2)
            else:
                c = _random_colour(rng, (0.2, 0.6), (0.2, 0.6)) + 0 * s_coord[..., None]
            tex = np.where(inside[..., None], c, tex)
        tex = np.where((z < rng.uniform(60, 120))[..., None], wall_col * 0.6, tex)   # skirting board
        img = np.where(hit[..., None], tex, img)
        t_best = np.where(hit, t_wall, t_best)
    img = np.where(np.isinf(t_best)[..., None], _random_colour(rng, v=(0.4, 0.8)), img)

    # Clutter: furniture-like shapes standing in the room (drawn in the image).
    img = np.clip(img, 0, 255).astype(np.uint8)
    h_dir = np.array([R[2, 0], R[2, 1], 0.0])                 # horizontal viewing direction
    horizon = intr.cy + intr.fy * (R[1] @ h_dir) / (R[2] @ h_dir)  # row of the floor's vanishing line
    for _ in range(rng.integers(3, 9)):
        col = _rgb(_random_colour(rng, (0.1, 0.8), (0.15, 0.9)))
        dark = _rgb(np.asarray(col) * 0.6)
        cxp, w_ = rng.uniform(-0.1, 1.1) * W, rng.uniform(0.05, 0.3) * W
        bottom = float(np.clip(rng.uniform(max(horizon, 0) + 0.05 * H, 1.05 * H), 0, 1.2 * H))
        h_ = rng.uniform(0.1, 0.5) * H
        kind = rng.choice(["cabinet", "table", "plant", "lamp", "blob"])
        p0, p1 = (int(cxp - w_ / 2), int(bottom - h_)), (int(cxp + w_ / 2), int(bottom))
        if kind == "cabinet":
            cv2.rectangle(img, p0, p1, col, -1, cv2.LINE_AA)
            cv2.rectangle(img, p0, p1, dark, max(1, W // 128), cv2.LINE_AA)
            for k in range(1, rng.integers(2, 5)):
                yk = int(bottom - h_ * k / 4)
                cv2.line(img, (p0[0], yk), (p1[0], yk), dark, max(1, W // 200), cv2.LINE_AA)
        elif kind == "table":
            top = int(bottom - h_ * 0.6)
            cv2.rectangle(img, (p0[0], top), (p1[0], top + max(2, int(0.04 * H))), col, -1, cv2.LINE_AA)
            for xl in (p0[0] + 2, p1[0] - 4):
                cv2.rectangle(img, (xl, top), (xl + max(2, W // 100), int(bottom)), dark, -1)
        elif kind == "plant":
            cv2.rectangle(img, (int(cxp - w_ / 6), int(bottom - h_ / 4)), (int(cxp + w_ / 6), int(bottom)), dark, -1)
            for _ in range(12):
                g = _rgb(np.array([40, 120, 40]) * rng.uniform(0.5, 1.3))
                c = (int(cxp + rng.normal(0, w_ / 4)), int(bottom - h_ / 4 - abs(rng.normal(0, h_ / 3))))
                cv2.ellipse(img, c, (max(2, int(w_ / 6)), max(1, int(w_ / 14))), rng.uniform(0, 180), 0, 360, g, -1,
                            cv2.LINE_AA)
        elif kind == "lamp":
            cv2.line(img, (int(cxp), int(bottom - h_)), (int(cxp), int(bottom)), dark, max(1, W // 150), cv2.LINE_AA)
            cv2.ellipse(img, (int(cxp), int(bottom - h_)), (max(3, int(w_ / 4)), max(2, int(w_ / 6))), 0, 180, 360,
                        _rgb([240, 230, 200]), -1, cv2.LINE_AA)
        else:
            pts = np.stack([cxp + rng.normal(0, w_ / 2, 7), bottom - h_ / 2 + rng.normal(0, h_ / 3, 7)], -1)
            hull = cv2.convexHull(pts.astype(np.int32))
            cv2.fillConvexPoly(img, hull, col, cv2.LINE_AA)

    # Illumination: a smooth random gain field, vignetting and a colour cast.
    yy, xx = (v / H - 0.5), (u / W - 0.5)
    gain = (1.0 + 0.03 * _fractal_noise(rng, H, W, 2, 2) + rng.uniform(-0.25, 0.25) * xx
            + rng.uniform(-0.2, 0.1) * yy - rng.uniform(0.05, 0.3) * (xx**2 + yy**2))
    cast = rng.uniform(0.9, 1.1, 3) * rng.uniform(0.8, 1.15)
    out = img.astype(np.float32) * gain[..., None].astype(np.float32) * cast.astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    sigma = rng.uniform(0.0, 1.2)                             # the room is a little out of focus
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    return out


# --------------------------------------------------------------- occluders
@dataclass
class _Occluder:
    """A sprite in front of the person: static, or crossing the image periodically."""

    sprite: np.ndarray           # (h, w, 3) uint8
    mask: np.ndarray             # (h, w, 1) bool
    centre: np.ndarray           # (2,) px: where it is at frame `t_cross`
    velocity: np.ndarray         # (2,) px per frame (zero: static)
    t_cross: float
    period: float

    def top_left(self, index: int) -> tuple[int, int]:
        c = self.centre
        if np.any(self.velocity):
            # position cycles: it crosses the centre at t_cross, t_cross + period, ...
            dt = (index - self.t_cross + self.period / 2) % self.period - self.period / 2
            c = self.centre + self.velocity * dt
        h, w = self.mask.shape[:2]
        return int(round(c[0] - w / 2)), int(round(c[1] - h / 2))

    def paste(self, img: np.ndarray, index: int) -> None:
        x0, y0 = self.top_left(index)
        h, w = self.mask.shape[:2]
        H, W = img.shape[:2]
        ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
        if ax0 >= ax1 or ay0 >= ay1:
            return
        sx, sy = ax0 - x0, ay0 - y0
        np.copyto(img[ay0:ay1, ax0:ax1], self.sprite[sy:sy + ay1 - ay0, sx:sx + ax1 - ax0],
                  where=self.mask[sy:sy + ay1 - ay0, sx:sx + ax1 - ax0])


def _make_occluder(rng: np.random.Generator, box: tuple[float, float, float, float], W: int, H: int) -> _Occluder:
    """A random object placed to overlap the person's image box ``(x0, y0, x1, y1)`` part of the time."""
    bx0, by0, bx1, by1 = box
    bh, bw = by1 - by0, bx1 - bx0
    moving = rng.random() < 0.5
    kind = rng.choice(["box", "ball", "pole", "blob"] if moving else ["box", "pole", "plant", "blob"])
    if kind == "box":
        w, h = rng.uniform(0.3, 0.7) * bh, rng.uniform(0.2, 0.45) * bh
    elif kind == "ball":
        w = h = rng.uniform(0.12, 0.3) * bh
    elif kind == "pole":
        w, h = rng.uniform(0.04, 0.08) * bh, rng.uniform(1.0, 1.4) * bh
    else:
        w, h = rng.uniform(0.2, 0.5) * bh, rng.uniform(0.2, 0.5) * bh
    w, h = max(4, int(w)), max(4, int(h))
    col = _random_colour(rng, (0.2, 0.9), (0.2, 0.9))
    tex = col + rng.uniform(5, 25) * _fractal_noise(rng, h, w, 3, 3)[..., None]
    # light from the top left: a linear gradient across the sprite
    gy, gx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    tex = tex * (1.0 - 0.15 * (gx + gy)[..., None] / 2)
    sprite = np.clip(tex, 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), np.uint8)
    if kind == "ball":
        cv2.circle(mask, (w // 2, h // 2), min(w, h) // 2, 255, -1)
    elif kind == "blob":
        pts = np.stack([rng.uniform(0, w - 1, 8), rng.uniform(0, h - 1, 8)], -1).astype(np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 255)
    elif kind == "plant":
        for _ in range(14):
            cv2.ellipse(mask, (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.1, 0.9) * h)),
                        (max(2, w // 5), max(1, w // 12)), rng.uniform(0, 180), 0, 360, 255, -1)
        leaf = np.array([50, 130, 45]) * rng.uniform(0.5, 1.2) + 15 * _fractal_noise(rng, h, w, 4, 2)[..., None]
        sprite = np.clip(leaf, 0, 255).astype(np.uint8)
    else:
        mask[:] = 255
        cv2.rectangle(sprite, (0, 0), (w - 1, h - 1), _rgb(col * 0.5), max(1, w // 30))
    if moving:
        speed = rng.uniform(1.0, 4.0) * max(W, H) / 256.0                  # px per frame
        ang = rng.uniform(0, 2 * np.pi)
        vel = speed * np.array([np.cos(ang), np.sin(ang)])
        if kind == "pole":
            vel = np.array([speed * rng.choice([-1, 1]), 0.0])
        centre = np.array([rng.uniform(bx0, bx1), rng.uniform(by0, by1)])
        travel = np.hypot(W, H) + np.hypot(w, h)
        period = travel / speed * rng.uniform(1.2, 2.5)
        t_cross = rng.uniform(0, period)
    else:
        vel, period, t_cross = np.zeros(2), 1.0, 0.0
        if kind == "pole":
            centre = np.array([rng.uniform(bx0, bx1), by1 - h / 2 + rng.uniform(0, 0.1) * bh])
        else:
            # stands on the floor in front of the person, covering part of the legs or a side
            centre = np.array([rng.uniform(bx0 - 0.3 * bw, bx1 + 0.3 * bw), by1 - h / 2 + rng.uniform(0, 0.15) * bh])
    return _Occluder(sprite, (mask > 0)[..., None], centre, vel, float(t_cross), float(period))


# ----------------------------------------------------------------- renderer
# Capsules are (start point, end point, radius mm, colour key); points index the
# extended point array built by BodyRenderer._points (0..16 are the joints).
_HAND_L, _HAND_R, _HEEL_L, _TOE_L, _HEEL_R, _TOE_R, _NECK_TOP = 17, 18, 19, 20, 21, 22, 23
_N_POINTS = 24


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
        self._floor_n, self._floor_d = R @ _WORLD_UP, float(C[2])
        rng_bg, rng_occ, rng_fx = rng.spawn(3)
        self.background = _make_background(rng_bg, intrinsics, R, C, np.asarray(camera.target_mm, float))

        # Lighting: a highlight offset towards the light in the image, an overall gain.
        light_ang = np.radians(-90 + rng_fx.uniform(-70, 70))     # mostly from above
        self._light = np.array([np.cos(light_ang), np.sin(light_ang)])
        gain = rng_fx.uniform(0.8, 1.1)
        col = subject.colors
        forearm = col["shirt"] if subject.long_sleeves else col["skin"]
        shin = col["skin"] if subject.shorts else col["trousers"]
        part_colours = {"shirt": col["shirt"], "trousers": col["trousers"], "skin": col["skin"],
                        "hair": col["hair"], "shoes": col["shoes"], "forearm": forearm, "shin": shin}
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
        self._cap_a = np.array([c[0] for c in self._capsules])
        self._cap_b = np.array([c[1] for c in self._capsules])
        self._cap_r = np.array([c[2] for c in self._capsules])
        self._cap_bias = np.zeros(len(self._capsules))
        self._cap_bias[-2:] = -40.0                     # deltoids over the chest's outline
        self._ell_semi = np.array([r["chest"], r["belly"], r["hips"], r["head"],
                                   np.asarray(r["head"]) * (0.86, 0.7, 0.8)], dtype=np.float64)
        self._ell_colour = ("shirt", "shirt", "trousers", "hair", "skin")
        self._lt = cv2.LINE_AA if antialias else cv2.LINE_8

        # Occluders around the person.
        if person_box is None:
            person_box = (0.25 * W, 0.2 * H, 0.75 * W, 0.9 * H)
        n_occ = (int(rng_occ.choice([0, 1, 1, 2])) if occluders is None else int(occluders))
        if n_occ < 0:
            raise ValueError(f"occluders must be >= 0, got {occluders}")
        self._occluders = [_make_occluder(rng_occ, tuple(map(float, person_box)), W, H) for _ in range(n_occ)]

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
        ])
        axes = np.stack([np.stack(f, -1) for f in (chest, belly, hips, head, head)])
        return c, axes

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
        ops.sort(key=lambda o: -o[0])
        for _, kind, i, a, b, key in ops:
            ramps = self._ramps[key]
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
