"""Cameras for synthetic BODY17 people: pinholes placed around the subject, and framing a motion.

Cameras (:class:`BodyCamera`) are pinholes placed in the world of
:mod:`.body_kinematics` (mm, z up, floor ``z = 0``) and map world points to camera
space (mm; x right, y down, z forward).  Two kinds:

* ``"h36m"``: Human3.6M-like, focal length 1.145 x the image side (H36M's
  ~1145 px at 1000 x 1000), 1.05-1.25 m high, looking slightly down;
* ``"webcam"``: about 60 degrees horizontal field of view at 640 x 480,
  0.9-1.6 m high, in front of the person.

:func:`sample_body_camera` draws one; :func:`frame_motion` re-aims it at a
motion and backs it off until the whole motion is in view.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..camera import Intrinsics
from .rng import as_rng

CAMERA_KINDS = ("h36m", "webcam")
#: Human3.6M's focal length relative to its 1000 px image side.
H36M_FOCAL_PER_SIDE = 1145.0 / 1000.0
#: The world's up direction (z up, floor ``z = 0``).
WORLD_UP = np.array([0.0, 0.0, 1.0])


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (3, 3) whose rows are the camera's right, down and forward axes."""
    f = np.asarray(target, float) - np.asarray(position, float)
    f /= np.linalg.norm(f)
    r = np.cross(f, WORLD_UP)
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
