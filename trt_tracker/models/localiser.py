"""The full-frame localiser (issue 14): where in a frame is the person or the hand, how big, and is it there.

A ResNet on the whole frame, letterboxed to ``S x S`` (:class:`~trt_tracker.codec.LocaliserCodec`), and
the project's integral regression once more: a deconvolution head gives one centre heatmap, whose
soft-argmax is the crop box's centre, and one map of the box's log side read under the same softmax; a
linear layer on the pooled features gives the presence logit.  One subject per frame (a single-person
tracker); the tracker checks the box with the pose network before trusting it.

Output ``(N, 4)``: presence logit, box centre ``(cx, cy)`` in [-1, 1] of the input, ``log(side / S)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import ResNet
from .heads import DeconvHead
from .pose import soft_argmax_2d


class LocaliserNet(nn.Module):
    def __init__(self, backbone: ResNet, head_channels: int = 64, n_deconv: int = 2):
        super().__init__()
        self.backbone = backbone
        self.head = DeconvHead(backbone.out_channels, 2, head_channels, n_deconv)
        self.presence = nn.Linear(backbone.out_channels, 1)

    def forward(self, x: torch.Tensor, mode: str = "predict"):
        f = self.backbone(x)
        maps = self.head(f)                                     # (N, 2, H, W): centre logits, log side
        N, _, H, W = maps.shape
        logits = maps[:, :1]
        uv = soft_argmax_2d(logits)[:, 0]                       # (N, 2) map pixels
        p = F.softmax(logits.reshape(N, H * W), -1)
        log_size = (p * maps[:, 1].reshape(N, H * W)).sum(-1)
        # map pixel centres at integers span -0.5 .. H-0.5: to [-1, 1] of the input
        centre = (uv + 0.5) / torch.tensor([W, H], dtype=uv.dtype, device=uv.device) * 2 - 1
        presence = self.presence(f.mean((2, 3)))[:, 0]
        out = torch.cat([presence[:, None], centre, log_size[:, None]], 1)
        if mode == "logits":
            return out, logits[:, 0]
        return out

    def logits(self, x: torch.Tensor):
        """(outputs (N, 4), centre-map logits (N, H, W)): what the training loss needs."""
        return self.forward(x, mode="logits")


def localiser_loss(out: torch.Tensor, logits: torch.Tensor, target: torch.Tensor, sigma: float = 1.0,
                   heatmap_weight: float = 0.5) -> torch.Tensor:
    """``out`` (N, 4) and centre ``logits`` (N, H, W) of :class:`LocaliserNet`; ``target`` (N, 4): presence
    (0/1), centre in [-1, 1], log side.  Presence: binary cross-entropy; where present: L1 on the centre
    (x 4: a quarter of the input is one unit) and the log side, and the centre map's cross-entropy
    against a Gaussian of ``sigma`` map pixels at the true centre (the integral pose networks' auxiliary
    heatmap loss)."""
    present = target[:, 0]
    loss = F.binary_cross_entropy_with_logits(out[:, 0], present)
    m = present > 0.5
    if not bool(m.any()):
        return loss
    o, t, lg = out[m], target[m], logits[m]
    n, H, W = lg.shape
    loss = loss + 4 * (o[:, 1:3] - t[:, 1:3]).abs().sum(-1).mean() + (o[:, 3] - t[:, 3]).abs().mean()
    if heatmap_weight > 0:
        c = (t[:, 1:3] + 1) / 2 * torch.tensor([W, H], dtype=t.dtype, device=t.device) - 0.5
        xs = torch.arange(W, dtype=t.dtype, device=t.device)
        ys = torch.arange(H, dtype=t.dtype, device=t.device)
        g = torch.exp(-0.5 * (((ys[None, :, None] - c[:, 1, None, None]) ** 2
                               + (xs[None, None, :] - c[:, 0, None, None]) ** 2) / sigma ** 2))
        g = g / g.sum((1, 2), keepdim=True).clamp_min(1e-12)
        ce = -(g * F.log_softmax(lg.reshape(n, H * W), -1).reshape(n, H, W)).sum((1, 2)).mean()
        loss = loss + heatmap_weight * ce
    return loss
