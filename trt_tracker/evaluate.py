"""Evaluation of a model (pose + spatial + temporal networks) on held-out synthetic sequences.

The protocol (the model cards' figures):

* sequences are rendered at 50 fps from the test seeds (never trained on) and
  sub-sampled to 25, 8 (8.33) and 2.5 fps;
* crops come from ground-truth boxes (the Human3.6M protocol of the papers):
  one box per frame for the pose and spatial networks, one box around both
  frames for a temporal pair;
* related joints are predicted: the spatial network pools at the pose
  network's parents, the temporal network at the pose network's joints of
  frame t-d;
* 2.5D results become camera millimetres with the ground-truth root depth;
* Joint Error = MPJPE; Bone Error adds the predicted bone to the
  ground-truth parent; Displ Error adds the predicted displacement (d=1) to
  the ground-truth joints of the previous frame (seed 000 section 5.1);
* the online tracker (:class:`~trt_tracker.solver.OnlineSolver`, forward
  durations only) runs with alpha, gamma chosen on validation sequences.

Networks are called through a :class:`Predictor` (batched NumPy in and out);
the cards build one over the PyTorch networks (:func:`torch_predictor`), and
any callable with the same signatures (e.g. a runtime backend) fits it.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .camera import box_from_points, p2p5d_to_cam
from .codec import PoseCodec, split_root_depth
from .data.samples import make_sequence, no_augment
from .data.sequence import Sequence
from .metrics import accel_error, displacement_error_buckets, mpjpe
from .solver import OnlineSolver, solve_sequence

FPS = (25.0, 8.0, 2.5)
#: Tracker weights searched on validation sequences (log-spaced; the first cards' choices sat on 0.1,
#: the old grids' edge, so they reach two steps lower; body-lite's fourth-round spatial network chose 10,
#: the edge then, so alpha reaches two steps higher).
ALPHAS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
GAMMAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
#: The tracker variants of the card: name -> (durations, uses bones).  Df and Dmf are the temporal
#: term alone, "bone" the spatial term alone (seed 000's Ours-Spatial), "+bone" both (Ours-Spatiotemporal).
#: "gls" fuses each frame's joints and bones by generalised least squares with the error covariance measured
#: on validation sequences (:class:`~trt_tracker.solver.SpatialFusion`, a model directory's ``fusion.npz``) in
#: place of the bone term; "+gls" adds the temporal term.  Only a model with a fusion file has them.
VARIANTS = {"Df": ((1,), False), "Dmf": ((1, 2, 3), False), "bone": ((), True),
            "Df+bone": ((1,), True), "Dmf+bone": ((1, 2, 3), True),
            "gls": ((), "gls"), "Df+gls": ((1,), "gls"), "Dmf+gls": ((1, 2, 3), "gls")}


def fit_fusion(preds: list, shrink: float = 0.0, info: dict | None = None):
    """A :class:`~trt_tracker.solver.SpatialFusion` measured on [(sequence, prediction)]: every frame's joints and
    bones against the sequence's true joints."""
    from .solver import SpatialFusion

    J, B, G = (np.concatenate(a) for a in zip(*[(p["J"], p["B"], s.joints_2p5d) for s, p in preds]))
    return SpatialFusion.fit(preds[0][0].skeleton, J, B, G, shrink=shrink, info=info)


def fused_predictions(preds: list, fusion) -> list:
    """[(sequence, prediction)] with each prediction's joints replaced by ``fusion(J, B)`` (a
    :class:`~trt_tracker.solver.SpatialFusion`): what the tracker's "gls" variants solve from."""
    return [(s, {**p, "J": fusion(p["J"], p["B"])}) for s, p in preds]


@dataclass
class Predictor:
    """Batched network calls in the network frame (NumPy float32 in and out).

    pose(images (N, C, S, S)) -> (N, K, 3); spatial(images, related (N, K, 2)) -> (N, K, 3);
    temporal(pairs (N, 2C, S, S), related) -> (N, K, 3).
    """

    pose: Callable
    spatial: Callable | None
    temporal: Callable | None
    codec: PoseCodec
    margin: float
    batch: int = 64
    z_ref: str = "root"       # the pose network's z: root-relative, or about the crop's depth centre (ModelConfig)


def torch_predictor(cfg, pose_net, spatial_net=None, temporal_net=None, batch: int = 64) -> Predictor:
    """A :class:`Predictor` over PyTorch networks (eval mode, no gradients); ``cfg`` is the pose net's ModelConfig."""
    import torch

    def wrap(net, with_related):
        if net is None:
            return None
        net.eval()

        @torch.no_grad()
        def call(x, related=None):
            xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
            if with_related:
                return net(xt, torch.from_numpy(np.ascontiguousarray(related, np.float32))).numpy()
            return net(xt).numpy()
        return call

    codec = PoseCodec(cfg.input_size, cfg.heatmap_size, cfg.cube_mm)
    return Predictor(wrap(pose_net, False), wrap(spatial_net, True), wrap(temporal_net, True), codec,
                     no_augment(cfg.modality).margin, batch, cfg.z_ref)


