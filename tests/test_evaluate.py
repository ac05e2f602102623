"""evaluate.py's sequence pass and tuning, with a stand-in predictor whose outputs say what it was given."""
from __future__ import annotations

import numpy as np
import pytest

from trt_tracker.codec import PoseCodec
from trt_tracker.evaluate import Predictor, predict_sequence, solve_offline, track, tune_tracker
from trt_tracker.stream.sources import SyntheticSource


@pytest.fixture(scope="module")
def seq():
    return SyntheticSource("hand", 20_000_005, 8, 25.0).seq


def _predictor(seq, seen):
    codec = PoseCodec(32, 8, 300.0)
    K = seq.skeleton.K

    def pose(x):
        return np.zeros((len(x), K, 3), np.float32)

    def temporal(pairs, related):
        seen.append(pairs.copy())
        return np.zeros((len(pairs), K, 3), np.float32)

    return Predictor(pose, None, temporal, codec, 1.3, batch=3)


def test_signed_durations_pair_the_right_frames(seq):
    """A negative duration looks ahead: row t of deltas[-2] comes from the pair (I[t+2], I[t]); rows whose
    partner frame is outside the sequence are NaN, for both signs."""
    seen = []
    pred = _predictor(seq, seen)
    out = predict_sequence(seq, pred, (2, -2))
    T = len(seq)
    assert np.isnan(out["deltas"][2][:2]).all() and not np.isnan(out["deltas"][2][2:]).any()
    assert np.isnan(out["deltas"][-2][T - 2:]).all() and not np.isnan(out["deltas"][-2][:T - 2]).any()
    pairs = np.concatenate(seen)
    assert len(pairs) == 2 * (T - 2)
    # The first look-ahead pair (t = 0) holds frame 2 first: its first half differs from frame 0's crop in
    # the same box, its second half is frame 0's crop.
    from trt_tracker.camera import box_from_points

    P, c = seq.joints_2p5d, pred.codec
    tf = c.transform(box_from_points(np.concatenate([P[2, :, :2], P[0, :, :2]]), pred.margin))
    first = pairs[T - 2]
    np.testing.assert_array_equal(first[:1], c.crop_input(seq.frames[2], tf, "depth", seq.root_depth[2]))
    np.testing.assert_array_equal(first[1:], c.crop_input(seq.frames[0], tf, "depth", seq.root_depth[2]))


def test_offline_tuning_uses_the_offline_solver(seq):
    """tune_tracker(offline=True) scores solve_offline, which without durations or bones is the single frame."""
    rng = np.random.default_rng(0)
    G = seq.joints_2p5d
    p = {"J": G + rng.normal(0, 3, G.shape), "B": None, "deltas": {}}
    for d in (1, -1):
        D = np.full_like(G, np.nan)
        t = np.arange(len(G))
        ok = (t - d >= 0) & (t - d < len(G))
        D[ok] = G[t[ok]] - G[t[ok] - d]
        p["deltas"][d] = D
    np.testing.assert_array_equal(solve_offline(p, seq.skeleton, (), 0.0, 1.0), p["J"])
    a, g, e_off = tune_tracker([(seq, p)], (1, -1), False, gammas=[0.1, 10.0], offline=True)
    _, _, e_on = tune_tracker([(seq, p)], (1,), False, gammas=[0.1, 10.0])
    assert g == 10.0 and e_off < e_on          # exact displacements both ways: trust them, and look ahead helps
    assert track(p, seq.skeleton, (1,), 0.0, 10.0).shape == G.shape


def test_a_pose_network_about_the_depth_centre_gives_the_root_depth(seq):
    """z_ref="centre": predict_sequence makes the joints root-relative and returns the root's depth as the
    crop's centre (the true root depth) plus the root's z; the card's camera-space error with it equals the
    one with the true root when the root's z is 0."""
    import dataclasses

    from trt_tracker.evaluate import _fps_results

    K, root, T = seq.skeleton.K, seq.skeleton.root, len(seq)
    codec = PoseCodec(32, 8, 300.0)

    def pose_with_root_at(z):
        def pose(x):
            J = np.zeros((len(x), K, 3), np.float32)
            J[..., 2] = np.linspace(-0.3, 0.3, K)
            J[:, root, 2] = z
            return J
        return pose

    ref = predict_sequence(seq, Predictor(pose_with_root_at(0.0), None, None, codec, 1.3, batch=3))
    assert "root_depth" not in ref
    pred = Predictor(pose_with_root_at(0.2), None, None, codec, 1.3, batch=3, z_ref="centre")
    out = predict_sequence(seq, pred, ())
    np.testing.assert_allclose(out["root_depth"], seq.root_depth + 0.2 * 150.0, atol=1e-3)
    np.testing.assert_allclose(out["J"][:, root, 2], 0.0, atol=1e-6)
    others = np.arange(K) != root
    np.testing.assert_allclose(out["J"][:, others, 2], ref["J"][:, others, 2] - 0.2 * 150.0, atol=1e-3)
    at_zero = predict_sequence(seq, dataclasses.replace(pred, pose=pose_with_root_at(0.0)), ())
    row = _fps_results(25.0, [], [(seq, at_zero)])
    assert row["root_depth_error_mm"] < 1e-6
    assert abs(row["single_mpjpe_network_root"] - row["single_mpjpe"]) < 1e-6
    assert _fps_results(25.0, [], [(seq, out)])["root_depth_error_mm"] == pytest.approx(30.0, abs=1e-3)


