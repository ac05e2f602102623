"""The scene around a synthetic BODY17 person: the room behind it and the occluders in front of it.

:func:`_make_background` ray-casts a room from the real camera pose (a
textured floor and walls with posters, windows, doors and shelves), adds
furniture-like clutter and an illumination gradient, once per sequence.
:func:`_make_occluder` makes a sprite (:class:`_Occluder`), static or crossing
the image periodically, pasted over the rendered person.  Both are used by
:class:`.body_render.BodyRenderer`.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

from ..camera import Intrinsics
from .body_camera import WORLD_UP


# ------------------------------------------------------------ small helpers
def _rgb_round_saturating(c) -> tuple[int, int, int]:
    """``np.round`` per component (half to even), clipped to 0..255; +-inf saturate to 0 / 255, nan raises."""
    return tuple(int(x) for x in np.clip(np.round(np.asarray(c, float)), 0, 255))


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
        side = np.cross(WORLD_UP, n)
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
        col = _rgb_round_saturating(_random_colour(rng, (0.1, 0.8), (0.15, 0.9)))
        dark = _rgb_round_saturating(np.asarray(col) * 0.6)
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
                g = _rgb_round_saturating(np.array([40, 120, 40]) * rng.uniform(0.5, 1.3))
                c = (int(cxp + rng.normal(0, w_ / 4)), int(bottom - h_ / 4 - abs(rng.normal(0, h_ / 3))))
                cv2.ellipse(img, c, (max(2, int(w_ / 6)), max(1, int(w_ / 14))), rng.uniform(0, 180), 0, 360, g, -1,
                            cv2.LINE_AA)
        elif kind == "lamp":
            cv2.line(img, (int(cxp), int(bottom - h_)), (int(cxp), int(bottom)), dark, max(1, W // 150), cv2.LINE_AA)
            cv2.ellipse(img, (int(cxp), int(bottom - h_)), (max(3, int(w_ / 4)), max(2, int(w_ / 6))), 0, 180, 360,
                        _rgb_round_saturating([240, 230, 200]), -1, cv2.LINE_AA)
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
        cv2.rectangle(sprite, (0, 0), (w - 1, h - 1), _rgb_round_saturating(col * 0.5), max(1, w // 30))
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
