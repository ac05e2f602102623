"""Solver benchmark: online update time, its ratio to a dense per-frame solve, scaling.

    python -m benchmarks.solver_bench [--quick] [--out PATH]

Measures, in one run on this machine:

* the online update for K=17, W=16, D={1,2,3} on one track (float64), and the
  same window solved with ``numpy.linalg.lstsq`` per frame (the system matrix
  prebuilt, so only the solve is timed): the headline ratio;
* scaling with the window W, the duration set |D|, and S batched tracks
  (track-updates per second), the per-frame-confidence path, and the offline
  banded ``solve_sequence`` over T frames;
* the CuPy path on a GPU when one is usable (float32 and float64).

Targets (issue 2): <= 50 us per single-track update on the CPU, >= 100x faster
than the dense per-frame solve, >= 1M track-updates/s at S=10,000 on a GPU.
Writes ``benchmarks/results/solver-<machine>.json``.
"""
from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from benchmarks.common import cpu_times, machine_info, machine_tag, steal_fraction, summary, time_calls, write_result
from trt_tracker.skeleton import BODY17
from trt_tracker.solver import OnlineSolver, normal_equations, solve_sequence

K = 17


def _inputs(rng, S, C=3, dtype=np.float64, xp=np):
    shape = (K, C) if S is None else (S, K, C)
    J = rng.normal(0, 100, size=shape)
    return xp.asarray(J, dtype=dtype)


def warm_solver(durations, W, S=None, dtype=np.float64, xp=np, confidences=False, rng=None):
    """A solver past its warm-up (window full, history available) and its per-frame inputs."""
    rng = rng or np.random.default_rng(0)
    s = OnlineSolver(BODY17, durations, alpha=1.0, gammas=1.0, window=W, confidences=confidences)
    J = _inputs(rng, S, dtype=dtype, xp=xp)
    B = _inputs(rng, S, dtype=dtype, xp=xp)
    D = {d: _inputs(rng, S, dtype=dtype, xp=xp) for d in durations}
    kw = {}
    if confidences:
        kw["weights"] = xp.asarray(rng.uniform(0.5, 1.5, size=(K,) if S is None else (S, K)), dtype=dtype)
    for _ in range(W + max(durations, default=0) + 2):
        s.update(J, B, D, **kw)
    return (lambda: s.update(J, B, D, **kw)), s


def dense_window_system(durations, W, alpha=1.0, gamma=1.0):
    """The full window's stacked least-squares rows (steady state: history frames frozen)."""
    par = np.array(BODY17.parents)
    rows = []
    for kind, i, j, w, _ in normal_equations(W, par, durations, alpha, gamma):
        M = np.zeros((len(i), W * K))
        M[np.arange(len(i)), i] = np.sqrt(w)
        pair = j >= 0
        M[np.flatnonzero(pair), j[pair]] = -np.sqrt(w[pair])
        rows.append(M)
    # Terms that reach frozen frames before the window keep only their first unknown.
    for d in durations:
        for w_ in range(min(d, W)):
            M = np.zeros((K, W * K))
            M[np.arange(K), w_ * K + np.arange(K)] = np.sqrt(gamma)
            rows.append(M)
    return np.vstack(rows)


