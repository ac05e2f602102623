"""MediaPipe Pose beside our body tracker, on the same frames and the same CPU.

    python -m benchmarks.mediapipe_peer [--sequences 8] [--frames 150] [--model export/body-lite] [--quick]

MediaPipe (``mediapipe==0.10.21``, the last wheel that ships its models and
the ``solutions`` API; BlazePose "full", video mode) needs numpy < 2 and
protobuf < 5, so it runs in its own virtual environment, which this
benchmark creates on first use (``--env``, default ``runs/mediapipe-env``;
:data:`MEDIAPIPE_REQUIREMENTS`) and drives through
``benchmarks/mediapipe_worker.py``.  Nothing of it is a dependency of
trt_tracker.

Frames: held-out synthetic body test sequences (seeds from 20_000_000,
rendered at 50 fps, sub-sampled to ``--fps``), the same frames for both.
Ours: ``trt-tracker track``'s tracker on ONNX Runtime with its own
initialisation and crops (nothing from the ground truth: the root depth is
fitted to nominal bone lengths, as for a monocular webcam), the duration set
``--durations`` with the model's tuned weights, and its single-frame output.

Compared on the joints both skeletons define (:data:`SHARED`: hips, knees,
ankles, shoulders, elbows, wrists, nose).  BODY17's root (pelvis), torso,
neck and head top have no MediaPipe landmark; MediaPipe's eyes, ears, mouth,
hands and feet have no BODY17 joint.  3D errors are root-relative with both
skeletons re-rooted at the mid-hip (MediaPipe's world landmarks have their
origin there), in mm; PA-MPJPE after a similarity Procrustes alignment per
frame removes the remaining differences of scale and rotation.  2D errors are
in image pixels.  A method's errors count the frames where it has a pose;
detection rate is the share of frames with one.  Acceleration error
(mm/frame²) and lag (frames, :func:`benchmarks.tradeoff.lag_frames`) come
from sequences tracked throughout.  Latency: wall time of one MediaPipe
``process`` call and of one tracker step (crop, networks, solver), measured
one method after the other on the same CPU, after a warm-up.

Writes ``benchmarks/results/mediapipe_peer.json`` (``--quick``:
``mediapipe_peer-quick.json``) and a bar chart beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine_info

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "mediapipe_worker.py"
DEFAULT_ENV = ROOT / "runs" / "mediapipe-env"
#: MediaPipe and what it imports, at versions that run together (it is installed with --no-deps:
#: its metadata also asks for jax, sounddevice and sentencepiece, which Pose never imports).
MEDIAPIPE_REQUIREMENTS = ["numpy==1.26.4", "protobuf>=4.25.3,<5", "absl-py>=2", "attrs>=23", "flatbuffers>=24",
                          "opencv-python-headless==4.11.0.86", "matplotlib>=3.8", "scikit-image==0.24.0"]
MEDIAPIPE = "mediapipe==0.10.21"
#: BODY17 joint name -> MediaPipe Pose landmark index, for the joints both skeletons define.
SHARED = {"r_hip": 24, "r_knee": 26, "r_ankle": 28, "l_hip": 23, "l_knee": 25, "l_ankle": 27, "nose": 0,
          "l_shoulder": 11, "l_elbow": 13, "l_wrist": 15, "r_shoulder": 12, "r_elbow": 14, "r_wrist": 16}
#: BODY17 joints with no MediaPipe counterpart, and why.
NOT_SHARED = {"root": "pelvis: MediaPipe has none (both skeletons are re-rooted at the mid-hip)",
              "torso": "spine: no landmark", "neck": "no landmark (the mid-shoulder is not BODY17's neck)",
              "head": "head top: MediaPipe has eyes and ears, not the top of the head"}


class PeerError(RuntimeError):
    """MediaPipe's environment could not be made or run."""


# ------------------------------------------------------------------ mapping and metrics
def body17_indices(skeleton) -> np.ndarray:
    """Indices of :data:`SHARED`'s joints in ``skeleton`` (BODY17), in :data:`SHARED`'s order."""
    return np.array([skeleton.names.index(n) for n in SHARED])


