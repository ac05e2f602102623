"""PyTorch -> ONNX for single networks (dynamic batch).

``export_network(net, cfg)`` writes (or returns) an ONNX graph whose inputs
are ``image`` (N, C, S, S) and, for relation networks, ``related`` (N, K, 2)
(heatmap pixels), and whose output is ``joints`` (pose) or ``relations``
(N, K, C) - the weighting and pooling of Eq. 7 are inside the graph.
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np

OPSET = 17


def input_names(cfg) -> list[str]:
    return ["image"] if cfg.task in ("pose", "localiser") else ["image", "related"]


def output_name(cfg) -> str:
    return {"pose": "joints", "localiser": "localisation"}.get(cfg.task, "relations")


def example_inputs(cfg, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    S = cfg.input_size
    out = {"image": rng.normal(size=(batch, cfg.in_channels, S, S)).astype(np.float32)}
    if cfg.task not in ("pose", "localiser"):
        out["related"] = (rng.random((batch, cfg.K, 2)) * (cfg.heatmap_size - 1)).astype(np.float32)
    return out


def _to_onnx(module, args: tuple, names: list[str], outputs) -> bytes:
    """Trace ``module(*args)`` to ONNX bytes (``outputs``: one name or a list) with a dynamic batch
    axis on every input and output."""
    import torch

    outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    buf = io.BytesIO()
    dyn = {n: {0: "batch"} for n in names + outputs}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")   # tracer warnings about shape checks in forward()
        torch.onnx.export(module.eval(), args, buf, input_names=names, output_names=outputs, dynamic_axes=dyn,
                          opset_version=OPSET, dynamo=False)
    return buf.getvalue()


def export_network(net, cfg, path=None) -> bytes:
    """Export one network in eval mode; returns the ONNX bytes (and writes them to ``path`` if given)."""
    import torch

    ex = {k: torch.from_numpy(v) for k, v in example_inputs(cfg, 2).items()}
    names = input_names(cfg)
    data = _to_onnx(net, tuple(ex[n] for n in names), names, output_name(cfg))
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


def export_late_fusion(net, cfg) -> tuple[bytes, bytes]:
    """The two graphs of a late-fusion temporal network: per-frame ``features`` and the pair ``head``.

    features: image (N, C, S, S) -> features (N, Cb, h, w) (stride 32, or 4 for the correlation network)
    head: features_prev, features_cur, related (N, K, 2) -> relations (N, K, C)
    """
    import torch

    class Features(torch.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, image):
            return self.n.features(image)

    class Head(torch.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, f_prev, f_cur, related):
            return self.n.forward_features(f_prev, f_cur, related)

    net = net.eval()
    S, c = cfg.input_size, cfg.frame_channels
    img = torch.zeros(2, c, S, S)
    with torch.no_grad():
        f = net.features(img)
    rel = torch.zeros(2, cfg.K, 2)
    return (_to_onnx(Features(net), (img,), ["image"], "features"),
            _to_onnx(Head(net), (f, f, rel), ["features_prev", "features_cur", "related"], "relations"))


# ---------------------------------------------------------------------------
# Model export: the frame graph, the temporal graph and manifest.json (DESIGN §4)
# ---------------------------------------------------------------------------

MANIFEST_FORMAT = "trt_tracker.manifest"
MANIFEST_VERSION = 1
FRAME_GRAPH, TEMPORAL_GRAPH = "frame", "temporal"


def graph_io(cfg) -> dict:
    """Input/output specs of both graphs for a pose ModelConfig ``cfg`` (None = dynamic batch)."""
    S, C, K, D = cfg.input_size, cfg.in_channels, cfg.K, cfg.dims
    f32 = "float32"
    return {
        FRAME_GRAPH: {"inputs": [{"name": "image", "shape": [None, C, S, S], "dtype": f32}],
                      "outputs": [{"name": "joints", "shape": [None, K, D], "dtype": f32},
                                  {"name": "bones", "shape": [None, K, D], "dtype": f32},
                                  {"name": "confidence", "shape": [None, K], "dtype": f32}]},
        TEMPORAL_GRAPH: {"inputs": [{"name": "pair", "shape": [None, 2 * C, S, S], "dtype": f32},
                                    {"name": "related", "shape": [None, K, 2], "dtype": f32}],
                         "outputs": [{"name": "displacements", "shape": [None, K, D], "dtype": f32}]},
    }


def graph_example(cfg, graph: str, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for a graph of a pose ModelConfig ``cfg`` (:func:`~trt_tracker.stream.model.example_feeds`)."""
    from .stream.model import example_feeds

    return example_feeds(graph_io(cfg)[graph]["inputs"], batch, cfg.heatmap_size, seed)


