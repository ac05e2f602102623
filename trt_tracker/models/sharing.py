"""Feature sharing between the heatmap (pose) network and the spatial relation network.

Seed 000, supplement section 2.2 and Table 5: a joint classification
(integral heatmap) network is trained first and frozen; a spatial relation
branch is then attached at some depth of it and trained alone.  The later the
branch leaves the pose network, the more (and deeper) features are shared:

* ``none``    - no sharing: the branch is a whole relation network of its own;
* ``shallow`` - shares the stem and the first stage (ResNet ``conv1`` and ``conv2_x``);
* ``deep``    - shares the whole backbone; the branch is a deconvolution head;
* ``all``     - shares the backbone and the deconvolutions; the branch is the final 1x1 convolution.

The branch predicts relation maps exactly like
:class:`~trt_tracker.models.relation.RelationNet` (Eq. 6 loss, Eq. 7 pooling),
so it trains with the same objective.  :meth:`SharedFeatureRelationNet.forward_both`
runs the pose network and the branch together, computing the shared part once:
that is what the parameter and FLOP counts of the table measure.

>>> pose = build_model(ModelConfig(task="pose", input_size=64, depth=10, width=0.25, head_channels=32, depth_bins=16))
>>> net = SharedFeatureRelationNet(pose, "shallow", ResNetConfig(10, 0.25, 3), num_joints=17, heatmap_size=16)
>>> joints, bones = net.forward_both(torch.zeros(2, 3, 64, 64), torch.zeros(2, 17, 2))
"""
from __future__ import annotations

import torch
from torch import nn

from .backbone import ResNet, ResNetConfig
from .heads import DeconvHead
from .pose import IntegralPoseNet, soft_argmax_2d, soft_argmax_3d
from .relation import PooledRelation

SHARE_POINTS = ("none", "shallow", "deep", "all")


class SharedFeatureRelationNet(PooledRelation, nn.Module):
    """A spatial relation branch on a frozen :class:`IntegralPoseNet`.

    ``forward(image, related) -> (N, K, C)`` relations (bones) pooled at the
    related joints; ``loss`` is Eq. 6; ``forward_both(image, related)`` returns
    ``(joints, relations)``.  Only the branch has trainable parameters; the pose
    network stays in eval mode (its batch-norm statistics are frozen too).
    """

    def __init__(self, pose: IntegralPoseNet, share: str, backbone_cfg: ResNetConfig, num_joints: int,
                 dims: int = 3, head_channels: int = 256, n_deconv: int = 3, heatmap_size: int = 64,
                 decay_kind: str = "binary", beta: float = 2.5, sampling: str = "decay"):
        super().__init__()
        if share not in SHARE_POINTS:
            raise ValueError(f"unknown sharing {share!r}; choose one of {SHARE_POINTS}")
        if not isinstance(pose, IntegralPoseNet):
            raise TypeError(f"the shared network must be an IntegralPoseNet, got {type(pose).__name__}")
        if backbone_cfg.in_channels != pose.backbone.cfg.in_channels:
            raise ValueError("the branch and the pose network must take the same input channels")
        self.pose = pose
        for p in self.pose.parameters():
            p.requires_grad_(False)
        self.share, self.K, self.C = share, num_joints, dims
        self._init_pooling(decay_kind, beta, sampling, heatmap_size, dims)
        out = num_joints * dims
        if share == "none":
            self.branch_backbone = ResNet(backbone_cfg)
            self.branch_head = DeconvHead(self.branch_backbone.out_channels, out, head_channels, n_deconv)
        elif share == "shallow":
            if backbone_cfg != pose.backbone.cfg:
                raise ValueError("shallow sharing continues the pose backbone: use the same ResNet config")
            fresh = ResNet(backbone_cfg)      # its stem and first stage are dropped
            self.branch_stages = nn.ModuleList(list(fresh.stages)[1:])
            self.branch_head = DeconvHead(fresh.out_channels, out, head_channels, n_deconv)
        elif share == "deep":
            self.branch_head = DeconvHead(pose.backbone.out_channels, out, head_channels, n_deconv)
        else:  # all: a 1x1 convolution on the pose head's last deconvolution features
            self.branch_final = nn.Conv2d(pose.head.final.in_channels, out, 1)
            nn.init.normal_(self.branch_final.weight, std=0.001)
            nn.init.zeros_(self.branch_final.bias)

    def train(self, mode: bool = True):
        super().train(mode)
        self.pose.eval()
        return self

    # ------------------------------------------------------------ features
    def _pose_features(self, x: torch.Tensor, upto: str) -> dict[str, torch.Tensor]:
        """Shared features: ``shallow`` (after the first stage), ``deep`` (backbone), ``deconv`` (head features)."""
        bb = self.pose.backbone
        f: dict[str, torch.Tensor] = {}
        h = bb.stages[0](bb.stem(x))
        f["shallow"] = h
        if upto == "shallow":
            return f
        for s in bb.stages[1:]:
            h = s(h)
        f["deep"] = h
        if upto == "deep":
            return f
        f["deconv"] = self.pose.head.deconv(h)
        return f

    def _branch(self, x: torch.Tensor, f: dict[str, torch.Tensor] | None) -> torch.Tensor:
        """Raw branch output (N, K*C, H, W) from the input and the shared features."""
        if self.share == "none":
            return self.branch_head(self.branch_backbone(x))
        if self.share == "shallow":
            h = f["shallow"]
            for s in self.branch_stages:
                h = s(h)
            return self.branch_head(h)
        if self.share == "deep":
            return self.branch_head(f["deep"])
        return self.branch_final(f["deconv"])

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        upto = {"none": None, "shallow": "shallow", "deep": "deep", "all": "deconv"}[self.share]
        f = None if upto is None else self._pose_features(x, upto)
        return self._as_maps(self._branch(x, f))

    # weights / forward / loss: the contract of RelationNet, from PooledRelation

    def forward_both(self, x: torch.Tensor, related: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pose joints (N, K, 3 or 2) and relations (N, K, C), the shared features computed once."""
        f = self._pose_features(x, "deconv")
        pose = self.pose
        logits = pose.head.final(f["deconv"])
        if pose.logit_scale != 1.0:
            logits = logits * pose.logit_scale
        N, _, H, W = logits.shape
        joints = soft_argmax_3d(logits.reshape(N, pose.K, pose.D, H, W)) if pose.D else soft_argmax_2d(logits)
        return joints, self.pool(self._as_maps(self._branch(x, f)), related)


def branch_parameters(net: SharedFeatureRelationNet) -> int:
    """Trainable (branch-only) parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def total_parameters(net: SharedFeatureRelationNet) -> int:
    """Parameters of the pose network and the branch together (shared ones once)."""
    return sum(p.numel() for p in net.parameters())
