"""Training and evaluation samples cut from synthetic sequences (NumPy only).

A sample is one crop (pose and spatial networks) or a pair of crops cut with
one box (temporal networks), normalised by :class:`~trt_tracker.codec.PoseCodec`,
with targets in the network frame:

* ``pose``/``spatial``: ``image`` (C, S, S), ``joints`` (K, 3), ``bones``
  (K, 3; the root's row is 0), ``related`` (K, 2) = the parents' (u, v)
  (the root's own);
* ``temporal``: ``image`` (2C, S, S) = [crop(t-g), crop(t)], ``related``
  (K, 2) = joints of frame t-g, ``target`` (K, 3) = J[t] - J[t-g], ``gap``.

Augmentations are the papers' (seed 000 supplement 2.1): body RGB - translation
+-2 % of the box, scale +-25 %, rotation +-30 deg, horizontal flip with the
left/right joints swapped; hand depth - rotation +-180 deg, scale +-10 %.
Beyond the papers: ``photometric`` appearance changes, and ``half_body`` crops
framed on the upper body (a portrait, a webcam at a desk: the framing of real
photographs), with a per-joint ``weight`` that leaves the joints outside the
crop out of the pose loss (as HRNet's half-body augmentation marks them unseen).
:class:`SyntheticSamples` makes them endlessly from sequences generated on
the fly, each sequence from its own seed, so a stream is reproducible.
With ``pool_size`` > 1 it keeps that many rendered sequences in memory and
draws every sample from a random one of them, so a batch mixes subjects,
cameras, backgrounds and actions (i.i.d. up to the pool's size) at the same
rendering cost per sample.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..camera import box_from_points
from ..codec import Z_REFS, PoseCodec
from .sequence import Sequence


@dataclass(frozen=True)
class AugmentConfig:
    translate: float = 0.02      # +- fraction of the box side
    scale: float = 0.25          # +- fraction
    rotate_deg: float = 30.0     # +- degrees
    flip: bool = True            # horizontal flip with joint swap, probability 0.5
    margin: float = 1.25         # box side / extent of the joints
    depth_centre_noise_mm: float = 15.0   # depth: error of the normalisation centre (sd)
    photometric: float = 0.0     # RGB: strength of the appearance augmentation (0: none; see photometric())
    half_body: float = 0.0       # body: probability of a crop around the upper body only (see half_body_points())

    def to_dict(self) -> dict:
        return asdict(self)


BODY_AUGMENT = AugmentConfig()
HAND_AUGMENT = AugmentConfig(translate=0.0, scale=0.10, rotate_deg=180.0, flip=False, margin=1.3)
NO_AUGMENT_BODY = AugmentConfig(0.0, 0.0, 0.0, False, 1.25, 0.0)
NO_AUGMENT_HAND = AugmentConfig(0.0, 0.0, 0.0, False, 1.3, 0.0)


def no_augment(modality: str) -> AugmentConfig:
    return NO_AUGMENT_BODY if modality == "rgb" else NO_AUGMENT_HAND


#: Joints a half-body crop is framed on, in the order a portrait, a webcam at a desk and a waist-up shot
#: add them: the crop covers the first group and 0-3 of the next (chosen uniformly).  The rest of the body
#: may then lie outside the crop, as it does on real photographs framed on a face and shoulders.
HALF_BODY_GROUPS = {
    "BODY17": (("head", "nose", "neck", "l_shoulder", "r_shoulder"), ("l_elbow", "r_elbow"),
               ("torso", "l_wrist", "r_wrist"), ("root", "l_hip", "r_hip")),
}


def half_body_points(skeleton, rng: np.random.Generator) -> np.ndarray:
    """Indices of the joints a half-body crop is framed on (HALF_BODY_GROUPS)."""
    groups = HALF_BODY_GROUPS.get(skeleton.name)
    if groups is None:
        raise ValueError(f"augment.half_body: no upper-body joint groups for the {skeleton.name} skeleton; "
                         "set augment.half_body=0 for it")
    n = int(rng.integers(1, len(groups) + 1))
    return np.array([skeleton.index(j) for g in groups[:n] for j in g])


def in_crop(J: np.ndarray, heatmap_size: int) -> np.ndarray:
    """(..., K) float32: 1 where a joint's (u, v) in the network frame lies on the heatmap, else 0."""
    uv = np.asarray(J)[..., :2]
    inside = np.all((uv >= -0.5) & (uv <= heatmap_size - 0.5), axis=-1)
    return inside.astype(np.float32)


