"""What ``trt-tracker track``, ``demo`` and ``evaluate`` do, as functions (the CLI only parses).

Outputs of a run go to one folder: ``track.jsonl`` (a record per frame),
``annotated.mp4`` (skeleton overlay) and ``run.json`` (model, backend,
settings and the summary, rewritten at the end).
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .frame import SourceError
from .pipeline import RunSummary, format_summary, run_streams, track_offline
from .sinks import JsonlSink, VideoSink, WindowSink
from .tracker import DEFAULT_DURATIONS, Tracker, TrackerConfig, parse_durations

DEMO_SEED = 20_000_000      # the first held-out test seed (never trained on)
DEMO_AWAY = (90, 110)       # frames (25 fps) where the demo's subject is out of view: it leaves and comes back


#: manifest ``tracker.confidence`` keys (written by export.CONFIDENCE_THRESHOLDS) -> TrackerConfig fields
MANIFEST_CONFIDENCE = {"keep": ("min_confidence", float), "init": ("init_confidence", float),
                       "confirm": ("confirm_frames", int), "weight": ("confidence_weight", float),
                       "keep_with_surface": ("depth_keep_confidence", float), "occupancy": ("min_occupancy", float),
                       "dim_frames": ("max_dim_frames", int)}


#: manifest ``tracker.localiser`` keys -> TrackerConfig fields (the model's localiser settings)
MANIFEST_LOCALISER = {"presence": ("localiser_presence", float), "every": ("localiser_every", int),
                      "below": ("localiser_below", float), "jump": ("localiser_jump", float),
                      "zoom": ("localiser_zoom", float), "box_limits": ("box_limits", tuple)}


def tracker_config(manifest: dict, durations=DEFAULT_DURATIONS, alpha=None, gamma=None, window: int = 16,
                   root_depth: str = "auto", preprocess: str = "cpu", localiser: bool = True, fusion=None):
    """Tracker settings; alpha/gamma default to the model's tuned values (its manifest) for that duration set,
    the confidence thresholds to the model's (``tracker.confidence`` in its manifest) and the localiser's
    settings to its (``tracker.localiser``); ``localiser=False`` searches candidate windows instead.

    Of the tuned variants with these durations (e.g. Dmf, Dmf+bone and Dmf+gls), ``alpha=None`` takes the one
    with the lowest validation MPJPE, ``alpha=0`` the one without bones (nor fusion) and ``alpha > 0`` the one
    with the bone term.  ``fusion``: None lets the validation choose the spatial fusion (a model calibrated with
    ``trt-tracker calibrate`` whose manifest marks it ``default``: better than the bone term by at least
    ``export.FUSION_MIN_GAIN`` in its calibration), False leaves it out, True asks for it (its tuned gamma).
    """
    ds = parse_durations(durations)
    if fusion and alpha:
        raise ValueError("the spatial fusion replaces the bone term: give alpha or fusion, not both")
    if fusion and not manifest.get("fusion"):
        raise ValueError(f"{manifest.get('name', 'the model')} has no spatial fusion (fusion.npz); run "
                         "trt-tracker calibrate and re-export, or track without it")

    # by default only a fusion the calibration found better than the bone term by more than the noise
    default = bool(manifest.get("fusion", {}).get("default", True))

    def wanted(v):
        gls = bool(v.get("fusion", False))
        if gls and (not manifest.get("fusion") or fusion is False or (alpha is not None and not fusion)
                    or (fusion is None and not default)):
            return False
        if fusion and not gls:
            return False
        return alpha is None or fusion or (alpha == 0) == (v["alpha"] == 0)

    cands = [v for v in manifest.get("tracker", {}).get("variants", {}).values()
             if tuple(v["durations"]) == ds and wanted(v)]
    tuned = min(cands, key=lambda v: v.get("val_mpjpe") or float("inf")) if cands else None
    use_fusion = bool(fusion) or bool(tuned and tuned.get("fusion", False))
    a = alpha if alpha is not None else (tuned["alpha"] if tuned else 0.0)
    g = gamma if gamma is not None else (tuned["gamma"] if tuned else 3.0)
    conf = manifest.get("tracker", {}).get("confidence", {})     # the model's measured thresholds, if any
    kw = {field: kind(conf[key]) for key, (field, kind) in MANIFEST_CONFIDENCE.items() if key in conf}
    loc = manifest.get("tracker", {}).get("localiser", {})     # the model's localiser settings, if it has one
    kw.update({field: kind(loc[key]) for key, (field, kind) in MANIFEST_LOCALISER.items() if key in loc})
    return TrackerConfig(durations=ds, alpha=float(a), gamma=float(g), window=window, root_depth=root_depth,
                         preprocess=preprocess, localiser=bool(localiser), fusion=use_fusion, **kw)


def load_gt(path):
    """Ground truth (camera joints, intrinsics) from a sequence folder, for sources that lack it."""
    from ..data.sequence import SequenceFormatError, load_sequence

    try:
        seq = load_sequence(path)
    except SequenceFormatError as e:
        raise SourceError(f"--gt: {e}") from None
    return seq.joints_cam, seq.intrinsics


class _WithGT:
    """Wraps a source so frame i carries ground truth i (and the sequence's intrinsics)."""

    def __init__(self, src, joints, intrinsics):
        self.src, self.joints, self.intrinsics = src, joints, intrinsics
        self.live, self.fps, self.modality = src.live, src.fps, getattr(src, "modality", "rgb")

    def __iter__(self):
        for f in self.src:
            if f.index < len(self.joints):
                f.gt_joints_cam = self.joints[f.index]
            if self.intrinsics is not None:
                f.intrinsics = self.intrinsics
            yield f

    def __len__(self):
        return len(self.src)

    def close(self):
        self.src.close()


def track(source, model, config: TrackerConfig, out_dir, video: bool = True, jsonl: bool = True,
          window: bool = False, max_frames: int | None = None, progress: bool = True, reopen=None,
          reconnect: int = 0, lossless: bool | None = None, video_scale: int = 1, log=print,
          pin: bool = True) -> RunSummary:
    """Track ``source`` with ``model`` and write the run folder ``out_dir``."""
    return track_streams([source], model, config, [out_dir], video, jsonl, window, max_frames, progress,
                         None if reopen is None else [reopen], reconnect, lossless, video_scale, log, pin)[0]


def track_streams(sources, model, config: TrackerConfig, out_dirs, video: bool = True, jsonl: bool = True,
                  window: bool = False, max_frames: int | None = None, progress: bool = True, reopen=None,
                  reconnect: int = 0, lossless: bool | None = None, video_scale: int = 1,
                  log=print, pin: bool = True) -> list[RunSummary]:
    """Track several sources in one process with one batched :class:`Tracker` (one network call per graph
    for all of them); source i writes the run folder ``out_dirs[i]``.  ``window`` shows the first stream."""
    if len(sources) != len(out_dirs):
        raise ValueError(f"{len(sources)} sources but {len(out_dirs)} output folders")
    infos, sinks, win = [], [], None
    try:
        for i, (source, out_dir) in enumerate(zip(sources, out_dirs)):
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
            info = {"model": str(model.dir), "model_version": model.manifest.get("model_version"),
                    "backend": model.backend_name, "device": model.device, "tracker": asdict(config),
                    "source": type(source).__name__, "streams": len(sources), "stream": i,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "machine": {"python": platform.python_version(), "platform": platform.platform(),
                                "processor": platform.processor() or platform.machine()}}
            (out / "run.json").write_text(json.dumps(info, indent=2) + "\n")
            infos.append(info)
            ss = []
            sinks.append(ss)
            if jsonl:
                ss.append(JsonlSink(out / "track.jsonl"))
            if video:
                ss.append(VideoSink(out / "annotated.mp4", source.fps or 25.0, model.skeleton.parents, video_scale))
            if window and i == 0:
                win = WindowSink(model.skeleton.parents, log=log)
                ss.append(win)
    except Exception:
        for ss in sinks:
            for s in ss:
                s.close()
        for source in sources:
            source.close()
        raise
    tracker = Tracker(model, config, streams=len(sources))
    summaries = run_streams(sources, tracker, sinks, lossless=lossless, max_frames=max_frames, progress=progress,
                            reopen=reopen, reconnect=reconnect, pin=pin,
                            should_stop=(lambda: win.quit_requested) if win is not None else None)
    for info, out_dir, summary in zip(infos, out_dirs, summaries):
        out = Path(out_dir)
        info["summary"] = summary.to_dict()
        info["outputs"] = [str(out / n) for n in ("track.jsonl", "annotated.mp4") if (out / n).exists()]
        _write_run_json(out, info)
    return summaries


def evaluate_offline(model_dir, sequence, config: TrackerConfig, backend: str = "torch", threads=None) -> RunSummary:
    """The reference figure for a sequence: the same tracker in a plain loop, no threads or files."""
    from .model import TrackerModel

    with TrackerModel(model_dir, backend=backend, threads=threads) as m:
        return track_offline(m, config, sequence)


def demo(out="runs/demo", frames: int = 150, backend: str = "onnxruntime", durations=DEFAULT_DURATIONS,
         models=("export/body-lite", "export/hand-lite"), video: bool = True, log=print,
         localiser: bool = True) -> dict:
    """Track a synthetic body RGB and a synthetic hand depth sequence with the shipped models; print a table."""
    from .model import TrackerModel
    from .sources import SyntheticSource

    results = {}
    for kind, model_dir in zip(("body", "hand"), models):
        away = range(*DEMO_AWAY) if frames > DEMO_AWAY[1] + 10 else range(0)
        log(f"[demo] {kind}: rendering {frames} synthetic frames (seed {DEMO_SEED}, 25 fps"
            + (f"; the subject is out of view in frames {away.start}-{away.stop - 1}" if away else "") + ") ...")
        # Paced like a 25 fps camera, so camera-to-result latency is what a live user would see.
        src = SyntheticSource(kind, DEMO_SEED, frames, 25.0, realtime=True, hidden=away)
        with TrackerModel(model_dir, backend=backend) as m:
            cfg = tracker_config(m.manifest, durations, localiser=localiser)
            finder = "its localiser" if cfg.localiser and m.localiser is not None else "a window search"
            log(f"[demo] {kind}: tracking with {Path(model_dir).name} on {backend}, durations "
                f"{list(cfg.durations)}, alpha {cfg.alpha:g}, gamma {cfg.gamma:g}"
                + (", joints and bones fused by its calibrated generalised least squares" if cfg.fusion else "")
                + f"; finding the subject with {finder}")
            s = track(src, m, cfg, Path(out) / kind, video=video, progress=True, video_scale=2, log=log)
            # The same network on ground-truth crops of the frames the live run tracked: how much of the live
            # error is the live crop's (issue 14's yardstick: live at most 1.15x this).
            s.mpjpe_gt_crops = gt_crop_mpjpe(m, src.seq, _confirmed_indices(Path(out) / kind / "track.jsonl"))
            _add_to_run_json(Path(out) / kind, {"mpjpe_gt_crops": s.mpjpe_gt_crops})
        results[kind] = s
        for line in format_summary(kind, s):
            log(line)
    log("")
    for line in demo_table(results):
        log(line)
    log(f"\noutputs: {out}/body and {out}/hand (track.jsonl, annotated.mp4, run.json)")
    return results


def gt_crop_mpjpe(model, seq, indices, batch: int = 16, true_root: bool = False) -> float:
    """MPJPE (camera mm) of the model's single-frame joints on ground-truth crops of ``seq``'s frames
    ``indices`` (the papers' protocol: the box around the true pose, the true root depth): what the same
    network gives when the crop is right, against which a live run's error is judged.  A network that gives
    the root's depth (z_ref "centre", normalised about the true one) is judged with its own, as live
    (seed 000's MSRA15 protocol: camera-space error), unless ``true_root``."""
    from ..camera import box_from_points, p2p5d_to_cam
    from ..codec import split_root_depth

    c, P, G = model.codec, seq.joints_2p5d, seq.joints_cam
    errs = []
    idx = [int(i) for i in indices]
    for o in range(0, len(idx), batch):
        part = idx[o:o + batch]
        tfs = [c.transform(box_from_points(P[t, :, :2], model.margin)) for t in part]
        x = np.stack([c.crop_input(np.asarray(seq.frames[t]), tf, seq.modality,
                                   float(seq.root_depth[t]) if seq.modality == "depth" else None)
                      for t, tf in zip(part, tfs)])
        Jn = model.frame(x)[0]
        for t, tf, j in zip(part, tfs, Jn):
            J, zr = c.decode_points(j, tf), float(seq.root_depth[t])
            if model.z_ref == "centre":
                J, z_net = split_root_depth(J, zr, seq.skeleton.root)
                zr = zr if true_root else float(z_net)
            J = p2p5d_to_cam(J, seq.intrinsics, zr, seq.skeleton.root)
            errs.append(float(np.linalg.norm(J - G[t], axis=-1).mean()))
    return float(np.mean(errs)) if errs else float("nan")


def _confirmed_indices(jsonl_path) -> list[int]:
    from .sinks import read_jsonl

    return [r["index"] for r in read_jsonl(jsonl_path) if r["status"] in ("init", "track")]


def demo_table(results: dict) -> list[str]:
    head = (f"{'':6s} {'frames':>6s} {'fps':>6s} {'in view':>8s} {'model ms p50':>12s} "
            f"{'cam->result ms p50/p95/p99':>27s} {'MPJPE single':>12s} {'tracked':>8s} {'change':>7s} "
            f"{'GT crops':>9s} {'live/GT':>7s}")
    lines = [head, "-" * len(head)]
    for kind, s in results.items():
        lat = s.latency_ms
        model_ms = sum(lat[k]["p50"] for k in ("frame_graph", "temporal_graph") if k in lat)
        tot = lat.get("total", {})
        ch = (s.mpjpe_tracked / s.mpjpe_single - 1) * 100 if s.mpjpe_tracked else float("nan")
        gt = s.mpjpe_gt_crops or np.nan
        seen = 100 * s.tracked_in_view / s.frames_in_view if s.frames_in_view else np.nan
        lines.append(f"{kind:6s} {s.frames:6d} {s.fps:6.1f} {seen:7.1f}% {model_ms:12.2f} "
                     f"{tot.get('p50', np.nan):9.2f}/{tot.get('p95', np.nan):7.2f}/{tot.get('p99', np.nan):7.2f}   "
                     f"{(s.mpjpe_single or np.nan):10.1f}mm {(s.mpjpe_tracked or np.nan):6.1f}mm {ch:+6.1f}% "
                     f"{(s.mpjpe_gt_crops or np.nan):7.1f}mm {(s.mpjpe_tracked or np.nan) / gt:7.2f}")
    return lines


def _write_run_json(out: Path, info: dict) -> None:
    """``run.json`` rewritten atomically (a reader never sees half a file)."""
    tmp = out / "run.json.tmp"
    tmp.write_text(json.dumps(info, indent=2, default=float) + "\n")
    tmp.replace(out / "run.json")


def _add_to_run_json(out: Path, summary_fields: dict) -> None:
    """Add fields to a finished run's ``run.json`` summary."""
    info = json.loads((out / "run.json").read_text())
    info.setdefault("summary", {}).update(summary_fields)
    _write_run_json(out, info)
