"""The keypoint codec and the training samples cut from synthetic sequences."""
from __future__ import annotations

import numpy as np
import pytest

from trt_tracker.camera import CropBox, box_from_points
from trt_tracker.codec import RGB_MEAN, RGB_STD, PoseCodec
from trt_tracker.data.samples import (BODY_AUGMENT, HAND_AUGMENT, AugmentConfig, SampleStreamConfig,
                                      SyntheticSamples, _transform, no_augment, pose_sample, sample_gap,
                                      temporal_sample)

BODY_CODEC = PoseCodec(64, 16, 2000.0)
HAND_CODEC = PoseCodec(32, 8, 300.0)


@pytest.fixture(scope="module")
def body_seq():
    from trt_tracker.data.body import make_body_sequence

    return make_body_sequence(4, 10)


@pytest.fixture(scope="module")
def hand_seq():
    from trt_tracker.data.hand import make_hand_sequence

    return make_hand_sequence(4, 5)


# ------------------------------------------------------------------ codec
TRANSFORMS = [
    pytest.param(dict(rotation_deg=0.0, flip=False), id="plain"),
    pytest.param(dict(rotation_deg=37.0, flip=False), id="rotated"),
    pytest.param(dict(rotation_deg=0.0, flip=True), id="flipped"),
    pytest.param(dict(rotation_deg=-123.0, flip=True), id="rotated-flipped"),
]


@pytest.mark.parametrize("kw", TRANSFORMS)
def test_points_and_vectors_round_trip(rng, kw):
    tf = BODY_CODEC.transform(CropBox(120.3, 98.7, 143.0), **kw)
    P = np.column_stack([rng.uniform(0, 256, (17, 2)), rng.normal(0, 300, 17)])
    np.testing.assert_allclose(BODY_CODEC.decode_points(BODY_CODEC.encode_points(P, tf), tf), P, rtol=0, atol=1e-9)
    V = rng.normal(0, 50, (4, 17, 3))
    np.testing.assert_allclose(BODY_CODEC.decode_vectors(BODY_CODEC.encode_vectors(V, tf), tf), V, rtol=0,
                               atol=1e-9)
    # 2D arrays pass through the same maps.
    np.testing.assert_allclose(BODY_CODEC.decode_points(BODY_CODEC.encode_points(P[:, :2], tf), tf), P[:, :2],
                               atol=1e-9)


def test_fast_decode_equals_the_affine_maps(rng):
    """An unrotated crop (the tracker's) decodes by one multiply-add with PoseCodec.decoder's maps: the same
    numbers as decode_points / decode_vectors through the 2x3 maps."""
    for _ in range(10):
        tf = BODY_CODEC.transform(CropBox(*rng.uniform([0, 0, 40], [300, 300, 400])))
        H = np.column_stack([rng.uniform(-2, 18, (3, 17, 2)).reshape(-1, 2), rng.normal(0, 0.5, 51)]).reshape(3, 17, 3)
        scale, shift = BODY_CODEC.decoder(tf)          # the tracker's form: float32 outputs, precomputed maps
        H32 = H.astype(np.float32)
        np.testing.assert_allclose(H32 * scale + shift, BODY_CODEC.decode_points(H32, tf), rtol=1e-15, atol=1e-12)
        np.testing.assert_allclose(H32 * scale, BODY_CODEC.decode_vectors(H32, tf), rtol=1e-15, atol=1e-12)
    assert BODY_CODEC.transform(CropBox(1, 1, 10), rotation_deg=5.0).heatmap_to_image_scale_shift is None
    assert BODY_CODEC.decoder(BODY_CODEC.transform(CropBox(1, 1, 10), flip=True)) is None