def mediapipe_indices() -> np.ndarray:
    return np.array(list(SHARED.values()))


def mid_hip_relative(J: np.ndarray) -> np.ndarray:
    """(..., 13, C) shared joints -> relative to the midpoint of the two hips."""
    names = list(SHARED)
    mid = (J[..., names.index("l_hip"), :] + J[..., names.index("r_hip"), :]) / 2
    return J - mid[..., None, :]


def method_metrics(pred3d, pred2d, gt3d, gt2d, fps: float) -> dict:
    """Per-method figures from lists (one per sequence) of shared-joint arrays; NaN rows = no pose.

    ``pred3d``/``gt3d`` (T, 13, 3) mm (camera axes), ``pred2d``/``gt2d`` (T, 13, 2) px.
    """
    from benchmarks.tradeoff import lag_frames
    from trt_tracker.metrics import accel_error, procrustes_align

    det, e3, pa, e2, acc, lag = [], [], [], [], [], []
    for P3, P2, G3, G2 in zip(pred3d, pred2d, gt3d, gt2d):
        ok = np.isfinite(P3).all((-1, -2)) & np.isfinite(P2).all((-1, -2))
        det.append(ok)
        if not ok.any():
            continue
        p, g = mid_hip_relative(P3[ok]), mid_hip_relative(G3[ok])
        e3.append(np.linalg.norm(p - g, axis=-1).mean(-1))
        pa.append(np.linalg.norm(procrustes_align(p, g) - g, axis=-1).mean(-1))
        e2.append(np.linalg.norm(P2[ok] - G2[ok], axis=-1).mean(-1))
        if ok.all() and len(ok) >= 8:
            rp, rg = mid_hip_relative(P3), mid_hip_relative(G3)
            acc.append(accel_error(rp, rg))
            lag.append(lag_frames(rp, rg))
    det = np.concatenate(det) if det else np.zeros(0, bool)
    cat = lambda xs: np.concatenate(xs) if xs else np.array([np.nan])  # noqa: E731
    return {"frames": int(det.size), "detection_rate": float(det.mean()) if det.size else float("nan"),
            "mpjpe_mm": float(np.mean(cat(e3))), "pa_mpjpe_mm": float(np.mean(cat(pa))),
            "error_2d_px": float(np.mean(cat(e2))),
            "accel_error_mm_frame2": float(np.mean(acc)) if acc else float("nan"),
            "lag_frames": float(np.median(lag)) if lag else float("nan"),
            "sequences_tracked_throughout": len(acc), "fps": fps}


