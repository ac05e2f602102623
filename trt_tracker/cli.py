"""`trt-tracker`: real-time 3D pose tracking with learned spatiotemporal joint relations.

Commands:
  synth   write synthetic sequences (body RGB or hand depth) in the sequence format
  preview draw synthetic frames with their ground-truth skeletons into a PNG
  demo     track a synthetic body and hand sequence with the shipped models (the main job)
  track    track a camera, video, folder, sequence or RealSense recording
  evaluate offline reference MPJPE of the tracker on a sequence
  record   write a depth sequence as a RealSense recording (.db3)
  export   ONNX frame and temporal graphs + manifest.json for a model
  build    TensorRT engines for a model
  train    train a network;  card  evaluate a model folder (model card)
  bench    benchmarks: `bench latency` (model-only and camera-to-result), `bench tradeoff` (fps vs MPJPE)
  eval     the papers' tables reproduced on held-out synthetic data
"""
from __future__ import annotations

import argparse
import dataclasses
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


# ------------------------------------------------------- runtime commands
def _backend_args(args) -> dict:
    return {"backend": args.backend, "device": args.device, "threads": args.threads,
            "precision": getattr(args, "precision", "fp32"), "cuda_graph": getattr(args, "cuda_graph", False),
            "engines_dir": getattr(args, "engines", "engines")}


def _open_model(args):
    from .stream.model import TrackerModel

    if args.backend == "torch":
        _need_torch("--backend torch")
    return TrackerModel(args.model, **_backend_args(args))


def _intrinsics(spec):
    if not spec:
        return None
    from .camera import Intrinsics

    try:
        vals = [float(x) for x in spec.split(",")]
        return Intrinsics.from_array(vals)
    except ValueError as e:
        raise CliError(f"--intrinsics {spec!r}: give fx,fy,cx,cy,width,height ({e})") from None


def cmd_demo(args) -> int:
    from .stream.app import demo

    if args.frames < 2:
        raise CliError("--frames must be at least 2")
    print("trt-tracker demo: the shipped models track a synthetic body (RGB) and hand (depth) sequence "
          f"on {args.backend}\n")
    res = demo(args.out, args.frames, args.backend, args.durations, video=not args.no_video,
               localiser=not args.no_localiser)
    bad = [k for k, s in res.items() if s.error or s.frames == 0]
    return 1 if bad else 0


def cmd_export(args) -> int:
    _need_torch("export")
    from .export import export_model

    if args.one_pass and not args.out:
        raise CliError("--one-pass writes graphs that differ from the model folder's weights files: give --out "
                       "(another folder; the ONNX Runtime and TensorRT backends track from it)")
    m = export_model(args.model, args.out, progress=True, one_pass=args.one_pass)
    out = Path(args.out or args.model)
    print(f"wrote {out / 'frame.onnx'}, {out / 'temporal.onnx'} and {out / 'manifest.json'} "
          f"(model version {m['model_version']})")
    return 0


def cmd_build(args) -> int:
    from .runtime.tensorrt_build import build_engine
    from .stream.model import GRAPHS, load_manifest

    m = load_manifest(args.model)
    for g in GRAPHS:
        onnx = Path(args.model) / m["graphs"][g]["file"]
        path = build_engine(onnx, precision=args.precision, batch_sizes=tuple(args.batch), cache_dir=args.engines)
        print(f"{g}: {path}")
    return 0