@pytest.mark.parametrize("kw", TRANSFORMS)
def test_vectors_transform_like_point_differences(rng, kw):
    tf = BODY_CODEC.transform(CropBox(140.0, 110.0, 180.0), **kw)
    P0 = np.column_stack([rng.uniform(0, 256, (17, 2)), rng.normal(0, 300, 17)])
    P1 = P0 + rng.normal(0, 20, P0.shape)
    v = BODY_CODEC.encode_vectors(P1 - P0, tf)
    d = BODY_CODEC.encode_points(P1, tf) - BODY_CODEC.encode_points(P0, tf)
    np.testing.assert_allclose(v[:, :2], d[:, :2], atol=1e-9)
    np.testing.assert_allclose(v[:, 2], (P1 - P0)[:, 2] / (BODY_CODEC.cube_mm / 2), atol=1e-12)
    np.testing.assert_allclose(v[:, 2], d[:, 2], atol=1e-12)
    # The box side maps to heatmap_size heatmap pixels: lengths scale by H / size.
    np.testing.assert_allclose(np.linalg.norm(v[:, :2], axis=1),
                               np.linalg.norm((P1 - P0)[:, :2], axis=1) * 16 / 180.0, rtol=1e-9)


def test_encode_rgb():
    crop = np.zeros((8, 8, 3), np.uint8)
    crop[1, 2] = (255, 0, 128)
    x = BODY_CODEC.encode_rgb(crop)
    assert x.dtype == np.float32 and x.shape == (3, 8, 8)
    np.testing.assert_allclose(x[:, 1, 2], (np.array([255, 0, 128]) - RGB_MEAN) / RGB_STD, rtol=1e-6)
    np.testing.assert_allclose(x[:, 0, 0], -RGB_MEAN / RGB_STD, rtol=1e-6)
    with pytest.raises(ValueError, match="uint8 RGB crop"):
        BODY_CODEC.encode_rgb(crop.astype(np.float32))
    with pytest.raises(ValueError, match="uint8 RGB crop"):
        BODY_CODEC.encode_rgb(crop[..., 0])
    with pytest.raises(ValueError, match="uint8 RGB crop"):
        BODY_CODEC.encode_rgb(np.zeros((8, 8, 4), np.uint8))


def test_encode_depth():
    centre = 500.0
    crop = np.array([[0, 500, 650], [350, 2000, 10], [440, 560, 1]], np.uint16)
    x = HAND_CODEC.encode_depth(crop, centre)
    assert x.dtype == np.float32 and x.shape == (1, 3, 3)
    want = np.array([[1.0, 0.0, 1.0], [-1.0, 1.0, -1.0], [-0.4, 0.4, -1.0]])   # (d - 500) / 150, clipped
    np.testing.assert_allclose(x[0], want, atol=1e-6)
    assert x.min() >= -1 and x.max() <= 1
    with pytest.raises(ValueError, match="uint16 depth crop"):
        HAND_CODEC.encode_depth(crop.astype(np.float32), centre)
    with pytest.raises(ValueError, match="uint16 depth crop"):
        HAND_CODEC.encode_depth(crop[None], centre)
    for bad in (0.0, -5.0, float("nan")):
        with pytest.raises(ValueError, match="positive depth"):
            HAND_CODEC.encode_depth(crop, bad)
    with pytest.raises(ValueError, match="centre_mm"):
        HAND_CODEC.crop_input(np.zeros((40, 40), np.uint16), HAND_CODEC.transform(CropBox(20, 20, 30)), "depth")


# ---------------------------------------------------------- pose samples
def _plain_transform(codec, uv, aug):
    return codec.transform(box_from_points(uv, aug.margin))


def test_pose_sample_targets(body_seq):
    aug = no_augment("rgb")
    sk = body_seq.skeleton
    for t in (0, 4, 9):
        s = pose_sample(body_seq, t, BODY_CODEC, aug)
        assert s["image"].shape == (3, 64, 64) and s["image"].dtype == np.float32
        assert s["joints"].shape == (17, 3) and s["bones"].shape == (17, 3) and s["related"].shape == (17, 2)
        P = body_seq.joints_2p5d[t]
        tf = _plain_transform(BODY_CODEC, P[:, :2], aug)
        np.testing.assert_allclose(BODY_CODEC.decode_points(s["joints"].astype(np.float64), tf), P, atol=2e-3)
        np.testing.assert_allclose(s["image"], BODY_CODEC.crop_input(body_seq.frames[t], tf, "rgb"))
        J = s["joints"]
        assert sk.root == 0 and np.all(s["bones"][0] == 0)
        for k in sk.non_root:
            np.testing.assert_allclose(s["bones"][k], J[k] - J[sk.parents[k]], atol=1e-6)
            np.testing.assert_array_equal(s["related"][k], J[sk.parents[k], :2])
        np.testing.assert_array_equal(s["related"][0], J[0, :2])
        # A margin of 1.25 keeps every joint inside the heatmap.
        assert J[:, :2].min() > 0 and J[:, :2].max() < BODY_CODEC.heatmap_size - 1