def _transform(codec: PoseCodec, uv: np.ndarray, aug: AugmentConfig, rng: np.random.Generator | None):
    """Crop transform around the points with random translation/scale/rotation/flip."""
    box = box_from_points(uv, aug.margin)
    if rng is None:
        return codec.transform(box), False
    cx = box.cx + rng.uniform(-1, 1) * aug.translate * box.size
    cy = box.cy + rng.uniform(-1, 1) * aug.translate * box.size
    size = box.size * (1 + rng.uniform(-1, 1) * aug.scale)
    rot = rng.uniform(-1, 1) * aug.rotate_deg
    flip = bool(aug.flip and rng.random() < 0.5)
    from ..camera import CropBox

    return codec.transform(CropBox(cx, cy, size), rot, flip), flip


def photometric(crops, strength: float, rng: np.random.Generator) -> list:
    """The same random change of appearance applied to each (S, S, 3) uint8 RGB crop (a temporal pair's two
    crops change alike): brightness, contrast, saturation and hue; at random also a channel permutation,
    grey, colour quantisation, blur, sensor noise (drawn anew for each crop, as a camera's is for each frame)
    and JPEG compression.  ``strength`` (0-1) scales the
    ranges and probabilities.  Generic, renderer-agnostic changes: what a network should not rely on to find
    a person."""
    import cv2

    s = float(strength)
    u = lambda a: rng.uniform(1 - a * s, 1 + a * s)   # noqa: E731
    bright, contrast, sat = u(0.4), u(0.4), u(0.7)
    hue = rng.uniform(-18, 18) * s                          # OpenCV hue units (0-180)
    perm = rng.permutation(3) if rng.random() < 0.2 * s else None
    grey = rng.random() < 0.1 * s
    levels = int(rng.integers(4, 9)) if rng.random() < 0.15 * s else 0
    blur = rng.uniform(0.3, 1.3) if rng.random() < 0.3 * s else 0.0
    noise = rng.uniform(0, 8) * s
    quality = int(rng.integers(35, 91)) if rng.random() < 0.3 * s else 0
    noise_seed = int(rng.integers(2**31))
    out = []
    for i, crop in enumerate(crops):
        x = np.asarray(crop)
        if hue:
            hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(hue))) % 180).astype(np.uint8)
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        f = x.astype(np.float32)
        g = f @ np.array([0.299, 0.587, 0.114], np.float32)
        f = g[..., None] + (f - g[..., None]) * (0.0 if grey else sat)
        f = (f - f.mean()) * contrast + f.mean()
        f *= bright
        if perm is not None:
            f = f[..., perm]
        if levels:
            step = 256.0 / levels
            f = np.floor(np.clip(f, 0, 255) / step) * step + step / 2
        if blur:
            f = cv2.GaussianBlur(f, (0, 0), blur)
        if noise:
            f += np.random.default_rng([noise_seed, i]).normal(0, noise, f.shape).astype(np.float32)
        x = np.clip(np.rint(f), 0, 255).astype(np.uint8)
        if quality:
            x = cv2.imdecode(cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_UNCHANGED)
        out.append(x)
    return out


def _crops(seq: Sequence, ts, tf, codec: PoseCodec, aug: AugmentConfig, rng, centre) -> list:
    """Frames ``ts`` of ``seq`` cut with ``tf`` and normalised (RGB: one photometric change for all of them
    when ``aug.photometric``; without it exactly ``codec.crop_input``)."""
    if seq.modality != "rgb" or rng is None or aug.photometric <= 0:
        return [codec.crop_input(seq.frames[t], tf, seq.modality, centre) for t in ts]
    raw = photometric([tf.warp(seq.frames[t], "linear", 0) for t in ts], aug.photometric, rng)
    return [codec.encode_rgb(x) for x in raw]


def _depth_centre(seq: Sequence, t: int, aug: AugmentConfig, rng) -> float | None:
    if seq.modality != "depth":
        return None
    c = float(seq.root_depth[t])
    if rng is not None and aug.depth_centre_noise_mm > 0:
        c += rng.normal(0, aug.depth_centre_noise_mm)
    return c