def cmd_track(args) -> int:
    from .stream.app import _WithGT, load_gt, track_streams, tracker_config
    from .stream.frame import SourceError
    from .stream.pipeline import format_summary
    from .stream.sources import open_source

    specs = list(args.source)
    if args.gt and len(specs) > 1:
        raise CliError("--gt matches one source frame by frame; give one --source with it")
    intr = _intrinsics(args.intrinsics)
    gt = None
    if args.gt:
        gt_joints, gt_intr = load_gt(args.gt)
        intr = intr or gt_intr
        gt = (gt_joints, gt_intr)
    model = _open_model(args)
    sources = []
    try:
        def opener(spec):
            def make_source():
                src = open_source(spec, intrinsics=intr)
                return _WithGT(src, gt[0], intr) if gt else src
            return make_source

        for spec in specs:
            sources.append(opener(spec)())
            if sources[-1].modality != model.modality:
                raise CliError(f"{spec} gives {sources[-1].modality} frames but {args.model} tracks "
                               f"{model.modality}; use export/body-lite for RGB and export/hand-lite for depth")
        cfg = tracker_config(model.manifest, args.durations, args.alpha, args.gamma, args.window, args.root_depth,
                             args.preprocess, localiser=not args.no_localiser, fusion=_fusion_arg(args))
        out = Path(args.out or Path("runs/track") / time.strftime("%Y%m%d-%H%M%S"))
        outs = [out] if len(specs) == 1 else [out / f"{i}-{_stream_name(spec)}" for i, spec in enumerate(specs)]
        print(f"tracking {', '.join(specs)} with {args.model} on {args.backend} ({args.device}); durations "
              f"{list(cfg.durations) or 'none'}, alpha {cfg.alpha:g}, gamma {cfg.gamma:g}"
              + (", spatial fusion" if cfg.fusion else "") + f" -> {out}")
        started, sources = sources, []          # track_streams owns (and closes) them from here
        summaries = track_streams(started, model, cfg, outs, video=not args.no_video, window=args.show,
                                  max_frames=args.max_frames, progress=not args.quiet,
                                  reopen=[opener(spec) for spec in specs] if args.reconnect else None,
                                  reconnect=args.reconnect, lossless=True if args.lossless else None,
                                  pin=not args.no_pin)
    except SourceError as e:
        raise CliError(str(e)) from None
    finally:
        for src in sources:
            src.close()
        model.close()
    rc = 0
    for spec, s in zip(specs, summaries):
        print("\n".join(format_summary(Path(spec).name or spec, s)))
        if s.error:
            print(f"trt-tracker track: error: {spec}: {s.error}", file=sys.stderr)
            rc = rc or 3
        elif s.frames and not s.tracked:
            print(f"trt-tracker track: error: {spec}: no frame could be tracked (for depth: is there valid depth? "
                  "for RGB: is a person in view?)", file=sys.stderr)
            rc = rc or 4
        elif s.frames == 0:
            print(f"trt-tracker track: error: {spec}: the source delivered no frames", file=sys.stderr)
            rc = rc or 3
    return rc


def _stream_name(spec: str) -> str:
    """A folder-safe name for a source (``0`` -> ``0``, ``/data/walk.mp4`` -> ``walk``, ``synthetic:body:7`` ->
    ``synthetic-body-7``)."""
    name = Path(spec).stem if ("/" in spec or "." in Path(spec).name) else spec
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "source"


def cmd_record(args) -> int:
    from .data.sequence import SequenceFormatError, load_sequence
    from .stream.realsense_record import record_synthetic
    from .stream.sinks import depth_to_bgr

    try:
        seq = load_sequence(args.sequence)
    except SequenceFormatError as e:
        raise CliError(str(e)) from None
    if seq.modality != "depth":
        raise CliError(f"{args.sequence} holds {seq.modality} frames; a RealSense recording needs depth")
    depth = np.stack([np.asarray(f) for f in seq.frames])
    color = np.stack([depth_to_bgr(d)[..., ::-1] for d in depth])      # colourised depth as the colour stream
    path = record_synthetic(args.out, depth, seq.intrinsics, seq.fps, color, timestamps=seq.timestamps,
                            progress=True)
    print(f"wrote {path}: {len(depth)} depth + colour frames at {seq.fps:g} fps "
          f"(play it back: trt-tracker track --source {path} --model export/hand-lite --gt {args.sequence})")
    return 0


def cmd_evaluate(args) -> int:
    from .data.sequence import SequenceFormatError, load_sequence
    from .stream.app import evaluate_offline, tracker_config
    from .stream.model import load_manifest

    if args.backend == "torch":
        _need_torch("--backend torch")
    try:
        seq = load_sequence(args.sequence)
    except SequenceFormatError as e:
        raise CliError(str(e)) from None
    cfg = tracker_config(load_manifest(args.model), args.durations, args.alpha, args.gamma, args.window,
                         args.root_depth, args.preprocess, localiser=not args.no_localiser, fusion=_fusion_arg(args))
    s = evaluate_offline(args.model, seq, cfg, backend=args.backend)
    print(f"{args.sequence}: {s.frames} frames, {s.tracked} tracked; MPJPE single-frame {s.mpjpe_single:.2f} mm, "
          f"tracked {s.mpjpe_tracked:.2f} mm ({args.backend}, durations {list(cfg.durations) or 'none'})")
    if args.json:
        Path(args.json).write_text(json.dumps(s.to_dict(), indent=2, default=float) + "\n")
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