def _flip_seed(codec, uv, aug, want: bool) -> int:
    for s in range(100):
        if _transform(codec, uv, aug, np.random.default_rng(s))[1] == want:
            return s
    raise AssertionError("no seed gave the wanted flip")


def test_pose_sample_flip_swaps_left_and_right(body_seq):
    """A flip mirrors the crop and swaps the labels, so a person's left joints stay on the same image side."""
    sk = body_seq.skeleton
    t = 5
    aug = AugmentConfig(translate=0.0, scale=0.0, rotate_deg=0.0, flip=True, margin=BODY_AUGMENT.margin,
                        depth_centre_noise_mm=0.0)
    uv = body_seq.joints_2p5d[t][:, :2]
    plain = pose_sample(body_seq, t, BODY_CODEC, aug, np.random.default_rng(_flip_seed(BODY_CODEC, uv, aug, False)))
    flip = pose_sample(body_seq, t, BODY_CODEC, aug, np.random.default_rng(_flip_seed(BODY_CODEC, uv, aug, True)))
    np.testing.assert_array_equal(flip["image"], plain["image"][:, :, ::-1])      # the mirrored crop
    H = BODY_CODEC.heatmap_size
    perm = sk.flip_permutation
    mirrored = plain["joints"][perm].copy()
    mirrored[:, 0] = (H - 1) - mirrored[:, 0]
    np.testing.assert_allclose(flip["joints"], mirrored, atol=1e-5)
    l, r = sk.index("l_wrist"), sk.index("r_wrist")
    assert perm[l] == r and perm[r] == l
    assert np.sign(flip["joints"][l, 0] - flip["joints"][r, 0]) == np.sign(plain["joints"][l, 0] -
                                                                             plain["joints"][r, 0])
    # Bones and related joints follow the relabelled joints.
    J = flip["joints"]
    np.testing.assert_allclose(flip["bones"][1:], J[1:] - J[list(sk.parents[1:])], atol=1e-6)


def test_body_augment_sometimes_flips(body_seq):
    rng = np.random.default_rng(0)
    uv = body_seq.joints_2p5d[0][:, :2]
    flips = [_transform(BODY_CODEC, uv, BODY_AUGMENT, rng)[1] for _ in range(200)]
    assert 60 < sum(flips) < 140
    assert not any(_transform(HAND_CODEC, uv, HAND_AUGMENT, rng)[1] for _ in range(50))


def test_augmented_pose_sample_keeps_geometry(body_seq):
    """Under rotation/scale augmentation, bone lengths in the network frame scale uniformly (no shear)."""
    sk = body_seq.skeleton
    s0 = pose_sample(body_seq, 2, BODY_CODEC, no_augment("rgb"))
    for seed in range(4):
        s1 = pose_sample(body_seq, 2, BODY_CODEC, BODY_AUGMENT, np.random.default_rng(seed))
        flipped = _transform(BODY_CODEC, body_seq.joints_2p5d[2][:, :2], BODY_AUGMENT, np.random.default_rng(seed))[1]
        b0 = s0["bones"][sk.flip_permutation] if flipped else s0["bones"]
        ratio = np.linalg.norm(s1["bones"][sk.non_root, :2], axis=1) / np.linalg.norm(b0[sk.non_root, :2], axis=1)
        np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-4)
        np.testing.assert_allclose(s1["joints"][:, 2], s0["joints"][sk.flip_permutation if flipped else slice(None), 2],
                                   atol=1e-6)    # depth is not augmented


def test_hand_pose_sample(hand_seq):
    s = pose_sample(hand_seq, 2, HAND_CODEC, no_augment("depth"))
    assert s["image"].shape == (1, 32, 32) and s["image"].dtype == np.float32
    assert s["joints"].shape == (21, 3)
    assert s["image"].min() >= -1 and s["image"].max() <= 1
    P = hand_seq.joints_2p5d[2]
    tf = _plain_transform(HAND_CODEC, P[:, :2], no_augment("depth"))
    np.testing.assert_allclose(HAND_CODEC.decode_points(s["joints"].astype(np.float64), tf), P, atol=2e-3)
    aug = pose_sample(hand_seq, 2, HAND_CODEC, HAND_AUGMENT, np.random.default_rng(0))
    assert aug["image"].shape == (1, 32, 32)


