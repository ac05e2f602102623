"""Live tracking that stays on the subject: the measurements behind the tracker's search and confidence settings.

    python -m benchmarks.live_tracking [--quick] [--out benchmarks/results/live_tracking.json]

The tracker (``stream/tracker.py``) runs in a plain loop on held-out synthetic
sequences (ONNX Runtime, the shipped models, the model's tuned settings), no
threads and no dropped frames, so every figure is deterministic:

1. ``sequences``: six held-out sequences a model (seeds 20,000,000-5, 150
   frames at 25 fps): the share of frames with a confirmed track and the
   single-frame MPJPE over them; for depth, the root-depth error;
2. ``box_velocity``: the next box moved by the last motion or not (seeds
   20,000,020-25, 100 frames at 25 and 8 fps);
3. ``hand_root_depth``: the demo's hand with the root depth from the network
   (a hand model whose z is about the crop's depth centre), from the depth
   map, and the true one, beside the same network on ground-truth crops (with
   its own root depth and with the true one);
4. ``body_confidence`` / ``hand_confidence``: new-track threshold and
   confirmation frames (body) and the keep threshold (hand) against frames
   tracked while the subject is out of view (scenes rendered with
   ``hidden=...``) and visible frames left untracked;
5. ``crop_confidence``: the frame graph's mean confidence on ground-truth
   crops of the subject and on crops of background;
6. on validation sequences (seeds 10,000,100-107, so the choices are not
   made on the test seeds above): ``confidence_weight``, the solver's data
   term weighted by the per-joint confidence (exponent 0, 1, 2; body and hand,
   25 and 8 fps, ground-truth root depth): single-frame and tracked MPJPE;
   ``hand_keep_validation``: the hand's keep threshold;
7. ``hand_depth_choices`` (the same validation sequences, the hand's own root
   depth): a tracked crop normalised about the last root depth or this
   frame's depth map, and the tracked pose with the network's single-frame
   depths or the solver's.

Writes ``benchmarks/results/live_tracking.json`` (about 12 minutes on the 2-core CPU).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from . import common

REPO = Path(__file__).resolve().parents[1]
MODELS = {"rgb": REPO / "export" / "body-lite", "depth": REPO / "export" / "hand-lite"}
KIND = {"rgb": "body", "depth": "hand"}
TRACKED = ("init", "track")


def log(msg: str) -> None:
    print(msg, flush=True)


def run_sequence(model, cfg, frames, per_frame: bool = False) -> dict:
    """Track a list of frames; confirmed-track share, single-frame MPJPE over them, root-depth error (median).
    ``per_frame``: also ``single_errors``, each in-view frame's single-frame error (None when not tracked)."""
    from trt_tracker.stream.tracker import Tracker

    tr = Tracker(model, cfg)
    errs, errt, zerr, tracked, in_view, empty_tracked, empty = [], [], [], 0, 0, 0, 0
    every = []
    for f in frames:
        r = tr.step(f)
        ok = r.status in TRACKED
        if f.gt_joints_cam is None:
            empty += 1
            empty_tracked += ok
            continue
        in_view += 1
        tracked += ok
        if ok:
            errs.append(float(np.linalg.norm(r.single_cam - f.gt_joints_cam, axis=-1).mean()))
            errt.append(float(np.linalg.norm(r.joints_cam - f.gt_joints_cam, axis=-1).mean()))
            zerr.append(abs(r.root_depth - float(f.gt_joints_cam[0, 2])))
        every.append(errs[-1] if ok else None)
    out = {"frames_in_view": in_view, "tracked_in_view": tracked, "empty_frames": empty,
           "tracked_when_empty": empty_tracked, "mpjpe_single": float(np.mean(errs)) if errs else None,
           "mpjpe_tracked": float(np.mean(errt)) if errt else None,
           "root_depth_error_median": float(np.median(zerr)) if zerr else None}
    if per_frame:
        out["single_errors"] = every
    return out


def config(model, **kw):
    from trt_tracker.stream.app import tracker_config

    cfg = tracker_config(model.manifest, "Dmf")
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def synthetic(kind: str, seed: int, frames: int, fps: float = 25.0, hidden=None) -> list:
    from trt_tracker.stream.sources import SyntheticSource

    return list(SyntheticSource(kind, seed, frames, fps, hidden=hidden))


