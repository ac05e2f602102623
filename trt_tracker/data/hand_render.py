"""Depth rendering of synthetic hands: capsules z-buffered into a 16-bit depth image in mm.

* Geometry: every finger segment is a capsule (the distal one shortened so
  that its rounded end lies on the TIP joint), the palm a thick slab of
  capsules (metacarpals, knuckle ridge, mid-palm, thenar, wrist), optionally
  a forearm leaving the wrist, in front of a background wall and optionally
  a table.  Capsules are hit exactly (ray against cylinder and both end
  spheres), each over its projected bounding box only, and the z-buffer
  keeps the nearest surface per pixel.
* Sensor (:class:`DepthSensorModel`, RealSense-like): depth-dependent
  Gaussian noise ``sigma(z) = a + b z^2`` (~1 mm at 300 mm, ~4 mm at 1 m)
  with a spatially correlated part, disparity-domain quantisation (stereo
  baseline, 1/32 px sub-pixel steps), 1 mm output units, holes at depth
  discontinuities, an optional stereo occlusion shadow, speckle dropout and
  blob-shaped dropouts, and no reading outside ``[min_range, max_range]``.

Depth is the z coordinate (mm) of the surface point, 0 = no reading.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import Intrinsics
from .hand_motion import FINGER_JOINTS, HandSubject, default_hand_subject
from .rng import as_rng

RENDER_VERSION = "1"
NEAR_MM = 20.0


# --------------------------------------------------------------- z-buffer
class CapsuleRaster:
    """Per-pixel unit rays of a pinhole camera and an exact capsule z-buffer."""

    def __init__(self, intrinsics: Intrinsics):
        if not isinstance(intrinsics, Intrinsics):
            raise ValueError(f"intrinsics must be an Intrinsics, got {type(intrinsics).__name__}")
        self.intr = intrinsics
        W, H = intrinsics.width, intrinsics.height
        u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
        d = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones_like(u)])
        d /= np.linalg.norm(d, axis=0)
        self.dx, self.dy, self.dz = (np.ascontiguousarray(c) for c in d)   # unit ray per pixel, (H, W) each

    def boxes(self, A: np.ndarray, B: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Conservative pixel boxes (N, 4) ``x0, y0, x1, y1`` (exclusive ends, clipped) of capsules.

        The projection of the capsule's axis-aligned bounding box (its 8
        corners, all in front of the camera) contains the capsule's.
        """
        lo = np.minimum(A, B) - r[:, None]
        hi = np.maximum(A, B) + r[:, None]
        zmin = np.maximum(lo[:, 2], NEAR_MM)
        corners_x = np.stack([lo[:, 0], hi[:, 0]], 1)
        corners_y = np.stack([lo[:, 1], hi[:, 1]], 1)
        corners_z = np.stack([zmin, np.maximum(hi[:, 2], zmin + 1e-6)], 1)
        # x / z over the corners: extremes are at the extreme x and z values.
        ux = corners_x[:, :, None] / corners_z[:, None, :]
        vy = corners_y[:, :, None] / corners_z[:, None, :]
        i = self.intr
        x0 = np.floor(i.fx * ux.min(axis=(1, 2)) + i.cx)
        x1 = np.ceil(i.fx * ux.max(axis=(1, 2)) + i.cx) + 1
        y0 = np.floor(i.fy * vy.min(axis=(1, 2)) + i.cy)
        y1 = np.ceil(i.fy * vy.max(axis=(1, 2)) + i.cy) + 1
        box = np.stack([x0, y0, x1, y1], 1)
        box[:, [0, 2]] = np.clip(box[:, [0, 2]], 0, i.width)
        box[:, [1, 3]] = np.clip(box[:, [1, 3]], 0, i.height)
        box[hi[:, 2] <= NEAR_MM] = 0   # entirely behind the near plane
        return box.astype(np.int64)

    def draw(self, zbuf: np.ndarray, A, B, r, label: np.ndarray | None = None, ids=None) -> np.ndarray:
        """Z-buffer capsules (axis ``A[i] -> B[i]``, radius ``r[i]``, camera mm) into ``zbuf`` (H, W).

        ``zbuf`` holds depths (``inf`` = empty) and is updated in place with
        the per-pixel minimum; where ``label`` is given it receives
        ``ids[i]`` at the pixels capsule i wins.  Returns ``zbuf``.
        """
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        B = np.atleast_2d(np.asarray(B, dtype=np.float64))
        r = np.broadcast_to(np.asarray(r, dtype=np.float64), (len(A),))
        if A.shape != B.shape or A.shape[1] != 3:
            raise ValueError(f"capsule ends must be (N, 3) each, got {A.shape} and {B.shape}")
        if np.any(r <= 0):
            raise ValueError("capsule radii must be positive")
        if zbuf.shape != self.dx.shape:
            raise ValueError(f"z-buffer must be {self.dx.shape}, got {zbuf.shape}")
        boxes = self.boxes(A, B, r)
        for i in range(len(A)):
            x0, y0, x1, y1 = boxes[i]
            if x1 <= x0 or y1 <= y0:
                continue
            t = self._hit(A[i], B[i], r[i], np.s_[y0:y1, x0:x1])
            z = t * self.dz[y0:y1, x0:x1]
            sub = zbuf[y0:y1, x0:x1]
            win = z < sub
            sub[win] = z[win]
            if label is not None:
                label[y0:y1, x0:x1][win] = i if ids is None else ids[i]
        return zbuf

    def _hit(self, A, B, r, sl) -> np.ndarray:
        """Distance along each unit ray in ``sl`` to the capsule's front surface (``inf`` = miss)."""
        dx, dy, dz = self.dx[sl], self.dy[sl], self.dz[sl]
        ba = B - A
        baba = ba @ ba
        # ray origin is the camera centre: oa = -A
        bard = ba[0] * dx + ba[1] * dy + ba[2] * dz
        rdA = A[0] * dx + A[1] * dy + A[2] * dz        # rd . A  (= -rd . oa)
        baoa = -(ba @ A)
        AA = A @ A
        rr = r * r
        # Infinite cylinder: a t^2 + 2 b t + c = 0 (scaled by baba).
        a = baba - bard * bard
        b = -baba * rdA - baoa * bard
        c = baba * AA - baoa * baoa - rr * baba
        h = b * b - a * c
        with np.errstate(invalid="ignore", divide="ignore"):
            t_cyl = (-b - np.sqrt(h)) / a
            y = baoa + t_cyl * bard
            t = np.where((h >= 0) & (y > 0) & (y < baba) & (t_cyl > 0), t_cyl, np.inf)
            # End spheres: t = rd.C - sqrt((rd.C)^2 - |C|^2 + r^2).
            for C, rdC in ((A, rdA), (B, rdA + bard)):
                hs = rdC * rdC - (C @ C) + rr
                ts = rdC - np.sqrt(hs)
                t = np.minimum(t, np.where((hs >= 0) & (ts > 0), ts, np.inf))
        return t

    def plane_depth(self, normal, offset) -> np.ndarray:
        """Depth (H, W) of the plane ``normal . X = offset`` (``inf`` where the ray misses it or hits behind)."""
        n = np.asarray(normal, dtype=np.float64)
        den = n[0] * self.dx + n[1] * self.dy + n[2] * self.dz
        with np.errstate(divide="ignore", invalid="ignore"):
            t = offset / den
        z = t * self.dz
        return np.where((t > 0) & np.isfinite(z), z, np.inf)


