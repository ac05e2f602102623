"""Test-time ensembles: what each network's views buy in accuracy and cost in latency, same weights.

For a model directory, each configuration sets every network's views (``rotations``, ``flip``;
:mod:`trt_tracker.models.ensemble`) on the shipped weights; the others run one pass.  Each is
evaluated with the model card's protocol (:func:`trt_tracker.evaluate.evaluate_models`: held-out test
sequences, tracker weights tuned on validation sequences) at the chosen frame rates, and each
network as configured is exported to ONNX and timed in ONNX Runtime at batch 1 (median over
interleaved rounds, every configuration side by side in one run).

    python -m benchmarks.ensembles --model export/hand-lite --fps 25
    python -m benchmarks.ensembles --model export/body-lite --fps 2.5

Writes ``benchmarks/results/ensembles-<model>.json`` and prints a table.  ``--time-only`` re-times an
earlier result's networks (e.g. on a quiet machine, the evaluation having run beside other jobs).  The body's temporal
network is the late-fusion one, whose cached per-frame features allow no ensemble.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import common

ONE = (1, False)
#: per modality: configuration -> {network: (rotations, flip)} (unnamed networks: one pass)
CONFIGS = {
    "depth": {"one pass": {},
              "spatial x4": {"spatial": (4, False)},
              "pose + spatial x4 (shipped)": {"pose": (4, False), "spatial": (4, False)},
              "pose + spatial + temporal x4": {"pose": (4, False), "spatial": (4, False), "temporal": (4, False)},
              "pose + spatial x2": {"pose": (2, False), "spatial": (2, False)}},
    "rgb": {"one pass": {},
            "spatial mirrored": {"spatial": (1, True)},
            "pose + spatial mirrored (shipped)": {"pose": (1, True), "spatial": (1, True)}},
}
NETS = ("pose", "spatial", "temporal")


def configured(nets: dict, views: dict) -> dict:
    """{network: (module, ModelConfig)} of a model directory's networks with ``views`` applied."""
    from trt_tracker.models.graphs import with_views

    return {n: with_views(nets[n][0], nets[n][1], *views.get(n, ONE)) for n in NETS}


def best_tracker(row: dict) -> tuple[str, dict]:
    name = min(row["tracker"], key=lambda k: row["tracker"][k]["mpjpe"])
    return name, row["tracker"][name]


def main(argv=None) -> int:
    ap = common.quick_out_parser(__doc__, "ensembles", "one pass against the shipped views, one short sequence "
                                                         "each, few timed calls (a smoke run)")
    ap.add_argument("--model", default="export/hand-lite")
    ap.add_argument("--fps", type=float, nargs="+", default=[25.0])
    ap.add_argument("--sequences", type=int, default=16, help="test and validation sequences each (the card's)")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads for the timings")
    ap.add_argument("--time-only", action="store_true",
                    help="re-time the networks of an earlier result (its JSON, --out or the default) on a quiet "
                         "machine and keep its accuracy figures")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    import onnxruntime as ort
    import torch

    from trt_tracker.evaluate import evaluate_models, torch_predictor
    from trt_tracker.export import example_inputs, export_network
    from trt_tracker.models.graphs import load_model_dir
    from trt_tracker.train import TEST_SEEDS, VAL_SEEDS

    torch.set_num_threads(1)
    nets = load_model_dir(args.model)
    modality = nets["pose"][1].modality
    shipped = {n: (nets[n][1].rotations, nets[n][1].flip) for n in NETS}
    configs = CONFIGS[modality]
    if args.quick:                               # a smoke run: one pass against the shipped views
        configs = {k: v for k, v in configs.items() if k == "one pass" or k.endswith("(shipped)")}
    n_seq, frames = (1, 60) if args.quick else (args.sequences, 300)
    steps, rounds = (5, 2) if args.quick else (50, 10)

    name = f"ensembles-{Path(args.model).name}"
    if args.time_only:
        path = Path(args.out) if args.out else common.RESULTS / f"{name}{'-quick' if args.quick else ''}.json"
        if not path.is_file():
            raise SystemExit(f"--time-only: {path} not found; run without --time-only first")
        out = json.loads(path.read_text())
        if set(out["configs"]) != set(configs):
            raise SystemExit(f"--time-only: {path} has other configurations than this version's; run it again")
        out["timed"] = common.machine_info()
        out.setdefault("evaluation_wall_s", out.get("wall_s"))
    else:
        out = {"benchmark": "ensembles", "machine": common.machine_info(), "model": args.model,
               "shipped_views": {n: list(v) for n, v in shipped.items()}, "fps": args.fps, "sequences": n_seq,
               "frames_at_50fps": frames, "threads": args.threads, "configs": {}}
    sessions = {}
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
    for label, views in configs.items():
        mods = configured(nets, views)
        if not args.time_only:
            pose, spatial, temporal = (mods[n][0] for n in NETS)
            pred = torch_predictor(mods["pose"][1], pose, spatial, temporal)
            print(f"[ensembles] {label}: evaluating", flush=True)
            res = evaluate_models(pred, modality, range(TEST_SEEDS, TEST_SEEDS + n_seq),
                                  range(VAL_SEEDS + 100, VAL_SEEDS + 100 + n_seq), frames, tuple(args.fps),
                                  False)["main"]
            out["configs"][label] = {"views": {n: list(views.get(n, ONE)) for n in NETS}, "results": res}
        for n in NETS:
            key = (n, *views.get(n, ONE))
            if key not in sessions:
                m, c = mods[n]
                sess = ort.InferenceSession(export_network(m, c), so, providers=["CPUExecutionProvider"])
                sessions[key] = (sess, example_inputs(c, 1), [])
    names = list(sessions)
    for _ in range(rounds):                      # interleaved: every network timed in every round
        for key in names:
            sess, feeds, times = sessions[key]
            times.extend(common.time_calls(lambda: sess.run(None, feeds), steps, warmup=3).tolist())
    for label, views in configs.items():
        ms = {n: float(np.median(sessions[(n, *views.get(n, ONE))][2]) * 1e3) for n in NETS}
        out["configs"][label]["latency_ms"] = ms
    out["threads"] = args.threads
    common.write_timed(name, out, args, t0)
    print("| views | pose + spatial ms | temporal ms | fps | single-frame MPJPE | Bone Error | best online tracker |")
    print("|---|---|---|---|---|---|---|")
    for label, c in out["configs"].items():
        ms = c["latency_ms"]
        for f, row in c["results"].items():
            name, t = best_tracker(row)
            print(f"| {label} | {ms['pose'] + ms['spatial']:.2f} | {ms['temporal']:.2f} | {f} | "
                  f"{row['single_mpjpe']:.2f} | {row['bone_error']:.2f} | {name} {t['mpjpe']:.2f} "
                  f"({100 * -t['reduction']:+.1f} %) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
