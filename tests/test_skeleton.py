"""Skeletons: topology, bones, paths and the pair sets of the compositional loss (seed 002 Eq. 6-8)."""
import numpy as np
import pytest

from trt_tracker.skeleton import BODY17, HAND21, ORIGIN, Skeleton, get_skeleton


@pytest.mark.parametrize("sk", [BODY17, HAND21])
def test_tree_and_bones_roundtrip(sk, rng):
    assert sk.root == 0 and sk.K == len(sk.names) == len(sk.bone_lengths_mm)
    order = sk.topological_order
    assert sorted(order) == list(range(sk.K))
    assert all(order.index(sk.parents[k]) < order.index(k) for k in range(sk.K) if sk.parents[k] >= 0)
    J = rng.normal(size=(4, sk.K, 3))
    B = sk.bones(J)
    k = sk.K - 1
    assert np.allclose(B[:, k], J[:, k] - J[:, sk.parents[k]])     # seed 000: child minus parent
    assert np.allclose(B[:, sk.root], J[:, sk.root])                 # root: from the origin
    assert np.allclose(sk.joints_from_bones(B), J)


def test_body17_layout_matches_design():
    assert BODY17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert BODY17.names[3] == "r_ankle" and BODY17.names[13] == "l_wrist"
    J = np.arange(17 * 3, dtype=float).reshape(17, 3)
    flipped = J[BODY17.flip_permutation]
    assert np.allclose(flipped[1], J[4]) and np.allclose(flipped[16], J[13]) and np.allclose(flipped[0], J[0])


def test_hand21_fingers_are_chains():
    for f in range(5):
        base = 1 + 4 * f
        assert HAND21.parents[base] == 0
        assert [HAND21.parents[base + j] for j in (1, 2, 3)] == [base, base + 1, base + 2]
    assert HAND21.names[4] == "index_tip" and HAND21.names[20] == "thumb_tip"


def test_path_by_hand():
    # r_ankle (3) -> l_wrist (13): up 3->2->1->0, down 0->7->8->11->12->13.
    steps = BODY17.path(3, 13)
    assert steps == [(3, -1), (2, -1), (1, -1), (7, 1), (8, 1), (11, 1), (12, 1), (13, 1)]
    assert BODY17.path(5, 5) == []
    assert BODY17.path(ORIGIN, 2) == [(0, 1), (1, 1), (2, 1)]
    assert BODY17.path(2, ORIGIN) == [(2, -1), (1, -1), (0, -1)]


@pytest.mark.parametrize("sk", [BODY17, HAND21])
@pytest.mark.parametrize("kind", ["joint", "bone", "both", "all"])
def test_path_matrix_composes_relative_positions(sk, kind, rng):
    J = rng.normal(size=(5, sk.K, 3))
    pairs = sk.pair_set(kind)
    A = sk.path_matrix(pairs)
    assert np.allclose(np.einsum("pk,tkc->tpc", A, sk.bones(J)), sk.relative_positions(J, pairs))


def test_pair_set_sizes_and_meaning():
    K = BODY17.K
    assert len(BODY17.pair_set("joint")) == K
    assert len(BODY17.pair_set("bone")) == K
    assert len(BODY17.pair_set("all")) == K * (K - 1) // 2
    # P_bone's path matrix is the identity: the compositional loss degenerates to the bone loss.
    assert np.allclose(BODY17.path_matrix(BODY17.pair_set("bone")), np.eye(K))
    # P_joint's rows sum the bones from the root: the global joint positions.
    A = BODY17.path_matrix(BODY17.pair_set("joint"))
    assert A[13].tolist() == [1 if k in (0, 7, 8, 11, 12, 13) else 0 for k in range(K)]
    with pytest.raises(ValueError, match="unknown pair set"):
        BODY17.pair_set("some")


def test_invalid_skeletons_are_rejected():
    with pytest.raises(ValueError, match="exactly one root"):
        Skeleton("x", ("a", "b"), (-1, -1))
    with pytest.raises(ValueError, match="cycle"):
        Skeleton("x", ("a", "b", "c"), (-1, 2, 1))
    with pytest.raises(ValueError, match="names but"):
        Skeleton("x", ("a", "b"), (-1,))
    with pytest.raises(KeyError, match="unknown skeleton"):
        get_skeleton("spider")
    with pytest.raises(ValueError, match="expected joints"):
        BODY17.bones(np.zeros((3, 16, 3)))
