"""How a pose network's error grows when its crop is off, and what that costs live (issue 14).

    python -m benchmarks.crop_shift MODEL_DIR [MODEL_DIR ...] [--labels ...] [--quick] [--out JSON]

A live tracker's crop box is never the ground-truth box: it comes from the last frame's estimate or from
the localiser, a little off centre and a little too large or small.  A network trained only on centred crops
(``augment.translate=0``) reads an off-centre crop as a different hand: its wrist slides towards the crop's
centre, onto the forearm, the next box follows it there, and the track drifts until the localiser's check
pulls it back (the hand demo's worst frames).  For each model directory (exported, ONNX Runtime, this CPU):

1. ``shift``: single-frame MPJPE (camera mm, the network's own root depth where it gives one, as
   :func:`trt_tracker.stream.app.gt_crop_mpjpe`) on validation frames (seeds 10,000,100 on, five frames
   each) cut with the ground-truth box moved by a fraction of its side in a random direction (0 - 0.3), and
   with its side scaled by 0.8 and 1.25;
2. ``live``: the tracker with the model's shipped settings on the localiser benchmark's validation
   sequences (150 frames at 25 fps, the subject away for frames 60-79) and on the demo's sequence (seed
   20,000,000, away for frames 90-109): in-view frames tracked, single-frame MPJPE of the live crops and of
   ground-truth crops of the same frames (live / GT: issue 14's yardstick).

Writes ``benchmarks/results/crop_shift.json`` and ``.png``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from . import common
from .localiser import live_summary, pooled, track

OFFSETS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)     # box centre moved by this x the box side
SCALES = (0.8, 1.25)                             # box side x this, centred


def log(msg: str) -> None:
    print(msg, flush=True)


def shifted_errors(model, seeds, frames, offset: float, scale: float) -> list[float]:
    """Per-frame single-frame MPJPE (mm) with each ground-truth box moved by ``offset`` x its side (a direction
    drawn per frame from a fixed seed) and its side x ``scale``."""
    from trt_tracker.camera import CropBox, box_from_points, p2p5d_to_cam
    from trt_tracker.codec import split_root_depth
    from trt_tracker.stream.sources import SyntheticSource

    c, errs = model.codec, []
    for s in seeds:
        seq = SyntheticSource("body" if model.modality == "rgb" else "hand", int(s), max(frames) + 1, 25.0).seq
        rng = np.random.default_rng([int(s), 7])
        xs, tfs = [], []
        for t in frames:
            b = box_from_points(seq.joints_2p5d[t, :, :2], model.margin)
            a = rng.uniform(0, 2 * np.pi)
            tf = c.transform(CropBox(b.cx + offset * b.size * np.cos(a), b.cy + offset * b.size * np.sin(a),
                                     b.size * scale))
            xs.append(c.crop_input(np.asarray(seq.frames[t]), tf, seq.modality,
                                   float(seq.root_depth[t]) if seq.modality == "depth" else None))
            tfs.append(tf)
        for t, tf, j in zip(frames, tfs, model.frame(np.stack(xs))[0]):
            J, zr = c.decode_points(j, tf), float(seq.root_depth[t])
            if model.z_ref == "centre":
                J, z_net = split_root_depth(J, zr, seq.skeleton.root)
                zr = float(z_net)
            J = p2p5d_to_cam(J, seq.intrinsics, zr, seq.skeleton.root)
            errs.append(float(np.linalg.norm(J - seq.joints_cam[t], axis=-1).mean()))
    return errs


def measure(model, quick: bool) -> dict:
    kind = "body" if model.modality == "rgb" else "hand"
    seeds = range(10_000_100, 10_000_102 if quick else 10_000_108)
    frames = (10, 70) if quick else (10, 40, 70, 100, 130)
    out = {"kind": kind, "shift": {}, "scale": {}}
    for o in OFFSETS:
        out["shift"][str(o)] = float(np.mean(shifted_errors(model, seeds, frames, o, 1.0)))
    for k in SCALES:
        out["scale"][str(k)] = float(np.mean(shifted_errors(model, seeds, frames, 0.0, k)))
    n, away = (40, range(20, 28)) if quick else (150, range(60, 80))
    rows = [track(model, kind, s, n, away, {}) for s in seeds]
    out["validation"] = pooled(rows)
    out["demo_sequence"] = d = track(model, kind, 20_000_000, n, range(20, 28) if quick else range(90, 110), {})
    d["live_over_gt"] = d["mpjpe_single"] / d["mpjpe_gt_crops"] if d["mpjpe_gt_crops"] else None
    return out


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    for r in res["models"]:
        o = [float(k) for k in r["shift"]]
        ax.plot(o, list(r["shift"].values()), "o-", label=r["label"])
    ax.set_xlabel("crop centre off by (box sides)")
    ax.set_ylabel("single-frame MPJPE (mm)")
    ax.set_title("error against the crop's offset (validation frames)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    x = np.arange(len(res["models"]))
    ax.bar(x - 0.2, [r["validation"]["live_over_gt"] for r in res["models"]], 0.4, label="validation sequences")
    ax.bar(x + 0.2, [r["demo_sequence"]["live_over_gt"] for r in res["models"]], 0.4, label="the demo's sequence")
    ax.axhline(1.15, color="k", ls="--", lw=1, label="issue 14's bound (1.15)")
    ax.set_xticks(x)
    ax.set_xticklabels([r["label"] for r in res["models"]], rotation=15, ha="right", fontsize=8)
    ax.set_ylim(0.9, None)
    ax.set_ylabel("live / ground-truth crops (MPJPE)")
    ax.set_title("live tracking, single-frame error")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = common.quick_out_parser(__doc__, "crop_shift", "two short sequences (a smoke run)")
    ap.add_argument("models", nargs="+", help="exported model directories (frame.onnx + manifest.json)")
    ap.add_argument("--labels", nargs="*", help="one label per model (default: the directory names)")
    args = ap.parse_args(argv)
    if args.labels and len(args.labels) != len(args.models):
        ap.error(f"--labels: {len(args.labels)} labels for {len(args.models)} models")
    from trt_tracker.stream.model import TrackerModel

    t0 = time.perf_counter()
    res = {"benchmark": "crop_shift", "machine": common.machine_info(), "quick": args.quick, "models": []}
    for i, d in enumerate(args.models):
        if not (Path(d) / "manifest.json").is_file():
            raise SystemExit(f"crop_shift: {d} has no manifest.json: export it first (trt-tracker export --model {d})")
        label = args.labels[i] if args.labels else Path(d).name
        with TrackerModel(d, threads=1) as m:
            r = {"label": label, "model": str(d), "model_version": m.manifest.get("model_version"), **measure(m, args.quick)}
        res["models"].append(r)
        v, dm = r["validation"], r["demo_sequence"]
        log(f"[crop_shift] {label}: offset " + ", ".join(f"{k} {e:.2f}" for k, e in r["shift"].items())
            + " mm; scale " + ", ".join(f"{k} {e:.2f}" for k, e in r["scale"].items()) + " mm")
        log(f"[crop_shift] {label}: validation {live_summary(v, dm, 2)} ({dm['live_over_gt']:.3f}x)")
    path = common.write_timed("crop_shift", res, args, t0)
    plot(res, path.with_suffix(".png"))
    log(f"wrote {path.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
