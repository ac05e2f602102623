"""Does the live tracker stay on a figure drawn by a renderer it was not trained on?  (issue 14)

    python -m benchmarks.cross_renderer [--quick] [--sequences 8] [--frames 150] [--out ...]

For each held-out test seed (20,000,100 on; never trained on) one synthetic
person, motion and webcam camera (:func:`trt_tracker.data.body.body_scene`,
640 x 480) is drawn twice: by the project's renderer (what body-lite was
trained on) and by :mod:`benchmarks.figure_renderer` (a cel-shaded cartoon
figure in a room, JPEG-compressed: a renderer of its own).  Each is written
to an MP4 video, and ``trt-tracker track --source <video>`` tracks it exactly
as a user's webcam recording (its own search and crops, ONNX Runtime,
the model's defaults, the camera's intrinsics given with ``--intrinsics``).

Scored against the 2D ground truth of the frames, in **torso lengths** (the
image distance neck-pelvis of that frame, which makes the figure's size and
distance drop out):

* tracked share: frames with a confirmed track (the subject is always in view);
* 2D error: mean over the 17 joints, per tracked frame; mean and median over frames;
* PCK@0.2: the share of joints within 0.2 torso lengths;
* on the figure: the share of all frames tracked with a 2D error under 0.5 torso lengths.

Writes ``benchmarks/results/cross_renderer.json`` and a picture of tracked
frames from both renderers (``docs/cross_renderer.png``).  About 4 minutes on
the 2-core CPU (quick: under a minute).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from . import common

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "export" / "body-lite"
SEED = 20_000_100
TRACKED = ("init", "track")
ON_FIGURE = 0.5                 # torso lengths
PCK_AT = 0.2
RENDERERS = ("own", "figure")


def log(msg: str) -> None:
    print(msg, flush=True)


def scene(seed: int, frames: int, fps: float = 25.0, own: bool = True):
    """Camera-space joints (T, 17, 3) at ``fps``, intrinsics, and the frames of the second renderer
    (``"figure"``) and, with ``own``, of the project's renderer (``"own"``)."""
    from trt_tracker.data.body import body_scene, make_body_sequence

    from .figure_renderer import FigureRenderer

    step = max(1, int(round(50.0 / fps)))
    drawn = {}
    if own:
        seq = make_body_sequence(seed, frames * step, camera="webcam")
        X, intr = seq.joints_cam[::step], seq.intrinsics
        drawn["own"] = seq.frames[::step]
    else:                       # the same people, motion and camera, without rendering them our way
        _, _, cam, X, _ = body_scene(seed, frames * step, camera="webcam")
        X, intr = X[::step], cam.intrinsics
    drawn["figure"] = FigureRenderer(intr, np.random.default_rng([seed, 14])).render(X)
    return X, intr, drawn


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    H, W = frames.shape[1:3]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    if not vw.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} (mp4v)")
    try:
        for f in frames:
            vw.write(np.ascontiguousarray(f[..., ::-1]))
    finally:
        vw.release()


def track_video(video: Path, out: Path, model: Path, intr) -> list[dict]:
    """``trt-tracker track`` on a video file; its track.jsonl records."""
    from trt_tracker.cli import main as cli
    from trt_tracker.stream.sinks import read_jsonl

    spec = f"{intr.fx},{intr.fy},{intr.cx},{intr.cy},{intr.width},{intr.height}"
    rc = cli(["track", "--source", str(video), "--model", str(model), "--out", str(out), "--no-video",
              "--quiet", "--intrinsics", spec])
    if rc != 0:
        raise RuntimeError(f"trt-tracker track {video} exited with {rc}")
    return read_jsonl(out / "track.jsonl")


def score(records: list[dict], uv_gt: np.ndarray, neck: int, root: int, key: str = "joints_2p5d") -> dict:
    """Per-frame 2D errors in torso lengths of the tracked frames; the pooled figures of one sequence."""
    T = len(uv_gt)
    by_index = {r["index"]: r for r in records}
    errs, within, tracked = [], [], 0
    for t in range(T):
        r = by_index.get(t)
        if r is None or r["status"] not in TRACKED or r.get(key) is None:
            continue
        tracked += 1
        torso = float(np.linalg.norm(uv_gt[t, neck] - uv_gt[t, root]))
        e = np.linalg.norm(np.asarray(r[key])[:, :2] - uv_gt[t], axis=-1) / max(torso, 1e-6)
        errs.append(float(e.mean()))
        within.append(float((e < PCK_AT).mean()))
    errs_a = np.asarray(errs)
    return {"frames": T, "tracked": tracked, "tracked_share": tracked / T if T else 0.0,
            "error_torso_mean": float(errs_a.mean()) if errs else None,
            "error_torso_median": float(np.median(errs_a)) if errs else None,
            "pck": float(np.mean(within)) if within else None,
            "on_figure_share": float((errs_a < ON_FIGURE).sum() / T) if T else 0.0,
            "per_frame_error_torso": [round(e, 4) for e in errs]}