def pose_sample(seq: Sequence, t: int, codec: PoseCodec, aug: AugmentConfig, rng=None, z_ref: str = "root") -> dict:
    """One frame's crop with joints, bones and parent locations in the network frame.

    ``z_ref="centre"`` (depth): the joints' z relative to the crop's normalisation depth instead of the root
    (the root's own z is then its depth's offset from that centre; bones are unchanged)."""
    P = seq.joints_2p5d[t]                                   # (K, 3): u, v px; z root-relative mm
    framed = P[:, :2]
    half = rng is not None and aug.half_body > 0
    if half and rng.random() < aug.half_body:
        framed = framed[half_body_points(seq.skeleton, rng)]
    tf, flip = _transform(codec, framed, aug, rng)
    centre = _depth_centre(seq, t, aug, rng)
    image = _crops(seq, [t], tf, codec, aug, rng, centre)[0]
    if z_ref == "centre":
        if centre is None:
            raise ValueError("z_ref='centre' needs a depth sequence")
        P = P.copy()
        P[:, 2] += float(seq.root_depth[t]) - centre
    elif z_ref not in Z_REFS:
        raise ValueError(f"z_ref must be one of {Z_REFS}, got {z_ref!r}")
    J = codec.encode_points(P, tf)
    if flip:
        J = J[seq.skeleton.flip_permutation]
    sk = seq.skeleton
    B = sk.bones(J)
    B[sk.root] = 0.0
    par = np.where(sk.parents_array < 0, np.arange(sk.K), sk.parents_array)
    out = {"image": image.astype(np.float32), "joints": J.astype(np.float32), "bones": B.astype(np.float32),
           "related": J[par, :2].astype(np.float32)}
    if half:
        # The joints a crop cuts off have no (u, v) the heatmap can show: the pose loss leaves them out.
        out["weight"] = in_crop(J, codec.heatmap_size)
    return out


def temporal_sample(seq: Sequence, t: int, gap: int, codec: PoseCodec, aug: AugmentConfig, rng=None) -> dict:
    """Frames ``t - gap`` and ``t`` cropped with one box, the earlier frame's joints, and the displacement
    (``target``: of the 2.5D joints, z root-relative).  ``root_dz``: the root's own change of depth in the
    network frame (mm / ``codec.z_scale``), so ``target[:, 2] + root_dz`` is each joint's own change
    of depth, what a depth pair shows at the joint (ModelConfig.displacement_z)."""
    if not (0 <= t - gap < len(seq) and 0 <= t < len(seq)):
        raise ValueError(f"frames {t - gap} and {t} are not both in a sequence of {len(seq)}")
    P0, P1 = seq.joints_2p5d[t - gap], seq.joints_2p5d[t]
    tf, flip = _transform(codec, np.concatenate([P0[:, :2], P1[:, :2]]), aug, rng)
    centre = _depth_centre(seq, t - gap, aug, rng)
    a, b = _crops(seq, [t - gap, t], tf, codec, aug, rng, centre)
    J0, J1 = codec.encode_points(P0, tf), codec.encode_points(P1, tf)
    if flip:
        perm = seq.skeleton.flip_permutation
        J0, J1 = J0[perm], J1[perm]
    return {"image": np.concatenate([a, b]).astype(np.float32), "related": J0[:, :2].astype(np.float32),
            "target": (J1 - J0).astype(np.float32), "gap": np.int64(gap),
            "root_dz": np.float32((seq.root_depth[t] - seq.root_depth[t - gap]) / codec.z_scale)}


def sample_gap(rng: np.random.Generator, max_gap: int) -> int:
    """A frame gap, log-uniform in [1, max_gap]: small and large motions equally often per octave."""
    return int(np.clip(np.round(np.exp(rng.uniform(0, np.log(max_gap + 0.49)))), 1, max_gap))


def make_sequence(modality: str, seed: int, n_frames: int, appearance: str = "plain", size: int = 256) -> Sequence:
    """The synthetic sequence for a seed (body RGB ``size`` x ``size`` at 50 fps, or hand depth 320 x 240);
    ``appearance`` (body only) as :data:`.body.APPEARANCES`."""
    if modality == "rgb":
        from .body import make_body_sequence

        return make_body_sequence(seed, n_frames, size=size, appearance=appearance)
    from .hand import make_hand_sequence

    return make_hand_sequence(seed, n_frames)


