"""Benchmark code: the peers do what they claim, and the scripts run and write complete results."""
import json

import numpy as np
import pytest

from benchmarks import peers


def _track(T=60, fps=25.0):
    t = np.arange(T)[:, None, None] / fps
    return 100.0 * np.sin(2.0 * t + np.arange(6).reshape(1, 2, 3)) + 30.0 * t


def test_savgol_causal_is_exact_on_polynomials_and_causal():
    t = np.arange(40.0)[:, None, None] * np.ones((1, 2, 3))
    quad = 0.5 * t**2 - 3 * t + 7
    assert np.abs(peers.savgol_causal(quad, 7, 2) - quad).max() < 1e-8
    x = np.random.default_rng(0).normal(size=(30, 2, 3))
    y = x.copy()
    y[20:] += 100.0                                   # a change in the future ...
    assert np.allclose(peers.savgol_causal(x, 9, 2)[:20], peers.savgol_causal(y, 9, 2)[:20])   # ... changes no past output


def test_kalman_follows_precise_measurements_and_smooths_noisy_ones():
    gt = _track()
    assert np.abs(peers.kalman_cv(gt, 25.0, q=1e8, r=1e-6) - gt).max() < 1e-2
    noisy = gt + np.random.default_rng(1).normal(0, 20, size=gt.shape)
    out = peers.kalman_cv(noisy, 25.0, q=1e6, r=400.0)
    assert np.abs(out - gt)[10:].mean() < np.abs(noisy - gt)[10:].mean()


def test_one_euro_passes_slow_signals_and_smooths_noise():
    gt = _track()
    fast = peers.one_euro(gt, 25.0, mincutoff=1e4, beta=0.0)
    assert np.abs(fast - gt).max() < 1e-2
    noisy = gt + np.random.default_rng(2).normal(0, 20, size=gt.shape)
    out = peers.one_euro(noisy, 25.0, mincutoff=1.0, beta=0.003)
    assert np.abs(np.diff(out, 2, axis=0)).mean() < np.abs(np.diff(noisy, 2, axis=0)).mean()


