"""ONNX Runtime latency of each shipped network at batch 1 (model only).

    python -m benchmarks.model_latency [--models export/body-lite export/hand-lite] [--threads 2]

Exports every network of each model directory (and its full-frame localiser) to ONNX (in memory), checks the
ONNX output against PyTorch, and times ``session.run`` after a warm-up:
median, p95, p99 over ``--runs`` calls.  Writes
``benchmarks/results/model_latency.json``.  Target (issue 3): each network
at most 8 ms median on the 2-core development CPU.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import common

TARGET_MS = 8.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["export/body-lite", "export/hand-lite"])
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--out", help="output JSON (default benchmarks/results/model_latency.json)")
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

    from trt_tracker.models.graphs import NETWORKS
    from trt_tracker.export import example_inputs, export_late_fusion, export_network
    from trt_tracker.models.graphs import load_weights

    results, models = [], {}
    for mdir in args.models:
        mdir = Path(mdir)
        files = [(n, mdir / f"{n}.pt") for n in NETWORKS] + [("temporal-late", mdir / "temporal-late.pt"),
                                                            ("localiser", mdir / "localiser.pt")]
        for name, f in files:
            if not f.is_file():
                continue
            net, cfg, _ = load_weights(f)
            onnx_bytes = export_network(net, cfg)
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
            feeds = example_inputs(cfg, 1)
            with torch.no_grad():
                ref = net(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
            got = sess.run(None, feeds)[0]
            err = float(np.abs(got - ref).max())
            s = common.summary(common.time_calls(lambda: sess.run(None, feeds), args.runs, args.warmup), "ms")
            row = {"model": mdir.name, "network": name, "onnx_bytes": len(onnx_bytes),
                   "weights_bytes": f.stat().st_size, "max_abs_err_vs_torch": err, "ms": s,
                   "meets_target": s["median"] <= TARGET_MS}
            results.append(row)
            models.setdefault(mdir.name, {})[name] = s["median"]
            if cfg.task == "temporal" and cfg.fusion == "late":
                # Late fusion in a tracker: one backbone per frame (cached), one head per duration.
                feat_bytes, head_bytes = export_late_fusion(net, cfg)
                fs = ort.InferenceSession(feat_bytes, so, providers=["CPUExecutionProvider"])
                hs = ort.InferenceSession(head_bytes, so, providers=["CPUExecutionProvider"])
                img = feeds["image"][:, : cfg.frame_channels]
                f = fs.run(None, {"image": img})[0]
                hfeeds = {"features_prev": f, "features_cur": f, "related": feeds["related"]}
                for part, sess_, fd in (("features", fs, {"image": img}), ("head", hs, hfeeds)):
                    ps = common.summary(common.time_calls(lambda: sess_.run(None, fd), args.runs, args.warmup), "ms")
                    results.append({"model": mdir.name, "network": f"{name}:{part}", "ms": ps})
                    models[mdir.name][f"{name}:{part}"] = ps["median"]
                    print(f"{mdir.name:10s} {name + ':' + part:14s} median {ps['median']:.2f} ms  p95 {ps['p95']:.2f} ms")
            print(f"{mdir.name:10s} {name:14s} median {s['median']:.2f} ms  p95 {s['p95']:.2f} ms  "
                  f"|onnx - torch| {err:.1e}  {'ok' if row['meets_target'] else 'OVER TARGET'}")
    path = common.write_result("model_latency", {
        "benchmark": "model_latency", "machine": common.machine_info(), "threads": args.threads,
        "onnxruntime": ort.__version__, "torch": torch.__version__, "target_ms": TARGET_MS,
        "results": results, "models": models}, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