def pooled(rows: list[dict]) -> dict:
    """Totals over sequences; MPJPE as the mean of the per-sequence means."""
    out = {k: int(sum(r[k] for r in rows)) for k in ("frames_in_view", "tracked_in_view", "empty_frames",
                                                       "tracked_when_empty")}
    out["tracked_share"] = out["tracked_in_view"] / max(out["frames_in_view"], 1)
    for k in ("mpjpe_single", "mpjpe_tracked"):
        out[k] = float(np.mean([r[k] for r in rows if r[k] is not None]))
    return out


def crop_confidence(model, modality: str, seeds, margin: float) -> dict:
    """Mean frame-graph confidence on ground-truth crops (frames 5, 20, 35) and on background crops (a grid of
    windows of 0.45 x the shorter side with no joint inside)."""
    from trt_tracker.camera import CropBox, box_from_points
    from trt_tracker.data.samples import make_sequence

    c = model.codec
    subject, background = [], []
    for seed in seeds:
        seq = make_sequence(modality, seed, 40)
        for t in (5, 20, 35):
            tf = c.transform(box_from_points(seq.joints_2p5d[t][:, :2], margin))
            subject.append(c.crop_input(seq.frames[t], tf, modality,
                                        float(seq.root_depth[t]) if modality == "depth" else None))
        img, P = seq.frames[20], seq.joints_2p5d[20]
        H, W = img.shape[:2]
        side = 0.45 * min(H, W)
        for fx in (0.2, 0.5, 0.8):
            for fy in (0.2, 0.5, 0.8):
                cx, cy = fx * W, fy * H
                if ((np.abs(P[:, 0] - cx) < side / 2) & (np.abs(P[:, 1] - cy) < side / 2)).any():
                    continue
                centre = None
                if modality == "depth":
                    d = float(img[int(cy), int(cx)])
                    centre = d if d > 0 else float(seq.root_depth[20])
                background.append(c.crop_input(img, c.transform(CropBox(cx, cy, side)), modality, centre))
    cs, cb = model.frame(np.stack(subject))[2].mean(1), model.frame(np.stack(background))[2].mean(1)
    return {"subject_crops": len(cs), "background_crops": len(cb),
            "subject_percentiles_1_5_50": np.percentile(cs, [1, 5, 50]).round(3).tolist(), "subject_min": float(cs.min()),
            "background_percentiles_50_95_99": np.percentile(cb, [50, 95, 99]).round(3).tolist(),
            "background_max": float(cb.max())}


