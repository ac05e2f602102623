"""Pinhole intrinsics, 2.5D <-> camera-space conversion, crop boxes and their affine maps.

Frames (DESIGN §2):

* camera space: millimetres, x right, y down, z forward (OpenCV convention);
* image: full-image pixels ``(u, v)``, pixel centres at integer coordinates;
* 2.5D pose: ``(u, v, z - z_root)``, i.e. pixels plus root-relative depth in mm;
* crop: a square box in the image mapped to an ``S x S`` network input;
* heatmap: the network output grid, ``H x H`` cells over the same box.

The affine maps act on the first two coordinates only; a third (depth)
coordinate passes through unchanged, so the same transform serves 2D and 2.5D
arrays.  Both frames of a temporal pair are cropped with one box.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics (pixels) and the image size they belong to."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if not (self.width > 0 and self.height > 0):
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @cached_property
    def principal_point(self) -> np.ndarray:
        """``[cx, cy]`` (read-only)."""
        return _frozen(np.array([self.cx, self.cy], dtype=np.float64))

    @cached_property
    def focal(self) -> np.ndarray:
        """``[fx, fy]`` (read-only)."""
        return _frozen(np.array([self.fx, self.fy], dtype=np.float64))

    def as_array(self) -> np.ndarray:
        """``[fx, fy, cx, cy, width, height]`` (for storage)."""
        return np.array([self.fx, self.fy, self.cx, self.cy, self.width, self.height], dtype=np.float64)

    @classmethod
    def from_array(cls, a) -> "Intrinsics":
        a = np.asarray(a, dtype=np.float64).ravel()
        if a.size != 6:
            raise ValueError(f"intrinsics array needs 6 values [fx, fy, cx, cy, width, height], got {a.size}")
        return cls(float(a[0]), float(a[1]), float(a[2]), float(a[3]), int(a[4]), int(a[5]))

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> "Intrinsics":
        """Square pixels, principal point at the image centre, horizontal field of view in degrees."""
        f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2)
        return cls(f, f, (width - 1) / 2, (height - 1) / 2, width, height)

    def scaled(self, s: float) -> "Intrinsics":
        """Intrinsics of the image resized by ``s`` (pixel-centre convention)."""
        return Intrinsics(
            self.fx * s, self.fy * s, (self.cx + 0.5) * s - 0.5, (self.cy + 0.5) * s - 0.5,
            int(round(self.width * s)), int(round(self.height * s)),
        )

    # ------------------------------------------------------------ projection
    def project(self, X: np.ndarray) -> np.ndarray:
        """Camera-space points (..., 3) in mm to pixels (..., 2)."""
        X = np.asarray(X, dtype=np.float64)
        z = X[..., 2]
        if np.any(z <= 0):
            raise ValueError("cannot project points at or behind the camera (z <= 0)")
        return np.stack([self.fx * X[..., 0] / z + self.cx, self.fy * X[..., 1] / z + self.cy], axis=-1)

    def backproject(self, uv: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) at depths z (...) in mm to camera-space points (..., 3)."""
        uv = np.asarray(uv, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        x = (uv[..., 0] - self.cx) / self.fx * z
        y = (uv[..., 1] - self.cy) / self.fy * z
        return np.stack([x, y, np.broadcast_to(z, x.shape)], axis=-1)


def cam_to_2p5d(X: np.ndarray, intr: Intrinsics, root: int = 0) -> np.ndarray:
    """Camera-space joints (..., K, 3) mm -> 2.5D (..., K, 3): pixels and root-relative depth."""
    X = np.asarray(X, dtype=np.float64)
    uv = intr.project(X)
    zrel = X[..., 2] - X[..., root : root + 1, 2]
    return np.concatenate([uv, zrel[..., None]], axis=-1)


def p2p5d_to_cam(P: np.ndarray, intr: Intrinsics, root_depth, root: int = 0) -> np.ndarray:
    """2.5D joints (..., K, 3) and the root's absolute depth (...) in mm -> camera space (..., K, 3).

    ``root_depth`` is the ground-truth root depth in the RGB protocol, or read
    from the depth map for depth cameras.
    """
    P = np.asarray(P, dtype=np.float64)
    z = P[..., 2:] + (np.asarray(root_depth, dtype=np.float64)[..., None, None] - P[..., root : root + 1, 2:])
    return np.concatenate(((P[..., :2] - intr.principal_point) / intr.focal * z, z), axis=-1)


# ------------------------------------------------------------------ crop boxes
@dataclass(frozen=True)
class CropBox:
    """A square box in full-image pixels: centre ``(cx, cy)`` and side ``size``."""

    cx: float
    cy: float
    size: float

    def __post_init__(self) -> None:
        if not self.size > 0:
            raise ValueError(f"crop box size must be positive, got {self.size}")

    @property
    def x0(self) -> float:
        return self.cx - self.size / 2

    @property
    def y0(self) -> float:
        return self.cy - self.size / 2

    def as_array(self) -> np.ndarray:
        return np.array([self.cx, self.cy, self.size], dtype=np.float64)

    @classmethod
    def from_array(cls, a) -> "CropBox":
        a = np.asarray(a, dtype=np.float64).ravel()
        return cls(float(a[0]), float(a[1]), float(a[2]))


def box_from_points(uv: np.ndarray, margin: float = 1.25, min_size: float = 16.0) -> CropBox:
    """Square box around 2D points (..., 2), side = ``margin`` x the larger extent.

    Several frames' points may be passed at once (any leading shape): the box
    covers all of them, which is how a temporal pair shares one box.
    NaN points are ignored; all-NaN input is an error.
    """
    pts = np.asarray(uv, dtype=np.float64)[..., :2].reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("cannot make a crop box: no finite points")
    lo, hi = pts.min(0), pts.max(0)
    if not np.isfinite(lo.sum() + hi.sum()):      # NaN or inf among the points (NaN propagates to min/max)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) == 0:
            raise ValueError("cannot make a crop box: no finite points")
        lo, hi = pts.min(0), pts.max(0)
    (x0, y0), (x1, y1) = lo.tolist(), hi.tolist()
    size = max(max(x1 - x0, y1 - y0) * margin, min_size)
    return CropBox((x0 + x1) / 2, (y0 + y1) / 2, size)


# -------------------------------------------------------------- affine maps
def crop_affine(box: CropBox, out_size: int, rotation_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """2x3 affine map from full-image pixels to crop pixels of an ``out_size`` square.

    The box centre maps to the crop centre ``(out_size - 1) / 2``; the box side
    maps to ``out_size`` pixels.  Optional rotation (counter-clockwise, degrees,
    about the box centre) and horizontal flip are the training augmentations.
    """
    if rotation_deg == 0 and not flip:   # the tracker's crops: a scale and a shift (the same numbers, no matmul)
        return _scale_shift(*_box_scale_shift(box, out_size))
    s = out_size / box.size
    a = np.radians(rotation_deg)
    c, si = np.cos(a), np.sin(a)
    # Rotate about the box centre (image y points down, so CCW on screen is -a).
    R = np.array([[c, si], [-si, c]]) * s
    if flip:
        R = np.array([[-1.0, 0.0], [0.0, 1.0]]) @ R
    centre_out = np.array([(out_size - 1) / 2, (out_size - 1) / 2])
    t = centre_out - R @ np.array([box.cx, box.cy])
    return np.hstack([R, t[:, None]])


def invert_affine(M: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine map (closed form: these tiny matrices cost more in NumPy calls than in
    arithmetic, and the tracker inverts one per crop)."""
    (a, b, tx), (c, d, ty) = np.asarray(M, dtype=np.float64).tolist()
    det = a * d - b * c
    if det == 0 or not np.isfinite(det):
        raise np.linalg.LinAlgError("singular affine map")
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return np.array([[ia, ib, -(ia * tx + ib * ty)], [ic, id_, -(ic * tx + id_ * ty)]])


def compose_affine(M2: np.ndarray, M1: np.ndarray) -> np.ndarray:
    """The map ``x -> M2(M1(x))``."""
    (a2, b2, t2x), (c2, d2, t2y) = np.asarray(M2, dtype=np.float64).tolist()
    (a1, b1, t1x), (c1, d1, t1y) = np.asarray(M1, dtype=np.float64).tolist()
    return np.array([[a2 * a1 + b2 * c1, a2 * b1 + b2 * d1, a2 * t1x + b2 * t1y + t2x],
                     [c2 * a1 + d2 * c1, c2 * b1 + d2 * d1, c2 * t1x + d2 * t1y + t2y]])


def apply_affine(M: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to points (..., C>=2); coordinates past the second pass through."""
    P = np.asarray(P, dtype=np.float64)
    out = P.copy()
    out[..., :2] = P[..., :2] @ M[:, :2].T + M[:, 2]
    return out


def grid_affine(in_size: int, out_size: int) -> np.ndarray:
    """Map between two square grids over the same box (pixel-centre convention),
    e.g. crop (in_size=256) -> heatmap (out_size=64)."""
    s = out_size / in_size
    return np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5]])