def pool(rows: list[dict]) -> dict:
    """Totals over sequences; errors over all tracked frames."""
    frames = sum(r["frames"] for r in rows)
    tracked = sum(r["tracked"] for r in rows)
    errs = np.concatenate([np.asarray(r["per_frame_error_torso"]) for r in rows]) if tracked else np.zeros(0)
    pck = [r["pck"] * r["tracked"] for r in rows if r["pck"] is not None]
    return {"frames": frames, "tracked": tracked, "tracked_share": tracked / max(frames, 1),
            "error_torso_mean": float(errs.mean()) if len(errs) else None,
            "error_torso_median": float(np.median(errs)) if len(errs) else None,
            "pck": float(sum(pck) / tracked) if tracked else None,
            "on_figure_share": float((errs < ON_FIGURE).sum() / max(frames, 1))}


def picture(samples: list, path: Path, parents) -> None:
    """Rows of (own, figure) frames with the tracked skeleton (amber) and the truth (white)."""
    from trt_tracker.stream.sinks import TRACKED_BGR, draw_skeleton

    tiles = []
    for frames, uv_gt, recs, t in samples:
        row = []
        for name in RENDERERS:
            img = np.ascontiguousarray(frames[name][t][..., ::-1])
            draw_skeleton(img, uv_gt[t], parents, (255, 255, 255), 1)
            r = {x["index"]: x for x in recs[name]}.get(t)
            if r is not None and r["status"] in TRACKED:
                draw_skeleton(img, np.asarray(r["joints_2p5d"]), parents, TRACKED_BGR, 2)
            img = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            label = f"{'our renderer' if name == 'own' else 'other renderer'}, frame {t}: " + \
                (r["status"] if r else "-")
            cv2.rectangle(img, (0, 0), (img.shape[1], 20), (0, 0, 0), -1)
            cv2.putText(img, label, (6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
            row.append(img)
        tiles.append(np.concatenate(row, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(tiles, 0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.cross_renderer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="two short sequences (a smoke run)")
    ap.add_argument("--sequences", type=int, help="test sequences (default 8; quick 2)")
    ap.add_argument("--frames", type=int, help="frames per sequence at 25 fps (default 150; quick 30)")
    ap.add_argument("--model", default=str(MODEL), help="model folder (default export/body-lite)")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/cross_renderer.json)")
    ap.add_argument("--picture", help="picture of tracked frames (default docs/cross_renderer.png; quick: none)")
    args = ap.parse_args(argv)
    from trt_tracker.skeleton import BODY17

    n_seq = args.sequences or (2 if args.quick else 8)
    n_frames = args.frames or (30 if args.quick else 150)
    if n_seq < 1 or n_frames < 2:
        print("cross_renderer: error: --sequences must be >= 1 and --frames >= 2", file=sys.stderr)
        return 2
    model = Path(args.model)
    if not (model / "manifest.json").is_file():
        print(f"cross_renderer: error: {model} has no manifest.json; give --model export/<name>", file=sys.stderr)
        return 2
    neck, root = BODY17.names.index("neck"), BODY17.root
    t0 = time.perf_counter()
    res = {"benchmark": "cross_renderer", "machine": common.machine_info(), "quick": args.quick,
           "model": model.name, "seeds_from": SEED, "frames": n_frames, "fps": 25.0,
           "on_figure_below_torso": ON_FIGURE, "pck_at_torso": PCK_AT, "per_sequence": {}}
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, seed in enumerate(range(SEED, SEED + n_seq)):
            X, intr, frames = scene(seed, n_frames)
            uv = intr.project(X)
            recs = {}
            row = {}
            for name in RENDERERS:
                video = Path(tmp) / f"{seed}-{name}.mp4"
                write_video(video, frames[name], 25.0)
                recs[name] = track_video(video, Path(tmp) / f"{seed}-{name}", model, intr)
                row[name] = {"tracked": score(recs[name], uv, neck, root),
                             "single_frame": score(recs[name], uv, neck, root, "single_2p5d")}
                s = row[name]["tracked"]
                log(f"[{i + 1}/{n_seq}] seed {seed} {name:6s}: {100 * s['tracked_share']:5.1f} % tracked, 2D error "
                    f"{s['error_torso_mean'] if s['error_torso_mean'] is not None else float('nan'):.3f} torso "
                    f"lengths, PCK@{PCK_AT} {100 * (s['pck'] or 0):.1f} %, on the figure "
                    f"{100 * s['on_figure_share']:.1f} %")
            res["per_sequence"][str(seed)] = row
            if i < 3:
                samples.append((frames, uv, recs, n_frames * (i + 1) // 4))
    res["pooled"] = {name: {k: pool([r[name][k] for r in res["per_sequence"].values()])
                            for k in ("tracked", "single_frame")} for name in RENDERERS}
    res["wall_s"] = time.perf_counter() - t0
    for name in RENDERERS:
        p = res["pooled"][name]["tracked"]
        log(f"[pooled] {name:6s}: {100 * p['tracked_share']:.1f} % tracked, 2D error mean "
            f"{p['error_torso_mean']:.3f} / median {p['error_torso_median']:.3f} torso lengths, "
            f"PCK@{PCK_AT} {100 * p['pck']:.1f} %, on the figure {100 * p['on_figure_share']:.1f} %")
    if not args.quick or args.picture:
        pic = Path(args.picture or REPO / "docs" / "cross_renderer.png")
        picture(samples, pic, BODY17.parents)
        res["picture"] = str(pic.relative_to(REPO)) if pic.is_relative_to(REPO) else str(pic)
        log(f"wrote {pic}")
    out = common.write_result("cross_renderer", res, args.out)
    log(f"wrote {out} in {res['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
