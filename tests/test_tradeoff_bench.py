"""benchmarks/tradeoff.py: Pareto front, lag, peer tuning on validation only, a tiny end-to-end run."""
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import tradeoff

ROOT = Path(__file__).resolve().parents[1]


def _brute_front(fps, err):
    out = []
    for i in range(len(fps)):
        if not (np.isfinite(fps[i]) and np.isfinite(err[i])):
            continue
        dominated = any(fps[j] >= fps[i] and err[j] <= err[i] and (fps[j] > fps[i] or err[j] < err[i])
                        for j in range(len(fps)) if j != i and np.isfinite(fps[j]) and np.isfinite(err[j]))
        if not dominated:
            out.append(i)
    return set(out)


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 12))
        # Small integer grids make ties in fps and error common.
        fps = rng.integers(1, 6, n).astype(float)
        err = rng.integers(1, 6, n).astype(float)
        if trial % 5 == 0:
            err[rng.integers(0, n)] = np.nan
        front = tradeoff.pareto_front(fps, err)
        assert set(front) == _brute_front(fps, err)
        assert len(front) == len(set(front))
        assert list(np.asarray(fps)[front]) == sorted(np.asarray(fps)[front], reverse=True)
    assert tradeoff.pareto_front([10.0, 5.0, 1.0], [3.0, 2.0, 2.5]) == [0, 1]


def _smooth_track(T=80, K=4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None]
    return 100 * np.sin(0.15 * t + rng.uniform(0, 6, (1, K, 3))) + 20 * np.cos(0.05 * t * rng.uniform(1, 2, (1, K, 3)))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_lag_of_a_delayed_signal_is_the_delay(k):
    gt = _smooth_track()
    est = np.concatenate([np.repeat(gt[:1], k, 0), gt[: len(gt) - k]]) if k else gt.copy()
    assert abs(tradeoff.lag_frames(est, gt) - k) < 0.1
    # Unbiased noise does not move it; a lead is negative.
    noisy = est + np.random.default_rng(1).normal(0, 5, est.shape)
    assert round(tradeoff.lag_frames(noisy, gt)) == k
    if k:
        lead = np.concatenate([gt[k:], np.repeat(gt[-1:], k, 0)])
        assert abs(tradeoff.lag_frames(lead, gt) + k) < 0.1


def test_lag_is_sub_frame_and_handles_short_sequences():
    T = 200
    t = np.arange(T, dtype=float)
    gt = np.stack([np.sin(0.1 * t), np.cos(0.07 * t), 0.5 * np.sin(0.05 * t)], -1)[:, None] * 100
    delayed = np.stack([np.sin(0.1 * (t - 1.5)), np.cos(0.07 * (t - 1.5)), 0.5 * np.sin(0.05 * (t - 1.5))], -1)[:, None] * 100
    assert abs(tradeoff.lag_frames(delayed, gt) - 1.5) < 0.25
    assert np.isnan(tradeoff.lag_frames(gt[:3], gt[:3]))
    with pytest.raises(ValueError):
        tradeoff.lag_frames(gt[:10], gt[:11])


def test_peer_tuning_depends_on_validation_only():
    rng = np.random.default_rng(3)
    gt = [_smooth_track(40, 3, s) for s in range(4)]
    noisy = [g + rng.normal(0, 15, g.shape) for g in gt]
    val = [(noisy[0], gt[0]), (noisy[1], gt[1])]
    grids = tradeoff.QUICK_GRIDS
    test_a = [(noisy[2], gt[2])]
    test_b = [(noisy[3] * 3 + 500, gt[3])]                         # a wildly different test set
    a = tradeoff.run_peers(grids, val, test_a, 25.0)
    b = tradeoff.run_peers(grids, val, test_b, 25.0)
    for name in a:
        assert a[name]["params"] == b[name]["params"] and a[name]["val_mpjpe"] == b[name]["val_mpjpe"]
        assert a[name]["mpjpe"] != b[name]["mpjpe"]
    # The tuner never calls the filter on anything but the validation inputs.
    seen = []
    grid = [{"x": 1}, {"x": 2}]
    best, _ = tradeoff.tune_peer(grid, lambda J, fps, p: seen.append(id(J)) or J * p["x"], val, 25.0)
    assert best == {"x": 1} and set(seen) == {id(v[0]) for v in val}


def test_tiny_end_to_end_run_writes_expected_keys(tmp_path):
    out = tmp_path / "t.json"
    rc = tradeoff.main(["--quick", "--models", str(ROOT / "export/body-lite"), "--frames", "24", "--steps", "4",
                        "--rounds", "2", "--out", str(out), "--no-progress"])
    assert rc == 0
    r = json.loads(out.read_text())
    assert {"machine", "protocol", "models", "peers"} <= set(r)
    res = r["models"]["body"]
    assert (tmp_path / "t-body.png").is_file() and res["plot"] == "t-body.png"
    names = {c["name"] for c in res["configs"]}
    assert "single-frame" in names and "early {1,2,4,8}" in names
    if not res["late_fusion_missing"]:
        assert "late {1,2,4,8}" in names
    for c in res["configs"]:
        assert c["fps"] > 0 and "25" in c["accuracy"]
        assert {"mpjpe", "accel", "lag_frames", "alpha", "val_mpjpe"} <= set(c["accuracy"]["25"])
    assert res["pareto"]["25"] and set(res["pareto"]["25"]) <= names
    assert set(res["timing"]["configs"][next(iter(names))]["components_ms"]) == {"frame_graph", "temporal", "solver"}
    peers = r["peers"]["body"]["25"]
    assert {"single-frame (raw)", "ours (best on val)", "One Euro", "Kalman CV", "Savitzky-Golay"} <= set(peers)
    assert all(np.isfinite(p["mpjpe"]) for p in peers.values())


def test_bad_model_dir_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "no-such-model"
    assert tradeoff.main(["--quick", "--models", str(bad), "--out", str(tmp_path / "x.json")]) != 0
    assert str(bad) in capsys.readouterr().out
    assert not (tmp_path / "x.json").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert tradeoff.main(["--quick", "--models", str(empty), "--out", str(tmp_path / "x.json")]) != 0
    assert str(empty) in capsys.readouterr().out
