"""Hand depth rendering speed on one CPU thread: frames/s, median and p95 latency.

    .venv/bin/python benchmarks/render_speed_hand.py [--frames 600] [--size 320x240]

Renders a synthetic hand motion (HAND21 capsules z-buffered, RealSense-like
sensor model) after a warm-up, timing each call, and writes
``benchmarks/results/render_speed_hand.json`` with the machine details.
Stages timed separately: the full ``render`` (geometry + z-buffer + sensor
noise/holes), the noise-free ``render(noise=False)``, the z-buffer alone
(``render_clean``) and the sensor model alone; plus motion generation per frame.
"""
from __future__ import annotations

import os

# One thread everywhere, before NumPy/OpenCV load their thread pools.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
try:
    import trt_tracker  # noqa: E402
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(ROOT))
    import trt_tracker  # noqa: E402

from trt_tracker.data.hand import (GENERATOR_VERSION, HandDepthRenderer, hand_intrinsics,  # noqa: E402
                                   hand_motion, sample_hand_scene, sample_hand_subject)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "opencv": cv2.__version__,
        "trt_tracker": getattr(trt_tracker, "__version__", "unknown"),
        "generator_version": GENERATOR_VERSION,
        "threads": 1,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def time_calls(fn, poses, warmup: int, desc: str) -> np.ndarray:
    for i in range(warmup):
        fn(poses[i % len(poses)])
    out = np.empty(len(poses))
    for i in tqdm(range(len(poses)), desc=desc, unit="frame", leave=False):
        t0 = time.perf_counter()
        fn(poses[i])
        out[i] = time.perf_counter() - t0
    return out * 1e3  # ms


def summary(ms: np.ndarray) -> dict:
    return {
        "frames": int(len(ms)),
        "median_ms": round(float(np.median(ms)), 4),
        "p95_ms": round(float(np.percentile(ms, 95)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "mean_ms": round(float(np.mean(ms)), 4),
        "fps_median": round(float(1e3 / np.median(ms)), 2),
        "fps_throughput": round(float(len(ms) * 1e3 / np.sum(ms)), 2),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=600, help="timed frames per stage (default 600)")
    p.add_argument("--warmup", type=int, default=30, help="untimed calls first (default 30)")
    p.add_argument("--size", default="320x240", help="image WIDTHxHEIGHT (default 320x240, MSRA15-like)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "render_speed_hand.json")
    args = p.parse_args(argv)
    if args.frames < 10 or args.warmup < 0:
        p.error("--frames must be >= 10 and --warmup >= 0")
    try:
        W, H = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size must look like 320x240, got {args.size!r}")
    cv2.setNumThreads(1)

    intr = hand_intrinsics((W, H))
    rng = np.random.default_rng(args.seed)
    subject = sample_hand_subject(rng)
    t0 = time.perf_counter()
    poses = hand_motion(subject, args.frames, 50.0, rng, intrinsics=intr)
    motion_ms = (time.perf_counter() - t0) * 1e3
    scene = sample_hand_scene(rng, poses, subject)
    # The sensor's optional stages on, so the full render is the worst case.
    scene.sensor.shadow = True
    scene.sensor.blob_rate = max(scene.sensor.blob_rate, 0.004)
    r = HandDepthRenderer(intr, subject, rng, scene=scene)
    clean0 = r.render_clean(poses[0])

    stages = {
        "render": lambda j: r.render(j),
        "render_noise_free": lambda j: r.render(j, noise=False),
        "zbuffer_only": lambda j: r.render_clean(j),
        "sensor_model_only": lambda j: scene.sensor.apply(clean0, intr, r.rng),
    }
    results = {}
    for name, fn in stages.items():
        results[name] = summary(time_calls(fn, poses, args.warmup, name))
        print(f"{name:20s} median {results[name]['median_ms']:.3f} ms  p95 {results[name]['p95_ms']:.3f} ms  "
              f"{results[name]['fps_median']:.1f} frames/s")
    n_caps = len(r.capsules(poses[0])[0])
    report = {
        "benchmark": "render_speed_hand",
        "description": "HAND21 capsule depth rendering (z-buffer + RealSense-like sensor model), one CPU thread",
        "image_size": [W, H],
        "intrinsics": intr.as_array().tolist(),
        "capsules_per_frame": n_caps,
        "warmup_calls": args.warmup,
        "seed": args.seed,
        "stages": results,
        "motion_generation_ms_per_frame": round(motion_ms / args.frames, 4),
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    full = results["render"]
    print(f"full render: {full['fps_median']:.1f} frames/s (median {full['median_ms']:.2f} ms, "
          f"p95 {full['p95_ms']:.2f} ms) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
