"""The online duration ordering (seed 000: Dmf < Df < single-frame) over every sub-sampling phase.

The card scores each frame rate on one sub-sampling of each 50 fps sequence (frames 0, 20, 40, ... at
2.5 fps).  Here every phase (offsets 0 .. step - 1) of the card's validation and test sequences is
predicted, the temporal-only trackers Df (d = 1) and Dmf (d = 1, 2, 3) are tuned on all validation
phases and scored on all test phases, beside single-frame: step times as many frames, so a margin
of a tenth of a millimetre can be told from the choice of phase.

    python -m benchmarks.duration_ordering --model export/body-lite --fps 2.5

Writes ``benchmarks/results/duration_ordering-<model>.json``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import common


def main(argv=None) -> int:
    ap = common.quick_out_parser(__doc__, "duration_ordering", "2 sequences each, 2 phases, 60 frames (a smoke run)")
    ap.add_argument("--model", default="export/body-lite")
    ap.add_argument("--fps", type=float, default=2.5)
    ap.add_argument("--sequences", type=int, default=16, help="validation and test sequences each (the card's)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    import torch
    from tqdm import tqdm

    from trt_tracker.evaluate import (VARIANTS, make_sequence, mpjpe, predict_sequence, to_cam, torch_predictor,
                                      track, tune_tracker, without_frames)
    from trt_tracker.models.graphs import load_model_dir
    from trt_tracker.train import TEST_SEEDS, VAL_SEEDS

    torch.set_num_threads(1)
    nets = load_model_dir(args.model)
    cfg = nets["pose"][1]
    pred = torch_predictor(cfg, nets["pose"][0], nets["spatial"][0], nets["temporal"][0])
    n_seq, frames = (2, 60) if args.quick else (args.sequences, 300)
    step = max(1, int(round(50.0 / args.fps)))
    phases = range(2 if args.quick else step)
    P = {"val": [], "test": []}
    jobs = [("val", s) for s in range(VAL_SEEDS + 100, VAL_SEEDS + 100 + n_seq)] + \
           [("test", s) for s in range(TEST_SEEDS, TEST_SEEDS + n_seq)]
    for split, seed in tqdm(jobs, desc=f"predicting {len(phases)} phases", unit="seq"):
        seq = make_sequence(cfg.modality, seed, frames)
        for ph in phases:
            s = seq.subsample(step, ph)
            P[split].append((without_frames(s), predict_sequence(s, pred)))

    def err(split, fn):
        return float(np.mean([mpjpe(to_cam(s, fn(s, p)), s.joints_cam) for s, p in P[split]]))

    out = {"benchmark": "duration_ordering", "machine": common.machine_info(), "model": args.model, "fps": args.fps,
           "step_at_50fps": step, "phases": len(phases), "sequences": n_seq, "frames_at_50fps": frames,
           "single": {split: err(split, lambda s, p: p["J"]) for split in P}}
    for name in ("Df", "Dmf"):
        durations, bones = VARIANTS[name]
        a, g, val = tune_tracker(P["val"], durations, bones)
        out[name] = {"alpha": a, "gamma": g, "val": val,
                     "test": err("test", lambda s, p: track(p, s.skeleton, durations, a, g))}
    t = {k: out[k]["test"] for k in ("Dmf", "Df", "single")}
    out["ordering_holds_on_test"] = bool(t["Dmf"] < t["Df"] < t["single"])
    out["ordering_holds_on_val"] = bool(out["Dmf"]["val"] < out["Df"]["val"] < out["single"]["val"])
    common.write_timed(f"duration_ordering-{Path(args.model).name}", out, args, t0)
    for split in ("test", "val"):
        print(f"{split}: Dmf {out['Dmf'][split]:.2f}  Df {out['Df'][split]:.2f}  single {out['single'][split]:.2f} mm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