def latency_stats(ms) -> dict:
    ms = np.asarray(ms, float)
    return {"median": float(np.median(ms)), "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)), "n": int(ms.size)}


# ------------------------------------------------------------------ MediaPipe's environment
def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def ensure_env(env: Path, log=print) -> Path:
    """MediaPipe's virtual environment (made once); returns its python."""
    py = env_python(env)
    if py.is_file() and _has_mediapipe(py):
        return py
    log(f"[mediapipe] creating its environment in {env} (numpy 1.26 and protobuf 4, apart from trt_tracker's)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, capture_output=True, text=True)
        pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run(pip + ["--no-deps", MEDIAPIPE], check=True, capture_output=True, text=True)
        subprocess.run(pip + MEDIAPIPE_REQUIREMENTS, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        raise PeerError(f"could not install {MEDIAPIPE} into {env}: {(e.stderr or e.stdout or '').strip()[-800:]}\n"
                        "It needs PyPI (or a local wheel: pip install --no-deps mediapipe-0.10.21-*.whl into that "
                        "environment, then the packages of MEDIAPIPE_REQUIREMENTS).") from None
    if not _has_mediapipe(py):
        raise PeerError(f"{env}: mediapipe still does not import after installing it; delete {env} and retry")
    return py


def _has_mediapipe(py: Path) -> bool:
    r = subprocess.run([str(py), "-c", "import mediapipe as mp; mp.solutions.pose.Pose"], capture_output=True,
                       text=True)
    return r.returncode == 0


def run_mediapipe(py: Path, frame_files: list[Path], log=print) -> list[dict]:
    outs = [f.with_name(f.stem + "-mediapipe.npz") for f in frame_files]
    args = [str(py), str(WORKER)]
    for f, o in zip(frame_files, outs):
        args += [str(f), str(o)]
    env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise PeerError(f"MediaPipe's worker failed (exit {r.returncode}): {r.stderr.strip()[-800:]}")
    for line in r.stdout.splitlines():
        log(f"[mediapipe] {line}")
    return [dict(np.load(o)) for o in outs]


# ------------------------------------------------------------------ ours
def run_ours(model_dir: Path, seqs, durations: str, threads: int | None, progress: bool) -> tuple[list[dict], dict]:
    """Our live tracker over each sequence: per frame tracked/single-frame 2.5D + camera joints, step ms."""
    from tqdm import tqdm

    from trt_tracker.stream.app import tracker_config
    from trt_tracker.stream.model import TrackerModel
    from trt_tracker.stream.sources import SequenceSource
    from trt_tracker.stream.tracker import Tracker

    out = []
    with TrackerModel(model_dir, backend="onnxruntime", threads=threads) as m:
        cfg = tracker_config(m.manifest, durations, root_depth="bones")
        warm = Tracker(m, cfg)
        with SequenceSource(seqs[0]) as src:                  # warm-up, untimed
            for _, f in zip(range(10), src):
                warm.step(f)
        for seq in tqdm(seqs, desc="ours", unit="seq", disable=not progress):
            T, K = len(seq), m.skeleton.K
            rec = {k: np.full((T, K, 3), np.nan) for k in ("tracked_2p5d", "tracked_cam", "single_2p5d", "single_cam")}
            rec["ms"] = np.zeros(T)
            tr = Tracker(m, cfg)
            with SequenceSource(seq) as src:
                for f in src:
                    t0 = time.perf_counter()
                    r = tr.step(f)
                    rec["ms"][f.index] = (time.perf_counter() - t0) * 1e3
                    if r.joints_2p5d is not None:
                        rec["tracked_2p5d"][f.index], rec["tracked_cam"][f.index] = r.joints_2p5d, r.joints_cam
                        rec["single_2p5d"][f.index], rec["single_cam"][f.index] = r.single_2p5d, r.single_cam
            out.append(rec)
        settings = {"durations": list(cfg.durations), "alpha": cfg.alpha, "gamma": cfg.gamma,
                    "root_depth": cfg.root_depth, "model_version": m.manifest.get("model_version")}
    return out, settings


# ------------------------------------------------------------------ the benchmark
def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(result["methods"])
    panels = [("mpjpe_mm", "MPJPE, mid-hip relative (mm)"), ("pa_mpjpe_mm", "PA-MPJPE (mm)"),
              ("error_2d_px", "2D error (px)"), ("accel_error_mm_frame2", "accel error (mm/frame²)"),
              ("latency_ms", "latency per frame, median (ms)"), ("detection_rate", "frames with a pose")]
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.4))
    for ax, (key, title) in zip(axes.ravel(), panels):
        vals = [result["methods"][m][key]["median"] if key == "latency_ms" else result["methods"][m][key]
                for m in methods]
        ax.bar(range(len(methods)), vals, color=[f"C{i}" for i in range(len(methods))])
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        for i, v in enumerate(vals):
            if np.isfinite(v):
                ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    fig.suptitle(f"MediaPipe Pose vs ours, {result['protocol']['sequences']} synthetic test sequences at "
                 f"{result['protocol']['fps']:g} fps, same CPU", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "export" / "body-lite")
    ap.add_argument("--sequences", type=int, default=8, help="held-out test sequences")
    ap.add_argument("--frames", type=int, default=150, help="frames per sequence at --fps")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--durations", default="Dmf", help="our tracker's duration set (default Dmf)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: the backend's)")
    ap.add_argument("--env", type=Path, default=DEFAULT_ENV, help="MediaPipe's virtual environment")
    ap.add_argument("--quick", action="store_true", help="2 sequences x 30 frames (a smoke run)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.sequences, args.frames = 2, 30
    if min(args.sequences, args.frames) < 1 or args.fps <= 0:
        ap.error("--sequences, --frames and --fps must be positive")
    from trt_tracker.data.body import make_body_sequence
    from trt_tracker.skeleton import BODY17
    from trt_tracker.train import TEST_SEEDS

    try:
        py = ensure_env(args.env)
    except PeerError as e:
        print(f"mediapipe_peer: {e}", file=sys.stderr)
        return 2
    step = max(1, int(round(50.0 / args.fps)))
    fps = 50.0 / step
    seeds = [TEST_SEEDS + i for i in range(args.sequences)]
    print(f"[mediapipe_peer] rendering {len(seeds)} test sequences x {args.frames} frames at {fps:g} fps")
    seqs = [make_body_sequence(s, args.frames * step).subsample(step) for s in seeds]
    with tempfile.TemporaryDirectory(prefix="mediapipe_peer-") as tmp:
        files = []
        for s, seq in zip(seeds, seqs):
            f = Path(tmp) / f"seq-{s}.npz"
            np.savez(f, frames=seq.frames)
            files.append(f)
        try:
            mp_out = run_mediapipe(py, files)
        except PeerError as e:
            print(f"mediapipe_peer: {e}", file=sys.stderr)
            return 2
    ours, settings = run_ours(args.model, seqs, args.durations, args.threads, not args.no_progress)

    bi, mi = body17_indices(BODY17), mediapipe_indices()
    gt3 = [seq.joints_cam[:, bi] for seq in seqs]
    gt2 = [seq.joints_2p5d[:, bi, :2] for seq in seqs]
    methods = {
        "MediaPipe Pose": ([o["world"][:, mi] for o in mp_out], [o["image"][:, mi, :2] for o in mp_out],
                           np.concatenate([o["ms"] for o in mp_out])),
        f"ours ({'+'.join(map(str, settings['durations'])) or 'single'})":
            ([o["tracked_cam"][:, bi] for o in ours], [o["tracked_2p5d"][:, bi, :2] for o in ours],
             np.concatenate([o["ms"] for o in ours])),
        "ours single-frame": ([o["single_cam"][:, bi] for o in ours], [o["single_2p5d"][:, bi, :2] for o in ours],
                              None),
    }
    res_methods = {}
    for name, (p3, p2, ms) in methods.items():
        r = method_metrics(p3, p2, gt3, gt2, fps)
        r["latency_ms"] = latency_stats(ms) if ms is not None else {"median": float("nan"), "note": "part of ours"}
        res_methods[name] = r
    result = {"machine": machine_info(), "mediapipe": str(mp_out[0].get("mediapipe_version", MEDIAPIPE)),
              "protocol": {"sequences": len(seeds), "seeds_from": seeds[0], "frames": args.frames, "fps": fps,
                           "shared_joints": list(SHARED), "not_compared": NOT_SHARED,
                           "ours": {"model": str(args.model.relative_to(ROOT) if args.model.is_absolute()
                                                 and ROOT in args.model.parents else args.model),
                                    "backend": "onnxruntime", **settings},
                           "mediapipe_settings": {"model_complexity": 1, "static_image_mode": False,
                                                  "smooth_landmarks": True}},
              "methods": res_methods}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / ("mediapipe_peer-quick" if args.quick else "mediapipe_peer")
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    plot(result, stem.with_suffix(".png"))
    head = (f"{'method':24s} {'detect':>7s} {'MPJPE':>7s} {'PA':>7s} {'2D px':>6s} {'accel':>6s} {'lag':>5s} "
            f"{'ms p50':>7s}")
    print(head)
    for name, r in res_methods.items():
        print(f"{name:24s} {r['detection_rate']:7.1%} {r['mpjpe_mm']:7.1f} {r['pa_mpjpe_mm']:7.1f} "
              f"{r['error_2d_px']:6.1f} {r['accel_error_mm_frame2']:6.1f} {r['lag_frames']:5.2f} "
              f"{r['latency_ms']['median']:7.1f}")
    print(f"wrote {stem.with_suffix('.json')} and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
