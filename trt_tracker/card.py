"""Shipped models and their model cards.

A model directory (``export/<name>/``) holds one weights file per network
(``pose.pt``, ``spatial.pt``, ``temporal.pt``, optionally other temporal
networks to compare, ``temporal-late.pt`` and ``temporal-early.pt``, each as
written by :func:`trt_tracker.train.save_weights`), ``card.json`` and
``README.md``.  :func:`make_card` evaluates the networks on held-out synthetic
sequences (:mod:`trt_tracker.evaluate`) and writes both; :func:`check_card`
re-runs the evaluation and compares it with the stored card.
"""
from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path

import numpy as np

from .evaluate import FPS, VARIANTS, evaluate_models, torch_predictor
from .models.graphs import NETWORKS, load_model_dir, load_weights, signature
from .train import TEST_SEEDS, VAL_SEEDS
#: Other temporal networks a model directory may hold, evaluated with the same pose and spatial
#: networks for the card's comparison: card key -> (file, description).
TEMPORAL_VARIANTS = {
    "late_fusion": ("temporal-late.pt", "the late-fusion temporal network (per-frame features cached)"),
    "early_fusion": ("temporal-early.pt", "the early-fusion temporal network (stacked pair, the papers')"),
}
#: How the shipped cards were made (and how --check re-makes them).
CARD_PROTOCOL = {"test_sequences": 16, "val_sequences": 16, "frames_at_50fps": 300}


def evaluate_dir(path, protocol: dict = CARD_PROTOCOL, progress: bool = True) -> dict:
    """The card's figures of a model directory: {"results": ..., and for each of :data:`TEMPORAL_VARIANTS`
    present in it, its key: ...}, every temporal network evaluated on the same sequences with the
    same pose and spatial predictions (one rendering pass)."""
    path = Path(path)
    nets = load_model_dir(path)
    cfg = nets["pose"][1]
    pred = torch_predictor(cfg, nets["pose"][0], nets["spatial"][0], nets["temporal"][0])
    others = {}
    for key, (f, _) in TEMPORAL_VARIANTS.items():
        if (path / f).is_file():
            net, vcfg, _ = load_weights(path / f)
            if signature(vcfg) != signature(cfg):
                raise ValueError(f"{path / f}: disagrees with the pose network on skeleton, modality, input size "
                                 "or cube")
            others[key] = torch_predictor(vcfg, None, None, net).temporal
    out = evaluate_models(pred, cfg.modality, range(TEST_SEEDS, TEST_SEEDS + protocol["test_sequences"]),
                          range(VAL_SEEDS + 100, VAL_SEEDS + 100 + protocol["val_sequences"]),
                          protocol["frames_at_50fps"], FPS, progress, others,
                          load_fusion(path, cfg.skeleton))
    return {"results": out.pop("main"), **out}


#: The fusion file of a model directory (``trt-tracker calibrate``) and its calibration sequences: validation
#: seeds apart from the card's (VAL_SEEDS + 100 ...) and training's (VAL_SEEDS ...).
FUSION_FILE = "fusion.npz"
CALIBRATION_SEEDS_FROM = VAL_SEEDS + 1000


def load_fusion(path, skeleton: str):
    """A model directory's :class:`~trt_tracker.solver.SpatialFusion` for its ``skeleton`` (name), or None when
    it has no fusion file."""
    from .skeleton import get_skeleton
    from .solver import SpatialFusion

    f = Path(path) / FUSION_FILE
    return SpatialFusion.load(f, get_skeleton(skeleton)) if f.is_file() else None


