"""The full-frame localiser (issue 14): its accuracy and cost, and what it does for live tracking.

    python -m benchmarks.localiser [--quick] [--out benchmarks/results/localiser.json]

On the shipped models' localisers (``export/{body,hand}-lite/localiser.onnx``, ONNX Runtime, this CPU):

1. ``accuracy``: held-out localiser sequences (seeds 20,000,000 on; a run of frames without the subject in
   each), every frame whole and once more as a random window (the subject larger, anywhere, cut by the
   border): presence errors (a subject missed, a subject said where there is none), and on frames with the
   subject the box centre's error in units of the true box side and the side's ratio error;
2. ``latency``: letterbox + localiser call per frame (batch 1, median ms), against the frame-graph pass over
   the search's 32 candidate windows it replaces at a start;
3. ``validation``: the tracker on validation sequences (seeds 10,000,100 on, 150 frames at 25 fps, the
   subject away for frames 60-79) without the localiser (the candidate search) and with it at several check
   settings: share of in-view frames tracked, frames tracked while the subject is away, single-frame MPJPE
   over tracked frames and the same network on ground-truth crops of those frames (live / GT);
4. ``test``: the chosen setting against the search on the demo's sequences (seed 20,000,000, away for frames
   90-109) and five more held-out ones (seeds 20,000,001-5), the same figures.

Writes ``benchmarks/results/localiser.json`` and ``.png``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from . import common

REPO = Path(__file__).resolve().parents[1]
MODELS = {"body": REPO / "export" / "body-lite", "hand": REPO / "export" / "hand-lite"}
MODALITY = {"body": "rgb", "hand": "depth"}
TRACKED = ("init", "track")
#: tracker settings compared on validation sequences: (name, TrackerConfig overrides)
SETTINGS = [("search (no localiser)", {"localiser": False}),
            ("localiser at start", {"localiser_every": 0, "localiser_below": 0.0}),
            ("check every 5 and below 0.4, whole frame", {"localiser_every": 5, "localiser_below": 0.4,
                                                          "localiser_zoom": 0.0}),
            ("check every 5 and below 0.4, zoom 2", {"localiser_every": 5, "localiser_below": 0.4}),
            ("+ jump 0.2", {"localiser_every": 5, "localiser_below": 0.4, "localiser_jump": 0.2}),
            ("+ box floor 0.3", {"localiser_every": 5, "localiser_below": 0.4, "box_limits": (0.3, 1.0)}),
            ("+ jump 0.2, box floor 0.3", {"localiser_every": 5, "localiser_below": 0.4, "localiser_jump": 0.2,
                                           "box_limits": (0.3, 1.0)}),
            ("+ jump 0.2, box floor 0.3, every 2", {"localiser_every": 2, "localiser_below": 0.4,
                                                    "localiser_jump": 0.2, "box_limits": (0.3, 1.0)})]
#: "box floor": depth frames' box side floor in cubes at the root depth (TrackerConfig.box_limits); RGB boxes
#: are bounded by the image instead, so for the body those settings repeat the ones before them


def log(msg: str) -> None:
    print(msg, flush=True)


def accuracy(model, kind: str, seeds, frames: int) -> dict:
    from trt_tracker.data.localiser import localiser_sample, make_localiser_sequence

    codec, rows = model.localiser, {"whole": [], "window": []}
    for s in seeds:
        seq = make_localiser_sequence(MODALITY[kind], int(s), frames)
        rng = np.random.default_rng([int(s), 99])
        for part, aug in (("whole", False), ("window", True)):
            ss = [localiser_sample(seq, t, codec, model.margin, rng, augment=aug) for t in range(len(seq))]
            pres, box = model.localise(np.stack([x["image"] for x in ss]))
            for x, p, b in zip(ss, pres, box):
                t = x["target"]
                row = {"present": bool(t[0] > 0.5), "said": bool(p >= 0.5)}
                if row["present"]:
                    side = float(np.exp(t[3])) * 2
                    row["centre"] = float(np.hypot(*(b[:2] - t[1:3]))) / side
                    row["size"] = float(abs(b[2] - t[3]))
                rows[part].append(row)
    out = {}
    for part, rs in rows.items():
        pr = [r for r in rs if r["present"]]
        ab = [r for r in rs if not r["present"]]
        c = np.array([r["centre"] for r in pr])
        z = np.exp(np.array([r["size"] for r in pr])) - 1
        out[part] = {"frames": len(rs), "with_subject": len(pr), "without": len(ab),
                     "missed": int(sum(not r["said"] for r in pr)), "false_alarms": int(sum(r["said"] for r in ab)),
                     "centre_err_box_median": float(np.median(c)), "centre_err_box_p90": float(np.percentile(c, 90)),
                     "size_err_median": float(np.median(z)), "size_err_p90": float(np.percentile(z, 90)),
                     "centre_errors": c.round(4).tolist()}
    return out


def latency(model, kind: str, reps: int) -> dict:
    from trt_tracker.camera import CropBox
    from trt_tracker.stream.tracker import window_candidates

    size = (640, 480) if kind == "body" else (320, 240)
    rng = np.random.default_rng(0)
    frame = (rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) if kind == "body"
             else rng.integers(300, 900, (size[1], size[0]), dtype=np.uint16))
    codec = model.localiser
    x = np.empty((1, codec.channels, codec.input_size, codec.input_size), np.float32)
    t_loc, t_enc = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        codec.encode(frame, out=x[0])
        t1 = time.perf_counter()
        model.localise(x)
        t2 = time.perf_counter()
        t_enc.append(t1 - t0)
        t_loc.append(t2 - t0)
    c = model.codec
    boxes = window_candidates(*size)[:32] if kind == "body" else [CropBox(160, 120, 80)] * 32
    crops = np.stack([c.crop_input(frame, c.transform(b), MODALITY[kind], 500.0 if kind == "hand" else None)
                      for b in (boxes * 32)[:32]])
    t_search = []
    for _ in range(max(5, reps // 10)):
        t0 = time.perf_counter()
        model.frame(crops)
        t_search.append(time.perf_counter() - t0)
    return {"frame_size": list(size), "localiser_ms_median": 1e3 * float(np.median(t_loc)),
            "letterbox_ms_median": 1e3 * float(np.median(t_enc)),
            "search_frame_graph_32_ms_median": 1e3 * float(np.median(t_search))}


def track(model, kind: str, seed: int, n: int, away, overrides: dict) -> dict:
    from trt_tracker.stream.app import gt_crop_mpjpe, tracker_config
    from trt_tracker.stream.sources import SyntheticSource
    from trt_tracker.stream.tracker import Tracker

    src = SyntheticSource(kind, seed, n, 25.0, hidden=away)
    cfg = tracker_config(model.manifest, "Dmf")
    for k, v in overrides.items():
        setattr(cfg, k, v)
    tr = Tracker(model, cfg)
    idx, errs, in_view, empty_tracked, empty, relocal = [], [], 0, 0, 0, 0
    t0 = time.perf_counter()
    for f in src:
        r = tr.step(f)
        ok = r.status in TRACKED
        relocal += r.message == "re-localised"
        if f.gt_joints_cam is None:
            empty += 1
            empty_tracked += ok
            continue
        in_view += 1
        if ok:
            idx.append(f.index)
            errs.append(float(np.linalg.norm(r.single_cam - f.gt_joints_cam, axis=-1).mean()))
    wall = time.perf_counter() - t0
    return {"frames_in_view": in_view, "tracked_in_view": len(idx), "empty_frames": empty,
            "tracked_when_empty": empty_tracked, "relocalised": relocal, "ms_per_frame": 1e3 * wall / n,
            "mpjpe_single": float(np.mean(errs)) if errs else None,
            "mpjpe_gt_crops": gt_crop_mpjpe(model, src.seq, idx) if idx else None}


def pooled(rows: list[dict]) -> dict:
    out = {k: int(sum(r[k] for r in rows)) for k in ("frames_in_view", "tracked_in_view", "empty_frames",
                                                       "tracked_when_empty", "relocalised")}
    out["tracked_share"] = out["tracked_in_view"] / max(out["frames_in_view"], 1)
    # frame-weighted means over the sequences' tracked frames
    w = np.array([r["tracked_in_view"] for r in rows], float)
    for k in ("mpjpe_single", "mpjpe_gt_crops"):
        v = np.array([r[k] if r[k] is not None else 0.0 for r in rows])
        out[k] = float((v * w).sum() / max(w.sum(), 1))
    out["live_over_gt"] = out["mpjpe_single"] / out["mpjpe_gt_crops"] if out["mpjpe_gt_crops"] else None
    out["worst_sequence_live_over_gt"] = max((r["mpjpe_single"] / r["mpjpe_gt_crops"] for r in rows
                                              if r["mpjpe_gt_crops"]), default=None)
    out["ms_per_frame"] = float(np.mean([r["ms_per_frame"] for r in rows]))
    out["per_sequence_live_over_gt"] = [r["mpjpe_single"] / r["mpjpe_gt_crops"] if r["mpjpe_gt_crops"] else None
                                        for r in rows]
    return out


def live_summary(p: dict, demo: dict, digits: int = 1) -> str:
    """One log line of pooled live-tracking figures (:func:`pooled`) and the demo sequence's (:func:`track`)."""
    f = lambda x: f"{x:.{digits}f}"   # noqa: E731
    return (f"{p['tracked_in_view']}/{p['frames_in_view']} tracked, {f(p['mpjpe_single'])} mm vs GT crops "
            f"{f(p['mpjpe_gt_crops'])} ({p['live_over_gt']:.3f}x); the demo's sequence "
            f"{demo['tracked_in_view']}/{demo['frames_in_view']}, {f(demo['mpjpe_single'])} vs "
            f"{f(demo['mpjpe_gt_crops'])} mm")