def bench_headline(rng, repeat, rounds=5):
    """Online update vs dense lstsq of the same window, interleaved in ``rounds`` so both see the same host load."""
    W, D = 16, (1, 2, 3)
    fn, _ = warm_solver(D, W, rng=rng)
    M = dense_window_system(D, W)
    y = rng.normal(size=(M.shape[0], 3))
    dense = lambda: np.linalg.lstsq(M, y, rcond=None)  # noqa: E731
    t_online, t_dense, per_round = [], [], []
    for _ in range(rounds):
        a = time_calls(fn, repeat=repeat // rounds, warmup=50)
        b = time_calls(dense, repeat=max(repeat // (50 * rounds), 10), warmup=2)
        t_online.append(a)
        t_dense.append(b)
        per_round.append({"online_median_us": float(np.median(a) * 1e6), "dense_median_us": float(np.median(b) * 1e6),
                          "ratio": float(np.median(b) / np.median(a))})
    on, de = summary(np.concatenate(t_online)), summary(np.concatenate(t_dense))
    return {"K": K, "W": W, "durations": list(D), "dtype": "float64",
            "online_update": on, "dense_lstsq_per_frame": de,
            "dense_rows": list(M.shape), "rounds": per_round,
            "ratio_dense_over_online": de["median"] / on["median"]}


def bench_scaling(rng, repeat, quick):
    out = {"window": [], "durations": [], "batch_cpu": [], "confidences": []}
    Ws = [4, 8, 16, 32] if quick else [4, 8, 16, 32, 64]
    for W in tqdm(Ws, desc="scaling: window", leave=False):
        fn, _ = warm_solver((1, 2, 3), W, rng=rng)
        out["window"].append({"W": W, **summary(time_calls(fn, repeat=repeat))})
    for D in tqdm([(1,), (1, 2), (1, 2, 3), (1, 2, 4, 8)], desc="scaling: durations", leave=False):
        fn, _ = warm_solver(D, 16, rng=rng)
        out["durations"].append({"durations": list(D), **summary(time_calls(fn, repeat=repeat))})
    Ss = [1, 10, 100, 1000] if quick else [1, 10, 100, 1000, 10000]
    for S in tqdm(Ss, desc="scaling: tracks (CPU)", leave=False):
        for dtype in (np.float64, np.float32):
            fn, _ = warm_solver((1, 2, 3), 16, S=S, dtype=dtype, rng=rng)
            reps = max(10, min(repeat, int(2e5 / S)))
            s = summary(time_calls(fn, repeat=reps, warmup=3))
            out["batch_cpu"].append({"S": S, "dtype": np.dtype(dtype).name, **s,
                                     "track_updates_per_s": S / (s["median"] * 1e-6)})
    for W in (8, 16):
        fn, _ = warm_solver((1, 2, 3), W, confidences=True, rng=rng)
        out["confidences"].append({"W": W, **summary(time_calls(fn, repeat=max(repeat // 10, 50)))})
    return out


def bench_offline(rng, quick):
    out = []
    for T in ([500, 2000] if quick else [500, 2000, 8000]):
        J = rng.normal(0, 100, size=(T, K, 3))
        B = rng.normal(0, 100, size=(T, K, 3))
        D = {d: rng.normal(0, 10, size=(T, K, 3)) for d in (1, 2, 3, -1, -2, -3)}
        t = time_calls(lambda: solve_sequence(J, B, D, BODY17, "Dmfb"), repeat=3 if quick else 5, warmup=1)
        s = summary(t, "ms")
        out.append({"T": T, "durations": "Dmfb", **s, "us_per_frame": s["median"] * 1e3 / T})
    return out


def bench_gpu(rng, repeat):
    import cupy as cp

    sync = cp.cuda.Stream.null.synchronize
    out = []
    for S in tqdm([1, 100, 1000, 10000, 100000], desc="GPU tracks", leave=False):
        for dtype in (np.float32, np.float64):
            fn, _ = warm_solver((1, 2, 3), 16, S=S, dtype=dtype, xp=cp, rng=rng)
            s = summary(time_calls(fn, repeat=repeat // 5, warmup=20, sync=sync))
            out.append({"S": S, "dtype": np.dtype(dtype).name, **s,
                        "track_updates_per_s": S / (s["median"] * 1e-6)})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and sizes (CI smoke run)")
    ap.add_argument("--out", help="result file (default benchmarks/results/solver-<machine>.json)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    repeat = 300 if args.quick else 3000
    info = machine_info()
    cpu0 = cpu_times()
    steps = tqdm(total=4, desc="solver benchmark")
    head = bench_headline(rng, repeat)
    steps.update()
    scaling = bench_scaling(rng, repeat, args.quick)
    steps.update()
    offline = bench_offline(rng, args.quick)
    steps.update()
    gpu = bench_gpu(rng, repeat) if info["gpu"] else None
    steps.update()
    steps.close()
    info["cpu_steal_fraction"] = steal_fraction(cpu0, cpu_times())
    result = {"benchmark": "solver", "machine": info, "quick": args.quick, "headline": head,
              "scaling": scaling, "offline": offline, "gpu": gpu,
              "targets": {"update_us_max": 50, "ratio_min": 100, "gpu_track_updates_per_s_min": 1e6}}
    path = write_result(f"solver-{machine_tag(info)}", result, args.out)

    on = head["online_update"]
    print(f"\nmachine: {info['cpu']} ({info['cores']} cores){' + ' + info['gpu']['name'] if info['gpu'] else ''}, "
          f"BLAS threads {info['blas_threads']}, CPU steal during the run {info['cpu_steal_fraction']}")
    print(f"online update K=17 W=16 D={{1,2,3}} float64: median {on['median']:.1f} us, p95 {on['p95']:.1f} us "
          f"(target <= 50 us: {'met' if on['median'] <= 50 else 'NOT met'})")
    print(f"dense lstsq of the same window per frame: median {head['dense_lstsq_per_frame']['median']:.0f} us "
          f"-> ratio {head['ratio_dense_over_online']:.0f}x (target >= 100x); per round: "
          + ", ".join(f"{r['online_median_us']:.0f}us/{r['ratio']:.0f}x" for r in head["rounds"]))
    print("window W:   " + "  ".join(f"{r['W']}: {r['median']:.1f}us" for r in scaling["window"]))
    print("durations:  " + "  ".join(f"{tuple(r['durations'])}: {r['median']:.1f}us" for r in scaling["durations"]))
    print("tracks CPU: " + "  ".join(f"S={r['S']} {r['dtype']}: {r['track_updates_per_s']:.3g}/s"
                                     for r in scaling["batch_cpu"]))
    print("confidences (re-solve per frame): " + "  ".join(f"W={r['W']}: {r['median']:.0f}us"
                                                         for r in scaling["confidences"]))
    print("offline Dmfb: " + "  ".join(f"T={r['T']}: {r['median']:.0f} ms ({r['us_per_frame']:.1f} us/frame)"
                                       for r in offline))
    if gpu:
        print("tracks GPU: " + "  ".join(f"S={r['S']} {r['dtype']}: {r['track_updates_per_s']:.3g}/s" for r in gpu))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