def calibrate(path, sequences: int = 144, fps: float = 25.0, shrinks=(0.0, 0.1, 0.2, 0.3, 0.5, 1.0),
              progress: bool = True) -> dict:
    """Measure a model directory's spatial fusion (:class:`~trt_tracker.solver.SpatialFusion`) on ``sequences``
    validation sequences at ``fps`` and write ``fusion.npz``.  The shrinkage is chosen by two-fold
    cross-validation over the sequences (fit on one half, MPJPE of the fused joints on the other, both ways);
    the operators are then fitted on all of them.  Returns the fusion's info (also in the file)."""
    from .evaluate import ALPHAS, fit_fusion, make_sequence, mpjpe, predict_sequence, to_cam, track, without_frames
    from .skeleton import get_skeleton

    path = Path(path)
    if sequences < 4:
        raise ValueError(f"calibrating on {sequences} sequences cannot measure the errors' covariance; use >= 4 "
                         "(the shipped fusions use 144)")
    nets = load_model_dir(path)
    cfg = nets["pose"][1]
    if nets["spatial"][0] is None:
        raise ValueError(f"{path} has no spatial network: there are no bones to fuse")
    pred = torch_predictor(cfg, nets["pose"][0], nets["spatial"][0], None)
    sk = get_skeleton(cfg.skeleton)
    seeds = range(CALIBRATION_SEEDS_FROM, CALIBRATION_SEEDS_FROM + sequences)
    it = seeds
    if progress:
        from tqdm import tqdm

        it = tqdm(seeds, desc=f"calibrating the fusion on {cfg.modality} validation sequences", unit="seq")
    P = []
    for seed in it:
        s = make_sequence(cfg.modality, seed, CARD_PROTOCOL["frames_at_50fps"]).at_fps(fps)
        P.append((without_frames(s), predict_sequence(s, pred, ())))

    def err(Q, estimate):
        return [mpjpe(to_cam(s, estimate(p)), s.joints_cam) for s, p in Q]

    halves = (P[0::2], P[1::2])
    cv, bone = {}, []
    for sh in shrinks:
        errs = []
        for a, b in (halves, halves[::-1]):
            f = fit_fusion(a, sh)
            errs += err(b, lambda p: f(p["J"], p["B"]))
        cv[f"{sh:g}"] = float(np.mean(errs))
    for a, b in (halves, halves[::-1]):        # what the fusion replaces: the bone term, alpha tuned the same way
        alpha = min((x for x in ALPHAS if x > 0), key=lambda x: np.mean(err(a, lambda p: track(p, sk, (), x, 0.0))))
        bone += err(b, lambda p: track(p, sk, (), alpha, 0.0))
    best = min(shrinks, key=lambda sh: cv[f"{sh:g}"])
    single = float(np.mean([mpjpe(to_cam(s, p["J"]), s.joints_cam) for s, p in P]))
    info = {"sequences": sequences, "seeds_from": CALIBRATION_SEEDS_FROM, "fps": fps,
            "frames_at_50fps": CARD_PROTOCOL["frames_at_50fps"], "single_mpjpe": single,
            "cross_validated_mpjpe_by_shrink": cv, "cross_validated_mpjpe_bone_term": float(np.mean(bone)),
            "date": _dt.date.today().isoformat(),
            "command": f"trt-tracker calibrate --model {path} --sequences {sequences} --fps {fps:g}"}
    fusion = fit_fusion(P, best, info)
    tmp = path / (FUSION_FILE + ".tmp.npz")         # written whole, then moved: an interrupted run leaves the old
    fusion.save(tmp)
    tmp.replace(path / FUSION_FILE)
    return fusion.info


def _training_summary(saved: dict) -> dict:
    t = saved["train"]
    return {"preset": t["name"], "steps": saved["step"], "batch_size": t["batch_size"], "lr": t["lr"],
            "data_seed": t["data_seed"], "sequences_seen_approx": int(saved["step"] * t["batch_size"]
                                                                       / t["stream"]["samples_per_sequence"]),
            "model": saved["model"], "final_validation": saved.get("metrics", {}),
            "command": reproduce_command(t)}


def localiser_entry(path) -> dict:
    """``{"localiser": ...}`` for the card's network table when the directory has ``localiser.pt`` (its
    accuracy and its use in tracking: ``python -m benchmarks.localiser``), else ``{}``."""
    f = Path(path) / "localiser.pt"
    if not f.is_file():
        return {}
    net, _, saved = load_weights(f)
    return {"localiser": {"file": f.name, "parameters": int(sum(v.numel() for v in net.parameters())),
                          "training": _training_summary(saved)}}


