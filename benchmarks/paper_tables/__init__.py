"""The papers' ablation tables, reproduced on held-out synthetic data (``trt-tracker eval``).

    python -m benchmarks.paper_tables                 # every table (trains what is not cached; ~1.5 h on 2 cores)
    python -m benchmarks.paper_tables t2 t3 --retrain # some tables, ignoring the training cache
    python -m benchmarks.paper_tables --quick         # tiny budgets, one short sequence (CI smoke run)

Tables (seed 000 = spatiotemporal relations, seed 002 = compositional regression):

* ``t2``    seed 000 Table 2: fully connected Baseline vs per-pixel regression with pixel
            sampling Full / RandHalf / RandOne / JointOne and ours (decay weighting); Bone and Displ Error.
* ``t3``    seed 000 Table 3: DenseFlow (OpenCV DIS flow pooled like our maps) vs SparseFlow
            (one shared map) vs ours, at 2.5 / 8 / 25 fps, Easy / Middle / Hard displacements.
* ``t4``    seed 000 Table 4 + Figure 5: decay functions, the binary decay's beta, the ensemble.
* ``t5``    seed 000 Table 5: tracking with Df / Dfb / Dmf / Dmfb / bones, body (export/body-lite), 8 fps.
* ``t8``    seed 000 Table 8: the same on hands (export/hand-lite, depth), 25 fps.
* ``supp5`` seed 000 supplement Table 5: feature sharing None / Shallow / Deep / All between the
            heatmap network and the spatial relation network: Bone Error, parameters, FLOPs.
* ``bone2`` seed 002 Table 2: direct joint regression vs bones with the compositional loss
            over P_joint / P_bone / P_both / P_all: Joint, PA Joint, Bone Error, Bone Std.

Protocol.  Test sequences come from the held-out test seeds (20,000,000+),
tuning (the tracker's alpha, gamma) uses validation seeds only (10,000,100+),
both as in the model cards; crops are ground-truth boxes; 2.5D becomes camera
millimetres with the ground-truth root depth.  Networks that need training are
"ablation" variants of the body (RGB) model with the shipped architecture
(ResNet-10 x0.5, 128 x 128 input, 32 x 32 maps), each started from the shipped
body pose network's weights as the shipped relation networks are, trained with
:mod:`trt_tracker.train` at equal budgets
within a table and fixed seeds, cached in ``runs/ablations/<variant>/``
(weights + ``variant.json``: config, steps, training time, a fingerprint of
the training code).  A cached variant is reused when its config matches;
if the training code changed since, the run says so (``--retrain`` ignores
the cache).  Relation networks pool at related joints
*predicted* by the shipped body pose network (``export/body-lite``), as the
paper does at test time.  The tables 5 and 8 use the shipped models as they are.

Results go to ``benchmarks/results/paper_tables.{json,md}`` (``--quick``:
``runs/ablations/quick/``), rewritten atomically after every table, so an
interrupted run keeps the tables it finished.  Nothing is tuned to agree with
the papers: every claim of the papers that a table tests is checked, and the
markdown says where ours disagrees and why that is likely.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from ..common import RESULTS, machine_info
from .bones import table_bone2
from .claims import md_table
from .relations import table_t2, table_t3, table_t4
from .run import CODE_FILES, REPO, Run, _atomic_write, _json_default, _jsonable
from .settings import FULL, QUICK
from .sharing import table_supp5
from .tracking import tracking_table

TABLES = {
    "t2": "seed 000 Table 2 - fully connected Baseline vs per-pixel relation regression (pixel sampling)",
    "t3": "seed 000 Table 3 - DenseFlow vs SparseFlow vs ours (Displ Error by frame rate and difficulty)",
    "t4": "seed 000 Table 4 / Figure 5 - decay functions, beta, ensemble",
    "t5": "seed 000 Table 5 - spatiotemporal relations for tracking (body, RGB)",
    "t8": "seed 000 Table 8 - spatiotemporal relations for tracking (hand, depth)",
    "supp5": "seed 000 supplement Table 5 - feature sharing between heatmap and spatial relation networks",
    "bone2": "seed 002 Table 2 - direct joint regression vs bone regression with the compositional loss",
}


BUILDERS = {"t2": table_t2, "t3": table_t3, "t4": table_t4, "t5": lambda r: tracking_table(r, "rgb"),
            "t8": lambda r: tracking_table(r, "depth"), "supp5": table_supp5, "bone2": table_bone2}


# ============================================================== output
def _load_previous(path: Path, settings: dict) -> dict:
    """The tables of an earlier run with the same settings (kept when only some tables are re-run)."""
    try:
        prev = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if prev.get("benchmark") != "paper_tables" or prev.get("settings") != settings:
        return {}
    return prev


def render_markdown(doc: dict) -> str:
    s = doc["settings"]
    m = doc["machine"]
    lines = ["# Paper tables on synthetic data", "",
             "Reproductions of the ablation tables of seed 000 (spatiotemporal joint relations) and seed 002 "
             "(compositional bone regression) with this project's code, on held-out synthetic sequences. "
             "Made by `" + doc["command"] + "` on " + f"{m.get('cpu')} ({m.get('cores')} cores), {m.get('date')}.",
             "",
             (f"Budgets: relation networks {s['relation_steps']} steps, heatmap network {s['pose_steps']}, "
             f"regression networks {s['regression_steps']}, batch {s['batch_size']}, input {s['input_size']} px, "
             f"ResNet-10 x{s['width']}, "
             + ("each started from the shipped body pose network's weights" if s.get("init_from_pose")
                else "from scratch") +
             f" (quick: {s['quick']}). Test: {s['test_sequences']} sequences "
             f"({s['frames_at_50fps']} frames at 50 fps, seeds 20,000,000+); validation {s['val_sequences']} "
             "(seeds 10,000,100+). The papers' numbers are quoted beside ours for the *direction* of each "
             "comparison only: our data, networks and budgets are far smaller, so absolute values differ by design."),
             ""]
    for name in TABLES:
        t = doc["tables"].get(name)
        if t is None:
            continue
        lines += [f"## {name}: {TABLES[name]}", "", *t["markdown"], "",
                  f"_Computed {t['date']} in {t['seconds']:.0f} s._", ""]
    if doc.get("training"):
        lines += ["## Training", "", "Every trained variant (cache: `" + doc["cache"] + "`); seconds are the "
                  "training time when it was trained (cached = reused by this run).", ""]
        rows = [[k, v.get("steps"), f"{v.get('train_seconds', float('nan')):.0f}", "yes" if v.get("cached") else "no",
                 "**yes**" if v.get("code_changed_since_training") else "no"]
                for k, v in sorted(doc["training"].items())]
        total = sum(v.get("train_seconds", 0.0) for v in doc["training"].values())
        lines += md_table(["variant", "steps", "train s", "cached", "training code changed since"], rows)
        lines += ["", (f"Training time of all variants: {total / 60:.1f} min. Wall time of the last run: "
                      f"{doc.get('wall_seconds_this_run', float('nan')) / 60:.1f} min (tables "
                      f"{', '.join(doc.get('tables_this_run', []))})."), ""]
    return "\n".join(lines)


def write_outputs(out_dir: Path, doc: dict) -> None:
    _atomic_write(out_dir / "paper_tables.json", json.dumps(doc, indent=2, default=_json_default) + "\n")
    _atomic_write(out_dir / "paper_tables.md", render_markdown(doc))


# ============================================================== CLI
def parse_args(argv):
    p = argparse.ArgumentParser(prog="trt-tracker eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="tables:\n" + "\n".join(f"  {k:6s} {v}" for k, v in TABLES.items()))
    p.add_argument("tables", nargs="*", metavar="TABLE", help="tables to make (default: all); " + ", ".join(TABLES))
    p.add_argument("--quick", action="store_true", help="tiny budgets and one short sequence (CI smoke run, < 3 min)")
    p.add_argument("--retrain", action="store_true", help="ignore cached trained variants")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder for paper_tables.{json,md} (default benchmarks/results; --quick: "
                        "runs/ablations/quick)")
    p.add_argument("--cache", type=Path, default=None,
                   help="trained-variant cache (default runs/ablations; --quick: runs/ablations/quick)")
    p.add_argument("--body-model", type=Path, default=REPO / "export" / "body-lite",
                   help="shipped body model: t5, and the pose network whose joints t2-t4/supp5 pool at")
    p.add_argument("--hand-model", type=Path, default=REPO / "export" / "hand-lite", help="shipped hand model (t8)")
    p.add_argument("--relation-steps", type=int, default=None, help="override the relation networks' budget")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:          # argparse's errors and --help
        return int(e.code or 0)
    tables = list(dict.fromkeys(args.tables)) or list(TABLES)
    if "all" in tables:
        tables = list(TABLES)
    bad = [t for t in tables if t not in TABLES]
    if bad:
        print(f"error: unknown table(s) {', '.join(map(repr, bad))}; choose from {', '.join(TABLES)} (or all)",
              file=sys.stderr)
        return 2
    settings = QUICK if args.quick else FULL
    if args.relation_steps is not None:
        if args.relation_steps < 1:
            print("error: --relation-steps must be >= 1", file=sys.stderr)
            return 2
        settings = replace(settings, relation_steps=args.relation_steps)
    default_dir = REPO / "runs" / "ablations" / ("quick" if args.quick else "")
    out_dir = args.out or (default_dir if args.quick else RESULTS)
    cache = args.cache or default_dir
    run = Run(settings, cache, args.retrain, not args.no_progress, args.body_model, args.hand_model)
    sdict = _jsonable(asdict(settings))
    prev = _load_previous(out_dir / "paper_tables.json", sdict)
    doc = {"benchmark": "paper_tables", "command": "trt-tracker eval " + " ".join(argv if argv is not None else
                                                                                  sys.argv[1:]),
           "machine": machine_info(), "settings": sdict, "cache": str(cache),
           "tables": dict(prev.get("tables", {})), "training": dict(prev.get("training", {})),
           "tables_this_run": tables}
    t_start = time.perf_counter()
    failed = []
    try:
        for name in tables:
            print(f"[paper_tables] {name}: {TABLES[name]}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                result = BUILDERS[name](run)
            except (FileNotFoundError, ValueError) as e:
                print(f"error: table {name}: {e}", file=sys.stderr)
                failed.append(name)
                continue
            if run.stale:
                print(f"[paper_tables] warning: reusing {len(run.stale)} cached variant(s) trained by other "
                      f"training code than today's ({', '.join(CODE_FILES)}): {', '.join(run.stale)}; pass "
                      "--retrain to train them again", file=sys.stderr)
                run.stale.clear()
            result.update({"seconds": round(time.perf_counter() - t0, 1),
                           "date": time.strftime("%Y-%m-%d %H:%M:%S")})
            doc["tables"][name] = _jsonable(result)
            doc["training"].update(_jsonable(run.training))
            doc["wall_seconds_this_run"] = round(time.perf_counter() - t_start, 1)
            write_outputs(out_dir, doc)
            print(f"[paper_tables] {name} done in {result['seconds']:.0f} s -> {out_dir / 'paper_tables.md'}",
                  file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished tables are in {out_dir}", file=sys.stderr)
        return 130
    print(f"[paper_tables] {len(tables) - len(failed)} table(s) in {time.perf_counter() - t_start:.0f} s; "
          f"{out_dir / 'paper_tables.md'}", file=sys.stderr)
    return 1 if failed else 0