# ------------------------------------------------------------------ sensor
@dataclass
class DepthSensorModel:
    """RealSense-like depth sensor noise, quantisation and holes (see the module docstring).

    ``sigma_a_mm + sigma_b_per_mm * z^2`` is the noise std (mm) at depth z;
    ``correlated`` is the fraction of it that is spatially smooth;
    ``baseline_mm``/``disparity_step_px`` quantise in the disparity domain
    (``disparity_step_px=0`` switches it off); ``edge_threshold_mm`` and
    ``edge_dropout`` drop pixels at discontinuities; ``shadow`` blanks the
    background where the (virtual) second imager cannot see it, left of
    near objects; ``speckle`` is the independent dropout probability,
    ``blob_rate`` the area fraction of blob-shaped dropouts.
    """

    sigma_a_mm: float = 0.7
    sigma_b_per_mm: float = 3.3e-6
    correlated: float = 0.35
    baseline_mm: float = 50.0
    disparity_step_px: float = 1.0 / 32.0
    min_range_mm: float = 100.0
    max_range_mm: float = 2000.0
    edge_threshold_mm: float = 20.0
    edge_dropout: float = 0.55
    shadow: bool = True
    speckle: float = 0.002
    blob_rate: float = 0.003

    def __post_init__(self) -> None:
        if self.sigma_a_mm < 0 or self.sigma_b_per_mm < 0:
            raise ValueError("noise parameters must be >= 0")
        if not 0 <= self.correlated <= 1:
            raise ValueError(f"correlated must be in [0, 1], got {self.correlated}")
        if not 0 < self.min_range_mm < self.max_range_mm <= 65535:
            raise ValueError(f"need 0 < min_range_mm < max_range_mm <= 65535, got "
                             f"{self.min_range_mm}, {self.max_range_mm}")
        for name in ("edge_dropout", "speckle", "blob_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.baseline_mm <= 0 or self.disparity_step_px < 0:
            raise ValueError("baseline_mm must be > 0 and disparity_step_px >= 0")

    def sigma(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        return self.sigma_a_mm + self.sigma_b_per_mm * z * z

    def quantize(self, z: np.ndarray) -> np.ndarray:
        """Invalid (0) outside the range, else rounded to 1 mm: (H, W) uint16."""
        ok = np.isfinite(z) & (z >= self.min_range_mm) & (z <= self.max_range_mm)
        out = np.zeros(z.shape, dtype=np.uint16)
        out[ok] = np.rint(z[ok]).astype(np.uint16)
        return out

    def apply(self, z: np.ndarray, intr: Intrinsics, rng: np.random.Generator) -> np.ndarray:
        """Clean depth (H, W) float mm (``inf``/0 = nothing) -> noisy sensor depth (H, W) uint16 mm."""
        import cv2

        z = np.asarray(z)
        H, W = z.shape
        valid = np.isfinite(z) & (z > 0)
        zc = np.where(valid, z, 0.0).astype(np.float32)
        # -- noise: white + spatially correlated, std growing with z^2
        sig = np.float32(self.sigma_a_mm) + np.float32(self.sigma_b_per_mm) * zc * zc
        k = self.correlated
        noise = rng.standard_normal((H, W), dtype=np.float32)
        if k > 0:
            low = rng.standard_normal((max(2, H // 6), max(2, W // 6)), dtype=np.float32)
            noise *= np.float32(np.sqrt(1 - k * k))
            noise += np.float32(k) * cv2.resize(low, (W, H), interpolation=cv2.INTER_CUBIC)
        zn = zc + sig * noise
        # -- disparity-domain quantisation (stereo: d = f b / z)
        if self.disparity_step_px > 0:
            fb = np.float32(intr.fx * self.baseline_mm / self.disparity_step_px)   # in disparity steps
            with np.errstate(divide="ignore", invalid="ignore"):
                dq = np.rint(fb / np.maximum(zn, np.float32(1.0)))
                zn = fb / dq
        ok = valid & (zn >= self.min_range_mm) & (zn <= self.max_range_mm)
        # -- holes at depth discontinuities (the 3x3 depth range exceeds a threshold)
        zf = np.where(valid, zc, np.float32(1e5))
        grad = cv2.morphologyEx(zf, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        edge = grad > (np.float32(self.edge_threshold_mm) + np.float32(0.02) * zc)
        u = rng.random((H, W), dtype=np.float32)
        drop = edge & (u < self.edge_dropout)
        # -- speckle dropout (independent of the edge draw: the other end of the same uniform)
        if self.speckle > 0:
            drop |= u > np.float32(1.0 - self.speckle)
        # -- stereo shadow: background pixels a disparity-difference to the left of a near edge
        if self.shadow and valid.any():
            sub = zc[::4, ::4]
            sub = sub[sub > 0]
            if sub.size:
                fg_depth = float(np.percentile(sub, 5))
                near = valid & (zc < fg_depth + 150.0)
                far = valid & (zc > fg_depth + 250.0)
                far_sub = sub[sub > fg_depth + 250.0]
                if far_sub.size and near.any():
                    z_bg = float(np.median(far_sub))
                    width = int(round(intr.fx * self.baseline_mm * (1.0 / fg_depth - 1.0 / z_bg) * 0.25))
                    if width > 0:
                        kernel = np.ones((1, width + 1), np.uint8)
                        # dst(x) = max of src(x .. x + width): a near pixel within `width` to the right?
                        reach = cv2.dilate(near.view(np.uint8), kernel, anchor=(0, 0)).view(bool)
                        drop |= reach & far
        # -- blob-shaped dropouts
        if self.blob_rate > 0:
            low = rng.random((max(2, H // 6), max(2, W // 6)), dtype=np.float32)
            up = cv2.resize(low, (W, H), interpolation=cv2.INTER_CUBIC)
            thr = np.float32(np.quantile(up[::3, ::3], 1.0 - self.blob_rate))   # ~blob_rate of the area
            drop |= up > thr
        ok &= ~drop
        out = np.zeros((H, W), np.uint16)
        out[ok] = np.rint(zn[ok]).astype(np.uint16)
        return out


# ------------------------------------------------------------------- scene
@dataclass
class HandScene:
    """Everything around the hand: background planes, forearm, sensor.

    Planes are ``(normal, offset)`` with ``normal . X = offset`` in camera
    space (mm).  ``forearm_tilt_deg`` bends the forearm away from the
    hand's distal axis towards the back of the hand (wrist extension).
    """

    wall: tuple | None = ((0.0, 0.0, 1.0), 1100.0)
    table: tuple | None = None
    forearm: bool = True
    forearm_radius_mm: float = 27.0
    forearm_length_mm: float = 260.0
    forearm_tilt_deg: float = 10.0
    upper_arm_length_mm: float = 300.0
    upper_arm_bend: tuple = (0.0, 0.8, 0.6)
    sensor: DepthSensorModel = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.sensor is None:
            self.sensor = DepthSensorModel()
        for name in ("wall", "table"):
            plane = getattr(self, name)
            if plane is not None:
                n, d = plane
                n = np.asarray(n, dtype=np.float64)
                if n.shape != (3,) or not np.linalg.norm(n) > 0:
                    raise ValueError(f"{name} plane needs a 3-vector normal, got {n}")
                setattr(self, name, (n / np.linalg.norm(n), float(d) / np.linalg.norm(n)))
        if self.forearm_radius_mm <= 0 or self.forearm_length_mm <= 0:
            raise ValueError("forearm radius and length must be positive")

    def to_dict(self) -> dict:
        def plane(p):
            return None if p is None else {"normal": np.round(p[0], 5).tolist(), "offset_mm": round(float(p[1]), 2)}

        return {"wall": plane(self.wall), "table": plane(self.table), "forearm": self.forearm,
                "forearm_radius_mm": round(self.forearm_radius_mm, 2),
                "forearm_length_mm": round(self.forearm_length_mm, 2),
                "forearm_tilt_deg": round(self.forearm_tilt_deg, 2),
                "upper_arm_length_mm": round(self.upper_arm_length_mm, 2),
                "upper_arm_bend": [round(float(v), 4) for v in self.upper_arm_bend],
                "sensor": {k: (float(v) if not isinstance(v, bool) else v) for k, v in vars(self.sensor).items()}}


def sample_hand_scene(rng, joints_cam: np.ndarray | None = None, subject: HandSubject | None = None) -> HandScene:
    """A random scene: a wall at 0.8-1.5 m tilted up to ~15°, a table below the hand with
    probability 0.5 (below every joint of ``joints_cam`` when given), a forearm and upper arm
    with probability 0.85, and sensor settings (range limit 1.0-2.5 m, so the wall is sometimes out of range)."""
    rng = as_rng(rng)
    tilt = np.radians(rng.uniform(0, 15))
    az = rng.uniform(0, 2 * np.pi)
    n_wall = np.array([np.sin(tilt) * np.cos(az), np.sin(tilt) * np.sin(az), np.cos(tilt)])
    wall = (n_wall, rng.uniform(800.0, 1500.0) * n_wall[2])
    table = None
    if rng.random() < 0.5:
        pitch = np.radians(rng.uniform(10, 40))        # the table recedes: up-normal tilted towards the camera
        n_up = np.array([0.0, -np.cos(pitch), -np.sin(pitch)])   # points up (y down) and back to the camera
        # plane n_up . X = d: points with n_up . X > d are above the table
        if joints_cam is not None:
            J = np.asarray(joints_cam, dtype=np.float64).reshape(-1, 3)
            lowest = np.min(J @ n_up)
            d = lowest - rng.uniform(40.0, 120.0)
        else:
            d = -rng.uniform(250.0, 400.0)
        table = (n_up, d)
    radius = 27.0 if subject is None else 27.0 * np.sqrt(subject.scale)
    sensor = DepthSensorModel(
        sigma_a_mm=rng.uniform(0.5, 0.9), sigma_b_per_mm=rng.uniform(2.5e-6, 4.0e-6),
        max_range_mm=rng.uniform(1000.0, 2500.0), edge_dropout=rng.uniform(0.35, 0.75),
        shadow=bool(rng.random() < 0.7), speckle=rng.uniform(0.0005, 0.004), blob_rate=rng.uniform(0.0, 0.005),
    )
    bend = (rng.uniform(-0.4, 0.4), rng.uniform(0.5, 1.2), rng.uniform(0.2, 0.9))
    return HandScene(wall=wall, table=table, forearm=bool(rng.random() < 0.85),
                     forearm_radius_mm=radius * rng.uniform(0.9, 1.1), forearm_length_mm=rng.uniform(230, 290),
                     forearm_tilt_deg=rng.uniform(-10, 25), upper_arm_length_mm=rng.uniform(250, 330),
                     upper_arm_bend=bend, sensor=sensor)


# ---------------------------------------------------------------- renderer
#: Part labels of :meth:`HandDepthRenderer.render_clean` with ``return_labels``.
LABEL_BACKGROUND, LABEL_PALM, LABEL_FOREARM = 0, 1, 2  # fingers: 3 + finger index (index..thumb)


class HandDepthRenderer:
    """Renders HAND21 joints (camera space, mm) to a depth image (H, W) uint16 mm, 0 = no reading.

    Parameters
    ----------
    intrinsics : camera; MSRA15-like 320x240, f=241.42, principal point (160, 120) by default
    subject : the hand's radii and thickness (:class:`HandSubject`); the nominal hand by default
    rng : numpy Generator or int seed (None: seed 0), drives the noise (and the scene when ``scene`` is None)
    scene : a :class:`HandScene`; by default :func:`sample_hand_scene` from ``rng``
    noise : apply the sensor model (else exact depth rounded to 1 mm, range-limited)
    background : draw the wall/table (else only hand and forearm)
    """

    def __init__(self, intrinsics: Intrinsics | None = None, subject: HandSubject | None = None, rng=None, *,
                 scene: HandScene | None = None, noise: bool = True, background: bool = True):
        if intrinsics is None:
            from .msra15 import MSRA15_INTRINSICS as intrinsics
        if subject is None:
            subject = default_hand_subject()
        if not isinstance(subject, HandSubject):
            raise ValueError(f"subject must be a HandSubject, got {type(subject).__name__}")
        self.rng = as_rng(rng, none_seed=0)
        self.intrinsics = intrinsics
        self.subject = subject
        self.scene = scene if scene is not None else sample_hand_scene(self.rng, subject=subject)
        if not isinstance(self.scene, HandScene):
            raise ValueError(f"scene must be a HandScene, got {type(self.scene).__name__}")
        self.noise = bool(noise)
        self.raster = CapsuleRaster(intrinsics)
        bg = np.full((intrinsics.height, intrinsics.width), np.inf)
        if background:
            for plane in (self.scene.wall, self.scene.table):
                if plane is not None:
                    bg = np.minimum(bg, self.raster.plane_depth(*plane))
        self.background = bg

    # ---------------------------------------------------------- geometry
    def capsules(self, joints_cam: np.ndarray):
        """The capsules of one pose: ``A (N, 3), B (N, 3), radius (N,), label (N,)``."""
        J = np.asarray(joints_cam, dtype=np.float64)
        if J.shape != (21, 3):
            raise ValueError(f"joints_cam must be (21, 3) HAND21 camera-space mm, got {J.shape}")
        if not np.all(np.isfinite(J)):
            raise ValueError("joints_cam contains NaN or inf")
        s = self.subject
        wrist = J[0]
        mcp = J[FINGER_JOINTS[:, 0]]
        e_f = _unit(J[FINGER_JOINTS[1, 0]] - wrist)
        e_p = _unit(np.cross(J[FINGER_JOINTS[0, 0]] - J[FINGER_JOINTS[3, 0]], e_f))
        e_r = np.cross(e_f, e_p)
        A, B, R, L = [], [], [], []

        def add(a, b, r, lab):
            A.append(a)
            B.append(b)
            R.append(r)
            L.append(lab)

        for f in range(5):
            idx = FINGER_JOINTS[f]
            for seg in range(3):
                a, b = J[idx[seg]], J[idx[seg + 1]]
                r = s.radii_mm[f, seg]
                if seg == 2:  # the fingertip's surface ends at the TIP joint
                    d = b - a
                    ln = np.linalg.norm(d)
                    b = a + d * max(ln - r, 0.3 * ln) / max(ln, 1e-9)
                add(a, b, r, 3 + f)
        pr = 0.5 * s.palm_thickness_mm
        # palm: metacarpals (index..little), slightly behind the finger axes
        back = -0.15 * pr * e_p
        for f in range(4):
            add(wrist + 0.25 * (mcp[f] - wrist) + back, mcp[f] + back, pr * (0.95 if f < 3 else 0.85), LABEL_PALM)
        add(mcp[0] + back, mcp[3] + back, pr * 0.9, LABEL_PALM)                            # knuckle ridge
        add(wrist + 0.5 * (mcp[0] - wrist) + back, wrist + 0.5 * (mcp[3] - wrist) + back, pr, LABEL_PALM)
        # heel of the hand and wrist
        wrist_half = 0.26 * np.linalg.norm(mcp[0] - mcp[3])
        add(wrist - wrist_half * e_r + 0.1 * pr * e_p, wrist + wrist_half * e_r + 0.1 * pr * e_p, pr, LABEL_PALM)
        # thenar: from the heel to the thumb's base and its metacarpal
        thumb = J[FINGER_JOINTS[4]]
        add(wrist + 0.9 * wrist_half * e_r, thumb[1], s.radii_mm[4, 0] * 1.15, LABEL_PALM)
        add(wrist + 0.35 * (mcp[0] - wrist) + back, thumb[0] + 0.5 * (thumb[1] - thumb[0]), pr * 0.9, LABEL_PALM)
        if self.scene.forearm:
            sc = self.scene
            tilt = np.radians(sc.forearm_tilt_deg)
            d = _unit(-np.cos(tilt) * e_f - np.sin(tilt) * e_p)
            start = wrist - 0.2 * sc.forearm_radius_mm * e_f
            elbow = start + sc.forearm_length_mm * d
            # the upper arm heads down and away from the camera (the body is below and behind the hand)
            upper = elbow + sc.upper_arm_length_mm * _unit(d + np.array(sc.upper_arm_bend))
            for a, b, r in ((start, elbow, sc.forearm_radius_mm), (elbow, upper, 1.35 * sc.forearm_radius_mm)):
                seg = _clip_near(a, b, r)
                if seg is not None:
                    add(seg[0], seg[1], r, LABEL_FOREARM)
        return np.array(A), np.array(B), np.array(R), np.array(L)

    # ---------------------------------------------------------- rendering
    def render_clean(self, joints_cam: np.ndarray, background: bool = True, return_labels: bool = False):
        """Exact depth (H, W) float64 mm, ``inf`` where nothing is hit; optionally part labels (H, W) uint8."""
        A, B, R, L = self.capsules(joints_cam)
        z = self.background.copy() if background else np.full(self.background.shape, np.inf)
        labels = np.zeros(z.shape, np.uint8) if return_labels else None
        self.raster.draw(z, A, B, R, labels, L)
        return (z, labels) if return_labels else z

    def render(self, joints_cam: np.ndarray, *, noise: bool | None = None, return_mask: bool = False):
        """Depth image (H, W) uint16 mm (0 = no reading); with ``return_mask`` also the hand mask (H, W) bool
        (the pixels where the hand, not the forearm or background, is the nearest surface)."""
        z, labels = self.render_clean(joints_cam, return_labels=True)
        use_noise = self.noise if noise is None else bool(noise)
        if use_noise:
            out = self.scene.sensor.apply(z, self.intrinsics, self.rng)
        else:
            out = self.scene.sensor.quantize(z)
        if return_mask:
            return out, (labels == LABEL_PALM) | (labels >= 3)
        return out


def _clip_near(a, b, r):
    """The part of segment a->b whose capsule of radius r stays in front of the near plane (or None)."""
    lim = NEAR_MM + r
    if a[2] < lim and b[2] < lim:
        return None
    if a[2] >= lim and b[2] >= lim:
        return a, b
    s = (lim - a[2]) / (b[2] - a[2])
    m = a + s * (b - a)
    return (a, m) if a[2] >= lim else (m, b)


def _unit(v):
    n = np.linalg.norm(v)
    if not n > 0:
        raise ValueError("degenerate hand pose: coincident joints")
    return v / n


def depth_to_color(depth: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """False-colour view (H, W, 3) uint8 BGR of a depth image; holes black."""
    import cv2

    d = np.asarray(depth, dtype=np.float64)
    valid = d > 0
    if not valid.any():
        return np.zeros(d.shape + (3,), np.uint8)
    lo = np.percentile(d[valid], 1) if lo is None else lo
    hi = np.percentile(d[valid], 99) if hi is None else hi
    g = np.clip((d - lo) / max(hi - lo, 1e-6), 0, 1)
    img = cv2.applyColorMap((255 * (1 - g)).astype(np.uint8), cv2.COLORMAP_JET)
    img[~valid] = 0
    return img
