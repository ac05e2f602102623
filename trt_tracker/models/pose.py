"""Single-frame pose networks.

* :class:`IntegralPoseNet` - integral regression (Sun et al. 2018, the
  single-frame estimator of seed 000): heatmaps, then a soft-argmax.  2D
  (K maps) or 3D volumetric (K x D maps, D depth bins).
* :class:`RegressionPoseNet` - seed 002's regression networks: a backbone,
  global average pooling and a fully connected layer that outputs either
  joints (the "direct joint regression" baseline) or bones (trained with the
  compositional loss of :mod:`trt_tracker.models.losses`).

Units (the network frame): ``u, v`` in heatmap pixels (pixel centres at
integers, so a map of side H spans -0.5 .. H-0.5), ``z`` root-relative depth
normalised by half the metric cube, so the cube maps to [-1, 1].
:mod:`trt_tracker.codec` converts to and from image pixels and millimetres.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import ResNet
from .ensemble import ensemble_joints, ensemble_setup
from .heads import DeconvHead


def value_scale(heatmap_size: int, dims: int = 3) -> torch.Tensor:
    """The normalisation of regressed values (seed 002 Eq. 1): ``u, v`` / (H/4), ``z`` / 0.5.

    Used by every regression output (joints, bones, relation maps) and by the losses.
    """
    H = float(heatmap_size)
    return torch.tensor([H / 4, H / 4, 0.5][:dims])


def topological_order(parents) -> list[int]:
    """Joint indices with every parent before its children."""
    parents = list(parents)
    order, seen = [], set()
    while len(order) < len(parents):
        for k, p in enumerate(parents):
            if k not in seen and (p < 0 or p in seen):
                order.append(k)
                seen.add(k)
    return order


def soft_argmax_2d(logits: torch.Tensor) -> torch.Tensor:
    """(N, K, H, W) logits -> (N, K, 2) expected (u, v) under the softmax over H x W."""
    if logits.ndim != 4:
        raise ValueError(f"expected (N, K, H, W) logits, got {tuple(logits.shape)}")
    N, K, H, W = logits.shape
    p = F.softmax(logits.reshape(N, K, H * W), dim=-1).reshape(N, K, H, W)
    xs = torch.arange(W, dtype=p.dtype, device=p.device)
    ys = torch.arange(H, dtype=p.dtype, device=p.device)
    u = (p.sum(2) * xs).sum(-1)          # marginal over rows, then E[x]
    v = (p.sum(3) * ys).sum(-1)
    return torch.stack([u, v], dim=-1)


def soft_argmax_3d(logits: torch.Tensor) -> torch.Tensor:
    """(N, K, D, H, W) logits -> (N, K, 3) expected (u, v, z); z in [-1, 1] over the D bins' centres."""
    if logits.ndim != 5:
        raise ValueError(f"expected (N, K, D, H, W) logits, got {tuple(logits.shape)}")
    N, K, D, H, W = logits.shape
    p = F.softmax(logits.reshape(N, K, D * H * W), dim=-1).reshape(N, K, D, H, W)
    xs = torch.arange(W, dtype=p.dtype, device=p.device)
    ys = torch.arange(H, dtype=p.dtype, device=p.device)
    zs = (torch.arange(D, dtype=p.dtype, device=p.device) + 0.5) / D * 2 - 1
    u = (p.sum((2, 3)) * xs).sum(-1)
    v = (p.sum((2, 4)) * ys).sum(-1)
    z = (p.sum((3, 4)) * zs).sum(-1)
    return torch.stack([u, v, z], dim=-1)


