"""One paper-tables run (:class:`Run`): the cache of trained ablation variants (with the training code's
fingerprint, ``code_fingerprint``), their training, the held-out sequences, the network inputs and predictions,
and the private helpers these use (error terms, JSON and atomic writes)."""
from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from .settings import Settings

REPO = Path(__file__).resolve().parents[2]      # the repository root (this file: benchmarks/paper_tables/run.py)


class Run:
    """One invocation: settings, caches of trained networks, sequences and predictions, the training log."""

    def __init__(self, settings: Settings, cache: Path, retrain: bool, progress: bool, body_model: Path,
                 hand_model: Path):
        self.s, self.cache, self.retrain, self.progress = settings, Path(cache), retrain, progress
        self.body_model, self.hand_model = Path(body_model), Path(hand_model)
        self.training: dict[str, dict] = {}
        self.stale: list[str] = []          # cached variants trained by other training code
        self._nets: dict = {}
        self._seqs: dict = {}
        self._pose: dict = {}
        self._inputs: dict = {}
        self._shipped: dict = {}

    def bar(self, iterable=None, **kw):
        from tqdm import tqdm

        return tqdm(iterable, disable=not self.progress, dynamic_ncols=True, **kw)

    # ------------------------------------------------------------ training configs
    def relation_cfg(self, task: str, arch: str = "maps", sampling: str = "decay", decay: str = "binary",
                     beta: float | None = None, name: str | None = None):
        """An ablation relation network (body RGB): spatial or temporal."""
        from trt_tracker.train import preset

        beta = self.s.beta if beta is None else float(beta)
        parts = [task, arch] + ([sampling] if arch == "maps" else [])
        if arch != "fc" and sampling == "decay":
            parts += [decay, f"b{beta:g}"]
        return preset(f"body-lite-{task}").override(self.s.train_overrides(self.s.relation_steps) + [
            f"model.arch={arch}", f"model.sampling={sampling}", f"model.decay={decay}", f"model.beta={beta}",
            "model.flip=false",    # the ablations compare networks, one pass each (the shipped ones mirror)
            self._init(), f"name={name or '-'.join(parts)}", f"out={self.cache}"])

    def _init(self) -> str:
        """The ``init=`` override: the shipped body pose network's weights (Settings.init_from_pose), or none."""
        if not self.s.init_from_pose:
            return "init="
        path = self.body_model / "pose.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the ablation networks start from the shipped body pose network; "
                                    "pass --body-model a model folder that has pose.pt")
        return f"init={path}"

    def pose_cfg(self, head: str = "integral", pairs: str = "all"):
        from trt_tracker.train import preset

        name = "pose-integral" if head == "integral" else ("pose-joints" if head == "joints" else f"pose-bones-{pairs}")
        steps = self.s.pose_steps if head == "integral" else self.s.regression_steps
        return preset("body-lite-pose").override(self.s.train_overrides(steps) + [
            f"model.pose_head={head}", f"pairs={pairs}", f"model.depth_bins={self.s.depth_bins}",
            "model.flip=false", self._init(), f"name={name}", f"out={self.cache}"])

    # ------------------------------------------------------------ trained networks (cached)
    def _cached(self, name: str, spec: dict, weights: Path):
        rec_path = self.cache / name / "variant.json"
        if self.retrain or not weights.is_file() or not rec_path.is_file():
            return None
        try:
            rec = json.loads(rec_path.read_text())
        except ValueError:
            return None
        return rec if _without_out(rec.get("spec")) == _without_out(_jsonable(spec)) else None

    def _record(self, name: str, spec: dict, seconds: float, metrics: dict, steps: int) -> dict:
        rec = {"spec": _jsonable(spec), "steps": steps, "train_seconds": round(seconds, 2),
               "final_validation": _jsonable(metrics), "code_fingerprint": code_fingerprint(),
               "trained": time.strftime("%Y-%m-%d %H:%M:%S")}
        _atomic_write(self.cache / name / "variant.json", json.dumps(rec, indent=2) + "\n")
        return rec

    def _reuse(self, name: str, rec: dict) -> None:
        """Mark a cached variant; warn when the training code changed since it was trained."""
        rec["cached"] = True
        rec["code_changed_since_training"] = rec.get("code_fingerprint") != code_fingerprint()
        if rec["code_changed_since_training"]:
            self.stale.append(name)

    def net(self, cfg):
        """The trained network of a :class:`TrainConfig` (eval mode), training it with ``train()`` if not cached."""
        from trt_tracker.models.graphs import load_weights
        from trt_tracker.train import train

        if cfg.name in self._nets:
            return self._nets[cfg.name]
        spec = {"train": cfg.to_dict()}
        weights = self.cache / cfg.name / "weights.pt"
        rec = self._cached(cfg.name, spec, weights)
        if rec is None:
            (self.cache / cfg.name / "log.jsonl").unlink(missing_ok=True)
            t0 = time.perf_counter()
            metrics = train(cfg, resume=False, progress=self.progress)
            rec = self._record(cfg.name, spec, time.perf_counter() - t0, metrics, cfg.steps)
            rec["cached"] = False
        else:
            self._reuse(cfg.name, rec)
        net, _, _ = load_weights(weights)
        self.training[cfg.name] = {**{k: v for k, v in rec.items() if k != "spec"}, "config": spec["train"]}
        self._nets[cfg.name] = net
        return net

    def shared_net(self, share: str):
        """Supplement Table 5: a spatial branch on the frozen ablation heatmap network."""
        import torch

        from trt_tracker.models.backbone import ResNetConfig
        from trt_tracker.models.sharing import SharedFeatureRelationNet

        cfg = self.relation_cfg("spatial", name=f"spatial-share-{share}")
        if cfg.name in self._nets:
            return self._nets[cfg.name]
        pose_cfg = self.pose_cfg("integral")
        pose = copy.deepcopy(self.net(pose_cfg))
        m = cfg.model
        torch.manual_seed(cfg.seed)
        net = SharedFeatureRelationNet(pose, share, ResNetConfig(m.depth, m.width, m.in_channels), m.K, m.dims,
                                       m.head_channels, m.n_deconv, m.heatmap_size, m.decay, m.beta, m.sampling)
        spec = {"train": cfg.to_dict(), "share": share, "pose": pose_cfg.to_dict()}
        weights = self.cache / cfg.name / "weights.pt"
        rec = self._cached(cfg.name, spec, weights)
        if rec is None:
            t0 = time.perf_counter()
            metrics = self._train_branch(cfg, net)
            weights.parent.mkdir(parents=True, exist_ok=True)
            tmp = weights.with_suffix(".tmp")
            torch.save({"format": "paper_tables.shared_branch", "share": share, "state_dict": net.state_dict()}, tmp)
            os.replace(tmp, weights)
            rec = self._record(cfg.name, spec, time.perf_counter() - t0, metrics, cfg.steps)
            rec["cached"] = False
        else:
            net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True)["state_dict"])
            self._reuse(cfg.name, rec)
        net.eval()
        self.training[cfg.name] = {**{k: v for k, v in rec.items() if k != "spec"}, "config": spec["train"],
                                   "share": share, "shared_with": pose_cfg.name}
        self._nets[cfg.name] = net
        return net

    def _train_branch(self, cfg, net) -> dict:
        """The trainer's step, objective, data and schedule for a network ``train()`` cannot build."""
        import torch

        from trt_tracker.train import (
            Objective,
            SampleDataset,
            TrainForward,
            collate,
            lr_at,
            train_step,
            validation_set,
        )

        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        model, objective = TrainForward(net), Objective(cfg)
        stream = iter(SampleDataset(cfg))
        loss = float("nan")
        bar = self.bar(range(cfg.steps), desc=cfg.name, unit="step")
        for step in bar:
            batch = collate([next(stream) for _ in range(cfg.batch_size)])
            for g in opt.param_groups:
                g["lr"] = lr_at(cfg, step)
            net.train()
            loss = train_step(model, objective, batch, opt, cfg.grad_clip)
            bar.set_postfix(loss=f"{loss:.4f}")
        bar.close()
        net.eval()
        metrics = {"step": cfg.steps, "loss": loss}
        if cfg.val_sequences > 0:
            val = collate(validation_set(cfg))
            metrics.update({f"val_{k}": v for k, v in objective.errors(net, val).items()})
        return metrics

    # ------------------------------------------------------------ data
    def sequences(self, modality: str, split: str):
        """Test (held-out seeds) or validation sequences at 50 fps."""
        from trt_tracker.data.samples import make_sequence
        from trt_tracker.train import TEST_SEEDS, VAL_SEEDS

        key = (modality, split)
        if key not in self._seqs:
            n = self.s.test_sequences if split == "test" else self.s.val_sequences
            first = TEST_SEEDS if split == "test" else VAL_SEEDS + 100
            self._seqs[key] = [make_sequence(modality, first + i, self.s.frames_at_50fps)
                               for i in self.bar(range(n), desc=f"rendering {modality} {split} sequences",
                                                 unit="seq")]
        return self._seqs[key]

    def shipped(self, modality: str) -> dict:
        """The shipped networks (reloaded for every run: they may be replaced between runs)."""
        from trt_tracker.models.graphs import load_model_dir

        if modality not in self._shipped:
            path = self.body_model if modality == "rgb" else self.hand_model
            self._shipped[modality] = load_model_dir(path)
        return self._shipped[modality]

    def body_pose(self, i: int, fps: float) -> np.ndarray:
        """Shipped body pose network's joints (T, K, 3) image 2.5D on test sequence i at ``fps``.

        Predicted once on the frames common to every frame rate used (their step's gcd) and sliced.
        """
        from trt_tracker.evaluate import predict_sequence, torch_predictor

        seq = self.sequences("rgb", "test")[i]
        steps = {f: _fps_step(seq.fps, f) for f in (*self.s.relation_fps, self.s.spatial_fps)}
        base = math.gcd(*steps.values())
        if (i, base) not in self._pose:
            nets = self.shipped("rgb")
            pred = torch_predictor(nets["pose"][1], nets["pose"][0])
            self._pose[(i, base)] = predict_sequence(seq.subsample(base), pred, ())["J"]
        return self._pose[(i, base)][:: steps[fps] // base]

    def relation_codec(self):
        from trt_tracker.train import codec_for

        return codec_for(self.relation_cfg("spatial").model)

    def spatial_inputs(self, i: int) -> dict:
        """Test sequence i at the spatial fps: GT-box crops, parents' predicted positions (heatmap px)."""
        from trt_tracker.camera import box_from_points
        from trt_tracker.data.samples import no_augment

        key = ("spatial", i)
        if key not in self._inputs:
            c = self.relation_codec()
            seq = self.sequences("rgb", "test")[i].at_fps(self.s.spatial_fps)
            J = self.body_pose(i, self.s.spatial_fps)
            P, sk = seq.joints_2p5d, seq.skeleton
            par = np.where(sk.parents_array < 0, np.arange(sk.K), sk.parents_array)
            margin = no_augment("rgb").margin
            tfs = [c.transform(box_from_points(P[t, :, :2], margin)) for t in range(len(seq))]
            X = np.stack([c.crop_input(seq.frames[t], tfs[t], "rgb") for t in range(len(seq))])
            rel = np.stack([c.encode_points(J[t], tfs[t])[par, :2] for t in range(len(seq))])
            self._inputs[key] = {"seq": seq, "X": X, "rel": rel.astype(np.float32), "tfs": tfs}
        return self._inputs[key]

    def temporal_inputs(self, i: int, fps: float) -> dict:
        """Pairs (t-1, t) of test sequence i at ``fps`` cut with one GT box; related = predicted J[t-1]."""
        from trt_tracker.camera import box_from_points
        from trt_tracker.data.samples import no_augment

        key = ("temporal", i, fps)
        if key not in self._inputs:
            c = self.relation_codec()
            seq = self.sequences("rgb", "test")[i].at_fps(fps)
            J = self.body_pose(i, fps)
            P = seq.joints_2p5d
            margin = no_augment("rgb").margin
            ts = list(range(1, len(seq)))
            tfs = [c.transform(box_from_points(np.concatenate([P[t - 1, :, :2], P[t, :, :2]]), margin)) for t in ts]
            X = np.stack([np.concatenate([c.crop_input(seq.frames[t - 1], tf, "rgb"),
                                          c.crop_input(seq.frames[t], tf, "rgb")]) for t, tf in zip(ts, tfs)]) \
                if ts else np.zeros((0, 6, c.input_size, c.input_size), np.float32)
            rel = np.stack([c.encode_points(J[t - 1], tf)[:, :2] for t, tf in zip(ts, tfs)]) if ts else \
                np.zeros((0, seq.skeleton.K, 2))
            self._inputs[key] = {"seq": seq, "X": X, "rel": rel.astype(np.float32), "tfs": tfs, "ts": ts}
        return self._inputs[key]

    # ------------------------------------------------------------ relation predictions and errors
    def bones(self, net) -> list[np.ndarray]:
        """Per test sequence, predicted bones (T, K, 3) in image 2.5D (root row 0)."""
        c, out = self.relation_codec(), []
        for i in range(self.s.test_sequences):
            inp = self.spatial_inputs(i)
            Bn = _run_net(net, inp["X"], inp["rel"])
            B = np.stack([c.decode_vectors(Bn[t], inp["tfs"][t]) for t in range(len(Bn))])
            B[:, inp["seq"].skeleton.root] = 0.0
            out.append(B)
        return out

    def displacements(self, net, fps: float) -> list[np.ndarray]:
        """Per test sequence at ``fps``, predicted d=1 displacements (T, K, 3), row 0 NaN."""
        c, out = self.relation_codec(), []
        for i in range(self.s.test_sequences):
            inp = self.temporal_inputs(i, fps)
            D = np.full((len(inp["seq"]), inp["seq"].skeleton.K, 3), np.nan)
            Dn = _run_net(net, inp["X"], inp["rel"])
            for n, (t, tf) in enumerate(zip(inp["ts"], inp["tfs"])):
                D[t] = c.decode_vectors(Dn[n], tf)
            out.append(D)
        return out

    def shipped_displacements(self, fps: float) -> list[np.ndarray]:
        """The shipped body temporal network's d=1 displacements per test sequence at ``fps`` (its own input size
        and codec; the same pairs, boxes and related joints as :meth:`temporal_inputs`), row 0 NaN."""
        from trt_tracker.evaluate import predict_sequence, torch_predictor

        nets = self.shipped("rgb")
        pred = torch_predictor(nets["pose"][1], nets["pose"][0], None, nets["temporal"][0])
        out = []
        for i in range(self.s.test_sequences):
            seq = self.sequences("rgb", "test")[i].at_fps(fps)
            out.append(predict_sequence(seq, pred, (1,), reuse={"J": self.body_pose(i, fps), "B": None})["deltas"][1])
        return out

    def bone_error(self, Bs: list[np.ndarray]) -> dict:
        """Bone Error (mm): GT parent + predicted bone, in camera space; pooled and per sequence."""
        errs = [_bone_errors(self.spatial_inputs(i)["seq"], B) for i, B in enumerate(Bs)]
        return {"mean": float(np.mean(np.concatenate([e.ravel() for e in errs]))),
                "per_sequence": [float(e.mean()) for e in errs]}

    def zero_displacements(self, fps: float) -> list[np.ndarray]:
        """D = 0 for every pair: the Displ Error of a network that has learnt no motion."""
        out = []
        for i in range(self.s.test_sequences):
            seq = self.temporal_inputs(i, fps)["seq"]
            D = np.zeros((len(seq), seq.skeleton.K, 3))
            D[:1] = np.nan
            out.append(D)
        return out

    def displ_error(self, Ds: list[np.ndarray], fps: float) -> dict:
        """Displ Error (mm) with Easy / Middle / Hard buckets, pooled over the test sequences."""
        from trt_tracker.metrics import displacement_error_buckets

        parts = [_displ_parts(self.temporal_inputs(i, fps)["seq"], D) for i, D in enumerate(Ds)]
        cat = [np.concatenate([p[j] for p in parts]) for j in range(3)]
        out = displacement_error_buckets(*cat)
        out["per_sequence"] = [float(np.linalg.norm(p[0] - (p[2] - p[1]), axis=-1).mean()) if len(p[0]) else
                               float("nan") for p in parts]
        return out


#: What decides how a variant trains besides its config: a change here flags cached variants.
CODE_FILES = ("trt_tracker/train.py", "trt_tracker/models/*.py", "trt_tracker/data/*.py", "trt_tracker/codec.py",
              "trt_tracker/camera.py", "trt_tracker/skeleton.py")


def code_fingerprint() -> str:
    import hashlib

    h = hashlib.sha256()
    for pattern in CODE_FILES:
        for f in sorted(REPO.glob(pattern)):
            h.update(f.relative_to(REPO).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _without_out(spec):
    """A training spec without its output folder (moving the cache keeps it valid)."""
    if isinstance(spec, dict):
        return {k: _without_out(v) for k, v in spec.items() if k != "out"}
    return spec


def _fps_step(native: float, fps: float) -> int:
    """The frame step of :meth:`Sequence.at_fps`."""
    return max(1, round(native / fps))


def _run_net(net, X: np.ndarray, rel: np.ndarray, batch: int = 128) -> np.ndarray:
    import torch

    outs = []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            outs.append(net(torch.from_numpy(np.ascontiguousarray(X[i:i + batch])),
                            torch.from_numpy(np.ascontiguousarray(rel[i:i + batch]))).numpy())
    return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, rel.shape[1], 3))


