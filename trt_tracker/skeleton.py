"""Skeletons as data: joint names, parents, flip pairs, nominal bone lengths.

Conventions (DESIGN §1–2, seed 000):

* joints are arrays ``(..., K, C)``;
* the bone of joint k points from its parent to it,
  ``B[..., k, :] = J[..., k, :] - J[..., parent(k), :]``
  (seed 002 writes it the other way round; we use seed 000's everywhere);
* the root has no parent.  Following seed 002 (``parent(root) = origin``) the
  root's "bone" is its position relative to the coordinate origin, so
  ``bones`` is invertible.  The tracking solver ignores the root's bone.

Paths and pair sets implement seed 002 Eq. 6–8: the relative position of two
joints is a signed sum of the bones on the tree path between them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: Stands for the coordinate origin in joint pairs (seed 002's ``J_0``).
ORIGIN = -1


@dataclass(frozen=True)
class Skeleton:
    """A joint tree.

    Parameters
    ----------
    name : str
    names : tuple of K joint names
    parents : tuple of K parent indices, ``-1`` for the root (exactly one root)
    flip_pairs : pairs of joints swapped by a horizontal image flip
    bone_lengths_mm : nominal length of each joint's bone (root: 0), used by
        the synthetic data generators
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    bone_lengths_mm: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        K = len(self.names)
        if len(self.parents) != K:
            raise ValueError(f"{self.name}: {K} names but {len(self.parents)} parents")
        roots = [k for k, p in enumerate(self.parents) if p < 0]
        if len(roots) != 1:
            raise ValueError(f"{self.name}: need exactly one root (parent -1), found {roots}")
        for k, p in enumerate(self.parents):
            if p >= K:
                raise ValueError(f"{self.name}: parent of joint {k} is {p}, outside 0..{K - 1}")
        # Every joint must reach the root (no cycles).
        for k in range(K):
            seen, j = set(), k
            while j >= 0:
                if j in seen:
                    raise ValueError(f"{self.name}: parents contain a cycle through joint {k}")
                seen.add(j)
                j = self.parents[j]
        if self.bone_lengths_mm and len(self.bone_lengths_mm) != K:
            raise ValueError(f"{self.name}: bone_lengths_mm must have {K} entries")
        for a, b in self.flip_pairs:
            if not (0 <= a < K and 0 <= b < K) or a == b:
                raise ValueError(f"{self.name}: bad flip pair ({a}, {b})")

    # ------------------------------------------------------------------ basics
    @property
    def K(self) -> int:
        return len(self.names)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    @cached_property
    def parents_array(self) -> np.ndarray:
        return np.asarray(self.parents, dtype=np.int64)

    @cached_property
    def non_root(self) -> np.ndarray:
        """Indices of the joints that have a parent (the real bones)."""
        return np.array([k for k in range(self.K) if self.parents[k] >= 0], dtype=np.int64)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no joint named {name!r}; joints are {self.names}") from None

    def children(self, k: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == k]

    @cached_property
    def topological_order(self) -> tuple[int, ...]:
        """Joints ordered so that every parent comes before its children."""
        order, frontier = [], [self.root]
        while frontier:
            k = frontier.pop(0)
            order.append(k)
            frontier.extend(self.children(k))
        return tuple(order)

    def ancestors(self, k: int) -> list[int]:
        """``[k, parent(k), ..., root]``."""
        out = [k]
        while self.parents[out[-1]] >= 0:
            out.append(self.parents[out[-1]])
        return out

    @cached_property
    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints: ``J_flipped = J[..., perm, :]``."""
        perm = np.arange(self.K)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    # ----------------------------------------------------------------- bones
    def bones(self, J: np.ndarray) -> np.ndarray:
        """Bone vectors ``B[..., k] = J[..., k] - J[..., parent(k)]``; the root's is ``J[..., root]``."""
        J = np.asarray(J)
        if J.shape[-2] != self.K:
            raise ValueError(f"expected joints (..., {self.K}, C), got {J.shape}")
        B = J.copy()
        nr = self.non_root
        B[..., nr, :] = J[..., nr, :] - J[..., self.parents_array[nr], :]
        return B

    def joints_from_bones(self, B: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`bones` (the root's bone is its position)."""
        B = np.asarray(B)
        if B.shape[-2] != self.K:
            raise ValueError(f"expected bones (..., {self.K}, C), got {B.shape}")
        J = np.empty_like(B)
        for k in self.topological_order:
            p = self.parents[k]
            J[..., k, :] = B[..., k, :] if p < 0 else J[..., p, :] + B[..., k, :]
        return J

    # ------------------------------------------------------------ paths (002)
    def path(self, u: int, v: int) -> list[tuple[int, int]]:
        """Bones on the tree path from ``u`` to ``v`` with their signs.

        Returns ``[(k, s), ...]`` such that ``J[v] - J[u] = sum(s * B[k])``
        (seed 002 Eq. 6, with seed 000's bone direction).  Either end may be
        :data:`ORIGIN`, whose position is 0; the path then runs through the
        root's bone.
        """
        for j in (u, v):
            if j != ORIGIN and not 0 <= j < self.K:
                raise ValueError(f"joint index {j} outside 0..{self.K - 1} (or ORIGIN)")
        # Ancestor chains, each ending at ORIGIN.
        up_u = self.ancestors(u) + [ORIGIN] if u != ORIGIN else [ORIGIN]
        up_v = self.ancestors(v) + [ORIGIN] if v != ORIGIN else [ORIGIN]
        common = set(up_u) & set(up_v)
        lca = next(j for j in up_u if j in common)
        steps: list[tuple[int, int]] = []
        # Going up from a joint to its parent subtracts that joint's bone.
        for j in up_u[: up_u.index(lca)]:
            steps.append((j, -1))
        # Going down from the LCA to v adds bones.
        for j in reversed(up_v[: up_v.index(lca)]):
            steps.append((j, +1))
        return steps

    def path_matrix(self, pairs) -> np.ndarray:
        """Signed incidence ``A`` (P, K) with ``(A @ B)[p] = J[v_p] - J[u_p]`` for pairs ``(u_p, v_p)``."""
        pairs = list(pairs)
        A = np.zeros((len(pairs), self.K), dtype=np.float64)
        for i, (u, v) in enumerate(pairs):
            for k, s in self.path(u, v):
                A[i, k] += s
        return A

    def pair_set(self, kind: str) -> list[tuple[int, int]]:
        """Seed 002's joint pair sets for the compositional loss.

        ``joint``: every joint against the origin (global positions);
        ``bone``: every joint against its parent (the root against the origin);
        ``both``: their union; ``all``: every pair ``u < v`` of joints.
        Each pair ``(u, v)`` stands for ``J[v] - J[u]``.
        """
        joint = [(ORIGIN, k) for k in range(self.K)]
        bone = [(self.parents[k] if self.parents[k] >= 0 else ORIGIN, k) for k in range(self.K)]
        if kind == "joint":
            return joint
        if kind == "bone":
            return bone
        if kind == "both":
            return joint + [p for p in bone if p not in joint]
        if kind == "all":
            return [(u, v) for u in range(self.K) for v in range(u + 1, self.K)]
        raise ValueError(f"unknown pair set {kind!r}; choose joint, bone, both or all")

    def relative_positions(self, J: np.ndarray, pairs) -> np.ndarray:
        """``J[v] - J[u]`` for each pair, the origin counting as 0: (..., P, C)."""
        J = np.asarray(J)
        Jo = np.concatenate([J, np.zeros_like(J[..., :1, :])], axis=-2)  # index -1 -> origin
        u = np.array([p[0] for p in pairs])
        v = np.array([p[1] for p in pairs])
        return Jo[..., v, :] - Jo[..., u, :]


BODY17 = Skeleton(
    name="BODY17",
    names=(
        "root", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
        "torso", "neck", "nose", "head",
        "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    flip_pairs=((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
    # Human3.6M-like adult proportions (mm).
    bone_lengths_mm=(
        0.0, 132.0, 442.0, 454.0, 132.0, 442.0, 454.0,
        233.0, 257.0, 121.0, 115.0,
        151.0, 278.0, 251.0, 151.0, 278.0, 251.0,
    ),
)

# MSRA Hand 2015 order: wrist, then index, middle, ring, little, thumb, each
# MCP -> PIP -> DIP -> TIP.
_FINGERS = ("index", "middle", "ring", "little", "thumb")
_HAND_NAMES = ("wrist",) + tuple(f"{f}_{j}" for f in _FINGERS for j in ("mcp", "pip", "dip", "tip"))
_HAND_PARENTS = (-1,) + tuple(0 if j == 0 else 1 + 4 * f + j - 1 for f in range(5) for j in range(4))
# Adult hand (mm): wrist->MCP, MCP->PIP, PIP->DIP, DIP->TIP for each finger.
_HAND_LENGTHS = {
    "index": (85.0, 40.0, 24.0, 20.0),
    "middle": (82.0, 44.0, 27.0, 21.0),
    "ring": (78.0, 41.0, 26.0, 20.0),
    "little": (74.0, 33.0, 19.0, 18.0),
    "thumb": (45.0, 38.0, 31.0, 27.0),
}

HAND21 = Skeleton(
    name="HAND21",
    names=_HAND_NAMES,
    parents=_HAND_PARENTS,
    flip_pairs=(),
    bone_lengths_mm=(0.0,) + tuple(length for f in _FINGERS for length in _HAND_LENGTHS[f]),
)

SKELETONS = {s.name: s for s in (BODY17, HAND21)}


def get_skeleton(name: str) -> Skeleton:
    try:
        return SKELETONS[name.upper()]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {sorted(SKELETONS)}") from None