def _batched(fn, n, make, batch):
    outs = []
    for i in range(0, n, batch):
        outs.append(fn(*make(range(i, min(n, i + batch)))))
    return np.concatenate(outs) if outs else np.zeros((0,))


def predict_sequence(seq: Sequence, pred: Predictor, durations: Iterable[int] = (1, 2, 3),
                     reuse: dict | None = None, bones_at: np.ndarray | None = None) -> dict:
    """Single-frame joints, bones and displacements of a sequence, in image 2.5D (u, v px; z mm).

    Returns ``J`` (T, K, 3), ``B`` (T, K, 3) (root row 0) and ``deltas``
    {d: (T, K, 3)} with NaN rows where frame t - d is outside the sequence,
    and, from a pose network with ``z_ref="centre"``, ``root_depth`` (T,): its
    root depth (mm) about the crops' centre, the true root depth (``J`` is
    made root-relative);
    a negative d looks ahead (the network sees (I[t-d], I[t]) with t - d > t:
    the offline duration sets).  ``reuse``: an earlier result for
    the same sequence whose ``J`` and ``B`` are kept (only the temporal
    network runs; e.g. a second temporal network over the same pose network).  ``bones_at``: (T, K, 3)
    image 2.5D joints at whose parents the spatial network pools its bones instead of the pose network's
    (e.g. the true joints: does the pooling location bound the bones?); with ``reuse`` it runs as well.
    """
    c, T, K = pred.codec, len(seq), seq.skeleton.K
    P = seq.joints_2p5d
    root_z = seq.root_depth
    tfs = [c.transform(box_from_points(P[t, :, :2], pred.margin)) for t in range(T)]

    def crops(idx):
        return (np.stack([c.crop_input(seq.frames[t], tfs[t], seq.modality, root_z[t]) for t in idx]),)

    if reuse is not None:
        out = {"J": reuse["J"], "B": reuse["B"], "deltas": {}}
        if "root_depth" in reuse:
            out["root_depth"] = reuse["root_depth"]
        J = out["J"]
    else:
        Jn = _batched(pred.pose, T, crops, pred.batch)
        J = np.stack([c.decode_points(Jn[t], tfs[t]) for t in range(T)])
        out = {"B": None, "deltas": {}}
        if pred.z_ref == "centre":
            J, out["root_depth"] = split_root_depth(J, root_z, seq.skeleton.root)
        out["J"] = J
    sk = seq.skeleton
    par = np.where(sk.parents_array < 0, np.arange(K), sk.parents_array)
    if pred.spatial is not None and (reuse is None or bones_at is not None):
        def sp(idx):
            rel = [Jn[t] if bones_at is None else c.encode_points(bones_at[t], tfs[t]) for t in idx]
            return crops(idx)[0], np.stack([r[par, :2] for r in rel])
        Bn = _batched(pred.spatial, T, sp, pred.batch)
        B = np.stack([c.decode_vectors(Bn[t], tfs[t]) for t in range(T)])
        B[:, sk.root] = 0.0
        out["B"] = B
    if pred.temporal is not None:
        for d in durations:
            D = np.full((T, K, 3), np.nan)
            ts = [t for t in range(T) if 0 <= t - d < T]
            if not ts:
                out["deltas"][d] = D
                continue
            ptf = {t: c.transform(box_from_points(np.concatenate([P[t - d, :, :2], P[t, :, :2]]), pred.margin))
                   for t in ts}

            def pairs(idx, d=d, ptf=ptf):
                idx = [ts[i] for i in idx]
                x = np.stack([np.concatenate([c.crop_input(seq.frames[t - d], ptf[t], seq.modality, root_z[t - d]),
                                              c.crop_input(seq.frames[t], ptf[t], seq.modality, root_z[t - d])])
                              for t in idx])
                # Related joints: the pose network's joints of frame t-d, in the pair's frame.
                rel = np.stack([c.encode_points(J[t - d], ptf[t])[:, :2] for t in idx])
                return x, rel
            Dn = _batched(pred.temporal, len(ts), pairs, pred.batch)
            for i, t in enumerate(ts):
                D[t] = c.decode_vectors(Dn[i], ptf[t])
            out["deltas"][d] = D
    return out


def to_cam(seq: Sequence, P: np.ndarray) -> np.ndarray:
    return p2p5d_to_cam(P, seq.intrinsics, seq.root_depth, seq.skeleton.root)


