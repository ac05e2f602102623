"""How much can a temporal term lower MPJPE with these pose networks?  Error anatomy and oracles.

For a model directory's networks on the card's held-out sequences at one
frame rate: single-frame MPJPE split into a per-sequence bias (the mean error
vector of each joint over a sequence) and the rest; the online tracker (Df)
over a gamma sweep with the network's displacements and with ground-truth
displacements (the oracle bound of any temporal network); the bone term alone
over an alpha sweep.  ``python -m benchmarks.tracker_bound --model export/body-lite --fps 25``
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="export/body-lite")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--sequences", type=int, default=8, help="test sequences (the card's seeds)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from trt_tracker.card import load_model_dir
    from trt_tracker.evaluate import load_sequences, mpjpe, predict_sequence, to_cam, torch_predictor, track
    from trt_tracker.train import TEST_SEEDS

    nets = load_model_dir(args.model)
    cfg = nets["pose"][1]
    pred = torch_predictor(cfg, nets["pose"][0], nets["spatial"][0], nets["temporal"][0])
    seqs = load_sequences(cfg.modality, range(TEST_SEEDS, TEST_SEEDS + args.sequences), 300, progress=True)
    P = [(s, predict_sequence(s, pred, (1,))) for s in tqdm([s.at_fps(args.fps) for s in seqs], desc="predicting")]

    def gt_deltas(s):
        J = s.joints_2p5d
        return {1: np.concatenate([np.full((1,) + J.shape[1:], np.nan), np.diff(J, axis=0)])}

    out = {"model": args.model, "fps": args.fps, "sequences": args.sequences,
           "single_mpjpe": float(np.mean([mpjpe(to_cam(s, p["J"]), s.joints_cam) for s, p in P]))}
    bias, rest = [], []
    for s, p in P:
        E = to_cam(s, p["J"]) - s.joints_cam
        bias.append(np.linalg.norm(E.mean(0), axis=-1).mean())
        rest.append(np.linalg.norm(E - E.mean(0), axis=-1).mean())
    out["bias_mm"], out["rest_mm"] = float(np.mean(bias)), float(np.mean(rest))
    out["Df"] = {}
    for g in (0.1, 1.0, 3.0, 10.0, 30.0, 100.0):
        net = np.mean([mpjpe(to_cam(s, track(p, s.skeleton, (1,), 0.0, g)), s.joints_cam) for s, p in P])
        gt = np.mean([mpjpe(to_cam(s, track({**p, "deltas": gt_deltas(s)}, s.skeleton, (1,), 0.0, g)),
                            s.joints_cam) for s, p in P])
        out["Df"][f"{g:g}"] = {"network": float(net), "ground_truth_displacements": float(gt)}
    out["bones_only"] = {f"{a:g}": float(np.mean([mpjpe(to_cam(s, track(p, s.skeleton, (), a, 1.0)), s.joints_cam)
                                                 for s, p in P])) for a in (0.3, 1.0, 3.0, 10.0)}
    print(json.dumps(out, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
