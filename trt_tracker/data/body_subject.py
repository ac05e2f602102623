"""Synthetic BODY17 subjects: bone lengths, body-part sizes, clothing style and colours.

:func:`sample_body_subject` draws a :class:`BodySubject`, constant over a
sequence: the motion (:mod:`.body_motion`) uses its bone lengths and ankle
height, the renderer (:mod:`.body_render`) its sizes and colours.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np

from ..skeleton import BODY17
from .body_kinematics import K
from .rng import as_rng

_SKIN_TONES = ((255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 90),
               (161, 102, 64), (120, 75, 45), (85, 55, 35))
_HAIR = ((20, 18, 16), (60, 40, 25), (110, 75, 40), (200, 165, 100), (150, 150, 145), (140, 60, 30))
_TROUSERS = ((40, 60, 110), (30, 30, 35), (170, 150, 110), (90, 90, 95), (60, 80, 50), (120, 40, 40))
_SYMMETRIC_BONES = ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16), (7,), (8,), (9,), (10,))


def _rgb_round_strict(c) -> tuple[int, int, int]:
    """Python ``round`` per component (half to even), clipped to 0..255; inf or nan raise."""
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
    style : the varied appearance (:func:`sample_style`; empty: the plain mannequin): ``hair`` (short,
        long, bald), ``face`` (eyes, brows, mouth drawn), ``jacket`` (an open jacket's RGB over the
        shirt, or None), ``patterns`` ({garment: pattern parameters} for the shirt or jacket and trousers)
    """

    bone_lengths_mm: np.ndarray
    radii_mm: dict
    colors: dict
    long_sleeves: bool = True
    shorts: bool = False
    ankle_height_mm: float = 80.0
    scale: float = 1.0
    style: dict = field(default_factory=dict)

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
            **({"style": self.style} if self.style else {}),
        }


def _random_garment_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r = rng.random()
    if r < 0.15:                                   # white / light grey
        v = rng.uniform(0.8, 0.97)
        return _rgb_round_strict(np.full(3, 255 * v) + rng.normal(0, 4, 3))
    if r < 0.3:                                    # black / dark grey
        v = rng.uniform(0.08, 0.3)
        return _rgb_round_strict(np.full(3, 255 * v) + rng.normal(0, 4, 3))
    h, s, v = rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.35, 0.95)
    return _rgb_round_strict(255 * np.array(colorsys.hsv_to_rgb(h, s, v)))


#: Garment patterns of the varied appearance (:func:`sample_style`), drawn by the renderer.
PATTERNS = ("plain", "stripes", "checks", "print", "mottled")
HAIR_STYLES = ("short", "long", "bald")


def _pattern(rng: np.random.Generator, plain: float) -> dict:
    """One garment's pattern: kind, period (px of a 256-px frame), angle, strength, a second colour."""
    kind = "plain" if rng.random() < plain else str(rng.choice(PATTERNS[1:]))
    return {"kind": kind, "period": float(np.exp(rng.uniform(np.log(3.0), np.log(24.0)))),
            "angle_deg": float(rng.uniform(0, 180)), "strength": float(rng.uniform(0.3, 0.9)),
            "colour": list(_random_garment_colour(rng))}


def sample_style(rng: np.random.Generator) -> dict:
    """The varied appearance of a subject: hair style, a face, an open jacket, garment patterns.

    Plain capsule mannequins are all a network sees of people otherwise; real people have faces,
    hair down to the shoulders, jackets over shirts and patterned clothes (issue 15).
    """
    hair = str(rng.choice(HAIR_STYLES, p=(0.55, 0.3, 0.15)))
    jacket = list(_random_garment_colour(rng)) if rng.random() < 0.35 else None
    return {"hair": hair, "face": bool(rng.random() < 0.9), "jacket": jacket,
            "patterns": {"shirt": _pattern(rng, 0.4), "trousers": _pattern(rng, 0.75)}}


def sample_body_subject(rng, varied: bool = False) -> BodySubject:
    """A random adult: overall scale 0.85-1.15, +-4 % per (symmetric) bone, girth, clothes and colours.

    ``varied`` adds a :func:`sample_style` (drawn after everything else, so the plain subject of a
    generator is the same either way).
    """
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
    colors = {"shirt": _random_garment_colour(rng), "trousers": _rgb_round_strict(trousers),
              "skin": _rgb_round_strict(skin), "hair": _rgb_round_strict(hair), "shoes": _rgb_round_strict(shoes)}
    return BodySubject(
        bone_lengths_mm=lengths, radii_mm=radii, colors=colors,
        long_sleeves=bool(rng.random() < 0.6), shorts=bool(rng.random() < 0.2),
        ankle_height_mm=80.0 * scale, scale=float(scale), style=sample_style(rng) if varied else {},
    )