def main(argv=None) -> int:
    args = common.quick_out_args(__doc__, "live_tracking", argv, "two sequences, short ones (a smoke run)")
    from trt_tracker.stream.app import gt_crop_mpjpe
    from trt_tracker.stream.model import TrackerModel

    t0 = time.perf_counter()
    n_seq, n_frames = (2, 30) if args.quick else (6, 150)
    res = {"benchmark": "live_tracking", "machine": common.machine_info(), "quick": args.quick}
    models = {m: TrackerModel(p, threads=2) for m, p in MODELS.items()}
    try:
        # 1. held-out sequences
        res["sequences"] = {}
        for mod, m in models.items():
            rows = {}
            for s in range(20_000_000, 20_000_000 + n_seq):
                rows[str(s)] = run_sequence(m, config(m), synthetic(KIND[mod], s, n_frames))
            res["sequences"][KIND[mod]] = {"per_sequence": rows, "pooled": pooled(list(rows.values()))}
            p = res["sequences"][KIND[mod]]["pooled"]
            log(f"[sequences] {KIND[mod]}: {100 * p['tracked_share']:.1f} % tracked, single-frame "
                f"{p['mpjpe_single']:.1f} mm")
        # 2. box velocity
        res["box_velocity"] = {}
        for mod, m in models.items():
            for fps in (25.0, 8.0):
                seqs = [synthetic(KIND[mod], s, 100 if not args.quick else 30, fps)
                        for s in range(20_000_020, 20_000_020 + n_seq)]
                for vel in (False, True):
                    p = pooled([run_sequence(m, config(m, box_velocity=vel), f) for f in seqs])
                    res["box_velocity"][f"{KIND[mod]} {fps:g} fps {'moved' if vel else 'still'}"] = p
                    log(f"[velocity] {KIND[mod]} {fps:g} fps {'moved' if vel else 'still'}: "
                        f"{p['tracked_in_view']}/{p['frames_in_view']} tracked, {p['mpjpe_single']:.1f} mm")
        # 3. the demo's hand: root depth from the depth map or the truth
        hand = models["depth"]
        from trt_tracker.stream.sources import SyntheticSource

        src = SyntheticSource("hand", 20_000_000, n_frames, 25.0)
        frames = list(src)
        res["hand_root_depth"] = {}
        modes = ("network", "depth", "gt") if hand.z_ref == "centre" else ("depth", "gt")
        for rd in modes:
            r = run_sequence(hand, config(hand, root_depth=rd), frames)
            res["hand_root_depth"][rd] = r
        hr = res["hand_root_depth"]
        hr["gt_crops_mpjpe"] = gt_crop_mpjpe(hand, src.seq, range(len(frames)))
        hr["gt_crops_mpjpe_true_root"] = gt_crop_mpjpe(hand, src.seq, range(len(frames)), true_root=True)
        log("[root depth] hand: " + ", ".join(f"{rd} {hr[rd]['mpjpe_single']:.1f} mm (root "
                                              f"{hr[rd]['root_depth_error_median']:.1f})" for rd in modes)
            + f"; GT crops {hr['gt_crops_mpjpe']:.1f} mm (true root {hr['gt_crops_mpjpe_true_root']:.1f})")
        # 4. confidence thresholds against scenes with the subject out of view
        body = models["rgb"]
        scenes = [(s, 60, range(20, 35)) for s in (20_000_010, 20_000_011, 20_000_014, 20_000_015)] + \
                 [(20_000_012, 40, range(0, 12))]
        if args.quick:
            scenes = scenes[:1]
        body_scenes = [synthetic("body", s, n, hidden=g) for s, n, g in scenes]
        body_visible = [synthetic("body", s, n_frames) for s in range(20_000_000, 20_000_000 + n_seq)]
        res["body_confidence"] = []
        for init, confirm in ((0.25, 1), (0.25, 2), (0.25, 3), (0.30, 2), (0.30, 3), (0.33, 2), (0.37, 1)):
            cfg = dict(init_confidence=init, confirm_frames=confirm)
            e = pooled([run_sequence(body, config(body, **cfg), f) for f in body_scenes])
            v = pooled([run_sequence(body, config(body, **cfg), f) for f in body_visible])
            row = {"init": init, "confirm": confirm, "empty_frames": e["empty_frames"],
                   "tracked_when_empty": e["tracked_when_empty"], "visible_frames": v["frames_in_view"],
                   "visible_untracked": v["frames_in_view"] - v["tracked_in_view"]}
            res["body_confidence"].append(row)
            log(f"[confidence] body init {init} confirm {confirm}: {row['tracked_when_empty']}/"
                f"{row['empty_frames']} empty frames tracked, {row['visible_untracked']}/{row['visible_frames']} "
                "visible frames untracked")
        hand_scenes = [synthetic("hand", s, 50, hidden=range(20, 30))
                       for s in (20_000_010, 20_000_011, 20_000_012, 20_000_013)[:1 if args.quick else 4]]
        hand_visible = [synthetic("hand", s, n_frames) for s in range(20_000_000, 20_000_000 + n_seq)]
        res["hand_confidence"] = []
        for keep in (0.25, 0.22, 0.20):
            cfg = dict(min_confidence=keep, init_confidence=keep)
            e = pooled([run_sequence(hand, config(hand, **cfg), f) for f in hand_scenes])
            v = pooled([run_sequence(hand, config(hand, **cfg), f) for f in hand_visible])
            row = {"keep": keep, "empty_frames": e["empty_frames"], "tracked_when_empty": e["tracked_when_empty"],
                   "visible_frames": v["frames_in_view"],
                   "visible_untracked": v["frames_in_view"] - v["tracked_in_view"], "mpjpe_single": v["mpjpe_single"]}
            res["hand_confidence"].append(row)
            log(f"[confidence] hand keep {keep}: {row['visible_untracked']}/{row['visible_frames']} visible "
                f"untracked, {row['mpjpe_single']:.1f} mm, {row['tracked_when_empty']}/{row['empty_frames']} empty "
                "tracked")
        # 6. on validation sequences (seeds 10,000,100 on): the solver's per-joint confidence weights, and
        #    the hand's keep threshold (ground-truth root depth: the tracker's own error, not the root's)
        val = range(10_000_100, 10_000_100 + (2 if args.quick else 8))
        res["confidence_weight"] = []
        for mod, m in models.items():
            for fps in (25.0, 8.0):
                seqs = [synthetic(KIND[mod], s, (150 if fps > 10 else 60) if not args.quick else 30, fps)
                        for s in val]
                for w in (0.0, 1.0, 2.0):
                    p = pooled([run_sequence(m, config(m, confidence_weight=w, root_depth="gt"), f) for f in seqs])
                    row = {"kind": KIND[mod], "fps": fps, "weight": w, **p,
                           "change": p["mpjpe_tracked"] / p["mpjpe_single"] - 1}
                    res["confidence_weight"].append(row)
                    log(f"[weights] {KIND[mod]} {fps:g} fps weight {w:g}: single {p['mpjpe_single']:.2f}, tracked "
                        f"{p['mpjpe_tracked']:.2f} mm ({100 * row['change']:+.1f} %)")
        res["hand_keep_validation"] = []
        v_seqs = [synthetic("hand", s, n_frames) for s in val]
        v_away = [synthetic("hand", s, 50, hidden=range(20, 30)) for s in range(10_000_120, 10_000_124)]
        for keep in (0.25, 0.22, 0.20):
            cfg = dict(min_confidence=keep, init_confidence=keep)
            v = pooled([run_sequence(hand, config(hand, root_depth="gt", **cfg), f) for f in v_seqs])
            e = pooled([run_sequence(hand, config(hand, **cfg), f) for f in v_away])
            row = {"keep": keep, "visible_frames": v["frames_in_view"], "visible_tracked": v["tracked_in_view"],
                   "mpjpe_single": v["mpjpe_single"], "empty_frames": e["empty_frames"],
                   "tracked_when_empty": e["tracked_when_empty"]}
            res["hand_keep_validation"].append(row)
            log(f"[keep, validation] hand {keep}: {row['visible_tracked']}/{row['visible_frames']} tracked, "
                f"{row['mpjpe_single']:.2f} mm, {row['tracked_when_empty']}/{row['empty_frames']} empty tracked")
        # 7. the hand's depth choices on the validation sequences (its own root depth): what a tracked crop is
        #    normalised about, and whether the tracked pose keeps the network's single-frame depths
        res["hand_depth_choices"] = []
        for centre in ("previous", "depth"):
            for keep in (True, False):
                p = pooled([run_sequence(hand, config(hand, depth_centre=centre, keep_network_depths=keep), f)
                            for f in v_seqs])
                row = {"depth_centre": centre, "keep_network_depths": keep, **p}
                res["hand_depth_choices"].append(row)
                log(f"[depth choices, validation] hand centre {centre}, keep depths {keep}: "
                    f"{p['tracked_in_view']}/{p['frames_in_view']} tracked, single {p['mpjpe_single']:.2f}, "
                    f"tracked {p['mpjpe_tracked']:.2f} mm")
        # 5. confidence on crops
        res["crop_confidence"] = {KIND[mod]: crop_confidence(m, mod, range(20_000_000, 20_000_000 + 2 * n_seq),
                                                             m.margin) for mod, m in models.items()}
        for k, v in res["crop_confidence"].items():
            log(f"[crops] {k}: subject min {v['subject_min']:.3f}, background max {v['background_max']:.3f}")
    finally:
        for m in models.values():
            m.close()
    common.write_timed("live_tracking", res, args, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