def reproduce_command(train: dict) -> str:
    """The ``trt-tracker train`` command that re-creates a training config (preset + overrides)."""
    from .train import TrainConfig, preset

    train = TrainConfig.from_dict(train).to_dict()   # fills settings added since it was saved
    try:
        base = preset(train["name"]).to_dict()
    except ValueError:
        return "trt-tracker train --config <the training config stored in the weights file>"
    sets = []
    for k, v in train.items():
        if k == "out":
            continue
        if isinstance(v, dict):
            sets += [f"{k}.{kk}={vv}" for kk, vv in v.items() if base[k].get(kk) != vv]
        elif base.get(k) != v:
            sets.append(f"{k}={v}")
    return f"trt-tracker train --preset {train['name']}" + (" --set " + " ".join(sets) if sets else "")


def network_entries(path, nets: dict | None = None) -> dict:
    """The card's network table: each network's file, parameters and training summary (with the command
    that re-trains it), read from the weights files."""
    nets = nets or load_model_dir(path)
    return {**{n: {"file": f"{n}.pt", "parameters": int(sum(v.numel() for v in nets[n][0].parameters())),
                   "training": _training_summary(nets[n][2])} for n in NETWORKS},
            **localiser_entry(path)}


def make_card(path, name: str | None = None, progress: bool = True, latency_ms: dict | None = None) -> dict:
    path = Path(path)
    nets = load_model_dir(path)
    figures = evaluate_dir(path, progress=progress)
    card = {
        "name": name or path.name,
        "skeleton": nets["pose"][1].skeleton,
        "modality": nets["pose"][1].modality,
        "networks": network_entries(path, nets),
        "fusion": (load_fusion(path, nets["pose"][1].skeleton).info if (path / FUSION_FILE).is_file() else None),
        "protocol": {**CARD_PROTOCOL, "test_seeds_from": TEST_SEEDS, "val_seeds_from": VAL_SEEDS + 100,
                     "crops": "ground-truth boxes", "root_depth": "ground truth",
                     "tracker_params": "alpha, gamma tuned on the validation sequences per fps"},
        "results": figures["results"],
        "temporal_network": nets["temporal"][1].fusion,
        **{key: figures.get(key) for key in TEMPORAL_VARIANTS},
        "latency_ms": latency_ms or {},
        "made": {"date": _dt.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
                 "command": f"trt-tracker card --model {path}"},
    }
    (path / "card.json").write_text(json.dumps(card, indent=2, default=float) + "\n")
    (path / "README.md").write_text(card_markdown(card))
    return card


def set_latency(path, latency_ms: dict) -> dict:
    """Replace a stored card's ONNX Runtime latencies (``benchmarks.model_latency``, timed apart from the
    evaluation, on a quiet machine) without re-evaluating, and re-read its network table from the weights
    files (the training commands; the evaluated figures do not depend on it); rewrites card.json and
    README.md."""
    path = Path(path)
    f = path / "card.json"
    if not f.is_file():
        raise FileNotFoundError(f"{f} not found; make it with trt-tracker card --model {path}")
    card = json.loads(f.read_text())
    card["latency_ms"] = latency_ms
    # the localiser may have come with the files just timed; a preset may have changed how a command reads
    card["networks"] = network_entries(path)
    f.write_text(json.dumps(card, indent=2, default=float) + "\n")
    (path / "README.md").write_text(card_markdown(card))
    return card