def _box_scale_shift(box: CropBox, out_size: int) -> tuple[float, float, float]:
    """(s, tx, ty) of the unrotated map image -> crop, ``x' = s x + t``: the box centre to the crop centre."""
    s = out_size / box.size
    c0 = (out_size - 1) / 2
    return s, c0 - s * box.cx, c0 - s * box.cy


def _scale_shift(s: float, tx: float, ty: float) -> np.ndarray:
    """The 2x3 matrix of ``x' = s x + t``."""
    return np.array([[s, 0.0, tx], [0.0, s, ty]])


def _inverse_scale_shift(s: float, tx: float, ty: float) -> tuple[float, float, float]:
    return 1.0 / s, -tx / s, -ty / s


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class CropTransform:
    """The maps between full image, crop and heatmap for one box.

    ``to_crop``/``to_image`` and ``to_heatmap``/``from_heatmap`` act on (..., C)
    arrays; depth (C=3) passes through.
    """

    box: CropBox
    input_size: int
    heatmap_size: int | None = None
    rotation_deg: float = 0.0
    flip: bool = False

    # The maps are computed once per transform (the tracker decodes every crop's outputs through them) and
    # returned read-only, so a caller cannot change the transform by writing into one.
    # The tracker's crops are a scale and a shift (no rotation, no flip): their maps are written in closed
    # form from three numbers, which costs a fraction of composing and inverting 2x3 matrices per crop.
    @cached_property
    def image_to_crop(self) -> np.ndarray:
        return _frozen(crop_affine(self.box, self.input_size, self.rotation_deg, self.flip))

    @cached_property
    def crop_to_image(self) -> np.ndarray:
        if self._axis_aligned:
            return _frozen(_scale_shift(*_inverse_scale_shift(*_box_scale_shift(self.box, self.input_size))))
        return _frozen(invert_affine(self.image_to_crop))

    @cached_property
    def image_to_heatmap(self) -> np.ndarray:
        if self.heatmap_size is None:
            raise ValueError("this CropTransform has no heatmap_size")
        if self._axis_aligned:
            return _frozen(_scale_shift(*self._heatmap_scale_shift))
        return _frozen(compose_affine(grid_affine(self.input_size, self.heatmap_size), self.image_to_crop))

    @cached_property
    def heatmap_to_image(self) -> np.ndarray:
        if self.heatmap_to_image_scale_shift is not None:
            return _frozen(_scale_shift(*self.heatmap_to_image_scale_shift))
        return _frozen(invert_affine(self.image_to_heatmap))

    @property
    def _axis_aligned(self) -> bool:
        return self.rotation_deg == 0 and not self.flip

    @cached_property
    def heatmap_to_image_scale_shift(self) -> tuple[float, float, float] | None:
        """(s, tx, ty) with ``image = s * heatmap + t`` for an unrotated, unflipped crop; None otherwise
        (then use :attr:`heatmap_to_image`)."""
        if not self._axis_aligned or self.heatmap_size is None:
            return None
        return _inverse_scale_shift(*self._heatmap_scale_shift)

    @property
    def _heatmap_scale_shift(self) -> tuple[float, float, float]:
        """(s, tx, ty) of image -> heatmap: the crop map followed by :func:`grid_affine`."""
        s, tx, ty = _box_scale_shift(self.box, self.input_size)
        g = self.heatmap_size / self.input_size
        o = 0.5 * g - 0.5
        return g * s, g * tx + o, g * ty + o

    def to_crop(self, P):
        return apply_affine(self.image_to_crop, P)

    def to_image(self, P):
        return apply_affine(self.crop_to_image, P)

    def to_heatmap(self, P):
        return apply_affine(self.image_to_heatmap, P)

    def from_heatmap(self, P):
        return apply_affine(self.heatmap_to_image, P)

    def warp(self, image: np.ndarray, interpolation: str = "linear", border_value=0) -> np.ndarray:
        """Crop (and resize, rotate, flip) an image (H, W[, C]) to ``input_size`` square with OpenCV."""
        import cv2

        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise ValueError(f"expected an image (H, W) or (H, W, C), got shape {image.shape}")
        flags = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
        return cv2.warpAffine(
            image, self.image_to_crop, (self.input_size, self.input_size),
            flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=border_value,
        )