def test_hand_pose_sample_about_the_depth_centre(hand_seq, body_seq):
    """z_ref="centre": the same crop and (u, v), every z moved by the root's offset from the (noisy) centre the
    crop is normalised about, so the root's z is that offset; bones are unchanged; an RGB sequence has no
    centre."""
    aug = HAND_AUGMENT
    root = hand_seq.skeleton.root
    a = pose_sample(hand_seq, 3, HAND_CODEC, aug, np.random.default_rng(5))
    b = pose_sample(hand_seq, 3, HAND_CODEC, aug, np.random.default_rng(5), z_ref="centre")
    rng = np.random.default_rng(5)
    _transform(HAND_CODEC, hand_seq.joints_2p5d[3][:, :2], aug, rng)    # the draws before the centre's
    centre = hand_seq.root_depth[3] + rng.normal(0, aug.depth_centre_noise_mm)
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_allclose(b["joints"][:, :2], a["joints"][:, :2])
    offset = (hand_seq.root_depth[3] - centre) / HAND_CODEC.z_scale
    assert abs(offset) > 1e-3
    np.testing.assert_allclose(b["joints"][root, 2], offset, atol=1e-5)
    np.testing.assert_allclose(b["joints"][:, 2] - a["joints"][:, 2], offset, atol=1e-5)
    np.testing.assert_allclose(b["bones"], a["bones"], atol=1e-5)
    with pytest.raises(ValueError, match="depth"):
        pose_sample(body_seq, 0, BODY_CODEC, no_augment("rgb"), z_ref="centre")


# ------------------------------------------------------ temporal samples
def test_temporal_sample_targets(body_seq):
    t, gap = 8, 5
    aug = no_augment("rgb")
    s = temporal_sample(body_seq, t, gap, BODY_CODEC, aug)
    assert s["image"].shape == (6, 64, 64) and int(s["gap"]) == gap
    P0, P1 = body_seq.joints_2p5d[t - gap], body_seq.joints_2p5d[t]
    tf = _plain_transform(BODY_CODEC, np.concatenate([P0[:, :2], P1[:, :2]]), aug)
    J0, J1 = BODY_CODEC.encode_points(P0, tf), BODY_CODEC.encode_points(P1, tf)
    np.testing.assert_allclose(s["target"], J1 - J0, atol=1e-5)
    np.testing.assert_allclose(s["related"], J0[:, :2], atol=1e-5)
    # Both halves: one box, one normalisation.
    np.testing.assert_array_equal(s["image"][:3], BODY_CODEC.crop_input(body_seq.frames[t - gap], tf, "rgb"))
    np.testing.assert_array_equal(s["image"][3:], BODY_CODEC.crop_input(body_seq.frames[t], tf, "rgb"))


def test_temporal_depth_sample_shares_the_centre(hand_seq):
    t, gap = 4, 3
    s = temporal_sample(hand_seq, t, gap, HAND_CODEC, no_augment("depth"))
    assert s["image"].shape == (2, 32, 32)
    P0, P1 = hand_seq.joints_2p5d[t - gap], hand_seq.joints_2p5d[t]
    tf = _plain_transform(HAND_CODEC, np.concatenate([P0[:, :2], P1[:, :2]]), no_augment("depth"))
    centre = float(hand_seq.root_depth[t - gap])
    np.testing.assert_array_equal(s["image"][0], HAND_CODEC.crop_input(hand_seq.frames[t - gap], tf, "depth",
                                                                       centre)[0])
    np.testing.assert_array_equal(s["image"][1], HAND_CODEC.crop_input(hand_seq.frames[t], tf, "depth", centre)[0])