def export_graph(module, cfg, graph: str) -> bytes:
    import torch

    io_ = graph_io(cfg)[graph]
    names = [s["name"] for s in io_["inputs"]]
    ex = graph_example(cfg, graph, 2)
    return _to_onnx(module, tuple(torch.from_numpy(ex[n]) for n in names), names, [s["name"] for s in io_["outputs"]])


def torch_outputs(module, feeds: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    import torch

    with torch.no_grad():
        out = module(*[torch.from_numpy(np.ascontiguousarray(v)) for v in feeds.values()])
    out = out if isinstance(out, tuple) else (out,)
    return {n: o.numpy() for n, o in zip(names, out)}


def parity_errors(module, onnx_bytes: bytes, cfg, graph: str, batches=(1, 3), seed: int = 0) -> dict[str, float]:
    """Max |ONNX Runtime - PyTorch| per output over random inputs at each batch size."""
    outs = [s["name"] for s in graph_io(cfg)[graph]["outputs"]]
    return max_errors(module, onnx_bytes, [graph_example(cfg, graph, b, seed + i) for i, b in enumerate(batches)],
                      outs)


def max_errors(module, onnx_bytes: bytes, feeds_list, outs: list[str]) -> dict[str, float]:
    """Max |ONNX Runtime - PyTorch| per output ``outs`` over each of ``feeds_list`` (input name -> array)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
    err = {n: 0.0 for n in outs}
    for feeds in feeds_list:
        ref = torch_outputs(module, feeds, outs)
        got = dict(zip(outs, sess.run(outs, feeds)))
        for n in outs:
            err[n] = max(err[n], float(np.abs(got[n] - ref[n]).max()))
    return err


def normalisation(cfg) -> dict:
    """How a crop becomes the network input (mirrors :class:`~trt_tracker.codec.PoseCodec`)."""
    from .codec import RGB_MEAN, RGB_STD

    if cfg.modality == "rgb":
        return {"kind": "rgb", "layout": "NCHW", "mean": [float(x) for x in RGB_MEAN],
                "std": [float(x) for x in RGB_STD], "interpolation": "linear"}
    centre = "the root's depth (mm), or the tracker's estimate of it" if cfg.z_ref == "centre" else "root depth (mm)"
    return {"kind": "depth", "layout": "NCHW", "centre": centre, "scale_mm": cfg.cube_mm / 2,
            "clip": [-1.0, 1.0], "holes": 1.0, "interpolation": "nearest"}


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def export_model(model_dir, out_dir=None, progress: bool = True, one_pass: bool = False) -> dict:
    """Export ``model_dir`` (pose.pt, spatial.pt, temporal.pt [+ card.json]) to frame.onnx,
    temporal.onnx and manifest.json in ``out_dir`` (default: the same directory).

    ``one_pass``: every network without its test-time ensemble (``rotations=1``, ``flip=False``;
    :mod:`trt_tracker.models.ensemble`): faster graphs, the less accurate figures of
    ``benchmarks/ensembles.py``'s one-pass rows; the manifest's ``views`` says which.

    Every graph is checked with the ONNX checker and against PyTorch through
    ONNX Runtime (batch 1 and 3); the max abs errors go into the manifest.
    Returns the manifest.
    """
    import onnx
    import torch

    from .models.graphs import build_graphs, load_model_dir, with_views
    from .skeleton import get_skeleton

    model_dir = Path(model_dir)
    out_dir = Path(out_dir) if out_dir is not None else model_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    nets = load_model_dir(model_dir)
    if one_pass:
        nets = {n: (*with_views(net, cfg), saved) for n, (net, cfg, saved) in nets.items()}
    cfg = nets["pose"][1]
    sk = get_skeleton(cfg.skeleton)
    graphs = build_graphs(nets)
    io_ = graph_io(cfg)
    weights_sha = _sha256(b"".join((model_dir / f"{n}.pt").read_bytes() for n in ("pose", "spatial", "temporal")))
    manifest = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "name": model_dir.name,
        "model_version": weights_sha[:16],
        "skeleton": {"name": sk.name, "joints": list(sk.names), "parents": [int(p) for p in sk.parents]},
        "modality": cfg.modality, "input_size": cfg.input_size, "heatmap_size": cfg.heatmap_size,
        "cube_mm": cfg.cube_mm, "dims": cfg.dims, "margin": _margin(cfg.modality), "z_ref": cfg.z_ref,
        "normalisation": normalisation(cfg),
        "outputs_frame": "joints: (u, v) heatmap pixels, z " + ("root-relative" if cfg.z_ref == "root" else
                                                               "relative to the depth centre (z_ref)")
                         + " / (cube_mm / 2); bones, displacements: "
                         "the same units as vectors; confidence: per joint, the heatmap's mass within about "
                         "one heatmap pixel of the joint (0..1)",
        "opset": OPSET, "exported_with": {"torch": torch.__version__, "onnx": onnx.__version__},
        "graphs": {}, "tracker": _tracker_defaults(model_dir, cfg.modality),
        "views": {n: {"rotations": nets[n][1].rotations, "flip": nets[n][1].flip} for n in nets},
    }
    for name, module in graphs.items():
        if progress:
            print(f"[export] {model_dir.name}: {name} graph", flush=True)
        data = export_graph(module, cfg, name)
        onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
        err = parity_errors(module, data, cfg, name)
        f = out_dir / f"{name}.onnx"
        f.write_bytes(data)
        manifest["graphs"][name] = {"file": f.name, "sha256": _sha256(data), **io_[name],
                                    "parity_max_abs_error": err}
        if progress:
            print(f"[export]   -> {f} ({len(data) / 1e6:.1f} MB), max |onnxruntime - torch| "
                  + ", ".join(f"{k} {v:.2e}" for k, v in err.items()), flush=True)
    loc = model_dir / "localiser.pt"
    if loc.is_file():
        manifest["graphs"]["localiser"], manifest["localiser"] = _export_localiser(loc, cfg, out_dir, progress)
    fus = model_dir / "fusion.npz"             # the tracker's spatial fusion (trt-tracker calibrate)
    if fus.is_file():
        if out_dir.resolve() != model_dir.resolve():
            (out_dir / fus.name).write_bytes(fus.read_bytes())
        manifest["fusion"] = {"file": fus.name, "sha256": _sha256(fus.read_bytes()), **_fusion_gain(fus)}
    tmp = out_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out_dir / "manifest.json")
    return manifest


def _export_localiser(path: Path, pose_cfg, out_dir: Path, progress: bool) -> tuple[dict, dict]:
    """localiser.pt -> localiser.onnx (checked, parity with PyTorch at batch 1 and 3); its manifest entries."""
    import onnx
    import torch

    from .codec import LocaliserCodec
    from .models.graphs import load_localiser, localiser_io

    module, cfg = load_localiser(path)
    if cfg.modality != pose_cfg.modality:
        raise ValueError(f"{path}: a {cfg.modality} localiser beside a {pose_cfg.modality} pose network")
    io_ = localiser_io(cfg)
    rng = np.random.default_rng(0)
    ex = lambda b: rng.normal(size=(b, cfg.frame_channels, cfg.input_size, cfg.input_size)).astype(np.float32)  # noqa: E731
    data = _to_onnx(module, (torch.from_numpy(ex(2)),), ["frame"], ["presence", "box"])
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    err = max_errors(module, data, [{"frame": ex(b)} for b in (1, 3)], ["presence", "box"])
    f = out_dir / "localiser.onnx"
    f.write_bytes(data)
    if progress:
        print(f"[export]   -> {f} ({len(data) / 1e6:.1f} MB), max |onnxruntime - torch| "
              + ", ".join(f"{k} {v:.2e}" for k, v in err.items()), flush=True)
    codec = LocaliserCodec(cfg.input_size, cfg.modality)
    spec = {"input_size": cfg.input_size, "modality": cfg.modality, "letterbox": "frame scaled by S / max(W, H) "
            "into the top-left corner; padding RGB 0 (the mean colour), depth 1 (far)",
            "normalisation": "rgb: as the frame graph" if cfg.modality == "rgb" else
            {"centre_mm": codec.depth_centre_mm, "scale_mm": codec.depth_scale_mm, "clip": [-1.0, 1.0], "holes": 1.0},
            "outputs": "presence: probability a subject is in the frame; box: its crop box's centre in [-1, 1] of "
                       "the input and log(side / S)"}
    return {"file": f.name, "sha256": _sha256(data), **io_, "parity_max_abs_error": err}, spec


def _margin(modality: str) -> float:
    from .data.samples import no_augment

    return float(no_augment(modality).margin)


#: Track confidence (the frame graph's mean per-joint confidence) per modality: below "keep" a track is lost;
#: a new track is "search" (not yet trusted) until it has held "init" for "confirm" frames.  Measured by
#: ``python -m benchmarks.live_tracking`` (benchmarks/results/live_tracking.json, 2026-12-02): body-lite
#: ground-truth crops of people >= 0.34, of backgrounds <= 0.23, but a search over 15 windows of an empty
#: scene finds more; over five scenes with the subject out of view (72 frames) and six visible sequences
#: (900 frames), init 0.3 over 2 frames tracked 5 empty frames and left 8 visible ones unconfirmed (0.25 at
#: once: 26 and 1; 0.37 at once: 0 and 37; 0.3 over 3: 1 and 15).  hand-lite crops of hands dip to 0.33 and
#: of backgrounds reach it, and on hard poses a tracked hand falls to 0.24: a hand track starts at once; on
#: 8 validation sequences and 4 scenes with the hand away, keep 0.25 tracks 1178 of 1200 frames at 10.85 mm
#: and none of 40 empty frames (0.22: 1185, 10.80 mm, 1; 0.2: 1197, 9.85 mm, 2; the hand network that gives
#: its root depth, z_ref "centre").
#: "weight": the solver's data term weighs each joint by (its confidence / the mean)^weight: on 8
#: validation hand sequences (Dmf, ground-truth root depth) tracked 10.28 / 10.13 / 10.09 mm at 25 fps and
#: 12.26 / 12.51 / 12.69 at 8 fps with weight 0 / 1 / 2 (the previous, root-relative hand network: 10.44 ->
#: 10.20 at 25 fps with weight 2), so it is off (and the solve stays 0.1 ms, not 1.5); body-lite tracked
#: 99.6 -> 88.8 mm at 25 fps but 88.8 -> 94.6 at 8 fps with weight 2 (an earlier run: 99.6 -> 99.4 and
#: 88.9 -> 89.8), so it stays off there too.
#: "keep_with_surface", "occupancy", "dim_frames" (depth): a hand track below "keep" stays, for at most
#: "dim_frames" frames in a row, while its confidence is at least "keep_with_surface" and a surface fills at
#: least "occupancy" of its box at the track's depth (``python -m benchmarks.hand_presence``,
#: benchmarks/results/hand_presence.json: on the 8 validation sequences 1196 of 1200 frames tracked at
#: 9.06 mm against 1180 at 10.34 without it, none of 40 empty frames either way, 153 against 143 of 160
#: frames around the hand's absence; keep 0.10 the same, 0.20: 150; at most 2 / 4 / 8 frames in a row: 143 /
#: 151 / 153, so 8 bounds a track that drifts while dim without costing anything measured).
CONFIDENCE_THRESHOLDS = {"rgb": {"keep": 0.25, "init": 0.30, "confirm": 2, "weight": 0.0},
                         "depth": {"keep": 0.25, "init": 0.25, "confirm": 1, "weight": 0.0,
                                   "keep_with_surface": 0.15, "occupancy": 0.1, "dim_frames": 8}}


#: The tracker's use of a model's localiser (TrackerConfig.localiser_*): a subject is there at "presence"; a
#: track is checked every "every" frames (0: never) and on frames after one whose confidence is below "below",
#: on the whole frame ("zoom" 0) or a window "zoom" box sides wide (also a start's second look), and cut with the localiser's box when it is
#: off the track's by more than "jump" box sides (or in size by more than 1 + "jump").  Chosen on validation
#: sequences by ``python -m benchmarks.localiser`` (benchmarks/results/localiser.json, "validation" and
#: "chosen", 2026-12-03): body, a start from the localiser and no checks (checks changed nothing beyond noise:
#: 1040 of 1040 frames tracked either way); hand, checks every 5 frames and below 0.4 on the whole frame (1040
#: of 1040 tracked against 1035 with the localiser at the start only; a window of twice the box the same).
LOCALISER_SETTINGS = {"rgb": {"presence": 0.5, "every": 0, "below": 0.0, "jump": 0.3, "zoom": 2.0},
                      "depth": {"presence": 0.5, "every": 5, "below": 0.4, "jump": 0.3, "zoom": 0.0}}


#: The live tracker takes the spatial fusion by default (where the card's validation prefers it) only when the
#: calibration measured it at least this much better than the bone term (relative MPJPE, cross-validated on its
#: sequences): a smaller gain is within the noise, and the fusion changes the live crops (they follow the
#: tracked pose), which on the demo's sequences cost more than it gained (``benchmarks/live_fusion.py``).
FUSION_MIN_GAIN = 0.01


def _fusion_gain(path: Path) -> dict:
    """``{"gain": ..., "default": ...}``: the calibration's cross-validated gain of the fusion over the bone term
    (1 - fused / bone MPJPE) and whether the live tracker takes it by default (gain >= FUSION_MIN_GAIN)."""
    from .solver import SpatialFusion

    info = SpatialFusion.load(path).info
    bone = info.get("cross_validated_mpjpe_bone_term")
    fused = info.get("cross_validated_mpjpe_by_shrink", {}).get(f"{info.get('shrink', 0):g}")
    if not bone or fused is None:
        return {"gain": None, "default": False}
    gain = 1.0 - fused / bone
    return {"gain": round(gain, 4), "default": bool(gain >= FUSION_MIN_GAIN)}


def _tracker_defaults(model_dir: Path, modality: str) -> dict:
    """Tracker weights tuned on validation sequences at 25 fps, from the model card when there is one."""
    card = model_dir / "card.json"
    out = {"window": 16, "variants": {}, "confidence": dict(CONFIDENCE_THRESHOLDS[modality])}
    if (model_dir / "localiser.pt").is_file():
        out["localiser"] = dict(LOCALISER_SETTINGS[modality])
    if card.is_file():
        res = json.loads(card.read_text()).get("results", {}).get("25", {})
        for name, v in res.get("tracker", {}).items():
            out["variants"][name] = {"durations": v["durations"], "alpha": v["alpha"], "gamma": v["gamma"],
                                     "val_mpjpe": v.get("val_mpjpe"), "fusion": bool(v.get("fusion", False))}
    return out
