"""`trt-tracker`: real-time 3D pose tracking with learned spatiotemporal joint relations.

Commands:
  synth   write synthetic sequences (body RGB or hand depth) in the sequence format
  preview draw synthetic frames with their ground-truth skeletons into a PNG
  demo    generate body and hand sequences, simulate network outputs and track them
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


# ------------------------------------------------------------------- synth
def _make_sequence(kind: str, seed: int, frames: int, size, camera: str | None, fps: float):
    if kind == "body":
        from .data.body import make_body_sequence

        kw = {"camera": camera or "h36m"}
        if size:
            kw["size"] = size[0] if len(size) == 1 else tuple(size)
        return make_body_sequence(seed, n_frames=frames, fps=fps, **kw)
    from .data.hand import make_hand_sequence

    kw = {}
    if size:
        kw["size"] = (size[0], size[0]) if len(size) == 1 else tuple(size)
    return make_hand_sequence(seed, n_frames=frames, fps=fps, **kw)


def cmd_synth(args) -> int:
    from tqdm import tqdm

    from .data.sequence import save_sequence

    out = Path(args.out)
    if args.num < 1 or args.frames < 1:
        raise CliError("--num and --frames must be positive")
    if not 0 < args.fps <= 50:
        raise CliError(f"--fps must be in (0, 50] (frames are rendered at 50 fps and sub-sampled), got {args.fps:g}")
    native = 50.0
    step = max(1, int(round(native / args.fps)))
    written = []
    bar = tqdm(range(args.num), desc=f"synth {args.kind}", unit="seq")
    for i in bar:
        seed = args.seed + i
        seq = _make_sequence(args.kind, seed, args.frames * step, args.size, args.camera, native)
        if step > 1:
            seq = seq.subsample(step)
        path = out / f"{args.kind}_{seed:05d}"
        try:
            save_sequence(seq, path, overwrite=args.overwrite)
        except FileExistsError:
            raise CliError(f"{path} already holds a sequence; use --overwrite to replace it") from None
        written.append(str(path))
        bar.set_postfix(frames=len(seq), fps=f"{seq.fps:g}")
    print(f"wrote {len(written)} {args.kind} sequence(s) of {args.frames} frames at {native / step:g} fps under {out}")
    return 0


def cmd_preview(args) -> int:
    import cv2

    from .data.preview import preview_grid

    if not args.seeds:
        raise CliError("--seeds needs at least one seed")
    seqs = [_make_sequence(args.kind, s, args.frame + 2, args.size, args.camera, 50.0) for s in args.seeds]
    top = preview_grid(seqs, [args.frame] * len(seqs), skeleton=False, scale=args.scale, cols=args.cols)
    rows = [top]
    if args.skeleton:
        rows.append(preview_grid(seqs, [args.frame] * len(seqs), skeleton=True, scale=args.scale, cols=args.cols))
    img = np.vstack(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), img):
        raise CliError(f"could not write {out} (is the extension .png or .jpg?)")
    print(f"wrote {out}: {args.kind} seeds {args.seeds}, frame {args.frame}" +
          (" (second row: ground-truth skeleton)" if args.skeleton else ""))
    return 0


# -------------------------------------------------------------------- demo
def _track_simulated(seq, durations_online, rng):
    """Simulated network outputs on a sequence's ground truth, tracked online and offline."""
    from .data.observations import NoiseModel, simulate_observations
    from .metrics import accel_error, mpjpe
    from .solver import OnlineSolver, solve_sequence

    gt = seq.joints_cam
    sk = seq.skeleton
    # Hands are smaller than bodies: scale the error model to the skeleton's size.
    scale = 1.0 if sk.name == "BODY17" else 0.15
    J, B, D = simulate_observations(gt, sk, (1, 2, 3, -1, -2, -3), NoiseModel().scaled(scale), rng, fps=seq.fps)
    rows = {"single-frame": J}
    timings = {}
    for name, durs in durations_online.items():
        s = OnlineSolver(sk, durs, alpha=1.0, gammas=16.0, window=16)
        est = np.empty_like(J)
        per_frame = np.empty(len(J))
        for t in range(len(J)):
            t0 = time.perf_counter()
            est[t] = s.update(J[t], B[t], {d: D[d][t] for d in durs if t - d >= 0})
            per_frame[t] = time.perf_counter() - t0
        # Median: the first W + max(d) frames also build the operator of each fill state.
        timings[name] = float(np.median(per_frame) * 1e6)
        rows[f"online {name}"] = est
    rows["offline Dmfb"] = solve_sequence(J, B, {d: D[d] for d in (1, 2, 3, -1, -2, -3)}, sk, "Dmfb", 1.0, 16.0)
    table = {k: {"mpjpe_mm": float(mpjpe(v, gt)), "accel_mm_per_frame2": float(accel_error(v, gt))}
             for k, v in rows.items()}
    return table, timings, rows


