"""Synthetic BODY17 RGB sequences (DESIGN section 7): subject, motion, camera, rendering.

>>> seq = make_body_sequence(seed=3, n_frames=200)           # 256 x 256, Human3.6M-like camera, 50 fps
>>> seq.frames.shape, seq.joints_cam.shape
((200, 256, 256, 3), (200, 17, 3))
>>> seq.at_fps(2.5)                                            # the paper's sub-sampled rates

The pieces, each deterministic given a :class:`numpy.random.Generator`:

* :func:`sample_body_subject` -> :class:`BodySubject` (bone lengths, girth, clothes);
* :func:`body_motion` / :func:`simulate_body` -> world joints (mm, z up) from
  joint angles through forward kinematics, for the :data:`ACTIONS`;
* :func:`sample_body_camera` and :func:`frame_motion` -> :class:`BodyCamera`,
  whose :meth:`BodyCamera.world_to_camera` gives camera-space joints;
* :class:`BodyRenderer` -> RGB frames.

:func:`make_body_sequence` draws one independent random stream per piece
from the seed, so changing e.g. the renderer leaves the motion unchanged.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..skeleton import BODY17
from .body_camera import CAMERA_KINDS, BodyCamera, frame_motion, sample_body_camera
from .body_kinematics import DOFS, JOINT_LIMITS_DEG, forward_kinematics
from .body_motion import ACTIONS, BodyMotion, body_motion, simulate_body
from .body_render import BodyRenderer
from .body_subject import BodySubject, sample_body_subject
from .sequence import Sequence, entering, out_of_view

__all__ = [
    "ACTIONS", "APPEARANCES", "BODY_GENERATOR_VERSION", "CAMERA_KINDS", "DOFS", "JOINT_LIMITS_DEG",
    "BodyCamera", "BodyMotion", "BodyRenderer", "BodySubject",
    "body_motion", "body_scene", "forward_kinematics", "frame_motion", "make_body_sequence",
    "sample_body_camera", "sample_body_subject", "simulate_body",
]

#: Bumped whenever the same seed would produce different data.
BODY_GENERATOR_VERSION = 1


def _choose_actions(rng: np.random.Generator, action) -> tuple[str, ...]:
    """The given action(s), or one action (70 %) or a transition between two (30 %) at random."""
    if action is not None:
        actions = (action,) if isinstance(action, str) else tuple(action)
        bad = [a for a in actions if a not in ACTIONS]
        if not actions or bad:
            raise ValueError(f"unknown action(s) {bad or actions!r}; choose from {ACTIONS}")
        return actions
    n = 1 if rng.random() < 0.7 else 2
    return tuple(str(a) for a in rng.choice(ACTIONS, size=n, replace=False))


#: ``plain``: the capsule mannequins of the test and validation sets; ``varied``: the same people, motion
#: and camera, with faces, hair styles, open jackets, garment patterns and defocused backgrounds
#: (:func:`.body_subject.sample_style`), for training against the gap to real pixels (issue 15).
APPEARANCES = ("plain", "varied")


def body_scene(seed: int, n_frames: int = 200, size=None, camera: str = "h36m", action=None, fps: float = 50.0,
               appearance: str = "plain"):
    """Everything of :func:`make_body_sequence` but the pixels: ``(subject, motion, camera, joints_cam,
    rng_render)``, the same for the same arguments.  Another renderer can draw the same people, motion and
    camera (``benchmarks/cross_renderer.py`` does)."""
    if not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if appearance not in APPEARANCES:
        raise ValueError(f"appearance must be one of {APPEARANCES}, got {appearance!r}")
    rng_subject, rng_action, rng_motion, rng_camera, rng_render = np.random.default_rng(int(seed)).spawn(5)
    subject = sample_body_subject(rng_subject, varied=appearance == "varied")
    actions = _choose_actions(rng_action, action)
    motion = simulate_body(actions, subject, n_frames, fps, rng_motion)
    cam = frame_motion(sample_body_camera(rng_camera, camera, size), motion.joints)
    return subject, motion, cam, cam.world_to_camera(motion.joints), rng_render


def make_body_sequence(seed: int, n_frames: int = 200, size=None, camera: str = "h36m", action=None,
                       fps: float = 50.0, *, progress: bool = False, hidden=None, appearance: str = "plain",
                       enter=None) -> Sequence:
    """A rendered synthetic BODY17 sequence.

    Parameters
    ----------
    seed : non-negative integer; everything follows from it
    n_frames : number of frames
    size : image side (square) or ``(width, height)``; default 256 x 256 for
        ``camera="h36m"`` and 640 x 480 for ``camera="webcam"``
    camera : ``"h36m"`` or ``"webcam"`` (see :func:`sample_body_camera`)
    action : one of :data:`ACTIONS`, a sequence of them (played in turn with
        smooth transitions), or None for a random choice
    fps : frame rate (the paper's data is 50 fps; sub-sample with ``Sequence.at_fps``)
    hidden : frame indices where the subject is out of view (scenes for a live tracker: the subject enters
        late, leaves and comes back); those frames show the same scene without the person, their ground
        truth is where the person would have been, and ``info["hidden"]`` lists them
    appearance : one of :data:`APPEARANCES` (the motion, camera and plain colours do not depend on it)
    enter : ``(side, frames)``: the person slides in from that side of the image over the first ``frames``
        frames (:func:`~.sequence.entering`; the ground truth moves with them, frames where none of them is in
        view are hidden); the scene is the one without it

    Returns
    -------
    Sequence with modality ``"rgb"``, skeleton BODY17, frames (T, H, W, 3)
    uint8, joints_cam (T, 17, 3) mm (camera space, every joint in view unless ``enter``) and
    ``info``: seed, actions and their start frames, camera kind and pose,
    subject description, generator name and version.
    """
    subject, motion, cam, joints_cam, rng_render = body_scene(seed, n_frames, size, camera, action, fps, appearance)
    uv = cam.intrinsics.project(joints_cam).reshape(-1, 2)
    person_box = (*uv.min(0), *uv.max(0))
    renderer = BodyRenderer(cam.intrinsics, subject, rng_render, camera=cam, person_box=person_box)
    entered = []
    if enter is not None:
        joints_cam, entered = entering(joints_cam, cam.intrinsics, *enter)
    shown, hidden = out_of_view(joints_cam, hidden, n_frames)
    hidden = sorted(set(hidden) | set(entered))
    frames = renderer.render_sequence(shown, progress=progress)
    info = {
        "generator": "trt_tracker.data.body",
        "generator_version": BODY_GENERATOR_VERSION,
        "seed": int(seed),
        "actions": list(motion.actions),
        "action_start_frames": [int(s) for s in motion.segments],
        "camera": cam.kind,
        "camera_pose": cam.to_dict(),
        "subject": subject.to_dict(),
    }
    if appearance != "plain":
        info["appearance"] = appearance
    if enter is not None:
        info["enter"] = [str(enter[0]), int(enter[1])]
    if hidden:
        info["hidden"] = hidden
    return Sequence(BODY17, "rgb", float(fps), cam.intrinsics, joints_cam, frames, info=info)
