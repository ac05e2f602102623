"""Keeping a hand whose confidence dips: the depth map says whether it is still there.

    python -m benchmarks.hand_presence [--quick] [--out benchmarks/results/hand_presence.json]

A hand turned away from the camera spreads the pose network's heatmaps, so its
mean per-joint confidence can fall below the keep threshold (0.25) although
the hand is in the box; an empty box (the hand has left) gives confidences of
the same order.  The depth map tells them apart: the fraction of the box with
a surface within half a cube of the track's depth centre
(:func:`~trt_tracker.stream.tracker.box_occupancy`).  The tracker may keep a
track whose confidence is at least ``depth_keep_confidence`` while that
fraction is at least ``min_occupancy``.

Settings are chosen on validation sequences only (seeds 10,000,100-107, 150
frames at 25 fps; the hand leaving for 10 frames: seeds 10,000,120-123), run
frame by frame with the shipped hand model on ONNX Runtime (deterministic):
frames in view with a confirmed track, single-frame MPJPE over them, and
frames tracked while the hand is out of view.  The test seeds (the demo's,
20,000,000) are not used.  Writes JSON (about 4 minutes on the 2-core CPU).
"""
from __future__ import annotations

import sys
import time

from . import common
from .live_tracking import MODELS, config, log, pooled, run_sequence, synthetic

#: (depth_keep_confidence, min_occupancy, max_dim_frames); (0, -, -) is the tracker without the rule
SETTINGS = ((0.0, 0.1, 0), (0.20, 0.1, 1000), (0.15, 0.1, 1000), (0.10, 0.1, 1000), (0.15, 0.05, 1000),
            (0.15, 0.2, 1000), (0.15, 0.1, 2), (0.15, 0.1, 4), (0.15, 0.1, 8))


#: the setting compared with none on the same frames
CHOSEN = {"depth_keep_confidence": 0.15, "min_occupancy": 0.1, "max_dim_frames": 8}


def same_frames(model, seqs, base: dict, rule: dict) -> dict:
    """The rule against the tracker without it on the same frames: MPJPE over the frames both track, and
    over the frames only one of them tracks (MPJPE over each one's own tracked frames mixes frame sets)."""
    import numpy as np

    a = [e for f in seqs for e in run_sequence(model, config(model, **base), f, per_frame=True)["single_errors"]]
    b = [e for f in seqs for e in run_sequence(model, config(model, **rule), f, per_frame=True)["single_errors"]]
    both = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    only_rule = [y for x, y in zip(a, b) if x is None and y is not None]
    only_base = [x for x, y in zip(a, b) if x is not None and y is None]
    mean = (lambda v: float(np.mean(v)) if v else None)
    return {"frames": len(a), "both_tracked": len(both), "mpjpe_both_without": mean([x for x, _ in both]),
            "mpjpe_both_with": mean([y for _, y in both]), "only_with_rule": len(only_rule),
            "mpjpe_only_with_rule": mean(only_rule), "only_without_rule": len(only_base),
            "mpjpe_only_without_rule": mean(only_base)}


def main(argv=None) -> int:
    args = common.quick_out_args(__doc__, "hand_presence", argv, "two short sequences of each kind (a smoke run)")
    from trt_tracker.stream.model import TrackerModel

    t0 = time.perf_counter()
    n_seq, n_frames = (2, 30) if args.quick else (8, 150)
    visible = [synthetic("hand", s, n_frames) for s in range(10_000_100, 10_000_100 + n_seq)]
    away = [synthetic("hand", s, 50, hidden=range(20, 30)) for s in range(10_000_120, 10_000_120 + n_seq // 2)]
    res = {"benchmark": "hand_presence", "machine": common.machine_info(), "quick": args.quick,
           "validation_seeds": {"visible": [10_000_100, 10_000_100 + n_seq - 1],
                                "away": [10_000_120, 10_000_120 + n_seq // 2 - 1]},
           "rows": []}
    with TrackerModel(MODELS["depth"], threads=2) as hand:
        for keep, occ, dim in SETTINGS:
            kw = dict(depth_keep_confidence=keep, min_occupancy=occ, max_dim_frames=dim)
            v = pooled([run_sequence(hand, config(hand, **kw), f) for f in visible])
            e = pooled([run_sequence(hand, config(hand, **kw), f) for f in away])
            row = {"depth_keep_confidence": keep, "min_occupancy": occ, "max_dim_frames": dim,
                   "visible_frames": v["frames_in_view"],
                   "visible_tracked": v["tracked_in_view"], "mpjpe_single": v["mpjpe_single"],
                   "away_frames": e["frames_in_view"], "away_tracked": e["tracked_in_view"],
                   "empty_frames": e["empty_frames"], "tracked_when_empty": e["tracked_when_empty"]}
            res["rows"].append(row)
            log(f"[presence] keep {keep:g} with a surface >= {occ:g} for <= {dim} frames: {row['visible_tracked']}/"
                f"{row['visible_frames']} visible tracked, {row['mpjpe_single']:.2f} mm; hand away: "
                f"{row['tracked_when_empty']}/{row['empty_frames']} empty frames tracked, "
                f"{row['away_tracked']}/{row['away_frames']} in view tracked")
        # the best setting above against none, frame for frame
        res["same_frames"] = {"setting": CHOSEN}
        for name, seqs in (("visible", visible), ("away", away)):
            r = same_frames(hand, seqs, {"depth_keep_confidence": 0.0}, CHOSEN)
            res["same_frames"][name] = r
            log(f"[same frames] {name}: both track {r['both_tracked']}/{r['frames']} frames at "
                f"{r['mpjpe_both_without']:.2f} mm without the rule, {r['mpjpe_both_with']:.2f} with it; "
                f"{r['only_with_rule']} more frames with it ({r['mpjpe_only_with_rule'] or 0:.1f} mm), "
                f"{r['only_without_rule']} only without ({r['mpjpe_only_without_rule'] or 0:.1f} mm)")
    common.write_timed("hand_presence", res, args, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
