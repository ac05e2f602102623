"""A second body renderer, written apart from the project's own, to test whether the tracker stays on a
figure it was not trained to see (issue 14; ``benchmarks/cross_renderer.py`` runs the test).

The project's renderer (:mod:`trt_tracker.data.body_render`) draws capsules and ellipsoids with their exact
perspective outlines, shaded by concentric strokes, over fractal-noise backgrounds.  This one shares no code
or look with it: a flat, cel-shaded cartoon figure, as a webcam would see a person in a room.

* figure: tapered limb quads with round caps, two tones (lit and shadow side from one light direction) and a
  dark outline; a torso polygon through shoulders and hips in a shirt pattern (plain, stripes or checks);
  neck, a head disc with hair, hands and feet; parts drawn far to near;
* style per sequence: skin tone, clothes, build (limb thickness), light direction, outline weight;
* room per sequence: a wall and a floor split at a horizon, floorboards towards a vanishing point, a door, a
  window, a picture, a shelf, lit by a vignette;
* camera per frame: sensor noise, a slight blur and JPEG compression (quality 55-85).

Only NumPy and OpenCV; deterministic from its random generator.  Ground truth is the camera-space joints it
is given: what the figure is drawn from.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from trt_tracker.camera import Intrinsics
from trt_tracker.skeleton import BODY17

_J = {n: i for i, n in enumerate(BODY17.names)}
#: limbs: (from joint, to joint, radius at the start mm, radius at the end mm, garment)
_LIMBS = (
    ("r_hip", "r_knee", 80, 62, "legs"), ("r_knee", "r_ankle", 60, 45, "legs"),
    ("l_hip", "l_knee", 80, 62, "legs"), ("l_knee", "l_ankle", 60, 45, "legs"),
    ("r_shoulder", "r_elbow", 52, 44, "sleeve"), ("r_elbow", "r_wrist", 42, 33, "forearm"),
    ("l_shoulder", "l_elbow", 52, 44, "sleeve"), ("l_elbow", "l_wrist", 42, 33, "forearm"),
)
_SKIN = ((255, 224, 196), (234, 192, 160), (198, 144, 110), (160, 108, 74), (111, 72, 48), (70, 46, 32))
_HAIR = ((20, 16, 14), (60, 40, 25), (110, 80, 50), (180, 150, 100), (140, 140, 140))


@dataclass(frozen=True)
class FigureStyle:
    skin: tuple
    hair: tuple
    shirt: tuple
    shirt2: tuple
    pattern: str            # "plain", "stripes", "checks"
    trousers: tuple
    shoes: tuple
    short_sleeves: bool
    build: float            # limb thickness factor
    light: np.ndarray       # unit 2D direction the light comes from (image plane)
    outline: int            # outline thickness px (0: none)


def _colour(rng, lo=30, hi=230) -> tuple:
    return tuple(int(x) for x in rng.integers(lo, hi, 3))


def sample_style(rng: np.random.Generator) -> FigureStyle:
    a = rng.uniform(0, 2 * np.pi)
    return FigureStyle(
        skin=_SKIN[rng.integers(len(_SKIN))], hair=_HAIR[rng.integers(len(_HAIR))],
        shirt=_colour(rng), shirt2=_colour(rng), pattern=str(rng.choice(["plain", "stripes", "checks"])),
        trousers=_colour(rng, 20, 160), shoes=_colour(rng, 10, 90), short_sleeves=bool(rng.random() < 0.4),
        build=float(rng.uniform(0.85, 1.2)), light=np.array([np.cos(a), np.sin(a)]),
        outline=int(rng.integers(0, 3)))


def make_room(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    """An RGB room: wall, floor with boards towards a vanishing point, door, window, picture, shelf, vignette."""
    wall, floor = np.array(_colour(rng, 90, 240), float), np.array(_colour(rng, 40, 180), float)
    horizon = int(H * rng.uniform(0.45, 0.65))
    img = np.empty((H, W, 3), float)
    img[:horizon] = wall
    img[horizon:] = floor
    out = img.astype(np.uint8)
    vx = int(W * rng.uniform(0.3, 0.7))
    dark = tuple(int(c) for c in np.clip(floor * 0.7, 0, 255))
    for x in np.linspace(-W, 2 * W, int(rng.integers(8, 16))):
        cv2.line(out, (vx, horizon), (int(x), H), dark, 1, cv2.LINE_AA)
    cv2.line(out, (0, horizon), (W, horizon), tuple(int(c) for c in wall * 0.6), 2, cv2.LINE_AA)
    for _ in range(int(rng.integers(2, 5))):      # door, window, picture, shelf: rectangles on the wall
        w, h = int(W * rng.uniform(0.08, 0.25)), int(horizon * rng.uniform(0.2, 0.8))
        x, y = int(rng.uniform(0, W - w)), int(rng.uniform(0, max(1, horizon - h)))
        kind = rng.integers(3)
        fill = (tuple(int(c) for c in rng.integers(200, 256, 3)) if kind == 0 else _colour(rng))
        cv2.rectangle(out, (x, y), (x + w, y + h), fill, -1)
        cv2.rectangle(out, (x, y), (x + w, y + h), _colour(rng, 10, 90), int(rng.integers(2, 6)))
        if kind == 0:                              # window bars
            cv2.line(out, (x + w // 2, y), (x + w // 2, y + h), (90, 90, 90), 2)
            cv2.line(out, (x, y + h // 2), (x + w, y + h // 2), (90, 90, 90), 2)
    yy, xx = np.mgrid[0:H, 0:W]
    cx, cy = rng.uniform(0.2, 0.8) * W, rng.uniform(0.1, 0.5) * H
    v = 1.0 - 0.45 * np.clip(np.hypot(xx - cx, yy - cy) / np.hypot(W, H), 0, 1)
    return np.clip(out * v[..., None], 0, 255).astype(np.uint8)


def _pattern(style: FigureStyle, W: int, H: int, rng: np.random.Generator) -> np.ndarray:
    tex = np.empty((H, W, 3), np.uint8)
    tex[:] = style.shirt
    p = int(rng.integers(6, 16))
    if style.pattern == "stripes":
        for y in range(0, H, 2 * p):
            tex[y:y + p] = style.shirt2
    elif style.pattern == "checks":
        yy, xx = np.mgrid[0:H, 0:W]
        tex[((yy // p) + (xx // p)) % 2 == 1] = style.shirt2
    return tex


class FigureRenderer:
    """``FigureRenderer(intrinsics, rng).render(joints_cam)`` -> (T, H, W, 3) uint8 RGB frames."""

    def __init__(self, intrinsics: Intrinsics, rng: np.random.Generator):
        self.intr = intrinsics
        self.rng = rng
        self.style = sample_style(rng)
        W, H = intrinsics.width, intrinsics.height
        self.room = make_room(rng, W, H)
        self.shirt = _pattern(self.style, W, H, rng)
        self.noise = float(rng.uniform(2.0, 6.0))
        self.jpeg = int(rng.integers(55, 86))

    def _px(self, r_mm: float, z: float) -> float:
        return max(1.0, self.intr.fx * r_mm * self.style.build / z)

    def _limb(self, img, a, b, ra, rb, colour) -> None:
        d = b - a
        n = np.hypot(*d)
        if n < 1e-6:
            cv2.circle(img, tuple(np.rint(a).astype(int)), int(round(ra)), colour, -1, cv2.LINE_AA)
            return
        perp = np.array([-d[1], d[0]]) / n
        quad = np.array([a + perp * ra, b + perp * rb, b - perp * rb, a - perp * ra])
        s = self.style
        dark = tuple(int(c * 0.62) for c in colour)
        side = 1.0 if perp @ s.light < 0 else -1.0     # the half turned away from the light is in shadow
        shadow = np.array([a + side * perp * ra, b + side * perp * rb, b + side * perp * rb * 0.1,
                           a + side * perp * ra * 0.1])
        for pts, c in ((quad, colour), (shadow, dark)):
            cv2.fillConvexPoly(img, np.rint(pts * 16).astype(np.int32), c, cv2.LINE_AA, 4)
        for p, r in ((a, ra), (b, rb)):
            cv2.circle(img, tuple(np.rint(p * 16).astype(int)), int(round(r * 16)), colour, -1, cv2.LINE_AA, 4)
        if s.outline:
            cv2.polylines(img, [np.rint(quad * 16).astype(np.int32)], True, (25, 20, 20), s.outline,
                          cv2.LINE_AA, 4)

    def render_frame(self, X: np.ndarray) -> np.ndarray:
        """One frame of camera-space joints ``X`` (17, 3) mm."""
        s, intr = self.style, self.intr
        uv = intr.project(X)
        z = X[:, 2]
        img = self.room.copy()
        parts = []                      # (depth, draw function)
        for j0, j1, r0, r1, garment in _LIMBS:
            a, b = _J[j0], _J[j1]
            colour = {"legs": s.trousers, "sleeve": s.skin if s.short_sleeves else s.shirt,
                      "forearm": s.skin if s.short_sleeves else s.shirt}[garment]
            parts.append((0.5 * (z[a] + z[b]), lambda a=a, b=b, r0=r0, r1=r1, c=colour: self._limb(
                img, uv[a], uv[b], self._px(r0, z[a]), self._px(r1, z[b]), c)))
        for w, e in (("r_wrist", "r_elbow"), ("l_wrist", "l_elbow")):   # hands: a disc past the wrist
            a, b = _J[w], _J[e]
            p = uv[a] + 0.25 * (uv[a] - uv[b])
            parts.append((z[a] - 1, lambda p=p, r=self._px(45, z[a]): cv2.circle(
                img, tuple(np.rint(p * 16).astype(int)), int(r * 16), s.skin, -1, cv2.LINE_AA, 4)))
        for k in ("r_ankle", "l_ankle"):                                 # feet: an ellipse under the ankle
            a = _J[k]
            p = uv[a] + np.array([0.0, self._px(30, z[a])])
            r = self._px(60, z[a])
            parts.append((z[a] - 1, lambda p=p, r=r: cv2.ellipse(
                img, tuple(np.rint(p).astype(int)), (int(r), int(max(2, r * 0.45))), 0, 0, 360, s.shoes, -1,
                cv2.LINE_AA)))
        rs, ls, rh, lh = (_J[n] for n in ("r_shoulder", "l_shoulder", "r_hip", "l_hip"))

        def torso():
            pts = uv[[rs, ls, lh, rh]]
            c = pts.mean(0)
            grow = np.array([self._px(50, z[i]) for i in (rs, ls, lh, rh)])
            d = pts - c
            pts = pts + d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6) * grow[:, None]
            mask = np.zeros(img.shape[:2], np.uint8)
            cv2.fillPoly(mask, [np.rint(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
            m = mask[..., None].astype(np.float32) / 255
            img[:] = (img * (1 - m) + self.shirt * m).astype(np.uint8)
            if s.outline:
                cv2.polylines(img, [np.rint(pts * 16).astype(np.int32)], True, (25, 20, 20), s.outline,
                              cv2.LINE_AA, 4)
        parts.append((float(z[[rs, ls, lh, rh]].mean()), torso))
        neck, nose, head = _J["neck"], _J["nose"], _J["head"]

        def head_part():
            self._limb(img, uv[neck], 0.5 * (uv[neck] + uv[nose]), self._px(40, z[neck]), self._px(38, z[neck]),
                       s.skin)
            c = 0.5 * (uv[nose] + uv[head])
            r = self._px(105, z[head])
            cv2.circle(img, tuple(np.rint(c * 16).astype(int)), int(r * 16), s.skin, -1, cv2.LINE_AA, 4)
            up = uv[head] - uv[nose]
            ang = float(np.degrees(np.arctan2(up[1], up[0])))
            cv2.ellipse(img, tuple(np.rint(c).astype(int)), (int(r), int(r)), ang, -80, 80, s.hair, -1,
                        cv2.LINE_AA)
        parts.append((float(z[[neck, nose, head]].mean()) - 2, head_part))
        for _, draw in sorted(parts, key=lambda p: -p[0]):      # far to near
            draw()
        img = cv2.GaussianBlur(img, (3, 3), 0.6)
        noisy = img.astype(np.float32) + self.rng.normal(0, self.noise, img.shape).astype(np.float32)
        img = np.clip(noisy, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()

    def render(self, joints_cam: np.ndarray) -> np.ndarray:
        joints_cam = np.asarray(joints_cam, np.float64)
        if joints_cam.ndim != 3 or joints_cam.shape[1:] != (BODY17.K, 3):
            raise ValueError(f"expected (T, {BODY17.K}, 3) camera-space joints, got {joints_cam.shape}")
        return np.stack([self.render_frame(X) for X in joints_cam])