_SOLVERS: dict = {}


def _solver(skeleton, durations, alpha, gamma, window):
    """One solver per setting, reset between sequences (its factorisations are kept)."""
    key = (skeleton.name, tuple(durations), float(alpha), tuple(float(g) for g in np.ravel(gamma)), int(window))
    s = _SOLVERS.get(key)
    if s is None:
        if len(_SOLVERS) > 256:
            _SOLVERS.clear()
        s = _SOLVERS[key] = OnlineSolver(skeleton, durations, alpha=alpha, gammas=gamma, window=window)
    s.reset()
    return s


def solve_offline(pred: dict, skeleton, durations, alpha: float, gamma: float) -> np.ndarray:
    """The offline solver (``solve_sequence``, any durations) over a sequence's predictions: (T, K, 3)."""
    if not tuple(durations) and alpha == 0:
        return pred["J"]
    return solve_sequence(pred["J"], pred["B"] if alpha > 0 else None, {d: pred["deltas"][d] for d in durations},
                          skeleton, durations, alpha, gamma)


def track(pred: dict, skeleton, durations, alpha: float, gamma, window: int = 16) -> np.ndarray:
    """Run the online solver over a sequence's predictions: (T, K, 3) tracked 2.5D joints (``gamma``: one
    weight for every duration, or one per duration)."""
    solver = _solver(skeleton, durations, alpha, gamma, window)
    out = np.empty_like(pred["J"])
    for t in range(len(out)):
        deltas = {d: pred["deltas"][d][t] for d in durations if t >= d}
        out[t] = solver.update(pred["J"][t], pred["B"][t] if alpha > 0 else None, deltas)
    return out


def sequence_metrics(seq: Sequence, pred: dict) -> dict:
    """Single-frame Joint/Bone/Displ errors (mm) of one sequence."""
    sk, P, G = seq.skeleton, seq.joints_2p5d, seq.joints_cam
    out = {"mpjpe": mpjpe(to_cam(seq, pred["J"]), G), "accel": accel_error(to_cam(seq, pred["J"]), G)}
    if pred["B"] is not None:
        nr = sk.non_root
        child = P.copy()
        child[:, nr] = P[:, sk.parents_array[nr]] + pred["B"][:, nr]     # GT parent + predicted bone
        Bc = to_cam(seq, child)[:, nr] - G[:, sk.parents_array[nr]]
        out["bone_error"] = float(np.linalg.norm(Bc - (G[:, nr] - G[:, sk.parents_array[nr]]), axis=-1).mean())
    if 1 in pred["deltas"] and len(seq) > 1:
        est = P[:-1] + pred["deltas"][1][1:]                          # GT previous frame + predicted displacement
        cam_est = p2p5d_to_cam(est, seq.intrinsics, seq.root_depth[1:], sk.root)
        out["displ"] = displacement_error_buckets(cam_est - G[:-1], G[:-1], G[1:])
    return out


def _mean(xs):
    return float(np.mean(xs)) if xs else float("nan")


def load_sequences(modality: str, seeds: Iterable[int], n_frames: int, progress: bool = False) -> list[Sequence]:
    seeds = list(seeds)
    it = seeds
    if progress:
        from tqdm import tqdm

        it = tqdm(seeds, desc=f"rendering {modality} sequences", unit="seq")
    return [make_sequence(modality, s, n_frames) for s in it]


def tune_tracker(val_preds: list[tuple[Sequence, dict]], durations, bones: bool, alphas=None,
                 gammas=None, offline: bool = False) -> tuple[float, float, float]:
    """(alpha, gamma, MPJPE) minimising validation MPJPE over the ALPHAS x GAMMAS grid.

    ``alphas``/``gammas`` replace the grids (``alphas`` then ignores ``bones``;
    0 in it lets the search switch the bone term off).  Without durations
    gamma has no effect and only the first gamma is tried.  ``offline``: tune
    :func:`solve_offline` (whole sequences, any durations) instead of the
    online tracker.
    """
    best = (0.0, 1.0, np.inf)
    if alphas is None:
        alphas = [a for a in ALPHAS if a > 0] if bones else [0.0]
    gammas = list(GAMMAS if gammas is None else gammas)
    if not tuple(durations):
        gammas = gammas[:1]
    for a, g in itertools.product(alphas, gammas):
        solve = solve_offline if offline else track
        e = _mean([mpjpe(to_cam(s, solve(p, s.skeleton, durations, a, g)), s.joints_cam) for s, p in val_preds])
        if e < best[2]:
            best = (a, g, e)
    return best


def without_frames(seq: Sequence) -> Sequence:
    """The sequence without its frames (ground truth and camera kept): predictions hold no pixels."""
    return dataclasses.replace(seq, frames=None)


