"""Speed-accuracy trade-off of the duration sets, early vs late fusion, and the peer smoothers.

    python -m benchmarks.tradeoff [--quick] [--models export/body-lite export/hand-lite] [--out PATH]
    trt-tracker bench tradeoff [same options]

For every model directory (pose.pt, spatial.pt, temporal.pt, optionally
temporal-late.pt) and every forward duration set D in {}, {1}, {1,2},
{1,2,3}, {1,2,4}, {1,2,4,8}, with the early-fusion temporal network and, where
the directory has one, the late-fusion one:

Accuracy (PyTorch networks, the model-card protocol of
:mod:`trt_tracker.evaluate`): held-out synthetic test sequences (seeds from
20_000_000), validation sequences (seeds from 10_000_100), rendered at 50 fps
and sub-sampled to 25, 8 (8.33) and 2.5 fps; ground-truth crops and root
depth.  Each sequence is predicted once for the union of the duration sets
(1, 2, 3, 4, 8); the subsets reuse those displacements, and the late-fusion
network reuses the pose/spatial outputs.  The online tracker (OnlineSolver,
W=16) gets alpha, gamma from a grid search on the validation sequences per
frame rate and per configuration (:func:`trt_tracker.evaluate.tune_tracker`,
alpha 0 allowed so the bone term can be switched off; D = {} is
single-frame (+bone)).  Reported on the test sequences: MPJPE (mm),
acceleration error (mm/frame², so not comparable across frame rates) and lag.

Speed (ONNX Runtime, CPU, ``--threads`` intra-op threads, spinning off as in
the tracker's backend, graphs exported from the weights at the start of the run): one tracker step's network work =
the frame graph (pose + spatial) at batch 1, plus for |D| > 0 the temporal
work: early fusion one temporal-graph call at batch |D|; late fusion one
``features`` call for the new frame plus one ``head`` call at batch |D| with
the cached features of frames t-d; plus the solver update.  Cropping is not
included (it is the same for every configuration).  All configurations are
timed side by side: after a warm-up, rounds that visit every configuration in
a random order.  fps = 1 / median step time.

Peers (:mod:`benchmarks.peers`) on the same single-frame joints (camera space,
mm, after the ground-truth root depth): One Euro, constant-velocity Kalman,
causal Savitzky-Golay; each one's parameters come from a grid search on the
validation sequences per frame rate (the test sequences are never seen by
the search).  They are reported next to single-frame and "ours": the tracker
configuration with the lowest validation MPJPE at that frame rate.

Lag (:func:`lag_frames`): the time shift s (frames, sub-frame by parabolic
interpolation) minimising the MPJPE between the estimate at t and the ground
truth at t - s, over a fixed set of frames t; 0 for an unbiased estimate,
k for an estimate delayed by k frames, negative if it leads.

Writes ``benchmarks/results/tradeoff.json`` (``--quick``: ``tradeoff-quick.json``)
with sections ``machine``, ``protocol``, ``models`` (per model: timing,
configurations, Pareto fronts) and ``peers`` (per model and frame rate), and
one plot per model next to it: ``<stem>-body.png``, ``<stem>-hand.png``.
"""
from __future__ import annotations

import argparse
import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import common, peers
from benchmarks.common import grid_edges
from trt_tracker.evaluate import ALPHAS, GAMMAS

TRADEOFF_DURATIONS = ((), (1,), (1, 2), (1, 2, 3), (1, 2, 4), (1, 2, 4, 8))
WINDOW = 16
FPS = (25.0, 8.0, 2.5)


@dataclass(frozen=True)
class Grids:
    alphas: tuple
    gammas: tuple
    one_euro: tuple
    kalman: tuple
    savgol: tuple


#: The card's grids (evaluate.ALPHAS/GAMMAS) and the peers' over similar spans.
FULL_GRIDS = Grids(
    alphas=ALPHAS,
    gammas=GAMMAS,
    one_euro=tuple({"mincutoff": m, "beta": b} for m in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
                   for b in (0.0, 0.003, 0.03, 0.3)),
    kalman=tuple({"q": q, "r": r} for q in (1e4, 1e5, 1e6, 1e7, 1e8, 1e9) for r in (25.0, 100.0, 400.0, 1600.0, 6400.0)),
    savgol=tuple({"window": w, "order": o} for w in (3, 5, 9, 15, 25) for o in (1, 2, 3) if o < w),
)
QUICK_GRIDS = Grids(
    alphas=(0.0, 1.0),
    gammas=(1.0, 10.0),
    one_euro=tuple({"mincutoff": m, "beta": b} for m in (0.3, 3.0) for b in (0.0, 0.03)),
    kalman=tuple({"q": q, "r": r} for q in (1e5, 1e7) for r in (400.0, 1600.0)),
    savgol=tuple({"window": w, "order": o} for w in (5, 9) for o in (1, 2)),
)