def test_bones_at_pools_the_spatial_network_at_other_joints(seq):
    """predict_sequence's bones_at: the spatial network is given the parents of those joints (in the network
    frame) instead of the pose network's, also when the rest is reused; by default the pose's."""
    from trt_tracker.camera import box_from_points

    codec, K = PoseCodec(32, 8, 300.0), seq.skeleton.K
    rng = np.random.default_rng(1)
    Jn = rng.uniform(0, 7, (K, 3)).astype(np.float32)
    given = []

    def pose(x):
        return np.repeat(Jn[None], len(x), 0)

    def spatial(x, related):
        given.append(related.copy())
        return np.zeros((len(x), K, 3), np.float32)

    pred = Predictor(pose, spatial, None, codec, 1.3, batch=3)
    par = np.where(seq.skeleton.parents_array < 0, np.arange(K), seq.skeleton.parents_array)
    out = predict_sequence(seq, pred, ())
    np.testing.assert_allclose(np.concatenate(given), np.repeat(Jn[None, par, :2], len(seq), 0))
    given.clear()
    P = seq.joints_2p5d
    again = predict_sequence(seq, pred, (), reuse=out, bones_at=P)
    tfs = [codec.transform(box_from_points(P[t, :, :2], pred.margin)) for t in range(len(seq))]
    want = np.stack([codec.encode_points(P[t], tfs[t])[par, :2] for t in range(len(seq))])
    np.testing.assert_allclose(np.concatenate(given), want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(want, np.repeat(Jn[None, par, :2], len(seq), 0))
    assert again["J"] is out["J"] and again["B"].shape == (len(seq), K, 3)


def test_card_rows_have_the_fused_variants_only_with_a_fusion(monkeypatch):
    """_fps_results adds gls, Df+gls and Dmf+gls (alpha 0, tuned on the validation sequences' fused joints)
    when given a SpatialFusion; its gls row is the fused joints' own error."""
    from trt_tracker import evaluate
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import VARIANTS, _fps_results, fused_predictions, mpjpe, to_cam, without_frames
    from trt_tracker.solver import SpatialFusion

    rng = np.random.default_rng(3)

    def noisy(seed):
        s = without_frames(make_sequence("hand", seed, 36).at_fps(25))
        J, par = s.joints_2p5d, np.where(s.skeleton.parents_array < 0, 0, s.skeleton.parents_array)
        e = rng.normal(size=J.shape) * np.array([2.0, 2.0, 6.0])
        B = (J - J[:, par]) + 0.5 * (e - e[:, par]) + rng.normal(size=J.shape)
        B[:, s.skeleton.root] = 0.0
        deltas = {d: np.concatenate([np.full((d,) + J.shape[1:], np.nan), J[d:] - J[:-d]])
                  + rng.normal(size=J.shape) for d in (1, 2, 3)}
        return s, {"J": J + e, "B": B, "deltas": deltas}

    monkeypatch.setattr(evaluate, "ALPHAS", (0.0, 1.0, 3.0))           # a small grid: the test is the plumbing
    monkeypatch.setattr(evaluate, "GAMMAS", (0.3, 1.0))
    vp = [noisy(20_000_000 + i) for i in range(3)]
    tp = [noisy(20_000_010 + i) for i in range(2)]
    sk = vp[0][0].skeleton
    f = SpatialFusion.fit(sk, *[np.concatenate(a) for a in zip(*[(p["J"], p["B"], s.joints_2p5d) for s, p in vp])],
                          shrink=0.1)
    plain = _fps_results(25.0, vp, tp)
    assert set(plain["tracker"]) == {n for n, (_, b) in VARIANTS.items() if b != "gls"}
    row = _fps_results(25.0, vp, tp, f)
    for name in ("gls", "Df+gls", "Dmf+gls"):
        assert row["tracker"][name]["fusion"] is True and row["tracker"][name]["alpha"] == 0.0
    direct = np.mean([mpjpe(to_cam(s, p["J"]), s.joints_cam) for s, p in fused_predictions(tp, f)])
    assert row["tracker"]["gls"]["mpjpe"] == pytest.approx(direct, rel=1e-9)
    assert row["tracker"]["Df+bone"] == plain["tracker"]["Df+bone"]           # the other variants as before