def cmd_demo(args) -> int:
    from .data.sequence import save_sequence

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    print("trt-tracker demo: synthetic sequences + the spatiotemporal solver on simulated network outputs")
    print("(the trained networks and the live tracker replace the simulated outputs in later releases)\n")
    summary = {}
    for kind in ("body", "hand"):
        t0 = time.perf_counter()
        seq = _make_sequence(kind, args.seed, args.frames * 2, None, None, 50.0).subsample(2)   # 25 fps
        t_gen = time.perf_counter() - t0
        path = save_sequence(seq, out / f"{kind}_sequence", overwrite=True, progress=True)
        table, timings, _ = _track_simulated(seq, {"Df": (1,), "Dmf": (1, 2, 3)}, rng)
        summary[kind] = {"sequence": str(path), "frames": len(seq), "fps": seq.fps,
                         "generate_s": t_gen, "table": table, "online_update_us": timings}
        base = table["single-frame"]["mpjpe_mm"]
        print(f"\n{kind}: {len(seq)} frames at {seq.fps:g} fps ({seq.modality}, {seq.skeleton.name}), "
              f"generated and rendered in {t_gen:.1f} s -> {path}")
        print(f"  {'method':16s} {'MPJPE mm':>9s} {'change':>8s} {'accel mm/f^2':>13s}")
        for name, r in table.items():
            print(f"  {name:16s} {r['mpjpe_mm']:9.1f} {100 * (r['mpjpe_mm'] / base - 1):+7.1f}% "
                  f"{r['accel_mm_per_frame2']:13.1f}")
        print("  online solver update (median): " + ", ".join(f"{k} {v:.0f} us/frame" for k, v in timings.items()))
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {out / 'demo_summary.json'}")
    return 0


def _need_torch(what: str) -> None:
    """A clear message instead of an ImportError where a command needs the ``train`` extra."""
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise CliError(f"{what} needs PyTorch: pip install -e '.[train]' ({e})") from None


def cmd_train(args) -> int:
    _need_torch("training")
    from .train import PRESETS, TrainConfig, preset, train

    if args.list:
        for name in sorted(PRESETS):
            m = PRESETS[name].model
            print(f"{name:24s} {m.task:8s} {m.skeleton} {m.modality:5s} ResNet-{m.depth} x{m.width} "
                  f"{m.input_size}px")
        return 0
    if args.config:
        import json

        try:
            cfg = TrainConfig.from_dict(json.loads(Path(args.config).read_text()))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise CliError(f"cannot read training config {args.config}: {e}") from None
    elif args.preset:
        cfg = preset(args.preset)
    else:
        raise CliError("give --preset NAME (see --list) or --config FILE")
    cfg = cfg.override(args.set)
    if args.print_config:
        import json

        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    metrics = train(cfg, resume=not args.no_resume, progress=not args.quiet, device=args.device)
    print(f"{cfg.name}: {metrics}")
    print(f"weights: {cfg.out_dir / 'weights.pt'}")
    return 0