def _fusion_arg(args):
    """--fusion auto|on|off -> tracker_config's fusion (None lets the model's validation choose)."""
    return {"auto": None, "on": True, "off": False}[getattr(args, "fusion", "auto")]


def cmd_calibrate(args) -> int:
    _need_torch("calibrating a model's fusion")
    from .card import FUSION_FILE, calibrate

    info = calibrate(args.model, sequences=args.sequences, fps=args.fps, progress=not args.quiet)
    cv = info["cross_validated_mpjpe_by_shrink"]
    print(f"single-frame MPJPE {info['single_mpjpe']:.2f} mm on {info['sequences']} validation sequences; fused, "
          "two-fold cross-validated, by shrinkage: " + ", ".join(f"{k} {v:.2f}" for k, v in cv.items())
          + f"; chose {info['shrink']:g} (the bone term it replaces, alpha tuned the same way: "
          f"{info['cross_validated_mpjpe_bone_term']:.2f})")
    print(f"wrote {Path(args.model) / FUSION_FILE}; re-make the card (trt-tracker card --model {args.model}) and "
          f"re-export (trt-tracker export --model {args.model}) so the tracker's tuned weights include it")
    return 0


def cmd_card(args) -> int:
    _need_torch("evaluating models")
    from .card import card_table, check_card, make_card, set_latency

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
        if latency is None:
            raise CliError(f"{args.latency} has no latencies for {Path(args.model).name}; run python -m "
                           f"benchmarks.model_latency --models {args.model}")
    if args.latency_only:
        if latency is None:
            raise CliError("--latency-only needs --latency <model_latency.json>")
        set_latency(args.model, latency)
        print(f"wrote the latencies of {Path(args.model) / 'card.json'} and README.md")
        return 0
    card = make_card(args.model, progress=not args.quiet, latency_ms=latency)
    print("\n".join(card_table(card["results"])))
    print(f"\nwrote {Path(args.model) / 'card.json'} and README.md")
    return 0


# ------------------------------------------------------------ bench, eval
#: Benchmark commands -> their modules in the benchmarks package.
BENCHMARKS = {"latency": "benchmarks.latency", "tradeoff": "benchmarks.tradeoff", "eval": "benchmarks.paper_tables"}


def _benchmark_main(name: str):
    """``main`` of a benchmark module (the ``benchmarks`` package, installed beside ``trt_tracker``)."""
    import importlib

    try:
        return importlib.import_module(BENCHMARKS[name]).main
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] == "benchmarks":
            raise CliError(f"`trt-tracker {name}` needs the benchmarks package, which is not installed here; "
                           "install the project from a clone: pip install -e '.[bench,train]'") from None
        raise CliError(f"{name} needs the module {e.name!r}; install the benchmark extras with "
                       "pip install -e '.[bench,train]'") from None


def cmd_bench(args) -> int:
    return _benchmark_main(args.which)(args.args)


def cmd_eval(args) -> int:
    return _benchmark_main("eval")(args.args)


# ------------------------------------------------------------------ parser
def _default(config_cls, name: str):
    """A typed config's default for ``name``: the CLI repeats no default the component defines."""
    return next(f.default for f in dataclasses.fields(config_cls) if f.name == name)