def test_photometric_changes_appearance_not_geometry(body_seq):
    from dataclasses import replace

    from trt_tracker.data.samples import photometric

    t = 6
    plain = pose_sample(body_seq, t, BODY_CODEC, BODY_AUGMENT, np.random.default_rng(3))
    strong = replace(BODY_AUGMENT, photometric=1.0)
    a = pose_sample(body_seq, t, BODY_CODEC, strong, np.random.default_rng(3))
    b = pose_sample(body_seq, t, BODY_CODEC, strong, np.random.default_rng(3))
    np.testing.assert_array_equal(a["image"], b["image"])              # deterministic from the generator
    np.testing.assert_array_equal(a["joints"], plain["joints"])        # the same crop and targets ...
    assert np.abs(a["image"] - plain["image"]).mean() > 0.05           # ... in another appearance
    # One change for every crop it is given (a temporal pair's halves alike) but the sensor noise, which
    # each crop draws anew; uint8 in, uint8 out.
    crop = body_seq.frames[t][:64, :64]
    for seed in range(5):
        x, y = photometric([crop, crop.copy()], 1.0, np.random.default_rng(seed))
        assert x.dtype == np.uint8 and x.shape == crop.shape
        d = x.astype(float) - y.astype(float)
        assert abs(d.mean()) < 1.0 and np.abs(d).mean() < 12.0
    # A temporal pair: the same targets as without the change.
    pair = temporal_sample(body_seq, t, 2, BODY_CODEC, strong, np.random.default_rng(1))
    ref = temporal_sample(body_seq, t, 2, BODY_CODEC, BODY_AUGMENT, np.random.default_rng(1))
    np.testing.assert_array_equal(pair["target"], ref["target"])


def test_temporal_sample_gap_bounds(body_seq):
    with pytest.raises(ValueError, match="not both in a sequence"):
        temporal_sample(body_seq, 2, 3, BODY_CODEC, no_augment("rgb"))
    temporal_sample(body_seq, 3, 3, BODY_CODEC, no_augment("rgb"))          # frame 0 and 3: fine


def test_temporal_sample_rejects_frame_past_the_end(body_seq):
    with pytest.raises(ValueError, match="not both in a sequence"):
        temporal_sample(body_seq, len(body_seq), 1, BODY_CODEC, no_augment("rgb"))


# ------------------------------------------------------------ sample streams
def _first(samples: SyntheticSamples, n: int, **kw) -> list[dict]:
    it = samples(**kw)
    return [next(it) for _ in range(n)]


@pytest.mark.parametrize("task", ["pose", "temporal"])
def test_synthetic_samples_are_deterministic(task):
    stream = SampleStreamConfig(frames_per_sequence=6, samples_per_sequence=2, max_gap=3)
    a = _first(SyntheticSamples(task, "rgb", BODY_CODEC, BODY_AUGMENT, stream, 5), 3)
    b = _first(SyntheticSamples(task, "rgb", BODY_CODEC, BODY_AUGMENT, stream, 5), 3)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    other = _first(SyntheticSamples(task, "rgb", BODY_CODEC, BODY_AUGMENT, stream, 5), 1, shard=1, num_shards=2)
    assert not np.array_equal(other[0]["image"], a[0]["image"])
    # Shard 1 of 2 starts with seed first_seed + 1, i.e. the second sequence of the unsharded stream.
    np.testing.assert_array_equal(other[0]["image"], a[2]["image"])
    # ``start`` skips whole sequences.
    skipped = _first(SyntheticSamples(task, "rgb", BODY_CODEC, BODY_AUGMENT, stream, 5), 1, start=1)
    np.testing.assert_array_equal(skipped[0]["image"], a[2]["image"])


def test_synthetic_samples_rejects_unknown_task():
    with pytest.raises(ValueError, match="unknown task"):
        SyntheticSamples("segment", "rgb", BODY_CODEC, BODY_AUGMENT)


@pytest.mark.parametrize("max_gap", [1, 2, 3, 10, 60])
def test_sample_gap_range(max_gap):
    rng = np.random.default_rng(max_gap)
    gaps = np.array([sample_gap(rng, max_gap) for _ in range(2000)])
    assert gaps.min() == 1 and gaps.max() == max_gap
    assert set(np.unique(gaps)) <= set(range(1, max_gap + 1))
    # Log-uniform over [1, max_gap + 0.49], rounded: gap 1 comes from exp(x) < 1.5.
    expected = 1.0 if max_gap == 1 else np.log(1.5) / np.log(max_gap + 0.49)
    assert abs(np.mean(gaps == 1) - expected) < 0.04


