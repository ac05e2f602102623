"""Whole-frame samples for the localiser (issue 14; NumPy only).

A sample is a whole frame, or a window of one (the subject larger, anywhere,
cut by the border), letterboxed by :class:`~trt_tracker.codec.LocaliserCodec`,
with the target ``(presence, cx, cy, log side)``: the crop box the pose
network expects (``box_from_points`` of all joints with the model's margin, so
a subject half out of the frame still gets its whole box), and presence 1 when
at least half the joints lie in the frame.  Frames without the subject come
from sequences rendered with ``hidden`` frames (the same scene, nobody in it),
and from windows that miss the subject.

Body: the h36m camera (256 x 256) and webcam-like cameras (320 x 240) in turn;
hand: 320 x 240 depth, the hand and arm sliding in from a side in some
sequences.  Every sequence follows from its seed, as the pose networks' do.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..camera import box_from_points
from ..codec import LocaliserCodec
from .samples import SampleStreamConfig, SyntheticSamples, photometric
from .sequence import Sequence

#: fps of localiser sequences: frames further apart than the pose networks' 50 fps, so a sequence's frames
#: differ more
LOCALISER_FPS = 10.0
#: share of frames of a sequence without the subject (one run of them)
HIDDEN_SHARE = 0.15
#: a sample is a window of the frame with this probability (else the whole frame), of this side range
WINDOW_P, WINDOW_SIDE = 0.5, (0.45, 1.0)
#: the subject counts as present when at least this share of its joints is in the frame
PRESENT_SHARE = 0.5


def make_localiser_sequence(modality: str, seed: int, n_frames: int, appearance: str = "plain") -> Sequence:
    """A sequence for localiser samples: a run of ~15 % of its frames without the subject; body cameras
    alternate between h36m (256 x 256) and webcam (320 x 240) by seed; a third of hand sequences slide the
    hand in from a side."""
    rng = np.random.default_rng([int(seed), 4241])
    n = int(n_frames)
    k = max(1, int(round(HIDDEN_SHARE * n)))
    a = int(rng.integers(0, n - k + 1))
    hidden = range(a, a + k)
    if modality == "rgb":
        from .body import make_body_sequence

        webcam = seed % 2 == 1
        return make_body_sequence(int(seed), n, size=(320, 240) if webcam else 256,
                                  camera="webcam" if webcam else "h36m", fps=LOCALISER_FPS, hidden=hidden,
                                  appearance=appearance)
    from .hand import make_hand_sequence

    enter = None
    if rng.random() < 1 / 3:
        enter = (("left", "right", "top", "bottom")[int(rng.integers(4))], int(rng.integers(3, max(4, n // 3))))
    return make_hand_sequence(int(seed), n, fps=LOCALISER_FPS, hidden=hidden, enter=enter)


def localiser_sample(seq: Sequence, t: int, codec: LocaliserCodec, margin: float, rng: np.random.Generator,
                     augment: bool = True, photometric_strength: float = 0.0) -> dict:
    """Frame ``t`` of ``seq`` (or a random window of it) -> ``{"image": (C, S, S), "target": (4,)}``."""
    frame = np.asarray(seq.frames[t])
    H, W = frame.shape[:2]
    uv = seq.joints_uv[t].astype(np.float64)
    x0 = y0 = 0
    w, h = W, H
    if augment and rng.random() < WINDOW_P:
        f = rng.uniform(*WINDOW_SIDE)
        w, h = max(8, int(round(W * f))), max(8, int(round(H * f)))
        x0, y0 = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
        frame = frame[y0:y0 + h, x0:x0 + w]
        uv = uv - [x0, y0]
    if augment and rng.random() < 0.5:
        frame = frame[:, ::-1]
        uv = uv.copy()
        uv[:, 0] = (w - 1) - uv[:, 0]
    frame = np.ascontiguousarray(frame)
    if augment and photometric_strength > 0 and seq.modality == "rgb":
        frame = photometric([frame], photometric_strength, rng)[0]
    hidden = t in set(seq.info.get("hidden", ()))
    inside = (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)
    present = (not hidden) and inside.mean() >= PRESENT_SHARE
    target = np.zeros(4, np.float32)
    if present:
        target[0] = 1.0
        target[1:] = codec.encode_box(box_from_points(uv, margin), w, h)
    return {"image": codec.encode(frame), "target": target}


class LocaliserSamples(SyntheticSamples):
    """Endless localiser samples, sharded and pooled as :class:`SyntheticSamples` (same seeds, same pool)."""

    def __init__(self, modality: str, codec: LocaliserCodec, margin: float,
                 stream: SampleStreamConfig = SampleStreamConfig(), first_seed: int = 0,
                 photometric_strength: float = 0.0, augment: bool = True):
        self.task, self.modality, self.codec, self.stream = "localiser", modality, codec, stream
        self.margin, self.first_seed = float(margin), int(first_seed)
        self.photometric_strength, self.augment = float(photometric_strength), bool(augment)

    def make(self, seed: int) -> Sequence:
        return make_localiser_sequence(self.modality, seed, self.stream.frames_per_sequence, self.stream.appearance)

    def sample(self, seq: Sequence, rng: np.random.Generator) -> dict:
        return localiser_sample(seq, int(rng.integers(0, len(seq))), self.codec, self.margin, rng, self.augment,
                                self.photometric_strength)


def localiser_validation(modality: str, codec: LocaliserCodec, margin: float, seeds, frames: int,
                         samples: int) -> list[dict]:
    """Fixed samples from validation seeds: the augmentation (windows, flips) drawn from each seed, so
    partial views and empty frames are judged too."""
    stream = replace(SampleStreamConfig(), frames_per_sequence=frames, samples_per_sequence=samples)
    src = LocaliserSamples(modality, codec, margin, stream)
    out = []
    for s in seeds:
        out.extend(src.from_sequence(src.make(int(s)), int(s)))
    return out
