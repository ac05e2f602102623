"""Synthetic hand depth data (HAND21): subjects, gesture motion, depth rendering, sequences.

>>> seq = make_hand_sequence(seed=7, n_frames=200)   # a trt_tracker Sequence, modality "depth"
>>> seq.frames.shape, seq.frames.dtype                # (200, 240, 320) uint16 mm, 0 = no reading
>>> seq.joints_cam.shape                              # (200, 21, 3) camera-space mm

The pieces (see their modules): :func:`sample_hand_subject`,
:func:`hand_motion` (``hand_motion.py``), :class:`HandDepthRenderer`,
:class:`DepthSensorModel`, :func:`sample_hand_scene` (``hand_render.py``).
"""
from __future__ import annotations

import numpy as np

from ..camera import Intrinsics
from ..skeleton import HAND21
from .hand_motion import (CONTACT_GESTURES, GESTURES, LIMITS_DEG, MOTION_VERSION, HandMotionDetails,
                          HandSubject, clip_params, default_hand_subject, hand_fk, hand_motion, joint_angles,
                          sample_hand_subject)
from .hand_render import (RENDER_VERSION, CapsuleRaster, DepthSensorModel, HandDepthRenderer, HandScene,
                          depth_to_color, sample_hand_scene)
from .msra15 import MSRA15_INTRINSICS
from .sequence import Sequence, entering, out_of_view

GENERATOR = "trt_tracker.data.hand"
GENERATOR_VERSION = f"{MOTION_VERSION}.{RENDER_VERSION}"

__all__ = [
    "CONTACT_GESTURES", "GESTURES", "LIMITS_DEG", "GENERATOR_VERSION", "CapsuleRaster", "DepthSensorModel",
    "HandDepthRenderer", "HandMotionDetails", "HandScene", "HandSubject", "clip_params", "default_hand_subject",
    "depth_to_color", "hand_fk", "hand_intrinsics", "hand_motion", "joint_angles", "make_hand_sequence",
    "sample_hand_scene", "sample_hand_subject",
]


def hand_intrinsics(size=(320, 240)) -> Intrinsics:
    """MSRA15-like intrinsics for an image ``(width, height)``: f = 241.42 * width / 320, centre at (W/2, H/2)."""
    try:
        W, H = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height), got {size!r}") from None
    if W < 32 or H < 32:
        raise ValueError(f"image size must be at least 32x32, got {W}x{H}")
    if (W, H) == (320, 240):
        return MSRA15_INTRINSICS
    f = MSRA15_INTRINSICS.fx * W / 320.0
    return Intrinsics(f, f, W / 2.0, H / 2.0, W, H)


def make_hand_sequence(seed: int, n_frames: int = 200, size=(320, 240), fps: float = 50.0, *,
                       noise: bool = True, progress: bool = False, hidden=None, enter=None) -> Sequence:
    """A synthetic depth sequence of one random hand, deterministic from ``seed``.

    Modality ``depth``, skeleton HAND21, frames (T, H, W) uint16 mm, joints
    (T, 21, 3) camera space, MSRA15-like intrinsics scaled to ``size``; every
    joint projects inside the image.  ``info`` records the seed, the
    generator and its version, the gesture schedule, the subject and the scene.
    ``hidden``: frame indices where the hand (and its arm) is out of view: those frames show the scene
    alone, their ground truth is where the hand would have been, and ``info["hidden"]`` lists them.
    ``enter``: ``(side, frames)``: the hand and arm slide in from that side of the image over the first
    ``frames`` frames (:func:`~.sequence.entering`; the ground truth moves with them, frames where none of
    the hand is in view are hidden).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if isinstance(n_frames, bool) or int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    intr = hand_intrinsics(size)
    rng = np.random.default_rng(int(seed))
    subject = sample_hand_subject(rng)
    joints, details = hand_motion(subject, int(n_frames), fps, rng, intrinsics=intr, return_details=True)
    scene = sample_hand_scene(rng, joints, subject)
    entered = []
    if enter is not None:
        joints, entered = entering(joints, intr, *enter)
    renderer = HandDepthRenderer(intr, subject, rng, scene=scene, noise=noise)
    frames = np.empty((int(n_frames), intr.height, intr.width), np.uint16)
    it = range(int(n_frames))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"rendering hand seed {seed}", unit="frame")
    shown, hidden = out_of_view(joints, hidden, int(n_frames))
    hidden = sorted(set(hidden) | set(entered))
    for i in it:
        frames[i] = renderer.render(shown[i])
    info = {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "noise": bool(noise),
        "gestures": details.schedule,
        "subject": subject.to_dict(),
        "scene": scene.to_dict(),
    }
    if enter is not None:
        info["enter"] = [str(enter[0]), int(enter[1])]
    if hidden:
        info["hidden"] = hidden
    return Sequence(HAND21, "depth", float(fps), intr, joints, frames, None, info)