def _pool_stream(monkeypatch, pool_size=8, **kw):
    """(samples, list of the seeds each drawn sample came from) for a tiny pooled body stream."""
    from trt_tracker.data import samples as samples_mod

    made, drawn = {}, []
    real_make, real_sample = samples_mod.make_sequence, SyntheticSamples.sample

    def make(modality, seed, n, appearance="plain", size=256):
        seq = real_make(modality, seed, n, appearance, size)
        made[id(seq)] = seed
        return seq

    def sample(self, seq, rng):
        drawn.append(made[id(seq)])
        return real_sample(self, seq, rng)

    monkeypatch.setattr(samples_mod, "make_sequence", make)
    monkeypatch.setattr(SyntheticSamples, "sample", sample)
    stream = SampleStreamConfig(frames_per_sequence=3, samples_per_sequence=2, pool_size=pool_size)
    return SyntheticSamples("pose", "rgb", BODY_CODEC, BODY_AUGMENT, stream, 100), drawn


def test_pool_mixes_sequences_in_every_batch(monkeypatch):
    samples, drawn = _pool_stream(monkeypatch)
    _first(samples, 32)
    # Without a pool 32 samples would come from 16 sequences in runs of 2; with a pool of 8, every
    # run of 8 samples comes from several sequences and no sequence gives a long run.
    assert all(len(set(drawn[i:i + 8])) >= 4 for i in range(0, 32, 8))
    assert max(len(list(g)) for _, g in __import__("itertools").groupby(drawn)) <= 4
    # The pool after n samples holds sequences n // samples_per_sequence onwards.
    assert set(drawn[30:32]) <= set(range(100 + 15, 100 + 15 + 8))


def test_pool_stream_resumes_exactly_and_shards_do_not_overlap(monkeypatch):
    samples, drawn = _pool_stream(monkeypatch, pool_size=4)
    straight = _first(samples, 10)
    resumed = _first(samples, 4, start=3)        # 3 sequences = 6 samples in
    for x, y in zip(straight[6:], resumed):
        np.testing.assert_array_equal(x["image"], y["image"])
        np.testing.assert_array_equal(x["joints"], y["joints"])
    drawn.clear()
    _first(samples, 12, shard=0, num_shards=2)
    a = set(drawn)
    drawn.clear()
    _first(samples, 12, shard=1, num_shards=2)
    assert a and drawn and not a & set(drawn)
    assert all(s % 2 == 0 for s in a) and all(s % 2 == 1 for s in drawn)


def test_stream_config_rejects_empty_pool():
    with pytest.raises(ValueError, match="pool_size must be >= 1"):
        SampleStreamConfig(pool_size=0)


def test_half_body_crops_frame_the_upper_body_and_mark_what_they_cut_off(body_seq):
    from dataclasses import replace

    from trt_tracker.data.samples import half_body_points, in_crop

    sk = body_seq.skeleton
    assert "weight" not in pose_sample(body_seq, 3, BODY_CODEC, BODY_AUGMENT, np.random.default_rng(0))
    half = replace(BODY_AUGMENT, half_body=1.0)
    ankles = [sk.index("l_ankle"), sk.index("r_ankle")]
    cut = 0
    for seed in range(20):
        s = pose_sample(body_seq, seed % len(body_seq), BODY_CODEC, half, np.random.default_rng(seed))
        np.testing.assert_array_equal(s["weight"], in_crop(s["joints"], BODY_CODEC.heatmap_size))
        full = pose_sample(body_seq, seed % len(body_seq), BODY_CODEC, no_augment("rgb"))
        assert full["joints"][:, :2].min() > 0 and full["joints"][:, :2].max() < BODY_CODEC.heatmap_size - 1
        cut += int(s["weight"][ankles].sum() == 0)
    assert cut >= 10                 # the ankles lie outside every upper-body crop (3 of 4 group counts and more)
    groups = [half_body_points(sk, np.random.default_rng(i)) for i in range(40)]
    assert all(sk.index("neck") in g and sk.index("l_knee") not in g for g in groups)
    assert len({len(g) for g in groups}) == 4
    from trt_tracker.skeleton import HAND21

    with pytest.raises(ValueError, match="half_body"):
        half_body_points(HAND21, np.random.default_rng(0))