@dataclass(frozen=True)
class SampleStreamConfig:
    frames_per_sequence: int = 100   # frames rendered per generated sequence (50 fps)
    samples_per_sequence: int = 200  # samples cut from it (each frame is reused under new augmentations)
    max_gap: int = 60                # temporal: largest frame gap (50 fps: d = 3 at 2.5 fps)
    pool_size: int = 1               # sequences held at once; each sample from a random one (1: runs of one
    #                                  sequence, the old stream). The oldest is replaced every
    #                                  samples_per_sequence samples, so rendering per sample is unchanged.
    appearance: str = "plain"        # body: "varied" adds faces, hair, jackets, patterns (data.body.APPEARANCES)
    render_size: int = 256           # body: frame side; larger renders give sharp half-body (portrait) crops

    def __post_init__(self) -> None:
        if self.render_size < 64:
            raise ValueError(f"stream config: render_size must be >= 64, got {self.render_size}")
        from .body import APPEARANCES

        if self.appearance not in APPEARANCES:
            raise ValueError(f"stream config: appearance must be one of {APPEARANCES}, got {self.appearance!r}")
        for name in ("samples_per_sequence", "max_gap", "pool_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"stream config: {name} must be >= 1, got {getattr(self, name)}")
        if self.frames_per_sequence < 2:
            raise ValueError("stream config: frames_per_sequence must be >= 2 (temporal pairs need two frames)")

    def to_dict(self) -> dict:
        return asdict(self)


class SyntheticSamples:
    """Endless samples for one task: sequence seeds ``first_seed + shard + k * num_shards``.

    Sharding (``shard``, ``num_shards``) splits the seed stream between data
    loader workers and distributed ranks without overlap; the samples of a
    sequence depend only on its seed, so the stream is deterministic.
    """

    def __init__(self, task: str, modality: str, codec: PoseCodec, aug: AugmentConfig,
                 stream: SampleStreamConfig = SampleStreamConfig(), first_seed: int = 0, z_ref: str = "root"):
        if task not in ("pose", "spatial", "temporal"):
            raise ValueError(f"unknown task {task!r}")
        self.task, self.modality, self.codec, self.aug, self.stream = task, modality, codec, aug, stream
        self.z_ref = z_ref
        self.first_seed = int(first_seed)

    def sample(self, seq: Sequence, rng: np.random.Generator) -> dict:
        """One random sample of this task from ``seq`` (frame, gap and augmentation from ``rng``)."""
        T = len(seq)
        if self.task == "temporal":
            gap = sample_gap(rng, min(self.stream.max_gap, T - 1))
            t = int(rng.integers(gap, T))
            return temporal_sample(seq, t, gap, self.codec, self.aug, rng)
        return pose_sample(seq, int(rng.integers(0, T)), self.codec, self.aug, rng, self.z_ref)

    def from_sequence(self, seq: Sequence, seed: int):
        """``samples_per_sequence`` samples of one sequence (validation sets, and the pool-less stream)."""
        rng = np.random.default_rng([int(seed), 7919])
        for _ in range(self.stream.samples_per_sequence):
            yield self.sample(seq, rng)

    def make(self, seed: int) -> Sequence:
        """The rendered sequence of one seed."""
        return make_sequence(self.modality, seed, self.stream.frames_per_sequence, self.stream.appearance,
                             self.stream.render_size)

    def seed_of(self, k: int, shard: int = 0, num_shards: int = 1) -> int:
        """The seed of a shard's ``k``-th sequence (shards never share a sequence)."""
        return self.first_seed + shard + k * num_shards

    def __call__(self, shard: int = 0, num_shards: int = 1, start: int = 0):
        """Endless samples of one shard; ``start`` skips that many of its sequences (resuming).

        With a pool the shard's pool after ``n`` samples holds its sequences
        ``n // samples_per_sequence`` onwards, so resuming at that ``start``
        refills the same pool.
        """
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard {shard} is not in 0..{num_shards - 1}")
        make = lambda k: self.make(self.seed_of(k, shard, num_shards))  # noqa: E731
        k = int(start)
        if self.stream.pool_size <= 1:
            while True:
                yield from self.from_sequence(make(k), self.seed_of(k, shard, num_shards))
                k += 1
        P = self.stream.pool_size
        pool = [None] * P
        for j in range(k, k + P):              # sequence j sits at slot j % P while it is in the pool
            pool[j % P] = make(j)
        while True:
            # Block k draws from sequences k .. k+P-1 with its own generator, so a run resumed at
            # start=k continues exactly as the uninterrupted one.
            rng = np.random.default_rng([self.first_seed, shard, num_shards, k, 104729])
            for _ in range(self.stream.samples_per_sequence):
                yield self.sample(pool[int(rng.integers(P))], rng)
            pool[k % P] = make(k + P)          # the oldest out, the next in
            k += 1
