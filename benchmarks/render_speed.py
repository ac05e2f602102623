"""Synthetic data rendering speed on one CPU thread: frames/s, median and p95 latency per frame.

    python -m benchmarks.render_speed [--frames 1000] [--size N] [--which body|hand]

``bench_body`` renders BODY17 RGB frames the way ``make_body_sequence`` does
(shadow, shaded capsules and ellipsoids, occluders, motion blur from the
previous frame, gaussian blur, sensor noise) for several sequences (different
subjects, actions, cameras and backgrounds), after a warm-up, timing each
``render`` call.  Per-sequence set-up (subject, motion, camera, background
and noise tiles) is timed separately.  ``bench_hand`` renders HAND21 depth
frames (capsules z-buffered, RealSense-like sensor model) at 320x240 and also
times the noise-free render, the z-buffer alone and the sensor model alone.
Results go to
``benchmarks/results/render_speed.json`` with the machine details; running
one benchmark keeps the others' entries in that file.

To add another renderer, write ``bench_<name>(frames, size, warmup, seed,
progress) -> dict`` and register it in :data:`BENCHES`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.common import RESULTS, cpu_times, machine_info, steal_fraction

# ------------------------------------------------------------------ settings
FRAMES = 1000          # timed frames per benchmark
WARMUP = 30            # untimed renders first
SIZE = 256             # image side (square)
SEED = 0
SEQUENCES = 5          # the timed frames are spread over this many sequences
OUT = RESULTS / "render_speed.json"


def frame_stats(seconds: np.ndarray) -> dict:
    ms = np.asarray(seconds) * 1e3
    return {
        "frames": int(ms.size),
        "median_ms": round(float(np.median(ms)), 4),
        "p95_ms": round(float(np.percentile(ms, 95)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "mean_ms": round(float(ms.mean()), 4),
        "fps_median": round(float(1e3 / np.median(ms)), 1),
        "fps_throughput": round(float(ms.size * 1e3 / ms.sum()), 1),
    }


def bench_body(frames: int = FRAMES, size: int | None = None, warmup: int = WARMUP, seed: int = SEED,
               progress: bool = True, sequences: int = SEQUENCES) -> dict:
    """Time ``BodyRenderer.render`` on ``frames`` frames of ``size`` x ``size`` RGB, one thread."""
    size = size or SIZE
    from trt_tracker.data.body import (ACTIONS, BODY_GENERATOR_VERSION, BodyRenderer, frame_motion,
                                       sample_body_camera, sample_body_subject, simulate_body)

    per_seq = -(-frames // sequences)
    setups, motion_s, jobs = [], [], []
    for s in range(sequences):
        t0 = time.perf_counter()
        rng_subject, rng_motion, rng_camera, rng_render, rng_lean = np.random.default_rng([seed, s]).spawn(5)
        subject = sample_body_subject(rng_subject)
        action = ACTIONS[(seed + s) % len(ACTIONS)]
        t1 = time.perf_counter()
        motion = simulate_body(action, subject, per_seq + 1, 50.0, rng_motion)
        motion_s.append((time.perf_counter() - t1) / (per_seq + 1))
        cam = frame_motion(sample_body_camera(rng_camera, "h36m", size), motion.joints)
        J = cam.world_to_camera(motion.joints)
        uv = cam.intrinsics.project(J).reshape(-1, 2)
        renderer = BodyRenderer(cam.intrinsics, subject, rng_render, camera=cam, person_box=(*uv.min(0), *uv.max(0)),
                                occluders=2)
        setups.append(time.perf_counter() - t0)
        lean = BodyRenderer(cam.intrinsics, subject, rng_lean, camera=cam, occluders=0, motion_blur=False,
                            blur=False, noise=False)
        jobs.append((action, renderer, lean, J))

    full, bare = [], []
    for action, renderer, lean, J in jobs:
        for i in range(1, min(warmup, len(J))):
            renderer.render(J[i], i, J[i - 1])
            lean.render(J[i], i)
        it = range(1, len(J))
        if progress:
            it = tqdm(it, desc=f"body {action}", unit="frame", leave=False)
        for i in it:
            t0 = time.perf_counter()
            renderer.render(J[i], i, J[i - 1])
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            lean.render(J[i], i)
            bare.append(time.perf_counter() - t0)
    stages = {"render": frame_stats(np.array(full[:frames])),
              "render_person_only": frame_stats(np.array(bare[:frames]))}
    return {
        "description": "BODY17 RGB frames (BodyRenderer.render, as in make_body_sequence), one CPU thread; "
                       "render_person_only: no occluders, motion blur, blur or noise",
        "image_size": [size, size],
        "camera": "h36m",
        "actions": [job[0] for job in jobs],
        "occluders_per_frame": 2,
        "warmup_frames_per_sequence": warmup,
        "seed": seed,
        "generator_version": BODY_GENERATOR_VERSION,
        "stages": stages,
        "sequence_setup_ms": round(float(np.median(setups)) * 1e3, 2),
        "motion_ms_per_frame": round(float(np.median(motion_s)) * 1e3, 4),
    }


def bench_hand(frames: int = FRAMES, size: int | None = None, warmup: int = WARMUP, seed: int = SEED,
               progress: bool = True) -> dict:
    """Time ``HandDepthRenderer.render`` on ``frames`` 320x240 depth frames (``size``: width, 4:3), one thread."""
    from trt_tracker.data.hand import (GENERATOR_VERSION, HandDepthRenderer, hand_intrinsics, hand_motion,
                                       sample_hand_scene, sample_hand_subject)

    W = size or 320
    intr = hand_intrinsics((W, W * 3 // 4))
    rng = np.random.default_rng(seed)
    subject = sample_hand_subject(rng)
    t0 = time.perf_counter()
    poses = hand_motion(subject, frames, 50.0, rng, intrinsics=intr)
    motion_ms = (time.perf_counter() - t0) * 1e3 / frames
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
        for i in range(warmup):
            fn(poses[i % len(poses)])
        times = np.empty(len(poses))
        it = tqdm(range(len(poses)), desc=f"hand {name}", unit="frame", leave=False) if progress else range(len(poses))
        for i in it:
            t1 = time.perf_counter()
            fn(poses[i])
            times[i] = time.perf_counter() - t1
        results[name] = frame_stats(times)
    return {
        "description": "HAND21 capsule depth frames (HandDepthRenderer.render: z-buffer + RealSense-like sensor "
                       "model), one CPU thread",
        "image_size": [intr.width, intr.height],
        "capsules_per_frame": len(r.capsules(poses[0])[0]),
        "warmup_calls": warmup,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "stages": results,
        "motion_ms_per_frame": round(motion_ms, 4),
    }


#: Registered benchmarks: name -> function(frames, size, warmup, seed, progress) -> dict.
BENCHES = {"body": bench_body, "hand": bench_hand}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=FRAMES, help=f"timed frames per benchmark (default {FRAMES})")
    p.add_argument("--warmup", type=int, default=WARMUP, help=f"untimed renders first (default {WARMUP})")
    p.add_argument("--size", type=int, help=f"image side (body, default {SIZE}) or width (hand, default 320)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--which", choices=sorted(BENCHES), action="append",
                   help="benchmark(s) to run (repeatable; default all)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.frames < 10 or args.warmup < 0 or (args.size is not None and args.size < 32):
        p.error("--frames must be >= 10, --warmup >= 0 and --size >= 16")
    cv2.setNumThreads(1)

    report = {}
    if args.out.exists():
        try:
            report = json.loads(args.out.read_text())
        except json.JSONDecodeError:
            report = {}
    report["benchmark"] = "render_speed"
    report["threads"] = 1
    report["machine"] = machine_info()
    for name in args.which or sorted(BENCHES):
        t0 = cpu_times()
        res = BENCHES[name](frames=args.frames, size=args.size, warmup=args.warmup, seed=args.seed,
                            progress=not args.no_progress)
        res["cpu_steal_fraction"] = steal_fraction(t0, cpu_times())
        report[name] = res
        st = res["stages"]["render"]
        print(f"{name}: {st['fps_throughput']:.0f} frames/s  (median {st['median_ms']:.2f} ms, "
              f"p95 {st['p95_ms']:.2f} ms per {'x'.join(map(str, res['image_size']))} frame, one thread; "
              f"CPU steal {res['cpu_steal_fraction']})")
        for stage, s in res["stages"].items():
            if stage != "render":
                print(f"  {stage}: median {s['median_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