def _bone_errors(seq, B: np.ndarray) -> np.ndarray:
    """(T, K-1) errors of bones added to the GT parent (as :func:`trt_tracker.evaluate.sequence_metrics`)."""
    from trt_tracker.evaluate import to_cam

    sk, P, G = seq.skeleton, seq.joints_2p5d, seq.joints_cam
    nr, par = sk.non_root, sk.parents_array
    child = P.copy()
    child[:, nr] = P[:, par[nr]] + B[:, nr]
    Bc = to_cam(seq, child)[:, nr] - G[:, par[nr]]
    return np.linalg.norm(Bc - (G[:, nr] - G[:, par[nr]]), axis=-1)


def _displ_parts(seq, D: np.ndarray):
    """(predicted displacement in camera mm, G[t-1], G[t]) for t >= 1 (as ``sequence_metrics``)."""
    from trt_tracker.camera import p2p5d_to_cam

    P, G = seq.joints_2p5d, seq.joints_cam
    est = P[:-1] + D[1:]
    cam = p2p5d_to_cam(est, seq.intrinsics, seq.root_depth[1:], seq.skeleton.root)
    return cam - G[:-1], G[:-1], G[1:]



def _run_pose(net, X: np.ndarray, batch: int = 128) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(np.ascontiguousarray(X[i:i + batch]))).numpy()
                               for i in range(0, len(X), batch)]).astype(np.float64)



def _jsonable(x):
    return json.loads(json.dumps(x, default=_json_default))


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