def choose(rows: list[dict]) -> dict:
    """The validation choice among settings listed from the simplest: a later setting replaces the current
    one when it tracks more in-view frames net of empty frames tracked, or as many with a live / GT ratio
    lower on the sequences beyond noise (the mean of the per-sequence differences more than two standard
    errors below 0).  (A first run took the lowest pooled ratio: "+ jump 0.2", 1.6 % lower on validation,
    tracked 848 of 880 test frames against 871 with the search, commit f9712a8.)"""
    def net(r):
        return r["tracked_in_view"] - r["tracked_when_empty"]

    best = rows[0]
    for r in rows[1:]:
        if net(r) != net(best):
            if net(r) > net(best):
                best = r
            continue
        a, b = r.get("per_sequence_live_over_gt"), best.get("per_sequence_live_over_gt")
        if a and b and len(a) == len(b) and len(a) > 1 and None not in a + b:
            d = np.array(a) - np.array(b)
            if d.mean() < -2 * d.std(ddof=1) / np.sqrt(len(d)):
                best = r
    return best


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(res["accuracy"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for kind in kinds:
        for part, ls in (("whole", "-"), ("window", "--")):
            c = np.sort(res["accuracy"][kind][part]["centre_errors"])
            ax.plot(c, np.arange(1, len(c) + 1) / len(c), ls, label=f"{kind}, {part} frames")
    ax.set_xlim(0, 0.5)
    ax.set_xlabel("box centre error (true box sides)")
    ax.set_ylabel("share of frames with the subject")
    ax.set_title("localiser accuracy, held-out sequences")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for ax, key, label in ((axes[1], "tracked_share", "in-view frames tracked"),
                           (axes[2], "live_over_gt", "single-frame MPJPE, live / GT crops")):
        names = [r["setting"] for r in res["validation"][kinds[0]]]
        x = np.arange(len(names))
        wdt = 0.8 / len(kinds)
        for i, kind in enumerate(kinds):
            v = [r[key] for r in res["validation"][kind]]
            ax.bar(x + i * wdt, v, wdt, label=kind)
        ax.set_xticks(x + wdt * (len(kinds) - 1) / 2)
        ax.set_xticklabels(names, rotation=25, ha="right", fontsize=7)
        ax.set_title(f"{label} (validation)")
        lo = min(r[key] for k in kinds for r in res["validation"][k])
        ax.set_ylim(0.9 * lo if key == "tracked_share" else 0.9, None)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = common.quick_out_parser(__doc__, "localiser", "fewer and shorter sequences (a smoke run)")
    ap.add_argument("--kinds", nargs="+", choices=sorted(MODELS), default=list(MODELS), help="models to measure")
    args = ap.parse_args(argv)
    from trt_tracker.stream.model import TrackerModel

    t0 = time.perf_counter()
    q = args.quick
    res = {"benchmark": "localiser", "machine": common.machine_info(), "quick": q, "accuracy": {}, "latency": {},
           "validation": {}, "test": {}, "chosen": {}}
    for kind in args.kinds:
        with TrackerModel(MODELS[kind], threads=2) as m:
            if m.localiser is None:
                raise SystemExit(f"{MODELS[kind]} has no localiser: train it (trt-tracker train --preset {kind}-lite-localiser)"
                                 " and export the model")
            res["accuracy"][kind] = a = accuracy(m, kind, range(20_000_000, 20_000_000 + (2 if q else 16)),
                                                 12 if q else 24)
            for part, v in a.items():
                log(f"[accuracy] {kind} {part}: centre {v['centre_err_box_median']:.3f} / p90 "
                    f"{v['centre_err_box_p90']:.3f} box sides, size {100 * v['size_err_median']:.1f} %, missed "
                    f"{v['missed']}/{v['with_subject']}, false alarms {v['false_alarms']}/{v['without']}")
            res["latency"][kind] = lat = latency(m, kind, 30 if q else 200)
            log(f"[latency] {kind}: localiser {lat['localiser_ms_median']:.2f} ms (letterbox "
                f"{lat['letterbox_ms_median']:.2f}); a search's 32 candidates {lat['search_frame_graph_32_ms_median']:.1f} ms")
            n, seeds = (40, range(10_000_100, 10_000_102)) if q else (150, range(10_000_100, 10_000_108))
            away = range(20, 28) if q else range(60, 80)
            rows = []
            for name, ov in SETTINGS:
                p = pooled([track(m, kind, s, n, away, ov) for s in seeds])
                rows.append({"setting": name, "overrides": ov, **p})
                log(f"[validation] {kind} {name}: {p['tracked_in_view']}/{p['frames_in_view']} tracked, "
                    f"{p['tracked_when_empty']}/{p['empty_frames']} empty tracked, {p['mpjpe_single']:.1f} mm vs "
                    f"GT crops {p['mpjpe_gt_crops']:.1f} ({p['live_over_gt']:.2f}x), {p['relocalised']} re-localised")
            res["validation"][kind] = rows
            best = choose(rows[1:])
            res["chosen"][kind] = best["setting"]
            n, seeds = (40, range(20_000_000, 20_000_002)) if q else (150, range(20_000_000, 20_000_006))
            away = range(20, 28) if q else range(90, 110)
            res["test"][kind] = {}
            for name, ov in (SETTINGS[0], (best["setting"], best["overrides"])):
                per = {str(s): track(m, kind, s, n, away if s == seeds[0] else None, ov) for s in seeds}
                res["test"][kind][name] = {"per_sequence": per, "pooled": pooled(list(per.values()))}
                p, dm = res["test"][kind][name]["pooled"], per[str(seeds[0])]
                log(f"[test] {kind} {name}: {live_summary(p, dm)}")
    path = common.write_timed("localiser", res, args, t0)
    plot(res, path.with_suffix(".png"))
    log(f"wrote {path.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