def set_label(durations) -> str:
    return "{" + ",".join(str(d) for d in durations) + "}"


def config_name(fusion: str, durations) -> str:
    return "single-frame" if not durations else f"{fusion} {set_label(durations)}"


# ----------------------------------------------------------------- analysis
def pareto_front(fps, err) -> list[int]:
    """Indices of the points no other point dominates (higher-or-equal fps and lower-or-equal error,
    one of them strictly), sorted by decreasing fps.  NaN points are never on the front."""
    fps, err = np.asarray(fps, float), np.asarray(err, float)
    ok = [i for i in range(len(fps)) if np.isfinite(fps[i]) and np.isfinite(err[i])]
    ok.sort(key=lambda i: (-fps[i], err[i]))
    front, best_faster = [], math.inf
    for f, group in itertools.groupby(ok, key=lambda i: fps[i]):
        group = list(group)
        m = err[group[0]]                       # the group's lowest error (sorted)
        if m < best_faster:
            front += [i for i in group if err[i] == m]
            best_faster = m
    return front


def lag_frames(est, gt, max_lag: int | None = None) -> float:
    """Lag of an estimate behind the ground truth, in frames.

    ``est``, ``gt``: (T, K, C) (or (T, C), (T,)).  For each integer shift
    ``s`` in ``[-L, L]`` the MPJPE ``mean_t,k |est[t,k] - gt[t-s,k]|`` is taken
    over the same frames ``t in [L, T-L)``; the lag is the minimising ``s``,
    refined to a sub-frame value by a parabola through its two neighbours.
    An unbiased estimate has lag 0 (noise does not move the minimum), an
    estimate delayed by k frames has lag k, one that leads a negative lag.
    ``L`` defaults to ``min(5, T // 4)``; NaN if the sequence is too short.
    """
    est, gt = np.asarray(est, float), np.asarray(gt, float)
    if est.shape != gt.shape:
        raise ValueError(f"est {est.shape} and gt {gt.shape} differ")
    est = est.reshape(len(est), -1, est.shape[-1] if est.ndim > 1 else 1)
    gt = gt.reshape(est.shape)
    T = len(est)
    L = min(5, T // 4) if max_lag is None else int(max_lag)
    if L < 1 or T - 2 * L < 2:
        return float("nan")
    ts = np.arange(L, T - L)
    shifts = np.arange(-L, L + 1)
    e = np.array([np.linalg.norm(est[ts] - gt[ts - s], axis=-1).mean() for s in shifts])
    i = int(np.argmin(e))
    lag = float(shifts[i])
    if 0 < i < len(e) - 1:
        den = e[i - 1] - 2 * e[i] + e[i + 1]
        if den > 0:
            lag += 0.5 * (e[i - 1] - e[i + 1]) / den
    return lag



# ----------------------------------------------------------------- peers
def peer_methods(grids: Grids) -> dict:
    """name -> (grid, fn(J_cam (T, K, 3), fps, params) -> filtered)."""
    return {
        "One Euro": (grids.one_euro, lambda J, fps, p: peers.one_euro(J, fps, p["mincutoff"], p["beta"])),
        "Kalman CV": (grids.kalman, lambda J, fps, p: peers.kalman_cv(J, fps, p["q"], p["r"])),
        "Savitzky-Golay": (grids.savgol, lambda J, fps, p: peers.savgol_causal(J, p["window"], p["order"])),
    }


def scores(pairs, fps: float) -> dict:
    """Mean over sequences of MPJPE, acceleration error and lag for (estimate, ground truth) pairs (mm)."""
    from trt_tracker.metrics import accel_error, mpjpe

    def mean(xs):
        xs = [x for x in xs if np.isfinite(x)]
        return float(np.mean(xs)) if xs else float("nan")

    return {"mpjpe": mean([mpjpe(e, g) for e, g in pairs]),
            "accel": mean([accel_error(e, g) if len(g) > 2 else np.nan for e, g in pairs]),
            "lag_frames": mean([lag_frames(e, g) for e, g in pairs])}


def tune_peer(grid, fn, val, fps: float) -> tuple[dict, float]:
    """(params, validation MPJPE) minimising the mean MPJPE over ``val`` = [(J_cam, gt_cam)]."""
    from trt_tracker.metrics import mpjpe

    best, best_err = None, math.inf
    for p in grid:
        e = float(np.mean([mpjpe(fn(J, fps, p), g) for J, g in val]))
        if e < best_err:
            best, best_err = p, e
    return best, best_err


def run_peers(grids: Grids, val, test, fps: float) -> dict:
    """Each peer tuned on ``val`` only, then scored on ``test`` (lists of (J_cam, gt_cam))."""
    out = {}
    for name, (grid, fn) in peer_methods(grids).items():
        p, val_err = tune_peer(grid, fn, val, fps)
        out[name] = {"params": p, "val_mpjpe": val_err, "at_grid_edge": grid_edges(grid, p),
                     **scores([(fn(J, fps, p), g) for J, g in test], fps)}
    return out


# ----------------------------------------------------------------- models
def model_label(cfg, path: Path) -> str:
    return {"BODY17": "body", "HAND21": "hand"}.get(str(cfg.skeleton).upper(), path.name)


def load_models(path) -> dict:
    """{'nets': {fusion: nets}, 'main': fusion of temporal.pt, 'late': nets or None, 'cfg', 'label', 'path'}.

    ``nets`` holds the tracker's networks (``temporal.pt``) first, then the
    other temporal networks of the directory (``temporal-late.pt``,
    ``temporal-early.pt``) with the same pose and spatial networks.  Raises
    with the path in the message.
    """
    from trt_tracker.models.graphs import load_model_dir

    path = Path(path)
    main = load_model_dir(path)
    nets = {main["temporal"][1].fusion: main}
    for fusion, file in (("late", "temporal-late.pt"), ("early", "temporal-early.pt")):
        if (path / file).is_file() and fusion not in nets:
            other = load_model_dir(path, temporal=file)
            if other["temporal"][1].fusion != fusion:
                raise ValueError(f"{path / file} is not a {fusion}-fusion temporal network")
            nets[fusion] = other
    cfg = main["pose"][1]
    return {"nets": nets, "main": main["temporal"][1].fusion, "late": nets.get("late"), "cfg": cfg,
            "label": model_label(cfg, path), "path": path}


def fusions(m) -> list[str]:
    return list(m["nets"])


def configurations(m) -> list[tuple[str, tuple]]:
    """(fusion, durations): single-frame once, then every non-empty set per fusion."""
    return [("none", ())] + [(f, d) for f in fusions(m) for d in TRADEOFF_DURATIONS if d]


# ----------------------------------------------------------------- timing
def _session(data: bytes, threads: int):
    """The tracker's own ONNX Runtime backend (CPU, ``threads`` intra-op threads, no spinning, so the
    idle sessions of a step do not steal the cores of the running one)."""
    from trt_tracker.runtime.onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend(data, "cpu", threads=threads).session


def time_steps(m, configs, threads: int, steps: int, rounds: int, warmup: int = 20, seed: int = 0,
               progress: bool = True) -> dict:
    """Per configuration: step time summary (ms), component medians (ms) and fps, timed side by side."""
    from trt_tracker.export import export_graph, export_late_fusion, graph_example
    from trt_tracker.models.graphs import build_graphs
    from trt_tracker.skeleton import get_skeleton
    from trt_tracker.solver import OnlineSolver

    cfg = m["cfg"]
    sk = get_skeleton(cfg.skeleton)
    graphs = build_graphs(m["nets"][m["main"]])
    frame = _session(export_graph(graphs["frame"], cfg, "frame"), threads)
    # Stacked-pair temporal graphs (what the tracker runs) for every network but the late-fusion one.
    temporal_bytes = {}
    for f, nets in m["nets"].items():
        if f != "late":
            g = graphs if f == m["main"] else build_graphs(nets)
            temporal_bytes[f] = export_graph(g["temporal"], cfg, "temporal")
    late_bytes = export_late_fusion(m["late"]["temporal"][0], m["late"]["temporal"][1]) if m["late"] else None
    dmax = max(max(d) for _, d in configs if d)
    image = graph_example(cfg, "frame", 1, seed)["image"]
    pair_ex = graph_example(cfg, "temporal", dmax, seed + 1)

    def make_step(fusion, D):
        n = len(D)
        solver = OnlineSolver(sk, D, alpha=1.0, gammas=1.0, window=WINDOW)
        if fusion in temporal_bytes:
            sess = _session(temporal_bytes[fusion], threads)
            feeds = {"pair": pair_ex["pair"][:n], "related": pair_ex["related"][:n]}

            def temporal():
                return sess.run(None, feeds)[0]
        elif fusion == "late":
            fs, hs = _session(late_bytes[0], threads), _session(late_bytes[1], threads)
            img = image[:, : m["late"]["temporal"][1].frame_channels]
            f0 = fs.run(None, {"image": img})[0]
            cache = [f0.copy() for _ in range(max(D) + 1)]       # features of frames t-1 .. t-max(D)
            rel = pair_ex["related"][:n]

            def temporal():
                f = fs.run(None, {"image": img})[0]
                cache.insert(0, f)
                cache.pop()
                prev = np.concatenate([cache[d] for d in D])
                cur = np.repeat(f, n, axis=0)
                return hs.run(None, {"features_prev": prev, "features_cur": cur, "related": rel})[0]
        else:
            temporal = None

        def step():
            t0 = time.perf_counter()
            J, B, _ = frame.run(None, {"image": image})
            t1 = time.perf_counter()
            deltas = {}
            if temporal is not None:
                out = temporal()
                deltas = {d: out[i].astype(np.float64) for i, d in enumerate(D)}
            t2 = time.perf_counter()
            solver.update(J[0].astype(np.float64), B[0].astype(np.float64), deltas)
            t3 = time.perf_counter()
            return t1 - t0, t2 - t1, t3 - t2, t3 - t0
        return step

    names = [config_name(f, d) for f, d in configs]
    fns = {n: make_step(f, d) for n, (f, d) in zip(names, configs)}
    for n in names:
        for _ in range(warmup):
            fns[n]()
    rec = {n: [] for n in names}
    per_round = max(1, steps // rounds)
    rng = np.random.default_rng(seed)
    before, load0 = common.cpu_times(), _loadavg()
    bar = _tqdm(total=rounds * per_round * len(names), desc=f"timing {m['label']}", unit="step",
                disable=not progress)
    for _ in range(rounds):
        for i in rng.permutation(len(names)):
            n = names[i]
            for _ in range(per_round):
                rec[n].append(fns[n]())
            bar.update(per_round)
    bar.close()
    out = {}
    for n, (f, d) in zip(names, configs):
        a = np.asarray(rec[n])
        s = common.summary(a[:, 3], "ms")
        out[n] = {"fusion": f, "durations": list(d), "step_ms": s, "fps": 1000.0 / s["median"],
                  "components_ms": {"frame_graph": float(np.median(a[:, 0]) * 1e3),
                                    "temporal": float(np.median(a[:, 1]) * 1e3),
                                    "solver": float(np.median(a[:, 2]) * 1e3)}}
    return {"configs": out, "threads": threads, "steps_per_config": rounds * per_round, "rounds": rounds,
            "warmup": warmup, "steal_fraction": common.steal_fraction(before, common.cpu_times()),
            "loadavg_before": load0, "loadavg_after": _loadavg()}


def _loadavg():
    try:
        return list(np.round(__import__("os").getloadavg(), 2))
    except OSError:
        return None


def _tqdm(**kw):
    from tqdm import tqdm

    return tqdm(**kw)


# ----------------------------------------------------------------- accuracy
def predict_all(m, seeds, n_frames: int, fps_list, progress: bool = True, desc: str = "") -> dict:
    """{fps: {fusion: [(frameless seq, predictions)]}}: each sequence rendered once, predicted once per
    fps for the union of the duration sets; late fusion reuses the pose/spatial outputs."""
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.evaluate import predict_sequence, torch_predictor, without_frames

    cfg = m["cfg"]
    union = tuple(sorted(set().union(*TRADEOFF_DURATIONS)))
    nets = m["nets"]
    preds = {f: torch_predictor(cfg, nets[f]["pose"][0], nets[f]["spatial"][0], nets[f]["temporal"][0])
             for f in fusions(m)}
    out = {fps: {f: [] for f in preds} for fps in fps_list}
    bar = _tqdm(total=len(seeds) * len(fps_list), desc=f"predicting {m['label']} {desc}", unit="seq·fps",
                disable=not progress)
    for seed in seeds:
        seq = make_sequence(cfg.modality, seed, n_frames)
        for fps in fps_list:
            s = seq.at_fps(fps)
            main = predict_sequence(s, preds[m["main"]], union)
            light = without_frames(s)
            out[fps][m["main"]].append((light, main))
            for f in preds:
                if f != m["main"]:
                    out[fps][f].append((light, predict_sequence(s, preds[f], union, reuse=main)))
            bar.update(1)
        del seq
    bar.close()
    return out


def evaluate_configs(m, configs, val, test, fps: float, grids: Grids) -> dict:
    """Per configuration: alpha, gamma tuned on ``val``; test MPJPE, acceleration error, lag."""
    from trt_tracker.evaluate import to_cam, track, tune_tracker

    out = {}
    for fusion, D in configs:
        f = m["main"] if fusion == "none" else fusion
        a, g, val_err = tune_tracker(val[f], D, bones=True, alphas=grids.alphas, gammas=grids.gammas)
        pairs = [(to_cam(s, track(p, s.skeleton, D, a, g, WINDOW)), s.joints_cam) for s, p in test[f]]
        used = {"alpha": a, **({"gamma": g} if D else {})}
        grid = [{"alpha": x, **({"gamma": y} if D else {})} for x in grids.alphas for y in grids.gammas]
        out[config_name(fusion, D)] = {"fusion": fusion, "durations": list(D), "alpha": a,
                                       "gamma": g if D else None, "val_mpjpe": val_err,
                                       "at_grid_edge": grid_edges(grid, used), **scores(pairs, fps)}
    return out


def benchmark_model(m, args, grids: Grids, progress: bool = True) -> tuple[dict, dict]:
    from trt_tracker.evaluate import to_cam
    from trt_tracker.train import TEST_SEEDS, VAL_SEEDS

    configs = configurations(m)
    timing = time_steps(m, configs, args.threads, args.steps, args.rounds, progress=progress)
    test_seeds = list(range(TEST_SEEDS, TEST_SEEDS + args.test))
    val_seeds = list(range(VAL_SEEDS + 100, VAL_SEEDS + 100 + args.val))
    val = predict_all(m, val_seeds, args.frames, args.fps, progress, "val")
    test = predict_all(m, test_seeds, args.frames, args.fps, progress, "test")
    acc, peer_rows, fronts = {}, {}, {}
    names = [config_name(f, d) for f, d in configs]
    for fps in _tqdm(iterable=args.fps, desc=f"tuning {m['label']}", unit="fps", disable=not progress):
        key = f"{fps:g}"
        rows = evaluate_configs(m, configs, val[fps], test[fps], fps, grids)
        acc[key] = rows
        fr = pareto_front([timing["configs"][n]["fps"] for n in names], [rows[n]["mpjpe"] for n in names])
        fronts[key] = [names[i] for i in fr]
        # Peers on the same single-frame joints, camera space (mm).
        vJ = [(to_cam(s, p["J"]), s.joints_cam) for s, p in val[fps][m["main"]]]
        tJ = [(to_cam(s, p["J"]), s.joints_cam) for s, p in test[fps][m["main"]]]
        best = min(names, key=lambda n: rows[n]["val_mpjpe"])
        pr = {"single-frame (raw)": {"params": {}, **scores(tJ, fps)},
              "ours (best on val)": {"config": best, **{k: rows[best][k] for k in
                                                        ("alpha", "gamma", "val_mpjpe", "mpjpe", "accel",
                                                         "lag_frames")}}}
        pr.update(run_peers(grids, vJ, tJ, fps))
        for r in pr.values():
            r["lag_ms"] = r["lag_frames"] * 1000.0 / _true_fps(test[fps][m["main"]], fps)
        peer_rows[key] = pr
    cfg_rows = []
    for n, (f, d) in zip(names, configs):
        cfg_rows.append({"name": n, "fusion": f, "durations": list(d), "fps": timing["configs"][n]["fps"],
                         "step_ms_median": timing["configs"][n]["step_ms"]["median"],
                         "accuracy": {k: acc[k][n] for k in acc}})
    res = {"model_dir": str(m["path"]), "skeleton": str(m["cfg"].skeleton), "modality": m["cfg"].modality,
           "fusions": fusions(m), "late_fusion_missing": m["late"] is None,
           "sequences": {"test_seeds": test_seeds, "val_seeds": val_seeds,
                         "frames_per_fps": {f"{fps:g}": int(sum(len(s) for s, _ in test[fps][m["main"]]))
                                            for fps in args.fps}},
           "timing": timing, "configs": cfg_rows, "pareto": fronts}
    return res, peer_rows


def _true_fps(pairs, fps):
    return float(pairs[0][0].fps) if pairs else fps


# ----------------------------------------------------------------- output
MARKERS = {"none": ("*", "black"), "early": ("o", "tab:blue"), "late": ("^", "tab:orange"),
           "corr": ("s", "tab:green")}


def plot(res: dict, label: str, path) -> None:
    """fps (x) against MPJPE (y), one panel per sequence frame rate; Pareto front as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = list(res["pareto"])
    fig, axes = plt.subplots(1, len(rates), figsize=(5.2 * len(rates) + 0.6, 4.6), squeeze=False)
    rows = {r["name"]: r for r in res["configs"]}
    for ax, rate in zip(axes[0], rates):
        for fusion, (mk, col) in MARKERS.items():
            pts = [r for r in res["configs"] if r["fusion"] == fusion]
            if not pts:
                continue
            ax.scatter([r["fps"] for r in pts], [r["accuracy"][rate]["mpjpe"] for r in pts], marker=mk,
                       s=110 if mk == "*" else 50, color=col, zorder=3,
                       label={"none": "single-frame (+bone)", "early": "early fusion",
                              "late": "late fusion (cached features)",
                              "corr": "correlation (cost volume)"}[fusion])
            for r in pts:
                ax.annotate(set_label(r["durations"]) if r["durations"] else "{}",
                            (r["fps"], r["accuracy"][rate]["mpjpe"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color=col)
        front = [rows[n] for n in res["pareto"][rate]]
        ax.plot([r["fps"] for r in front], [r["accuracy"][rate]["mpjpe"] for r in front], "-o", color="tab:green",
                mfc="none", ms=13, mew=1.5, alpha=0.8, zorder=2, label="Pareto front (faster and better)")
        ax.set_title(f"{rate} fps test sequences")
        ax.set_xlabel("tracker steps per second (ONNX Runtime CPU)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MPJPE (mm)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{label}: speed-accuracy trade-off of the duration sets ({Path(res['model_dir']).name})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_tables(result: dict) -> None:
    for label, res in result["models"].items():
        rates = list(res["pareto"])
        print(f"\n{label} ({res['model_dir']}): MPJPE mm / accel mm/frame² per test frame rate; "
              f"* = on the Pareto front")
        print(f"{'config':16s}{'fps':>8s}" + "".join(f"{r + ' fps':>18s}" for r in rates))
        for r in res["configs"]:
            cells = "".join(f"{r['accuracy'][k]['mpjpe']:7.1f}/{r['accuracy'][k]['accel']:5.1f}"
                            f"{'*' if r['name'] in res['pareto'][k] else ' ':>2s}    " for k in rates)
            print(f"{r['name']:16s}{r['fps']:8.1f}  {cells}")
        if res["late_fusion_missing"]:
            print("(no temporal-late.pt in this model directory: late fusion not measured)")
        print(f"\n{label} peers (tuned on validation sequences): MPJPE mm / accel mm/frame² / lag frames")
        for rate, rows in result["peers"][label].items():
            print(f"  {rate} fps")
            for name, r in rows.items():
                extra = r.get("config") or ", ".join(f"{k}={v:g}" for k, v in r.get("params", {}).items())
                edge = (f"  (at grid edge: {', '.join(r['at_grid_edge'])})"
                        if r.get("at_grid_edge") and not result["quick"] else "")
                print(f"    {name:20s}{r['mpjpe']:8.1f}{r['accel']:8.1f}{r['lag_frames']:7.2f}   {extra}{edge}")
        edges = sorted({f"{c['name']} @ {k} fps: {', '.join(a['at_grid_edge'])}" for c in res["configs"]
                        for k, a in c["accuracy"].items() if a["at_grid_edge"]})
        if edges and not result["quick"]:     # the quick grids have 2 values: every choice is an edge
            print(f"  tracker parameters at a grid edge ({len(edges)}): " + "; ".join(edges[:6])
                  + (" ..." if len(edges) > 6 else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["export/body-lite", "export/hand-lite"],
                    help="model directories (pose.pt, spatial.pt, temporal.pt, optional temporal-late.pt)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 test + 1 val sequence of 60 frames, 25 fps, small grids, short timing")
    ap.add_argument("--test", type=int, help="test sequences (default 8, quick 1)")
    ap.add_argument("--val", type=int, help="validation sequences (default 4, quick 1)")
    ap.add_argument("--frames", type=int, help="frames per sequence at 50 fps (default 300, quick 60)")
    ap.add_argument("--fps", type=float, nargs="+", help="sequence frame rates (default 25 8 2.5, quick 25)")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads for the timings")
    ap.add_argument("--steps", type=int, help="timed steps per configuration (default 400, quick 60)")
    ap.add_argument("--rounds", type=int, help="timing rounds over all configurations (default 20, quick 6)")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/tradeoff.json, "
                                  "quick: tradeoff-quick.json); plots go next to it")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    q = args.quick
    for k, full, quick in (("test", 8, 1), ("val", 4, 1), ("frames", 300, 60), ("fps", list(FPS), [25.0]),
                           ("steps", 400, 60), ("rounds", 20, 6)):
        if getattr(args, k) is None:
            setattr(args, k, quick if q else full)
    if min(args.test, args.val, args.frames, args.steps, args.rounds, args.threads) < 1:
        ap.error("--test, --val, --frames, --steps, --rounds and --threads must be >= 1")
    grids = QUICK_GRIDS if q else FULL_GRIDS
    out = Path(args.out) if args.out else common.RESULTS / ("tradeoff-quick.json" if q else "tradeoff.json")
    progress = not args.no_progress

    models = []
    for path in args.models:
        try:
            models.append(load_models(path))
        except (FileNotFoundError, ValueError, KeyError, OSError) as e:
            msg = str(e) if str(path) in str(e) else f"{path}: {e}"
            print(f"error: cannot load model directory {path}: {msg}")
            return 2
    labels = [m["label"] for m in models]
    if len(set(labels)) != len(labels):
        for m in models:
            m["label"] = m["path"].name

    import onnxruntime as ort
    import torch

    t_start = time.perf_counter()
    result = {"benchmark": "tradeoff", "machine": common.machine_info(), "quick": q,
              "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__},
              "protocol": {"test_sequences": args.test, "val_sequences": args.val, "frames_at_50fps": args.frames,
                           "fps": args.fps, "crops": "ground-truth boxes", "root_depth": "ground truth",
                           "window": WINDOW, "duration_sets": [list(d) for d in TRADEOFF_DURATIONS],
                           "tracker_grid": {"alphas": grids.alphas, "gammas": grids.gammas},
                           "peer_grids": {"One Euro": grids.one_euro, "Kalman CV": grids.kalman,
                                          "Savitzky-Golay": grids.savgol},
                           "tuning": "per fps and configuration on the validation sequences only",
                           "peers_space": "camera mm (single-frame 2.5D + ground-truth root depth)",
                           "ours_in_peers": "the configuration with the lowest validation MPJPE",
                           "timing": "ONNX Runtime CPU; frame graph b1 + temporal (early: 1 call b|D|; late: "
                                     "features b1 + head b|D| on cached features) + solver update; "
                                     "fps = 1 / median step",
                           "units": {"mpjpe": "mm", "accel": "mm/frame^2", "lag_frames": "frames",
                                     "lag_ms": "ms"},
                           "lag": "shift s in frames (sub-frame, parabolic) minimising MPJPE(est[t], gt[t-s]) "
                                  "over fixed frames t; 0 = unbiased, k = delayed by k frames"},
              "models": {}, "peers": {}}
    for m in models:
        res, pr = benchmark_model(m, args, grids, progress)
        result["models"][m["label"]] = res
        result["peers"][m["label"]] = pr
    result["wall_s"] = time.perf_counter() - t_start
    path = common.write_result("tradeoff", result, out)
    if not args.no_plot:
        for label, res in result["models"].items():
            png = path.with_name(f"{path.stem}-{label}.png")
            plot(res, label, png)
            res["plot"] = png.name
        common.write_result("tradeoff", result, out)
    print_tables(result)
    print(f"\nwrote {path} in {result['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