def build_parser() -> argparse.ArgumentParser:
    from .data.body_camera import CAMERA_KINDS
    from .runtime import BACKENDS
    from .runtime.tensorrt_build import BATCH_SIZES, ENGINE_DIR, PRECISIONS
    from .stream.sources import SYNTHETIC_KINDS
    from .stream.tracker import DEFAULT_DURATIONS, PREPROCESS_MODES, ROOT_DEPTH_MODES, TrackerConfig

    p = argparse.ArgumentParser(prog="trt-tracker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("synth", help="write synthetic sequences in the sequence format",
                       description="Generate synthetic sequences (rendered at 50 fps, sub-sampled to --fps) "
                                   "and write them as sequence folders (frames/*.png, joints.npz, meta.json).")
    s.add_argument("--kind", choices=SYNTHETIC_KINDS, default="body", help="body RGB (BODY17) or hand depth (HAND21)")
    s.add_argument("--num", type=int, default=1, help="number of sequences (seeds seed, seed+1, ...)")
    s.add_argument("--frames", type=int, default=100, help="frames per sequence after sub-sampling")
    s.add_argument("--fps", type=float, default=25.0, help="frame rate: 50, 25, 8 (8.33) or 2.5")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--size", type=int, nargs="+", help="image size: side (body) or width height")
    s.add_argument("--camera", choices=CAMERA_KINDS, help="body camera kind")
    s.add_argument("--out", default="runs/synth", help="output folder")
    s.add_argument("--overwrite", action="store_true", help="replace existing sequences")
    s.set_defaults(func=cmd_synth)

    v = sub.add_parser("preview", help="draw synthetic frames (and their skeletons) into a PNG",
                       description="Render frame --frame of each seed's synthetic sequence into one image; "
                                   "with --skeleton a second row repeats them with the ground-truth skeleton.")
    v.add_argument("--kind", choices=SYNTHETIC_KINDS, default="body")
    v.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    v.add_argument("--frame", type=int, default=40, help="frame index (at 50 fps)")
    v.add_argument("--size", type=int, nargs="+", help="image size: side (body) or width height")
    v.add_argument("--camera", choices=CAMERA_KINDS, help="body camera kind")
    v.add_argument("--scale", type=float, default=1.0, help="resize each tile")
    v.add_argument("--cols", type=int, help="tiles per row (default: all in one row)")
    v.add_argument("--skeleton", action="store_true", help="add a row with the ground-truth skeleton drawn")
    v.add_argument("--out", default="runs/preview.png")
    v.set_defaults(func=cmd_preview)

    d = sub.add_parser("demo", help="track a synthetic body and hand sequence with the shipped models",
                       description="With no arguments: render a synthetic body RGB and hand depth sequence, "
                                   "track them with export/body-lite and export/hand-lite on ONNX Runtime, "
                                   "write annotated videos and JSONL under --out and print fps, latency "
                                   "percentiles per stage and MPJPE single-frame vs tracked.")
    d.add_argument("--frames", type=int, default=150, help="frames per sequence at 25 fps")
    d.add_argument("--backend", choices=BACKENDS, default="onnxruntime")
    d.add_argument("--durations", default=DEFAULT_DURATIONS, help="Df, Dmf, a list such as 1,2 or none")
    d.add_argument("--no-video", action="store_true", help="skip the annotated videos")
    d.add_argument("--no-localiser", action="store_true",
                   help="find the subject by a search over candidate windows, not with the models' localisers")
    d.add_argument("--out", default="runs/demo", help="output folder")
    d.set_defaults(func=cmd_demo)

    def model_args(q, default_model="export/body-lite"):
        q.add_argument("--model", default=default_model, help="model folder with manifest.json (export/<name>)")
        q.add_argument("--backend", choices=BACKENDS, default="onnxruntime")
        q.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
        q.add_argument("--threads", type=int, help="CPU threads per graph (default: cores - 1)")
        q.add_argument("--precision", choices=PRECISIONS, default="fp32", help="TensorRT precision")
        q.add_argument("--cuda-graph", action="store_true", help="replay CUDA graphs (torch, tensorrt)")
        q.add_argument("--engines", default=ENGINE_DIR, help="TensorRT engine cache folder")

    def tracker_args(q):
        q.add_argument("--durations", default=DEFAULT_DURATIONS, help="forward duration set: Df, Dmf, 1,2,... or none")
        q.add_argument("--alpha", type=float, help="bone weight (default: the model's tuned value)")
        q.add_argument("--gamma", type=float, help="displacement weight (default: the model's tuned value)")
        q.add_argument("--window", type=int, default=_default(TrackerConfig, "window"), help="solver window in frames")
        q.add_argument("--root-depth", choices=ROOT_DEPTH_MODES, default=_default(TrackerConfig, "root_depth"),
                       help="absolute root depth: ground truth, the network's (a hand model with z_ref centre), the depth map, or fitted to bone lengths")
        q.add_argument("--preprocess", choices=PREPROCESS_MODES, default=_default(TrackerConfig, "preprocess"),
                       help="crop/normalise with OpenCV or with the CUDA kernels (needs CuPy and a GPU)")
        q.add_argument("--no-localiser", action="store_true",
                       help="find the subject by a search over candidate windows, not with the model's localiser")
        q.add_argument("--fusion", choices=("auto", "on", "off"), default="auto",
                       help="fuse each frame's joints and bones by the model's calibrated generalised least squares "
                            "(fusion.npz) in place of the bone term: auto where its calibration gained at least 1 %% "
                            "over the bone term and validation chose it (default)")

    tr = sub.add_parser("track", help="track a camera, video, image folder, sequence or RealSense recording",
                        description="Track frames from --source and write track.jsonl, annotated.mp4 and run.json "
                                    "under --out. Sources: a camera index (0), realsense[:SERIAL], a .bag/.db3 "
                                    "RealSense recording, a video file, an image folder, a sequence folder "
                                    "(with ground truth) or synthetic:body|hand[:SEED[:FRAMES]].")
    tr.add_argument("--source", required=True, action="append",
                    help="what to track; give it several times to track several sources in one process "
                         "(one batched tracker; each writes <out>/<i>-<name>/)")
    model_args(tr)
    tracker_args(tr)
    tr.add_argument("--out", help="run folder (default runs/track/<time>)")
    tr.add_argument("--gt", help="a sequence folder whose ground truth matches the source frame by frame")
    tr.add_argument("--intrinsics", help="fx,fy,cx,cy,width,height of the camera (default: 60 degree FOV guess)")
    tr.add_argument("--max-frames", type=int)
    tr.add_argument("--lossless", action="store_true", help="never drop frames, even from a live camera")
    tr.add_argument("--reconnect", type=int, default=0, help="reopen a disconnected camera up to N times")
    tr.add_argument("--show", action="store_true", help="show a window (ignored where there is no display)")
    tr.add_argument("--no-video", action="store_true", help="skip annotated.mp4")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--no-pin", action="store_true", help="let the tracking thread move between CPUs (default: "
                    "it stays on one for the run, its caches warm between frames; capture threads move freely)")
    tr.set_defaults(func=cmd_track)

    ev = sub.add_parser("evaluate", help="offline reference MPJPE of the tracker on a sequence folder",
                        description="Run the tracker over a sequence folder in a plain loop (no threads, no "
                                    "video) on the PyTorch backend: the reference that `track` output is "
                                    "checked against.")
    ev.add_argument("--sequence", required=True)
    ev.add_argument("--model", default="export/body-lite")
    ev.add_argument("--backend", choices=tuple(b for b in BACKENDS if b != "tensorrt"), default="torch")
    tracker_args(ev)
    ev.add_argument("--json", help="write the summary here")
    ev.set_defaults(func=cmd_evaluate)

    rec = sub.add_parser("record", help="write a depth sequence folder as a RealSense recording (.db3)",
                         description="Play a depth sequence (e.g. from `trt-tracker synth --kind hand`) through "
                                     "a pyrealsense2 software device into a real .db3 recording, with the depth "
                                     "colourised as its colour stream.")
    rec.add_argument("--sequence", required=True)
    rec.add_argument("--out", required=True, help="the .db3 file to write")
    rec.set_defaults(func=cmd_record)

    ex = sub.add_parser("export", help="export a model folder to ONNX (frame and temporal graphs + manifest)",
                        description="Export pose.pt + spatial.pt (frame graph) and temporal.pt (temporal graph) "
                                    "to ONNX with manifest.json, checked with the ONNX checker and against "
                                    "PyTorch through ONNX Runtime.")
    ex.add_argument("--model", default="export/body-lite")
    ex.add_argument("--out", help="output folder (default: the model folder)")
    ex.add_argument("--one-pass", action="store_true",
                    help="export every network without its test-time ensemble (rotations / mirror views): "
                         "faster, less accurate (python -m benchmarks.ensembles); needs --out")
    ex.set_defaults(func=cmd_export)

    bu = sub.add_parser("build", help="build TensorRT engines for a model (cached in engines/)",
                        description="Build (or reuse) TensorRT engines for both graphs of a model; needs TensorRT "
                                    "and an NVIDIA GPU.")
    bu.add_argument("--model", default="export/body-lite")
    bu.add_argument("--precision", choices=PRECISIONS, default="fp32")
    bu.add_argument("--batch", type=int, nargs="+", default=list(BATCH_SIZES), help="batch sizes the profile covers")
    bu.add_argument("--engines", default=ENGINE_DIR)
    bu.set_defaults(func=cmd_build)

    t = sub.add_parser("train", help="train a pose or relation network on synthetic data",
                       description="Train one network from a preset or a JSON config, with key=value overrides. "
                                   "Resumes from OUT/NAME/checkpoint.pt when present. For several GPUs or "
                                   "processes: torchrun --nproc_per_node=N -m trt_tracker.cli train ...")
    t.add_argument("--preset", help="a preset name (see --list)")
    t.add_argument("--config", help="a JSON training config (as printed by --print-config)")
    t.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE",
                   help="overrides, e.g. steps=1500 model.width=0.5 augment.rotate_deg=20")
    t.add_argument("--list", action="store_true", help="list the presets and exit")
    t.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    t.add_argument("--no-resume", action="store_true", help="start afresh even if a checkpoint exists")
    t.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    ca = sub.add_parser("calibrate", help="measure a model's spatial fusion (joints and bones fused by "
                                          "generalised least squares) on validation sequences",
                        description="Run the pose and spatial networks of a model directory on synthetic "
                                    "validation sequences, measure the covariance of their errors and write "
                                    "fusion.npz: the tracker's gls variants fuse each frame's joints and bones "
                                    "with it in place of the bone term.")
    ca.add_argument("--model", default="export/body-lite", help="model directory")
    ca.add_argument("--sequences", type=int, default=144, help="validation sequences (default 144)")
    ca.add_argument("--fps", type=float, default=25.0, help="their frame rate (default 25)")
    ca.add_argument("--quiet", action="store_true")
    ca.set_defaults(func=cmd_calibrate)

    c = sub.add_parser("card", help="evaluate a model directory on held-out synthetic data (model card)",
                       description="Evaluate export/<name>/ (pose, spatial, temporal networks) on held-out "
                                   "synthetic sequences at 25/8/2.5 fps and write card.json and README.md; "
                                   "with --check, re-run and compare with the stored card.")
    c.add_argument("--model", default="export/body-lite", help="model directory")
    c.add_argument("--check", action="store_true", help="reproduce the stored card's figures (exit 1 if not)")
    c.add_argument("--rtol", type=float, default=0.01, help="relative tolerance for --check")
    c.add_argument("--latency", help="a benchmarks/results/model_latency*.json to copy latencies from")
    c.add_argument("--latency-only", action="store_true",
                   help="only replace the stored card's latencies with --latency's (no evaluation)")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=cmd_card)

    b = sub.add_parser("bench", help="latency/throughput and speed-accuracy benchmarks (results in "
                                     "benchmarks/results/)",
                       description="trt-tracker bench latency|tradeoff [ARGS]; `trt-tracker bench latency -h` "
                                   "lists a benchmark's options")
    b.add_argument("which", choices=tuple(k for k in BENCHMARKS if k != "eval"))
    b.add_argument("args", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_bench)
    e = sub.add_parser("eval", help="reproduce the papers' tables on held-out synthetic data", add_help=False,
                       description="trt-tracker eval [ARGS]; `trt-tracker eval -h` lists the options")
    e.add_argument("args", nargs=argparse.REMAINDER)
    e.set_defaults(func=cmd_eval)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["eval"]:
        # Everything after `eval` is the benchmark's own (argparse.REMAINDER misses leading options).
        args = argparse.Namespace(command="eval", func=cmd_eval, args=argv[1:])
    else:
        args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .runtime.base import BackendError
    from .stream.frame import SourceError

    try:
        return args.func(args)
    except (CliError, ValueError, OSError, BackendError, SourceError) as e:
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
