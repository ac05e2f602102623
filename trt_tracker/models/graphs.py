"""A shipped model directory as PyTorch modules: weights files, the directory, and the two exported graphs.

This is what the PyTorch backend (:mod:`trt_tracker.stream.model`) and the
exporter share, beside the models it builds; it needs PyTorch and nothing
of training, evaluation, cards or export.

* :func:`load_weights`: one ``*.pt`` file -> (network, :class:`ModelConfig`, saved dict);
* :func:`load_model_dir`: ``export/<name>/{pose,spatial,temporal}.pt``;
* :class:`FrameGraph`, :class:`TemporalGraph`, :func:`build_graphs`: the two graphs
  ``trt-tracker export`` writes to ONNX and the tracker calls.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..skeleton import get_skeleton
from .config import ModelConfig, build_model

NETWORKS = ("pose", "spatial", "temporal")


def load_weights(path, map_location="cpu"):
    """(network in eval mode, ModelConfig, the saved dict) from a weights file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model weights {path} not found")
    try:
        d = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise ValueError(f"{path} is not a readable weights file ({type(e).__name__}: {e}); "
                         "re-download or retrain it") from None
    if not isinstance(d, dict) or d.get("format") != "trt_tracker.weights":
        raise ValueError(f"{path} is not a trt_tracker weights file (no format tag)")
    cfg = ModelConfig.from_dict(d["model"])
    net = build_model(cfg)
    try:
        net.load_state_dict(d["state_dict"])
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not match the model config ({e})") from None
    return net.eval(), cfg, d


def with_views(net, cfg, rotations: int = 1, flip: bool = False):
    """(network, ModelConfig) with ``net``'s weights and another test-time ensemble (rotations, flip;
    :mod:`trt_tracker.models.ensemble`), in eval mode."""
    cfg = cfg.replace(rotations=rotations, flip=flip)
    out = build_model(cfg).eval()
    out.load_state_dict(net.state_dict())
    return out, cfg


def load_model_dir(path, temporal: str = "temporal.pt") -> dict:
    """{network name: (net, ModelConfig, saved dict)}; the temporal network is read from ``temporal``
    (a file name in the directory, e.g. one of :data:`trt_tracker.card.TEMPORAL_VARIANTS`)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"model directory {path} not found (shipped models live in export/<name>/)")
    out = {}
    for name in NETWORKS:
        out[name] = load_weights(path / (temporal if name == "temporal" else f"{name}.pt"))
    if len({signature(out[n][1]) for n in NETWORKS}) != 1:
        raise ValueError(f"{path}: the networks disagree on skeleton, modality, input size or cube")
    return out


def signature(cfg) -> tuple:
    """What the networks of one model directory must share."""
    return cfg.skeleton, cfg.modality, cfg.input_size, cfg.cube_mm


class FrameGraph(nn.Module):
    """image (N, C, S, S) -> joints (N, K, 3), bones (N, K, 3) pooled at the joints' parents, and per-joint
    confidence (N, K) (:func:`~trt_tracker.models.pose.heatmap_confidence`).

    The spatial network's related joints are the pose network's own
    predictions (DESIGN §4), so one call gives both; the root's bone is 0.
    """

    def __init__(self, pose, spatial, parents):
        super().__init__()
        self.pose, self.spatial = pose.eval(), spatial.eval()
        K = len(parents)
        par = [p if p >= 0 else k for k, p in enumerate(parents)]
        self.register_buffer("par", torch.tensor(par, dtype=torch.long), persistent=False)
        self.register_buffer("nonroot", torch.tensor([[0.0] if p < 0 else [1.0] for p in parents]),
                             persistent=False)
        self.K = K

    def forward(self, image):
        joints, confidence = self.pose.predict(image)
        related = joints[:, self.par, :2]
        bones = self.spatial(image, related) * self.nonroot
        return joints, bones, confidence


class TemporalGraph(nn.Module):
    """pair (N, 2C, S, S) = [I(t-d), I(t)] and related (N, K, 2) = Ĵ(t-d) -> displacements (N, K, 3)."""

    def __init__(self, temporal):
        super().__init__()
        self.temporal = temporal.eval()

    def forward(self, pair, related):
        return self.temporal(pair, related)


def build_graphs(nets: dict):
    """{"frame": FrameGraph, "temporal": TemporalGraph} from ``load_model_dir`` output."""
    cfg = nets["pose"][1]
    parents = list(get_skeleton(cfg.skeleton).parents)
    return {"frame": FrameGraph(nets["pose"][0], nets["spatial"][0], parents),
            "temporal": TemporalGraph(nets["temporal"][0])}


#: the optional third network of a model directory: the full-frame localiser (issue 14)
LOCALISER = "localiser"


class LocaliserGraph(nn.Module):
    """frame (N, C, S, S) (a letterboxed whole frame, :class:`~trt_tracker.codec.LocaliserCodec`) ->
    presence (N,) in [0, 1] and box (N, 3): centre in [-1, 1] of the input, log(side / S)."""

    def __init__(self, localiser):
        super().__init__()
        self.net = localiser.eval()

    def forward(self, frame):
        out = self.net(frame)
        return torch.sigmoid(out[:, 0]), out[:, 1:]


def localiser_io(cfg) -> dict:
    """Input/output specs of the localiser graph for its ModelConfig."""
    S, C = cfg.input_size, cfg.frame_channels
    return {"inputs": [{"name": "frame", "shape": [None, C, S, S], "dtype": "float32"}],
            "outputs": [{"name": "presence", "shape": [None], "dtype": "float32"},
                        {"name": "box", "shape": [None, 3], "dtype": "float32"}]}


def load_localiser(path):
    """(LocaliserGraph, ModelConfig) from ``localiser.pt``."""
    net, cfg, _ = load_weights(path)
    if cfg.task != "localiser":
        raise ValueError(f"{path} holds a {cfg.task} network, not a localiser")
    return LocaliserGraph(net), cfg
