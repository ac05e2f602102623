"""Simulated tracking study: the solver's duration sets against peer smoothers, no networks.

    python -m benchmarks.simulated_study [--quick] [--out PATH]

Ground truth is synthetic body motion (BODY17, camera space, mm) sub-sampled
from 50 fps to 25, 8 and 2.5 fps.  Observations come from
:func:`trt_tracker.data.observations.simulate_observations`: single-frame error
larger than relation error, temporally correlated, with occasional outliers.
On the same observations we compare

* single-frame (the observations themselves) and +bone (spatial relations only);
* online, forward-only, sliding window W=16: Df = {1}, Dmf = {1,2,3}, each
  with and without bones;
* offline (whole sequence): Dfb = {1,-1}, Dmfb = {1,2,3,-1,-2,-3}, with and without bones;
* peers on the single-frame joints: One Euro filter, constant-velocity Kalman
  filter, causal Savitzky–Golay.

Every method's parameters (α and γ for ours; cut-offs, noise variances and
windows for the peers) are chosen by a small grid search on validation
sequences (different seeds from the test sequences).  Reported: MPJPE (mm) and
acceleration error (mm/frame²) on the test sequences.  Writes
``benchmarks/results/simulated_study.json`` and prints the table.
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np
from tqdm import tqdm

from benchmarks import peers
from benchmarks.common import grid_edges, machine_info, write_result
from trt_tracker.data.body import ACTIONS, body_motion, sample_body_subject
from trt_tracker.data.observations import NoiseModel, simulate_observations
from trt_tracker.metrics import accel_error, mpjpe
from trt_tracker.skeleton import BODY17
from trt_tracker.solver import DURATION_SETS, OnlineSolver, solve_sequence

NATIVE_FPS = 50.0
STEPS = {25: 2, 8: 6, 2.5: 20}            # sub-sampling steps from 50 fps (8 fps is 8.33 as in the paper's 3-step)
WINDOW = 16
ALL_D = (1, 2, 3, -1, -2, -3)


def ground_truth(seed: int, seconds: float) -> np.ndarray:
    """One synthetic body sequence at 50 fps in camera space (T, 17, 3) mm."""
    rng = np.random.default_rng(seed)
    subject = sample_body_subject(rng)
    action = ACTIONS[seed % len(ACTIONS)]
    return body_motion(action, subject, int(seconds * NATIVE_FPS), fps=NATIVE_FPS, rng=rng)


def make_split(seeds, seconds, fps, noise, obs_seed):
    """Ground truth at ``fps`` and its simulated observations, for each seed."""
    out = []
    for s in seeds:
        gt = ground_truth(s, seconds)[:: STEPS[fps]]
        J, B, D = simulate_observations(gt, BODY17, ALL_D, noise, np.random.default_rng(obs_seed + s), fps=fps)
        out.append((gt, J, B, D))
    return out


# ------------------------------------------------------------------ methods
def run_online(J, B, D, durations, alpha, gamma):
    s = OnlineSolver(BODY17, durations, alpha=alpha, gammas=gamma, window=WINDOW)
    out = np.empty_like(J)
    for t in range(len(J)):
        out[t] = s.update(J[t], B[t] if alpha > 0 else None, {d: D[d][t] for d in durations if t - d >= 0})
    return out


def run_offline(J, B, D, durations, alpha, gamma):
    return solve_sequence(J, B if alpha > 0 else None, {d: D[d] for d in durations}, BODY17, durations,
                          alpha, gamma)


def ours(durations, online, bones):
    """A method: its grid and how to run it on (J, B, D, fps, params)."""
    alphas = [0.25, 1.0, 4.0, 16.0, 64.0] if bones else [0.0]
    gammas = [0.25, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0] if durations else [1.0]
    grid = [{"alpha": a, "gamma": g} for a, g in itertools.product(alphas, gammas)]
    run = run_online if online else run_offline
    return grid, lambda J, B, D, fps, p: run(J, B, D, durations, p["alpha"], p["gamma"])


def peer_methods():
    return {
        "One Euro": ([{"mincutoff": m, "beta": b} for m in (0.1, 0.3, 1.0, 3.0) for b in (0.0, 0.003, 0.03, 0.3)],
                     lambda J, B, D, fps, p: peers.one_euro(J, fps, p["mincutoff"], p["beta"])),
        "Kalman CV": ([{"q": q, "r": r} for q in (1e5, 1e6, 1e7, 1e8) for r in (100.0, 400.0, 1600.0)],
                      lambda J, B, D, fps, p: peers.kalman_cv(J, fps, p["q"], p["r"])),
        "Savitzky-Golay": ([{"window": w, "order": o} for w in (3, 5, 9, 15, 25) for o in (1, 2, 3) if o < w],
                           lambda J, B, D, fps, p: peers.savgol_causal(J, p["window"], p["order"])),
    }


def methods():
    m = {"single-frame": ([{}], lambda J, B, D, fps, p: J.copy())}
    m["+bone"] = ours((), online=False, bones=True)
    for name in ("Df", "Dmf"):
        m[f"online {name}"] = ours(DURATION_SETS[name], online=True, bones=False)
        m[f"online {name} +bone"] = ours(DURATION_SETS[name], online=True, bones=True)
    for name in ("Dfb", "Dmfb"):
        m[f"offline {name}"] = ours(DURATION_SETS[name], online=False, bones=False)
        m[f"offline {name} +bone"] = ours(DURATION_SETS[name], online=False, bones=True)
    m.update(peer_methods())
    return m



def score(split, fn, fps, params):
    errs, accs, n = 0.0, 0.0, 0
    for gt, J, B, D in split:
        est = fn(J, B, D, fps, params)
        errs += mpjpe(est, gt) * len(gt)
        accs += accel_error(est, gt) * len(gt)
        n += len(gt)
    return errs / n, accs / n


def plot(result: dict, path) -> None:
    """MPJPE and acceleration error per method, one group of bars per frame rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result["table"]
    rates = list(table)
    names = list(table[rates[0]])
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), sharey=False)
    width = 0.8 / len(rates)
    for ax, key, label in ((axes[0], "mpjpe", "MPJPE (mm)"), (axes[1], "accel", "acceleration error (mm/frame²)")):
        for i, fps in enumerate(rates):
            vals = [table[fps][n][key] for n in names]
            ax.barh(np.arange(len(names)) + (i - (len(rates) - 1) / 2) * width, vals, height=width,
                    label=f"{fps} fps", color=plt.cm.viridis(0.15 + 0.35 * i))
        ax.set_yticks(np.arange(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    for tick in axes[0].get_yticklabels():
        if tick.get_text() in ("One Euro", "Kalman CV", "Savitzky-Golay"):
            tick.set_color("tab:red")
    axes[1].set_yticklabels([])
    axes[1].legend(loc="lower right")
    fig.suptitle("Simulated tracking study (BODY17, held-out sequences; peers in red; online = forward-only, W=16)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer and shorter sequences (CI smoke run)")
    ap.add_argument("--out", help="result file (default benchmarks/results/simulated_study.json)")
    ap.add_argument("--plot-only", action="store_true", help="redraw the plot from the existing result file")
    args = ap.parse_args(argv)
    from benchmarks.common import RESULTS

    if args.plot_only:
        import json
        from pathlib import Path

        src = Path(args.out) if args.out else RESULTS / "simulated_study.json"
        plot(json.loads(src.read_text()), src.with_suffix(".png"))
        print(f"wrote {src.with_suffix('.png')}")
        return 0
    n_val, n_test, seconds = (2, 3, 8.0) if args.quick else (6, 12, 24.0)
    noise = NoiseModel()
    val_seeds = list(range(1000, 1000 + n_val))
    test_seeds = list(range(2000, 2000 + n_test))
    table = {}
    ms = methods()
    for fps in tqdm(STEPS, desc="frame rates"):
        val = make_split(val_seeds, seconds, fps, noise, obs_seed=7)
        test = make_split(test_seeds, seconds, fps, noise, obs_seed=9)
        rows = {}
        for name, (grid, fn) in tqdm(ms.items(), desc=f"{fps} fps methods", leave=False):
            best = min(grid, key=lambda p: score(val, fn, fps, p)[0]) if len(grid) > 1 else grid[0]
            err, acc = score(test, fn, fps, best)
            rows[name] = {"mpjpe": err, "accel": acc, "params": best, "at_grid_edge": grid_edges(grid, best)}
        base = rows["single-frame"]["mpjpe"]
        for r in rows.values():
            r["mpjpe_change"] = r["mpjpe"] / base - 1
        table[str(fps)] = rows

    result = {"benchmark": "simulated_study", "machine": machine_info(), "quick": args.quick,
              "noise_model": noise.__dict__, "window": WINDOW, "val_seeds": val_seeds, "test_seeds": test_seeds,
              "seconds_per_sequence": seconds, "table": table}
    path = write_result("simulated_study", result, args.out)
    plot(result, path.with_suffix(".png"))

    names = list(ms)
    print("\nMPJPE (mm) / acceleration error (mm/frame^2) on held-out sequences; change vs single-frame")
    head = f"{'method':24s}" + "".join(f"{str(f) + ' fps':>26s}" for f in STEPS)
    print(head)
    for name in names:
        cells = []
        for f in STEPS:
            r = table[str(f)][name]
            cells.append(f"{r['mpjpe']:7.1f} ({100 * r['mpjpe_change']:+5.1f}%) {r['accel']:7.1f}")
        print(f"{name:24s}" + "".join(f"{c:>26s}" for c in cells))
    for f in STEPS:
        for name, r in table[str(f)].items():
            if r["at_grid_edge"]:
                print(f"note: {f} fps {name}: tuned {', '.join(r['at_grid_edge'])} at the edge of its grid {r['params']}")
    for f in STEPS:
        r = table[str(f)]
        order = r["single-frame"]["mpjpe"] > r["online Df"]["mpjpe"] > r["online Dmf"]["mpjpe"]
        print(f"{f} fps: single-frame > Df > Dmf online: {'yes' if order else 'NO'}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
