"""Losses of seed 002 section 3 (joint, bone, compositional) in the network frame.

All are L1 on normalised values ``x / scale`` (seed 002 Eq. 1; the mean
cancels in every difference), averaged over pairs and coordinates so that
values are comparable across pair sets.  With these definitions
``compositional_loss(B, J_gt, P_bone) == bone_loss(B, bones(J_gt))`` and
``compositional_loss(B, J_gt, P_joint) == joint_loss(compose(B), J_gt)``
(seed 002 section 3.3), which the tests check.
"""
from __future__ import annotations

import numpy as np
import torch

from ..skeleton import Skeleton


def joint_loss(J: torch.Tensor, J_gt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Eq. 3: mean |J~ - J~_gt|_1 over joints and coordinates."""
    if J.shape != J_gt.shape:
        raise ValueError(f"prediction {tuple(J.shape)} and target {tuple(J_gt.shape)} differ")
    return ((J - J_gt) / scale).abs().mean()


def bone_loss(B: torch.Tensor, B_gt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Eq. 5: mean |B~ - B~_gt|_1."""
    return joint_loss(B, B_gt, scale)


class CompositionalLoss(torch.nn.Module):
    """Eq. 6-8: ``L(B, P) = mean_{(u,v) in P} |dJ~_uv - dJ~gt_uv|_1`` with ``dJ_uv`` summed along tree paths.

    ``pairs`` is a pair-set name of :meth:`Skeleton.pair_set` ('joint',
    'bone', 'both', 'all') or an explicit list of ``(u, v)`` meaning ``J[v] - J[u]``.
    The path sums are one matrix product with the signed incidence matrix
    (:meth:`Skeleton.path_matrix`), so the layer has no free parameters.
    """

    def __init__(self, skeleton: Skeleton, pairs="all"):
        super().__init__()
        self.pairs = skeleton.pair_set(pairs) if isinstance(pairs, str) else list(pairs)
        A = skeleton.path_matrix(self.pairs)                       # (P, K): dJ = A @ B
        u = np.array([p[0] for p in self.pairs])
        v = np.array([p[1] for p in self.pairs])
        G = np.zeros((len(self.pairs), skeleton.K))                # (P, K): dJgt = G @ J_gt
        G[np.arange(len(v)), v] += 1
        G[np.arange(len(u))[u >= 0], u[u >= 0]] -= 1
        self.register_buffer("A", torch.tensor(A, dtype=torch.float32), persistent=False)
        self.register_buffer("G", torch.tensor(G, dtype=torch.float32), persistent=False)

    def forward(self, B: torch.Tensor, J_gt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        dJ = torch.einsum("pk,nkc->npc", self.A.to(B.dtype), B)
        dJ_gt = torch.einsum("pk,nkc->npc", self.G.to(J_gt.dtype), J_gt)
        return ((dJ - dJ_gt) / scale).abs().mean()