def evaluate_models(pred: Predictor, modality: str, test_seeds, val_seeds, n_frames: int = 300,
                    fps_list=FPS, progress: bool = True, other_temporal: dict | None = None,
                    fusion=None) -> dict:
    """The model card's figures for ``pred`` and for other temporal networks with the same pose and spatial ones.

    ``other_temporal``: {name: temporal callable (as :attr:`Predictor.temporal`)}.  Each sequence is
    rendered once, and the pose and spatial networks run once per frame rate; the other temporal
    networks reuse their joints.  Sequences are handled one at a time and kept without frames, so
    memory does not grow with the number of sequences.  Returns {"main": results, name: results}
    with results as :func:`evaluate_model`'s.  ``fusion``: a :class:`~trt_tracker.solver.SpatialFusion`
    for the "gls" variants (none without it).
    """
    other_temporal = dict(other_temporal or {})
    names = ["main", *other_temporal]
    preds = {n: {fps: {"val": [], "test": []} for fps in fps_list} for n in names}
    jobs = [("val", s) for s in val_seeds] + [("test", s) for s in test_seeds]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"evaluating {modality} sequences", unit="seq")
    for split, seed in jobs:
        seq = make_sequence(modality, seed, n_frames)
        for fps in fps_list:
            s = seq.at_fps(fps)
            p = predict_sequence(s, pred)
            light = without_frames(s)
            preds["main"][fps][split].append((light, p))
            for name, temporal in other_temporal.items():
                q = predict_sequence(s, dataclasses.replace(pred, temporal=temporal), reuse=p)
                preds[name][fps][split].append((light, q))
        del seq
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return {n: {f"{fps:g}": _fps_results(fps, preds[n][fps]["val"], preds[n][fps]["test"], fusion)
                for fps in fps_list} for n in names}


def _fps_results(fps: float, vp: list, tp: list, fusion=None) -> dict:
    """One frame rate's card row from validation and test predictions [(sequence, prediction)]."""
    row = {"fps": fps, "frames": int(sum(len(s) for s, _ in tp))}
    m = [sequence_metrics(s, p) for s, p in tp]
    row["single_mpjpe"] = _mean([x["mpjpe"] for x in m])
    row["single_accel"] = _mean([x["accel"] for x in m])
    if "bone_error" in m[0]:
        row["bone_error"] = _mean([x["bone_error"] for x in m])
    if "root_depth" in tp[0][1]:
        # a network that gives the root's depth (z_ref "centre"), its crops normalised about the true one
        row["root_depth_error_mm"] = _mean([float(np.abs(p["root_depth"] - s.root_depth).mean()) for s, p in tp])
        row["single_mpjpe_network_root"] = _mean([
            mpjpe(p2p5d_to_cam(p["J"], s.intrinsics, p["root_depth"], s.skeleton.root), s.joints_cam) for s, p in tp])
    if "displ" in m[0]:
        row["displ_error"] = _mean([x["displ"]["mean"] for x in m])
        row["displ_zero_motion"] = _mean([x["displ"]["max"] for x in m])
    row["tracker"] = {}
    fused = None
    for name, (durations, bones) in VARIANTS.items():
        if (bones and tp[0][1]["B"] is None) or (durations and not tp[0][1]["deltas"]):
            continue
        v, t, gls = vp, tp, bones == "gls"
        if gls:
            if fusion is None:
                continue
            fused = fused or (fused_predictions(vp, fusion), fused_predictions(tp, fusion))
            (v, t), bones = fused, False
        a, g, val_err = tune_tracker(v, durations, bones)
        tracked = [(s, track(p, s.skeleton, durations, a, g)) for s, p in t]
        e = _mean([mpjpe(to_cam(s, Jh), s.joints_cam) for s, Jh in tracked])
        acc = _mean([accel_error(to_cam(s, Jh), s.joints_cam) for s, Jh in tracked])
        row["tracker"][name] = {"durations": list(durations), "alpha": a, "gamma": g, "val_mpjpe": val_err,
                                "mpjpe": e, "accel": acc, "reduction": 1 - e / row["single_mpjpe"],
                                **({"fusion": True} if gls else {})}
    return row


def evaluate_model(pred: Predictor, modality: str, test_seeds, val_seeds, n_frames: int = 300,
                   fps_list=FPS, progress: bool = True, fusion=None) -> dict:
    """The model card's figures: per fps ("25", "8", "2.5"), single-frame errors and each tracker variant's
    MPJPE on the test sequences, its alpha and gamma tuned on the validation sequences."""
    return evaluate_models(pred, modality, test_seeds, val_seeds, n_frames, fps_list, progress,
                           fusion=fusion)["main"]
