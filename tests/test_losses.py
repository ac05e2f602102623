"""Seed 002's losses: the compositional loss against the joint/bone losses and a slow tree-walk reference."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from trt_tracker.models import CompositionalLoss, bone_loss, compose_bones, joint_loss
from trt_tracker.skeleton import BODY17, HAND21, ORIGIN

SKELETONS = [pytest.param(BODY17, id="BODY17"), pytest.param(HAND21, id="HAND21")]


def _inputs(sk, rng, n=3, c=3):
    B = torch.tensor(rng.normal(0, 5, (n, sk.K, c)))
    J_gt = torch.tensor(rng.normal(0, 20, (n, sk.K, c)))
    scale = torch.tensor(rng.uniform(0.5, 4, c))
    return B, J_gt, scale


def _tree_path_sum(sk, B: np.ndarray, u: int, v: int) -> np.ndarray:
    """J[v] - J[u] from bones by walking the tree: up from u to the common ancestor, then down to v."""
    def chain(j):
        out = [j]
        while sk.parents[out[-1]] != -1:
            out.append(sk.parents[out[-1]])
        return out

    up_u, up_v = chain(u), chain(v)
    lca = next(j for j in up_u if j in up_v)
    total = np.zeros(B.shape[-1])
    for j in up_u[: up_u.index(lca)]:      # climbing from a joint to its parent subtracts its bone
        total -= B[j]
    for j in up_v[: up_v.index(lca)]:      # descending to a joint adds its bone
        total += B[j]
    return total


@pytest.mark.parametrize("sk", SKELETONS)
def test_bone_pairs_equal_bone_loss(sk, rng):
    B, J_gt, scale = _inputs(sk, rng)
    B_gt = torch.tensor(sk.bones(J_gt.numpy()))      # root row: the root's position, pair (ORIGIN, root)
    assert torch.equal(B_gt[:, sk.root], J_gt[:, sk.root])
    got = CompositionalLoss(sk, "bone")(B, J_gt, scale)
    torch.testing.assert_close(got, bone_loss(B, B_gt, scale), rtol=0, atol=1e-6)


@pytest.mark.parametrize("sk", SKELETONS)
def test_joint_pairs_equal_joint_loss_of_composed_bones(sk, rng):
    B, J_gt, scale = _inputs(sk, rng)
    got = CompositionalLoss(sk, "joint")(B, J_gt, scale)
    want = joint_loss(compose_bones(B, sk.parents), J_gt, scale)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("sk", SKELETONS)
def test_all_pairs_match_tree_walk(sk, rng):
    B, J_gt, scale = _inputs(sk, rng, n=2)
    got = float(CompositionalLoss(sk, "all")(B, J_gt, scale))
    Bn, Jn, sn = B.numpy(), J_gt.numpy(), scale.numpy()
    terms = []
    for n in range(len(Bn)):
        for u, v in itertools.combinations(range(sk.K), 2):
            d = _tree_path_sum(sk, Bn[n], u, v) - (Jn[n, v] - Jn[n, u])
            terms.extend(np.abs(d / sn))
    assert len(terms) == len(Bn) * sk.K * (sk.K - 1) // 2 * 3
    assert got == pytest.approx(np.mean(terms), rel=1e-6)


@pytest.mark.parametrize("sk", SKELETONS)
def test_all_pairs_vanish_for_true_bones(sk, rng):
    """Bones of the ground truth itself give zero loss on every pair set (the root's bone is its position)."""
    _, J_gt, scale = _inputs(sk, rng)
    B_true = torch.tensor(sk.bones(J_gt.numpy()))
    for kind in ("joint", "bone", "both", "all"):
        assert float(CompositionalLoss(sk, kind)(B_true, J_gt, scale)) == pytest.approx(0, abs=1e-9)
    # Pairs that do not involve the origin do not see the root's position.
    B_shift = B_true.clone()
    B_shift[:, sk.root] += 100
    assert float(CompositionalLoss(sk, "all")(B_shift, J_gt, scale)) == pytest.approx(0, abs=1e-9)
    assert float(CompositionalLoss(sk, "joint")(B_shift, J_gt, scale)) > 1


@pytest.mark.parametrize("sk", SKELETONS)
def test_both_pair_set_size_and_gradients(sk, rng):
    loss = CompositionalLoss(sk, "both")
    bone_pairs = [p for p in sk.pair_set("bone") if p not in sk.pair_set("joint")]
    assert len(bone_pairs) == sk.K - 1                    # only (ORIGIN, root) is shared
    assert len(loss.pairs) == sk.K + len(bone_pairs)
    assert loss.A.shape == loss.G.shape == (sk.K + len(bone_pairs), sk.K)
    B, J_gt, scale = _inputs(sk, rng)
    B.requires_grad_(True)
    out = loss(B, J_gt, scale)
    out.backward()
    assert torch.isfinite(B.grad).all()
    assert (B.grad.abs().sum((0, 2)) > 0).all()          # every bone receives a gradient
    assert not loss.state_dict()                          # no parameters, no persistent buffers


def test_explicit_pairs(rng):
    sk = BODY17
    pairs = [(ORIGIN, 13), (16, 13), (3, 6)]
    B, J_gt, scale = _inputs(sk, rng)
    got = float(CompositionalLoss(sk, pairs)(B, J_gt, scale))
    J = compose_bones(B, sk.parents).numpy()
    Jg = J_gt.numpy()
    ref = []
    for u, v in pairs:
        pred = J[:, v] - (J[:, u] if u != ORIGIN else 0)
        gt = Jg[:, v] - (Jg[:, u] if u != ORIGIN else 0)
        ref.append(np.abs((pred - gt) / scale.numpy()))
    assert got == pytest.approx(np.mean(ref), rel=1e-6)


def test_compose_bones_inverts_skeleton_bones(rng):
    for sk in (BODY17, HAND21):
        J = rng.normal(size=(2, sk.K, 3))
        np.testing.assert_allclose(compose_bones(torch.tensor(sk.bones(J)), sk.parents).numpy(), J, atol=1e-12)


def test_joint_loss_rejects_shape_mismatch():
    scale = torch.ones(3)
    with pytest.raises(ValueError, match=r"prediction \(2, 17, 3\) and target \(2, 17, 2\) differ"):
        joint_loss(torch.zeros(2, 17, 3), torch.zeros(2, 17, 2), scale)
    with pytest.raises(ValueError, match="differ"):
        bone_loss(torch.zeros(2, 16, 3), torch.zeros(2, 17, 3), scale)


def test_losses_are_normalised_l1():
    scale = torch.tensor([2.0, 4.0, 0.5])
    J = torch.zeros(1, 2, 3)
    J_gt = torch.tensor([[[2.0, 4.0, 0.5], [-2.0, 0.0, 0.0]]])
    # |(J - J_gt) / scale| = [1, 1, 1, 1, 0, 0] -> mean 4 / 6.
    assert float(joint_loss(J, J_gt, scale)) == pytest.approx(4 / 6)


def test_unknown_pair_set():
    with pytest.raises(ValueError, match="unknown pair set"):
        CompositionalLoss(BODY17, "some")