def test_solver_bench_quick_writes_complete_result(tmp_path):
    from benchmarks import solver_bench

    out = tmp_path / "solver.json"
    assert solver_bench.main(["--quick", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["machine"]["cpu"] and r["headline"]["online_update"]["median"] > 0
    assert r["headline"]["ratio_dense_over_online"] > 0 and len(r["headline"]["rounds"]) == 5
    assert {row["W"] for row in r["scaling"]["window"]} >= {4, 16}
    assert all(row["track_updates_per_s"] > 0 for row in r["scaling"]["batch_cpu"])


@pytest.mark.slow
def test_simulated_study_quick(tmp_path):
    from benchmarks import simulated_study

    out = tmp_path / "study.json"
    assert simulated_study.main(["--quick", "--out", str(out)]) == 0
    table = json.loads(out.read_text())["table"]
    assert set(table) == {"25", "8", "2.5"}
    assert (tmp_path / "study.png").exists()


def test_tracker_bound_oracles_and_relation_errors():
    """Ground-truth relations (lambda 0) lower the tracked error below the noisy ones' (lambda 1), and the
    relation errors are measured per coordinate against what the single-frame poses imply."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import without_frames

    s = without_frames(make_sequence("hand", 20_000_000, 40).at_fps(25))
    rng = np.random.default_rng(0)
    J = s.joints_2p5d
    scale = np.array([2.0, 2.0, 6.0])
    p = {"J": J + rng.normal(size=J.shape) * scale,
         "B": tb.gt_bones(J, s.skeleton.parents_array) + rng.normal(size=J.shape) * scale,
         "deltas": {d: tb.gt_deltas(J, d) + rng.normal(size=J.shape) * scale for d in tb.DURATIONS}}
    P = [(s, p)]
    noisy, exact = tb.oracle(P, 1.0, 1.0), tb.oracle(P, 0.0, 0.0)
    assert exact["mpjpe"] < 0.7 * noisy["mpjpe"]
    assert tb.oracle(P, 0.0, 1.0)["mpjpe"] < noisy["mpjpe"]
    r = tb.relation_errors(P)
    net = np.array(r["bones"]["spatial_network"])
    assert np.allclose(net, scale * np.sqrt(2 / np.pi), rtol=0.15)        # E|N(0, s)| = s sqrt(2/pi)
    # Bones of noisy poses carry two joints' noise: sqrt(2) x the per-joint level.
    assert np.allclose(r["bones"]["from_single_frame_poses"], np.sqrt(2) * net, rtol=0.15)
    assert r["displacements_d1"]["zero_motion"][0] > 0
    # Weighting oracles: a split (u, v) / z choice searches a superset of the shared one.
    w = tb.weighting_oracles(P)
    assert w["dmf_bone_per_axis"]["mpjpe"] <= w["dmf_bone_shared"]["mpjpe"] + 1e-9
    assert w["dmf_bone_shared"]["mpjpe"] == pytest.approx(noisy["mpjpe"], rel=1e-9)
    # With bones 3x as accurate on one arm, inverse-MSE weights use them more there than uniform weights do.
    q = dict(p)
    q["B"] = p["B"].copy()
    q["B"][:, 1:5] = tb.gt_bones(J, s.skeleton.parents_array)[:, 1:5] + rng.normal(size=(len(J), 4, 3)) * scale / 3
    w2 = tb.weighting_oracles([(s, q)])
    assert w2["bone_inverse_mse"]["mpjpe"] < w2["bone_uniform"]["mpjpe"]


def test_tracker_bound_priors():
    """The bone-only solve against a direct least-squares solve; a Huber data term that leaves a gross outlier
    joint to its bones; bones rebuilt from true lengths are those lengths and, from exact (u, v), exact."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.camera import p2p5d_to_cam
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import without_frames

    s = without_frames(make_sequence("hand", 20_000_000, 40).at_fps(25))
    J, par = s.joints_2p5d, s.skeleton.parents_array
    rng = np.random.default_rng(1)
    p = {"J": J + rng.normal(size=J.shape) * np.array([1.0, 1.0, 3.0]),
         "B": tb.gt_bones(J, par) + rng.normal(size=J.shape) * np.array([1.0, 1.0, 3.0])}
    nr, L = tb._bone_rows(par)
    t, alpha = 5, 0.7
    K = len(par)
    ref = np.linalg.lstsq(np.vstack([np.eye(K), np.sqrt(alpha) * L]),
                          np.vstack([p["J"][t], np.sqrt(alpha) * p["B"][t, nr]]), rcond=None)[0]
    np.testing.assert_allclose(tb.solve_bones_irls(s, p, alpha)[t], ref, atol=1e-9)
    # One joint 40 mm off in depth in every frame: the robust data term follows its bones instead.
    q = {**p, "J": p["J"].copy()}
    q["J"][:, 8, 2] += 40.0
    plain = np.abs(tb.solve_bones_irls(s, q, alpha)[:, 8, 2] - J[:, 8, 2]).mean()
    robust = np.abs(tb.solve_bones_irls(s, q, alpha, huber_mm=3.0, iters=5)[:, 8, 2] - J[:, 8, 2]).mean()
    assert robust < 0.6 * plain
    # Bone lengths: the rebuilt bones have them (parents at the single-frame depths); from exact poses and
    # bones, the true lengths give back the true bones.
    G = s.joints_cam
    lengths = np.zeros(K)
    lengths[nr] = np.linalg.norm(G[0, nr] - G[0, par[nr]], axis=-1)
    exact = {"J": J, "B": tb.gt_bones(J, par)}
    Bx = tb.bones_from_lengths(s, exact, lengths)
    np.testing.assert_allclose(Bx[0, nr], exact["B"][0, nr], atol=1e-6)
    Bn = tb.bones_from_lengths(s, p, lengths)
    child = p["J"].copy()
    child[:, nr] = p["J"][:, par[nr]] + Bn[:, nr]
    X, Xp = p2p5d_to_cam(child, s.intrinsics, s.root_depth, s.skeleton.root), \
        p2p5d_to_cam(p["J"], s.intrinsics, s.root_depth, s.skeleton.root)
    got = np.linalg.norm(X[:, nr] - Xp[:, par[nr]], axis=-1)
    want = np.broadcast_to(lengths[nr], got.shape)
    real = np.abs(got - want) < 1e-6
    assert real.mean() > 0.8                 # where the quadratic has a real root the length is exact ...
    # ... elsewhere the (u, v) alone make the bone longer: the shortest bone they allow.
    assert np.all(got[~real] > want[~real])


def test_learning_curves_reads_an_earlier_result(tmp_path):
    """A committed learning_curves JSON stands in for a run directory that is gone."""
    from benchmarks.learning_curves import main, read_run

    pts = [{"step": 500, "elapsed_s": 10.0, "val_err_uv_px": 3.0}, {"step": 1000, "elapsed_s": 20.0,
                                                                     "val_err_uv_px": 2.5}]
    old = tmp_path / "learning_curves-old.json"
    old.write_text(json.dumps({"runs": [{"label": "old", "source": "runs/x", "recipe": {"steps": 1000},
                                         "points": pts}]}))
    r = read_run(old)
    assert r["points"] == pts and r["config"] is None and r["recipe"] == {"steps": 1000}
    assert main([str(old), "--name", "again", "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "learning_curves-again.json").read_text())
    assert again["runs"][0]["points"] == pts and again["runs"][0]["recipe"] == {"steps": 1000}
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(ValueError, match="not a learning_curves result"):
        read_run(tmp_path / "empty.json")
    # run N of a result with several: file.json#N
    two = tmp_path / "learning_curves-two.json"
    two.write_text(json.dumps({"runs": [{"label": "a", "points": pts}, {"label": "b", "points": pts[:1]}]}))
    assert read_run(f"{two}#1")["label"] == "b" and read_run(f"{two}#0")["label"] == "a"
    with pytest.raises(ValueError, match="no run #2"):
        read_run(f"{two}#2")
    with pytest.raises(ValueError, match="run's index"):
        read_run(f"{two}#x")


def test_tracker_bound_durations():
    """Independent errors: the best combination is inverse-variance weighting and more durations help;
    one error shared by every duration: they add nothing, and per-term weights that count it once per
    duration do worse than d = 1 alone.  The measured correlations follow the simulated ones."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import without_frames

    indep = np.diag([4.0, 1.0, 1.0, 1.0])
    assert tb.blue_sd(indep) == pytest.approx(tb.blue_sd(indep, independent=True))
    assert tb.blue_sd(indep) == pytest.approx(np.sqrt(1 / (1 / 4 + 3)))
    assert tb.blue_sd(indep) < tb.blue_sd(indep[:2, :2])
    shared = np.full((3, 3), 1.0) + 0.01 * np.eye(3)
    shared[0, 0] = 4.0
    shared[0, 1:] = shared[1:, 0] = 0.0
    assert tb.blue_sd(shared) == pytest.approx(tb.blue_sd(shared[:2, :2]), rel=0.01)
    assert tb.blue_sd(shared, independent=True) > tb.blue_sd(shared[:2, :2], independent=True)

    s = without_frames(make_sequence("hand", 20_000_000, 60).at_fps(25))
    J = s.joints_2p5d
    rng = np.random.default_rng(2)
    common = rng.normal(size=J.shape) * 2.0                       # one error in every duration's displacement
    p = {"J": J + rng.normal(size=J.shape) * 3.0,
         "deltas": {d: tb.gt_deltas(J, d) + common + rng.normal(size=J.shape) * 0.5 for d in tb.DURATIONS}}
    r = tb.duration_errors([(s, p)])
    C = np.array(r["correlation"]["u"])
    assert r["terms"] == ["pose", "d1", "d2", "d3"]
    assert C[1, 2] == pytest.approx(4 / 4.25, abs=0.05) and abs(C[0, 1]) < 0.1
    assert r["sd"]["u"]["Dmf_gls"] == pytest.approx(r["sd"]["u"]["Df_gls"], rel=0.03)
    assert r["sd"]["u"]["Dmf_per_term"] > r["sd"]["u"]["Df_per_term"]
    o = tb.duration_oracles([(s, p)])
    assert set(o) == {"Df", "Dmf", "Dmf_inverse_mse"}
    assert o["Dmf_inverse_mse"]["gammas"][0] == pytest.approx(o["Dmf_inverse_mse"]["gamma"])


def test_ensembles_quick_compares_views_on_the_shipped_weights(tmp_path):
    """The configuration marked shipped is what the model directory's files ask for, and the views change
    the estimates (a one-pass run is not the ensemble)."""
    pytest.importorskip("onnxruntime")
    from benchmarks import ensembles

    out = tmp_path / "e.json"
    assert ensembles.main(["--model", "export/hand-lite", "--quick", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    shipped = [c for label, c in r["configs"].items() if label.endswith("(shipped)")]
    assert len(shipped) == 1 and shipped[0]["views"] == r["shipped_views"]
    one, ens = r["configs"]["one pass"], shipped[0]
    assert one["results"]["25"]["single_mpjpe"] != ens["results"]["25"]["single_mpjpe"]
    assert all(v > 0 for c in r["configs"].values() for v in c["latency_ms"].values())
    # --time-only re-times the same networks and keeps the evaluation
    assert ensembles.main(["--model", "export/hand-lite", "--quick", "--time-only", "--out", str(out)]) == 0
    again = json.loads(out.read_text())
    assert "timed" in again and again["evaluation_wall_s"] == r["wall_s"]
    assert {k: c["results"] for k, c in again["configs"].items()} == {k: c["results"] for k, c in r["configs"].items()}


def test_duration_ordering_quick_scores_every_phase(tmp_path):
    from benchmarks import duration_ordering

    out = tmp_path / "o.json"
    assert duration_ordering.main(["--model", "export/body-lite", "--fps", "8", "--quick", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["step_at_50fps"] == 6 and r["phases"] == 2
    t = {k: r[k]["test"] for k in ("Dmf", "Df", "single")}
    assert r["ordering_holds_on_test"] == (t["Dmf"] < t["Df"] < t["single"])
    assert all(np.isfinite(v) and v > 0 for v in t.values())


def test_tracker_bound_error_persistence():
    """White pose errors: no autocorrelation, and the temporal term with good displacements lowers them
    whether or not they are shuffled in time.  Errors that persist (a random walk): autocorrelation near 1
    at lag 1, the temporal term can hardly help, and shuffling them in time gives its gain back."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import without_frames

    s = without_frames(make_sequence("hand", 20_000_000, 200).at_fps(25))
    J = s.joints_2p5d
    rng = np.random.default_rng(3)
    deltas = {1: tb.gt_deltas(J, 1) + rng.normal(size=J.shape) * 0.3}
    white = {"J": J + rng.normal(size=J.shape) * 3.0, "deltas": deltas}
    slow = np.cumsum(rng.normal(size=J.shape) * 0.6, axis=0)
    slow = (slow - slow.mean(0)) + rng.normal(size=J.shape[1:]) * 2.0          # a walk about a bias
    walk = {"J": J + slow, "deltas": deltas}
    w, p = tb.error_persistence([(s, white)]), tb.error_persistence([(s, walk)])
    assert w["lags"] == list(tb.LAGS)
    assert all(abs(a) < 0.1 for a in w["autocorrelation"]["u"])
    assert p["autocorrelation"]["u"][0] > 0.8 and p["autocorrelation"]["u"][0] > p["autocorrelation"]["u"][-1]
    assert w["tracker_df"]["as_predicted"]["reduction"] > 0.3
    assert w["tracker_df"]["errors_shuffled_in_time"]["reduction"] > 0.3
    assert p["tracker_df"]["as_predicted"]["reduction"] < 0.15
    # shuffled, only the bias (which no temporal term removes) stays
    assert p["tracker_df"]["errors_shuffled_in_time"]["reduction"] > p["tracker_df"]["as_predicted"]["reduction"] + 0.1


def test_tracker_bound_bone_independence():
    """Bones whose errors are the pose's own bones' errors (correlation 1) add nothing; the same errors moved
    to other frames or another sequence (independent of the pose's there) do help the tracker."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import without_frames

    rng = np.random.default_rng(5)
    P = []
    for seed in (20_000_000, 20_000_001):
        s = without_frames(make_sequence("hand", seed, 120).at_fps(25))
        J = s.joints_2p5d
        Jn = J + rng.normal(size=J.shape) * np.array([2.0, 2.0, 6.0])
        deltas = {d: tb.gt_deltas(J, d) + rng.normal(size=J.shape) * 3.0 for d in tb.DURATIONS}
        P.append((s, {"J": Jn, "B": tb.gt_bones(Jn, s.skeleton.parents_array), "deltas": deltas}))
    r = tb.bone_independence(P, shift=10)
    assert r["correlation_with_pose_bones_uvz"] == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
    assert r["errors_10_frames_away"]["mpjpe"] < 0.95 * r["as_predicted"]["mpjpe"]
    assert r["errors_of_another_sequence"]["mpjpe"] < 0.95 * r["as_predicted"]["mpjpe"]


def test_tracker_bound_common_shift_and_centre_anchor():
    """A pose whose error is one shift of every joint has no rest once the shift is removed, and exact bones
    cannot remove it; anchoring depths at the crop's centre undoes a root joint's depth error shared by every
    joint in the root-relative protocol."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import without_frames

    s = without_frames(make_sequence("hand", 20_000_000, 40).at_fps(25))
    J = s.joints_2p5d
    rng = np.random.default_rng(2)
    shift = rng.normal(size=(len(J), 1, 2)) * 3.0
    Jn = J.copy()
    Jn[..., :2] += shift
    p = {"J": Jn, "B": tb.gt_bones(J, s.skeleton.parents_array), "deltas": {}}
    r = tb.common_shift([(s, p)])
    assert r["single_frame"]["rest_mm"] < 0.05 * r["single_frame"]["mpjpe"]
    assert r["bone_term_exact_bones"]["mpjpe"] == pytest.approx(r["single_frame"]["mpjpe"], rel=0.02)
    # Independent per-joint (u, v) errors: exact bones remove most of them, the shift is a small part.
    Jn = J + rng.normal(size=J.shape) * np.array([2.0, 2.0, 0.0])
    r = tb.common_shift([(s, {**p, "J": Jn})])
    assert r["single_frame"]["shift_mm"] < 0.5 * r["single_frame"]["mpjpe"]
    assert r["bone_term_exact_bones"]["mpjpe"] < 0.5 * r["single_frame"]["mpjpe"]
    # Root-relative depths whose root joint's prediction is off by e: every joint off by -e; about the centre
    # (the root's true depth plus e for the root, the truth for the others' z) only the root is.
    root = s.skeleton.root
    e = rng.normal(size=len(J)) * 8.0
    Jc = J.copy()
    Jc[..., 2] -= J[:, root : root + 1, 2]           # about the true root depth: exact
    Jc[:, root, 2] += e                              # but the root joint's own depth is off
    rel = Jc.copy()
    rel[..., 2] -= rel[:, root : root + 1, 2]
    q = {"J": rel, "B": tb.gt_bones(J, s.skeleton.parents_array), "deltas": {}, "root_depth": s.root_depth + e}
    a = tb.centre_anchor([(s, q)])
    assert a["crop_centre"]["single_mpjpe"] < 0.2 * a["root_joint"]["single_mpjpe"]


def test_tracker_bound_long_gaps_and_pooling_location():
    """long_gaps runs the temporal network over the extra gaps (a stand-in that predicts no motion scores
    exactly zero motion) and tracks with the sets they allow; pooling_location re-pools the bones."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.codec import PoseCodec
    from trt_tracker.evaluate import Predictor, predict_sequence
    from trt_tracker.stream.sources import SyntheticSource

    s = SyntheticSource("hand", 20_000_005, 20, 25.0).seq
    K = s.skeleton.K

    def zeros(x, related=None):
        return np.zeros((len(x), K, 3), np.float32)

    def pose(x):
        return np.full((len(x), K, 3), 3.5, np.float32)

    pred = Predictor(pose, zeros, zeros, PoseCodec(32, 8, 300.0), 1.3, batch=4)
    P = [(s, predict_sequence(s, pred, (1,)))]
    r = tb.long_gaps(P, pred, gaps=(1, 4, 8))
    for g in ("1", "4", "8"):
        e = r["displacement_errors_uvz"][g]
        assert e["network"] == e["zero_motion"] and e["zero_motion"][0] > 0
    assert set(r["trackers"]) == {"1+bone", "1,4+bone", "1,8+bone", "1,4,8+bone", "8+bone"}
    loc = tb.pooling_location(P, pred)
    assert set(loc) == {"pose_joints", "true_joints", "first_fusion"}
    assert loc["true_joints"]["mpjpe"] == pytest.approx(loc["pose_joints"]["mpjpe"])   # zero bones wherever pooled


def test_tracker_bound_correlated_weighting(monkeypatch):
    """Bones sharing much of the pose's errors, fused with weights for correlated errors: the section reports
    every calibration size and beats one alpha in sample (the fusion itself is tested in test_solver)."""
    from benchmarks import tracker_bound as tb
    from trt_tracker import evaluate
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import without_frames

    monkeypatch.setattr(tb, "ALPHAS", (0.3, 1.0, 3.0))          # small grids: the test is the section's plumbing
    monkeypatch.setattr(tb, "GAMMAS", (0.3,))
    monkeypatch.setattr(evaluate, "GAMMAS", (0.3, 1.0))

    rng = np.random.default_rng(7)

    def preds(seed):
        s = without_frames(make_sequence("hand", seed, 100).at_fps(25))
        J, par = s.joints_2p5d, s.skeleton.parents_array
        e = rng.normal(size=J.shape) * np.array([2.0, 2.0, 6.0])
        scale = np.where(np.arange(len(par)) % 4 == 1, 0.2, 3.0)[None, :, None]   # some bones far better
        B = tb.gt_bones(J, par) + 0.5 * tb.gt_bones(e, par) + rng.normal(size=J.shape) * scale
        return s, {"J": J + e, "B": B, "deltas": {1: tb.gt_deltas(J, 1) + rng.normal(size=J.shape)}}

    V = [preds(20_000_000 + i) for i in range(3)]
    r = tb.correlated_weighting(V[:1], V[1:], counts=(1, 2), shrinks=(0.0, 0.5))
    assert set(r["gls"]) == {f"{n} sequences, shrink {s:g}" for n in (1, 2) for s in (0.0, 0.5)}
    assert r["gls_in_sample"] < 0.9 * r["bone_term"]["mpjpe"]
    assert r["gls_then_df"]["validation_sequences"] == 2 and r["df_bone"]["mpjpe"] > 0


def test_tracker_bound_crop_dither():
    """Undithered crops reproduce the card's predictions exactly; dithered ones change them, and the section
    reports every dither."""
    from benchmarks import tracker_bound as tb
    from trt_tracker.codec import PoseCodec
    from trt_tracker.evaluate import Predictor, predict_sequence
    from trt_tracker.stream.sources import SyntheticSource

    s = SyntheticSource("hand", 20_000_005, 16, 25.0).seq
    K = s.skeleton.K
    pattern = np.random.default_rng(0).normal(size=(1, K, 3)).astype(np.float32)

    def pose(x):                                           # depends on the crop's content
        return pattern * (1.0 + x.reshape(len(x), -1).mean(1))[:, None, None]

    def spatial(x, related):
        return np.concatenate([related, related[..., :1]], -1) * 0.1 + pose(x)

    pred = Predictor(pose, spatial, lambda x, related=None: np.zeros((len(x), K, 3), np.float32),
                     PoseCodec(32, 8, 300.0), 1.3, batch=4)
    ref = predict_sequence(s, pred, (1,))
    same = tb.predict_dithered(s, pred, 0.0, 0.0, 0.0)
    for k in ("J", "B"):
        assert np.allclose(same[k], ref[k], atol=1e-5)
    assert np.allclose(same["deltas"][1], ref["deltas"][1], equal_nan=True)
    moved = tb.predict_dithered(s, pred, 0.1, 0.1, 10.0, spatial_own=True)
    assert not np.allclose(moved["J"], ref["J"], atol=1e-3) and not np.allclose(moved["B"], ref["B"], atol=1e-3)
    r = tb.crop_dither([(s, ref)], pred, {"d": (0.05, 0.05, 5.0, False)})
    assert set(r) == {"card_crops", "d"} and len(r["d"]["autocorrelation_lag1_uvz"]) == 3


@pytest.mark.slow
def test_live_fusion_quick(tmp_path):
    from benchmarks import live_fusion

    out = tmp_path / "live_fusion.json"
    assert live_fusion.main(["--quick", "--out", str(out)]) == 0
    r = json.loads(out.read_text())["results"]
    assert {"hand validation fusion on", "hand validation fusion off", "body test fusion on"} <= set(r)
    assert all(v["frames_in_view"] > 0 for v in r.values())
