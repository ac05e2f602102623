"""The spatial fusion in live tracking: the tracker in a plain loop (ONNX Runtime, the shipped models, crops from
the tracker, the model's tuned Dmf settings) with the fusion on and off, side by side.

    python -m benchmarks.live_fusion [--quick] [--out benchmarks/results/live_fusion.json]

On the validation sequences the live tracker's choices are made on (seeds 10,000,100-107, 150 frames at 25 fps)
on the test sequences of ``benchmarks.live_tracking`` (20,000,000-5) and on the demo's sequence (its seed, the subject
out of view in the same frames; unpaced, so every frame is tracked): per model, the frames tracked, the
single-frame and tracked MPJPE (camera mm, the hand with its own root depth, as the demo) with the fusion
(``fusion=True``: the ``Dmf+gls`` weights) and without (``Dmf+bone``).  Deterministic (no threads, no dropped
frames).  About 4 minutes on the 2-core CPU.
"""
from __future__ import annotations

import sys
import time

from benchmarks import common
from benchmarks.live_tracking import KIND, MODELS, log, pooled, run_sequence, synthetic


def main(argv=None) -> int:
    args = common.quick_out_args(__doc__, "live_fusion", argv, "two short sequences per set (a smoke run)")
    from trt_tracker.stream.app import DEMO_AWAY, DEMO_SEED, tracker_config
    from trt_tracker.stream.model import TrackerModel

    t0 = time.perf_counter()
    n_val, n_test, n_frames = (2, 2, 30) if args.quick else (8, 6, 150)
    res = {"benchmark": "live_fusion", "machine": common.machine_info(), "quick": args.quick, "results": {}}
    for mod, path in MODELS.items():
        with TrackerModel(path, threads=2) as m:
            if m.fusion is None:
                log(f"[fusion] {path.name} has no fusion.npz: skipped")
                continue
            for split, seeds in (("validation", range(10_000_100, 10_000_100 + n_val)),
                                 ("test", range(20_000_000, 20_000_000 + n_test)), ("demo", [DEMO_SEED])):
                hidden = range(*DEMO_AWAY) if split == "demo" and n_frames > DEMO_AWAY[1] else None
                seqs = [synthetic(KIND[mod], s, n_frames, hidden=hidden) for s in seeds]
                for fusion in (False, True):
                    cfg = tracker_config(m.manifest, "Dmf", fusion=fusion)
                    p = pooled([run_sequence(m, cfg, f) for f in seqs])
                    p.update(alpha=cfg.alpha, gamma=cfg.gamma)
                    res["results"][f"{KIND[mod]} {split} fusion {'on' if fusion else 'off'}"] = p
                    log(f"[fusion] {KIND[mod]} {split} fusion {'on' if fusion else 'off'}: "
                        f"{p['tracked_in_view']}/{p['frames_in_view']} tracked, single {p['mpjpe_single']:.2f}, "
                        f"tracked {p['mpjpe_tracked']:.2f} mm")
    common.write_timed("live_fusion", res, args, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