def heatmap_confidence(logits: torch.Tensor, uv: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Per-joint confidence: the heatmap's probability mass near its own estimate.

    ``logits`` (N, K, H, W) or (N, K, D, H, W), ``uv`` (N, K, 2) heatmap pixels (the soft-argmax) ->
    (N, K) in [0, 1]: the softmax's 2D marginal weighted by a Gaussian of ``sigma`` pixels centred on
    ``uv`` (1 for a peak at ``uv``; about 2 pi sigma^2 / (H W) for a flat map).  A peaked heatmap says the
    joint is there; a diffuse or split one (a background crop, an occluded or cut-off joint) says not.
    """
    N, K = logits.shape[:2]
    H, W = logits.shape[-2:]
    p = F.softmax(logits.reshape(N, K, -1), dim=-1).reshape(logits.shape)
    if p.ndim == 5:
        p = p.sum(2)
    xs = torch.arange(W, dtype=p.dtype, device=p.device)
    ys = torch.arange(H, dtype=p.dtype, device=p.device)
    wx = torch.exp(-(xs - uv[..., :1]) ** 2 / (2 * sigma ** 2))          # (N, K, W)
    wy = torch.exp(-(ys - uv[..., 1:2]) ** 2 / (2 * sigma ** 2))        # (N, K, H)
    return ((p * wx[:, :, None, :]).sum(-1) * wy).sum(-1)


class IntegralPoseNet(nn.Module):
    """Image (N, Cin, S, S) -> joints (N, K, 3) (or (N, K, 2) for 2D) in the network frame."""

    def __init__(self, backbone: ResNet, num_joints: int, depth_bins: int = 64, head_channels: int = 256,
                 n_deconv: int = 3, logit_scale: float = 1.0, rotations: int = 1, flip_perm=None):
        super().__init__()
        self.backbone = backbone
        self.K = num_joints
        # the test-time ensemble of predict/forward (models.ensemble): its views, and the left/right joint
        # swap of mirrored ones
        self.views, self.flip_perm = ensemble_setup(rotations, flip_perm)
        self.D = depth_bins  # 0 -> 2D
        self.head = DeconvHead(backbone.out_channels, num_joints * max(depth_bins, 1), head_channels, n_deconv)
        self.stride = backbone.stride // self.head.upsample
        # A soft-argmax needs logits spread over ~10 units to localise; Adam moves the last
        # layer's weights by ~lr per step, so a fixed gain lets a briefly trained network get there.
        self.logit_scale = float(logit_scale)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(self.backbone(x))
        if self.logit_scale != 1.0:
            h = h * self.logit_scale
        N, _, H, W = h.shape
        return h.reshape(N, self.K, self.D, H, W) if self.D else h

    def _soft_argmax(self, h: torch.Tensor) -> torch.Tensor:
        return soft_argmax_3d(h) if self.D else soft_argmax_2d(h)

    def _joints_and_confidence(self, x: torch.Tensor):
        h = self.logits(x)
        J = self._soft_argmax(h)
        return J, heatmap_confidence(h, J[..., :2])

    def predict(self, x: torch.Tensor):
        """(joints (N, K, 2 or 3), per-joint heatmap confidence (N, K)); with ensemble views averaged over
        them (:func:`~trt_tracker.models.ensemble.ensemble_joints`)."""
        return ensemble_joints(self._joints_and_confidence, x, self.views, self.heatmap_size(x), self.flip_perm)

    def heatmap_size(self, x: torch.Tensor) -> int:
        return int(x.shape[-1]) // self.stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.views) == 1:              # one pass: no confidence to compute
            return self._soft_argmax(self.logits(x))
        return self.predict(x)[0]


class RegressionPoseNet(nn.Module):
    """Seed 002: backbone -> average pool -> FC to K x C normalised outputs.

    ``target="joints"`` predicts joints; ``target="bones"`` predicts bones
    (the root's "bone" is its position) and :meth:`forward` composes them into
    joints, so both variants return joints in the network frame while
    :meth:`bones` exposes the raw prediction for the compositional loss.
    The normalisation (seed 002 Eq. 1-2) is parameter-free and inside the
    network: ``value = out * scale + mean``.
    """

    def __init__(self, backbone: ResNet, parents, heatmap_size: int, target: str = "bones", dims: int = 3):
        super().__init__()
        if target not in ("joints", "bones"):
            raise ValueError(f"target must be 'joints' or 'bones', got {target!r}")
        self.backbone = backbone
        self.target = target
        self.K = len(parents)
        self.C = dims
        self.fc = nn.Linear(backbone.out_channels, self.K * dims)
        nn.init.normal_(self.fc.weight, std=0.001)
        nn.init.zeros_(self.fc.bias)
        parents = list(parents)
        self.register_buffer("parents", torch.tensor(parents), persistent=False)
        self.order = topological_order(parents)
        H = float(heatmap_size)
        scale = value_scale(heatmap_size, dims)
        mean = torch.zeros(self.K, dims)
        root = parents.index(-1)
        if target == "joints":
            mean[:, :2] = (H - 1) / 2
        else:
            mean[root, :2] = (H - 1) / 2
        self.register_buffer("scale", scale, persistent=False)
        self.register_buffer("mean", mean, persistent=False)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone(x).mean((2, 3))
        return self.fc(f).reshape(-1, self.K, self.C) * self.scale + self.mean

    def bones(self, x: torch.Tensor) -> torch.Tensor:
        if self.target != "bones":
            raise ValueError("this network regresses joints, not bones")
        return self.raw(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.raw(x)
        if self.target == "joints":
            return out
        return compose_bones(out, self.parents.tolist(), self.order)


def compose_bones(B: torch.Tensor, parents, order=None) -> torch.Tensor:
    """Joints from bones (..., K, C): ``J[k] = J[parent(k)] + B[k]``, the root's bone being its position."""
    parents = list(parents)
    if order is None:
        order = topological_order(parents)
    J = [None] * len(parents)
    for k in order:
        p = parents[k]
        J[k] = B[..., k, :] if p < 0 else J[p] + B[..., k, :]
    return torch.stack(J, dim=-2)

