"""Body pose weights on ground-truth crops: our renderer's synthetic error against the second renderer's.

    python -m benchmarks.pose_transfer shipped=export/body-lite/pose.pt \\
        photometric=runs/train/body-lite-pose/weights.pt [...] [--out benchmarks/results/pose_transfer.json]

Each ``label=path`` is a body pose weights file (``weights.pt`` of a training
run, or a shipped ``pose.pt``).  It replaces ``pose.pt`` in a copy of
``--model`` (the PyTorch backend runs it; nothing is exported) and is scored on
validation seeds, never on the test seeds the cards and README results use:

* synthetic: MPJPE (mm, camera space, ground-truth root depth) on
  ``--sequences`` sequences of the project's renderer (seeds 10,000,100 on,
  300 frames at 50 fps, every 6th), the card's protocol on fewer frames;
* synthetic portraits: PCK@0.2 of the torso length for the nose, shoulders
  and elbows on crops framed on the head and shoulders only (the first group of
  ``HALF_BODY_GROUPS``, the box MediaPipe's visible landmarks give on a real
  head-and-shoulders picture), same sequences and frames: whether a network
  can read a portrait at all, apart from whether it can read real pixels;
* second renderer: mean 2D joint error in torso lengths on ``--figures``
  figures of :mod:`benchmarks.figure_renderer` (seeds 10,000,300 on, 60
  frames, every 3rd), the figure the networks never trained on.

Used to judge an augmentation by both numbers at once (README, *Tracking*).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import common

REPO = Path(__file__).resolve().parents[1]
OWN_SEED, FIGURE_SEED = 10_000_100, 10_000_300


def figure_poses(model, frames, uv) -> list:
    """The frame graph's joints (image 2.5D) on ground-truth boxes around the 2D joints ``uv``."""
    from trt_tracker.camera import box_from_points

    c = model.codec
    tfs = [c.transform(box_from_points(P, model.margin)) for P in uv]
    x = np.stack([c.crop_input(img, tf, "rgb") for img, tf in zip(frames, tfs)])
    J = model.frame(x)[0]
    return [c.decode_points(J[i], tf) for i, tf in enumerate(tfs)]


#: Joints scored on a portrait crop: those a head-and-shoulders picture shows (or nearly: the elbows).
PORTRAIT_SCORED = ("nose", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow")


def portrait_pck(model, seq, indices) -> tuple[int, int]:
    """(hits, joints) of PCK@0.2 torso for :data:`PORTRAIT_SCORED` on crops framed on the head and shoulders."""
    from trt_tracker.camera import box_from_points
    from trt_tracker.data.samples import HALF_BODY_GROUPS

    from .real_images import PCK_FRACTION

    sk, c = seq.skeleton, model.codec
    framed = [sk.index(j) for j in HALF_BODY_GROUPS[sk.name][0]]
    scored = [sk.index(j) for j in PORTRAIT_SCORED]
    ls, rs, lh, rh = (sk.index(j) for j in ("l_shoulder", "r_shoulder", "l_hip", "r_hip"))
    uv = seq.joints_uv
    idx = [int(t) for t in indices]
    tfs = [c.transform(box_from_points(uv[t, framed], model.margin)) for t in idx]
    x = np.stack([c.crop_input(np.asarray(seq.frames[t]), tf, "rgb") for t, tf in zip(idx, tfs)])
    J = model.frame(x)[0]
    hits = 0
    for t, tf, j in zip(idx, tfs, J):
        P = c.decode_points(j, tf)
        torso = np.linalg.norm((uv[t, ls] + uv[t, rs]) / 2 - (uv[t, lh] + uv[t, rh]) / 2)
        hits += int((np.linalg.norm(P[scored, :2] - uv[t, scored], axis=-1) < PCK_FRACTION * torso).sum())
    return hits, len(idx) * len(scored)


def score(model, own, figures) -> dict:
    from trt_tracker.stream.app import gt_crop_mpjpe

    # every sequence has the same number of frames: the mean of their means is the mean over frames
    frames = [range(0, len(seq), 6) for seq in own]
    mpjpe = [gt_crop_mpjpe(model, seq, ts) for seq, ts in zip(own, frames)]
    portrait = np.array([portrait_pck(model, seq, ts) for seq, ts in zip(own, frames)]).sum(0)
    torso = []
    for X, intr, frames in figures:
        uv = intr.project(X)
        ts = list(range(0, len(X), 3))
        for t, P in zip(ts, figure_poses(model, [frames["figure"][t] for t in ts], uv[ts])):
            torso.append(float(np.linalg.norm(P[:, :2] - uv[t], axis=-1).mean()
                               / np.linalg.norm(uv[t, 8] - uv[t, 0])))
    return {"synthetic_mpjpe_mm": float(np.mean(mpjpe)), "synthetic_frames": sum(map(len, frames)),
            "portrait_pck": float(portrait[0] / portrait[1]), "portrait_joints": int(portrait[1]),
            "figure_error_torso_mean": float(np.mean(torso)), "figure_error_torso_median": float(np.median(torso)),
            "figure_frames": len(torso)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.pose_transfer", description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="+", metavar="LABEL=PATH", help="body pose weights files to compare")
    ap.add_argument("--model", default=str(REPO / "export" / "body-lite"), help="model folder they go into")
    ap.add_argument("--sequences", type=int, default=8, help="synthetic validation sequences (default 8)")
    ap.add_argument("--figures", type=int, default=16, help="second-renderer figures (default 16)")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/pose_transfer.json)")
    args = ap.parse_args(argv)
    from trt_tracker.data.samples import make_sequence
    from trt_tracker.stream.model import TrackerModel

    from .cross_renderer import scene

    runs = []
    for spec in args.weights:
        label, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            print(f"pose_transfer: error: {spec!r}: give LABEL=PATH to an existing weights file", file=sys.stderr)
            return 2
        runs.append((label, Path(path)))
    t0 = time.perf_counter()
    own = [make_sequence("rgb", s, 300) for s in range(OWN_SEED, OWN_SEED + args.sequences)]
    figures = [scene(s, 60, own=False) for s in range(FIGURE_SEED, FIGURE_SEED + args.figures)]
    res = {"benchmark": "pose_transfer", "machine": common.machine_info(), "model": args.model,
           "own_seeds_from": OWN_SEED, "figure_seeds_from": FIGURE_SEED, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in runs:
            d = Path(tmp) / label
            shutil.copytree(args.model, d)
            shutil.copy(path, d / "pose.pt")
            with TrackerModel(d, backend="torch", threads=1) as m:
                r = score(m, own, figures)
            res["runs"][label] = {"weights": str(path), **r}
            print(f"{label:24s} synthetic MPJPE {r['synthetic_mpjpe_mm']:6.1f} mm | portrait PCK@0.2 "
                  f"{r['portrait_pck']:6.1%} | second renderer 2D "
                  f"{r['figure_error_torso_mean']:.3f} / median {r['figure_error_torso_median']:.3f} torso lengths",
                  flush=True)
    res["wall_s"] = time.perf_counter() - t0
    out = common.write_result("pose_transfer", res, args.out)
    print(f"wrote {out} in {res['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
