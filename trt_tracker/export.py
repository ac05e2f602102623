"""PyTorch -> ONNX for single networks (dynamic batch).

``export_network(net, cfg)`` writes (or returns) an ONNX graph whose inputs
are ``image`` (N, C, S, S) and, for relation networks, ``related`` (N, K, 2)
(heatmap pixels), and whose output is ``joints`` (pose) or ``relations``
(N, K, C) - the weighting and pooling of Eq. 7 are inside the graph.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

OPSET = 17


def input_names(cfg) -> list[str]:
    return ["image"] if cfg.task == "pose" else ["image", "related"]


def output_name(cfg) -> str:
    return "joints" if cfg.task == "pose" else "relations"


def example_inputs(cfg, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    S = cfg.input_size
    out = {"image": rng.normal(size=(batch, cfg.in_channels, S, S)).astype(np.float32)}
    if cfg.task != "pose":
        out["related"] = (rng.random((batch, cfg.K, 2)) * (cfg.heatmap_size - 1)).astype(np.float32)
    return out


def _to_onnx(module, args: tuple, names: list[str], output: str) -> bytes:
    """Trace ``module(*args)`` to ONNX bytes with a dynamic batch axis on every input and the output."""
    import torch

    buf = io.BytesIO()
    dyn = {n: {0: "batch"} for n in names + [output]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")   # tracer warnings about shape checks in forward()
        torch.onnx.export(module.eval(), args, buf, input_names=names, output_names=[output], dynamic_axes=dyn,
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

    features: image (N, C, S, S) -> features (N, Cb, S/32, S/32)
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