def card_table(results: dict) -> list[str]:
    """Markdown rows: per fps, single-frame errors and each tracker variant's MPJPE (change against single-frame)."""
    names = [v for v in VARIANTS if any(v in r.get("tracker", {}) for r in results.values())]
    rows = ["| fps | single-frame MPJPE | Bone Error | Displ Error (zero-motion) | "
            + " | ".join(f"{v} MPJPE" for v in names) + " |",
            "|---|---|---|---|" + "---|" * len(names)]
    for fps, r in results.items():
        tr = r.get("tracker", {})

        def cell(v):
            if v not in tr:
                return "-"
            return f"{tr[v]['mpjpe']:.1f} ({-100 * tr[v]['reduction']:+.1f} %)"
        rows.append(f"| {fps} | {r['single_mpjpe']:.1f} | {r.get('bone_error', float('nan')):.1f} | "
                    f"{r.get('displ_error', float('nan')):.1f} ({r.get('displ_zero_motion', float('nan')):.1f}) | "
                    + " | ".join(cell(v) for v in names) + " |")
    return rows


def card_markdown(card: dict) -> str:
    lines = [f"# {card['name']}: {card['skeleton']} from {card['modality']}", "",
             "Errors in mm on held-out synthetic sequences (" + ", ".join(
                 f"{k}={v}" for k, v in card["protocol"].items()) + ").", "",
             "Tracker columns: MPJPE of the online tracker and its change against single-frame; Df and Dmf use "
             "the temporal term alone (durations {1} and {1, 2, 3}), bone the spatial term alone, +bone both; gls "
             "fuses each frame's joints and bones by generalised least squares with their errors' covariance "
             "(fusion.npz, `trt-tracker calibrate`) in place of the bone term. "
             "alpha and gamma are tuned per frame rate on the validation sequences (card.json has them).",
             f"The tracker's temporal network, `temporal.pt`, is the {card.get('temporal_network', 'early')}-fusion "
             "one.", ""]
    lines += card_table(card["results"])
    roots = {f: r for f, r in card["results"].items() if "root_depth_error_mm" in r}
    if roots:
        lines += ["", "The pose network gives the root's depth too (z about the crop's depth centre, here the true root "
                  "depth): its mean error " + ", ".join(f"{r['root_depth_error_mm']:.1f}" for r in roots.values())
                  + " mm and the single-frame MPJPE with it instead of the true one "
                  + ", ".join(f"{r['single_mpjpe_network_root']:.1f}" for r in roots.values())
                  + " mm at " + ", ".join(f"{f} fps" for f in roots) + " (seed 000's MSRA15 protocol: camera space)."]
    for key, (f, what) in TEMPORAL_VARIANTS.items():
        if card.get(key):
            lines += ["", f"With {what}, `{f}`, instead of `temporal.pt`:", ""]
            lines += card_table(card[key])
    lines += ["", "| network | parameters | steps | command |", "|---|---|---|---|"]
    for n, v in card["networks"].items():
        t = v["training"]
        lines.append(f"| {n} | {v['parameters']:,} | {t['steps']} | `{t['command']}` |")
    if card.get("latency_ms"):
        lines += ["", "ONNX Runtime latency, batch 1 (ms, median): " + ", ".join(
            f"{k} {v:.2f}" for k, v in card["latency_ms"].items())]
    lines += ["", f"Made {card['made']['date']} by `{card['made']['command']}`.", ""]
    return "\n".join(lines)


def _flatten(d, prefix=""):
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _flatten(v, key + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield key, float(v)


def check_card(path, rtol: float = 0.01, progress: bool = True) -> list[str]:
    """Re-evaluate and compare with card.json; returns the figures that differ by more than ``rtol``."""
    path = Path(path)
    f = path / "card.json"
    if not f.is_file():
        raise FileNotFoundError(f"{f} not found; make it with trt-tracker card --model {path}")
    stored = json.loads(f.read_text())
    fresh = evaluate_dir(path, progress=progress)
    fresh = {k: v for k, v in fresh.items() if k == "results" or stored.get(k)}
    want = dict(_flatten({k: stored[k] for k in fresh}))
    got = dict(_flatten(fresh))
    bad = []
    for k, v in want.items():
        g = got.get(k)
        if g is None or not np.isclose(g, v, rtol=rtol, atol=1e-6):
            bad.append(f"{k}: card {v:.4g}, now {g}")
    return bad
