"""Learning curves of training runs: validation error against steps and wall time, as JSON and a plot.

    python -m benchmarks.learning_curves runs/train/body-lite-pose [more runs ...] --name body-lite-pose

Each run is a training output directory (its ``log.jsonl``, or ``checkpoint.pt``
when the log is gone), a shipped weights file (only its last validation), or
an earlier ``learning_curves-*.json`` (its first run, or run N of
``learning_curves-X.json#N``: a committed curve whose run directory is gone).
The curves of runs given together share axes, so recipes are compared at
equal steps and at equal wall time.  Where a run keeps an exponential moving
average of its weights (``ema``), both the raw and the averaged weights'
errors are drawn (the average dashed); a temporal run's zero-motion
baseline (no displacement) is a dotted line.  Writes
``benchmarks/results/learning_curves-<name>.json`` and ``.png``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.common import RESULTS, machine_info

#: Validation errors a curve can show, with their axis labels.
METRICS = {"val_err_uv_px": "val 2D error (crop px)", "val_err_z_mm": "val z error (mm)",
           # a pose network giving z about the depth centre: depths relative to the root's
           "val_err_zrel_mm": "val z relative to the root (mm)",
           # a spatial network validated with fused_pose: the per-frame fusion of that pose network's joints
           # with its bones (the tracker's bone term), the pose network alone a dotted line
           "val_fused_err_uv_px": "val pose + bones 2D error (crop px)",
           "val_fused_err_z_mm": "val pose + bones z error (mm)",
           # the full-frame localisers
           "val_centre_err_box": "val box centre error (box sides)", "val_size_err_log": "val box side error (|log|)",
           "val_presence_err": "val presence errors (share)"}


def read_run(path) -> dict:
    """{"label", "config", "points": [{step, elapsed_s, val_*, ema_val_*, ...}]} of one run."""
    path = Path(path)
    index = 0
    if path.suffix.startswith(".json#"):       # result.json#N: its run N (0-based)
        suffix, _, n = path.suffix.partition("#")
        if not n.isdigit():
            raise ValueError(f"{path}: after '#' give a run's index (0 for the first)")
        path, index = path.with_suffix(suffix), int(n)
    if path.suffix == ".json":                 # a run of an earlier learning_curves result (its first)
        d = json.loads(path.read_text())
        if not d.get("runs"):
            raise ValueError(f"{path}: not a learning_curves result (no runs)")
        if index >= len(d["runs"]):
            raise ValueError(f"{path}: has {len(d['runs'])} runs, no run #{index}")
        r = d["runs"][index]
        return {"label": r["label"], "source": f"{path} ({r.get('source')})", "config": None,
                "recipe": r.get("recipe", {}), "points": r["points"]}
    if path.is_dir():
        log = path / "log.jsonl"
        if log.is_file():
            points = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            config = _config_of(path)
            return {"label": path.name, "source": str(path), "config": config, "points": _dedupe(points)}
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a training run (no log.jsonl or checkpoint.pt) nor a weights file")
    import torch

    d = torch.load(path, map_location="cpu", weights_only=False)
    if "log" in d:
        return {"label": path.parent.name, "source": str(path), "config": d["config"], "points": _dedupe(d["log"])}
    if d.get("format") == "trt_tracker.weights":
        return {"label": path.stem, "source": str(path), "config": d["train"], "points": [d.get("metrics", {})]}
    raise ValueError(f"{path}: neither a checkpoint nor a trt_tracker weights file")


def _config_of(run_dir: Path) -> dict | None:
    for name in ("checkpoint.pt", "weights.pt"):
        f = run_dir / name
        if f.is_file():
            import torch

            d = torch.load(f, map_location="cpu", weights_only=False)
            return d.get("config") or d.get("train")
    return None


def _dedupe(points: list[dict]) -> list[dict]:
    """One point per step (a resumed run may log a step twice: keep the last)."""
    by_step = {p["step"]: p for p in points if "step" in p}
    return [by_step[s] for s in sorted(by_step)]


def recipe_of(config: dict | None) -> dict:
    """The settings that make a recipe, for the legend and the JSON."""
    if not config:
        return {}
    keys = ("steps", "batch_size", "lr", "lr_schedule", "warmup_steps", "ema", "heatmap_loss", "init",
            "num_workers", "threads")
    out = {k: config.get(k) for k in keys if k in config}
    out["pool_size"] = config.get("stream", {}).get("pool_size", 1)
    out["samples_per_sequence"] = config.get("stream", {}).get("samples_per_sequence")
    return out


def plot(runs: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if any(m in p for r in runs for p in r["points"])]
    fig, axes = plt.subplots(len(metrics), 2, figsize=(11, 3.6 * len(metrics)), squeeze=False)
    for i, m in enumerate(metrics):
        for j, (xkey, xlabel, xs) in enumerate((("step", "steps", 1.0), ("elapsed_s", "training wall time (min)",
                                                                           1 / 60))):
            ax = axes[i][j]
            for k, r in enumerate(runs):
                colour = f"C{k}"
                for prefix, style, suffix in (("", "-", ""), ("ema_", "--", " (EMA)")):
                    pts = [p for p in r["points"] if prefix + m in p and xkey in p]
                    if pts:
                        ax.plot([p[xkey] * xs for p in pts], [p[prefix + m] for p in pts], style, color=colour,
                                marker="o", ms=3, label=r["label"] + suffix)
                # Temporal runs log the zero-motion baseline: the level of a network that learnt no motion.
                zero = [p["val_zero_" + m[4:]] for p in r["points"] if "val_zero_" + m[4:] in p]
                if zero:
                    ax.axhline(zero[-1], color=colour, ls=":", lw=1, label=r["label"] + " zero motion")
                # Spatial runs validated with fused_pose log that pose network alone: what the bones improve on.
                alone = [p["val_pose_" + m[10:]] for p in r["points"]
                         if m.startswith("val_fused_") and "val_pose_" + m[10:] in p]
                if alone:
                    ax.axhline(alone[-1], color=colour, ls=":", lw=1, label=r["label"] + " pose alone")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(METRICS[m])
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.04 * len(labels), 1, 1))
    fig.legend(handles, labels, loc="lower center", fontsize=8, ncol=1, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="training output directories (or checkpoint/weights files, or "
                                            "learning_curves-*.json results: the first run, or run N of "
                                            "learning_curves-X.json#N)")
    ap.add_argument("--name", required=True, help="result name: learning_curves-<name>.json/.png")
    ap.add_argument("--labels", nargs="*", help="one legend label per run (default: the directory names)")
    ap.add_argument("--note", default="", help="what the comparison shows (stored in the JSON)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        ap.error(f"--labels: {len(args.labels)} labels for {len(args.runs)} runs")
    try:
        runs = [read_run(r) for r in args.runs]
    except (FileNotFoundError, ValueError) as e:
        print(f"learning_curves: {e}", file=sys.stderr)
        return 2
    for r, label in zip(runs, args.labels or [r["label"] for r in runs]):
        r["label"] = label
        config = r.pop("config")
        r["recipe"] = recipe_of(config) if config is not None else r.get("recipe", {})
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"learning_curves-{args.name}"
    with open(stem.with_suffix(".json"), "w") as f:
        json.dump({"machine": machine_info(), "note": args.note, "runs": runs}, f, indent=1)
    plot(runs, stem.with_suffix(".png"), f"learning curves: {args.name}")
    for r in runs:
        last = r["points"][-1] if r["points"] else {}
        shown = ", ".join(f"{k}={last[k]:.4g}" for k in sorted(last) if "val_" in k)
        print(f"{r['label']}: {len(r['points'])} points, last step {last.get('step')}: {shown}")
    print(f"wrote {stem.with_suffix('.json')} and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