def cmd_card(args) -> int:
    _need_torch("evaluating models")
    from .card import card_table, check_card, make_card

    if args.check:
        bad = check_card(args.model, rtol=args.rtol, progress=not args.quiet)
        if bad:
            print(f"{args.model}: {len(bad)} figure(s) differ from card.json by more than {args.rtol:.0%}:")
            for b in bad:
                print("  " + b)
            return 1
        print(f"{args.model}: every figure of card.json reproduced within {args.rtol:.0%}")
        return 0
    latency = None
    if args.latency:
        latency = json.loads(Path(args.latency).read_text()).get("models", {}).get(Path(args.model).name)
    card = make_card(args.model, progress=not args.quiet, latency_ms=latency)
    print("\n".join(card_table(card["results"])))
    print(f"\nwrote {Path(args.model) / 'card.json'} and README.md")
    return 0


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trt-tracker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("synth", help="write synthetic sequences in the sequence format",
                       description="Generate synthetic sequences (rendered at 50 fps, sub-sampled to --fps) "
                                   "and write them as sequence folders (frames/*.png, joints.npz, meta.json).")
    s.add_argument("--kind", choices=("body", "hand"), default="body", help="body RGB (BODY17) or hand depth (HAND21)")
    s.add_argument("--num", type=int, default=1, help="number of sequences (seeds seed, seed+1, ...)")
    s.add_argument("--frames", type=int, default=100, help="frames per sequence after sub-sampling")
    s.add_argument("--fps", type=float, default=25.0, help="frame rate: 50, 25, 8 (8.33) or 2.5")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--size", type=int, nargs="+", help="image size: side (body) or width height")
    s.add_argument("--camera", choices=("h36m", "webcam"), help="body camera kind")
    s.add_argument("--out", default="runs/synth", help="output folder")
    s.add_argument("--overwrite", action="store_true", help="replace existing sequences")
    s.set_defaults(func=cmd_synth)

    v = sub.add_parser("preview", help="draw synthetic frames (and their skeletons) into a PNG",
                       description="Render frame --frame of each seed's synthetic sequence into one image; "
                                   "with --skeleton a second row repeats them with the ground-truth skeleton.")
    v.add_argument("--kind", choices=("body", "hand"), default="body")
    v.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    v.add_argument("--frame", type=int, default=40, help="frame index (at 50 fps)")
    v.add_argument("--size", type=int, nargs="+", help="image size: side (body) or width height")
    v.add_argument("--camera", choices=("h36m", "webcam"), help="body camera kind")
    v.add_argument("--scale", type=float, default=1.0, help="resize each tile")
    v.add_argument("--cols", type=int, help="tiles per row (default: all in one row)")
    v.add_argument("--skeleton", action="store_true", help="add a row with the ground-truth skeleton drawn")
    v.add_argument("--out", default="runs/preview.png")
    v.set_defaults(func=cmd_preview)

    d = sub.add_parser("demo", help="synthetic body and hand sequences tracked from simulated network outputs")
    d.add_argument("--frames", type=int, default=100, help="frames per sequence at 25 fps")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="runs/demo", help="output folder")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a pose or relation network on synthetic data",
                       description="Train one network from a preset or a JSON config, with key=value overrides. "
                                   "Resumes from OUT/NAME/checkpoint.pt when present. For several GPUs or "
                                   "processes: torchrun --nproc_per_node=N -m trt_tracker.cli train ...")
    t.add_argument("--preset", help="a preset name (see --list)")
    t.add_argument("--config", help="a JSON training config (as printed by --print-config)")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="overrides, e.g. steps=1500 model.width=0.5 augment.rotate_deg=20")
    t.add_argument("--list", action="store_true", help="list the presets and exit")
    t.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    t.add_argument("--no-resume", action="store_true", help="start afresh even if a checkpoint exists")
    t.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("card", help="evaluate a model directory on held-out synthetic data (model card)",
                       description="Evaluate export/<name>/ (pose, spatial, temporal networks) on held-out "
                                   "synthetic sequences at 25/8/2.5 fps and write card.json and README.md; "
                                   "with --check, re-run and compare with the stored card.")
    c.add_argument("--model", default="export/body-lite", help="model directory")
    c.add_argument("--check", action="store_true", help="reproduce the stored card's figures (exit 1 if not)")
    c.add_argument("--rtol", type=float, default=0.01, help="relative tolerance for --check")
    c.add_argument("--latency", help="a benchmarks/results/model_latency*.json to copy latencies from")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=cmd_card)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (CliError, ValueError, OSError) as e:
        # Bad arguments and unusable files get their message, not a traceback
        # (set TRT_TRACKER_TRACEBACK=1 to see where it came from).
        if os.environ.get("TRT_TRACKER_TRACEBACK"):
            raise
        print(f"trt-tracker {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ntrt-tracker {args.command}: interrupted; outputs written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
