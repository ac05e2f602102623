"""Test-time rotation ensembles (beyond the papers).

A network trained with in-plane rotations over +-180 degrees (the hand
networks, :data:`~trt_tracker.data.samples.HAND_AUGMENT`) sees its crop
turned by 0 and 180 degrees (``rotations=2``) or by every quarter turn
(``rotations=4``) in one batch; each output is turned back and the results
are averaged.  Quarter turns are exact on the pixel grid: pixel centres sit
at integers, and the crop's centre ``(S - 1) / 2`` maps to the map's centre
``(H - 1) / 2`` (:mod:`trt_tracker.camera`), so nothing is resampled.

* relation networks: each turned crop's relations pooled at its turned related
  joints and turned back, then averaged; Eq. 7's pooling is linear, so this is
  pooling the averaged turned-back maps, without turning a map;
* integral pose networks: each turned crop's joints turned back and averaged,
  which is the soft-argmax of the averaged heatmap distributions (the
  soft-argmax is an expectation), without turning a heatmap; the per-joint
  heatmap confidence is the mean of the turned crops'.

Turns are written with Gather (a constant reversed index) and Transpose, so
the exported graph stays within TensorRT's parser.  A quarter turn ``k``
is NumPy's ``np.rot90(x, k, axes=(-2, -1))``: counter-clockwise on screen; a
point ``(u, v)`` of a map of side ``H`` goes to ``(v, H - 1 - u)``.
"""
from __future__ import annotations

import torch

#: the ensembles a network config may ask for (1: a single pass)
ROTATIONS = (1, 2, 4)


def quarter_turns(rotations: int) -> tuple[int, ...]:
    """The quarter turns of an ensemble: 1 -> (0,), 2 -> (0, 2), 4 -> (0, 1, 2, 3)."""
    if rotations not in ROTATIONS:
        raise ValueError(f"rotations must be one of {ROTATIONS}, got {rotations!r}")
    return {1: (0,), 2: (0, 2), 4: (0, 1, 2, 3)}[rotations]


def _reverse(x: torch.Tensor, dim: int) -> torch.Tensor:
    # int(): the map sides are fixed by the config, so an exported graph holds a constant index (only the
    # batch axis is dynamic)
    n = int(x.shape[dim])
    return x.index_select(dim, torch.tensor(list(range(n - 1, -1, -1)), device=x.device))


def rot90(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` turned by ``k`` quarter turns over its last two axes (``np.rot90(x, k, axes=(-2, -1))``)."""
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return _reverse(_reverse(x, -1), -2)
    if k == 1:
        return _reverse(x, -1).transpose(-2, -1)
    return _reverse(x.transpose(-2, -1), -1)


def rotate_vectors(v: torch.Tensor, k: int, dim: int = -1) -> torch.Tensor:
    """Vectors whose ``(u, v)`` are entries 0 and 1 of axis ``dim`` (other entries, e.g. z, kept) as seen
    in a crop turned by ``k`` quarter turns: ``(a, b) -> (b, -a)`` per turn (a Gather and a Mul)."""
    k %= 4
    if k == 0:
        return v
    n = int(v.shape[dim])
    order = list(range(n))
    if k % 2:
        order[0], order[1] = 1, 0
    sign = [1.0] * n
    sign[0], sign[1] = {1: (1.0, -1.0), 2: (-1.0, -1.0), 3: (-1.0, 1.0)}[k]
    shape = [1] * v.ndim
    shape[dim] = n
    out = v.index_select(dim, torch.tensor(order, device=v.device))
    return out * torch.tensor(sign, dtype=v.dtype, device=v.device).reshape(shape)


def rotate_points(p: torch.Tensor, k: int, size: int) -> torch.Tensor:
    """Points ``(u, v, ...)`` (last axis) of a map of side ``size`` in the crop turned by ``k`` quarter
    turns: ``(u, v) -> (v, size - 1 - u)`` per turn."""
    c = (size - 1) / 2
    uv = p[..., :2] - c
    return torch.cat([rotate_vectors(uv, k) + c, p[..., 2:]], -1)


def _turned_batch(x: torch.Tensor, turns) -> torch.Tensor:
    return torch.cat([rot90(x, k) for k in turns], 0)


def _per_turn(y: torch.Tensor, n: int) -> torch.Tensor:
    """(n N, ...) outputs of a turned batch -> (n, N, ...) (a reshape, so an exported graph keeps a
    dynamic batch)."""
    return y.reshape(n, -1, *y.shape[1:])


def ensemble_relations(relations_fn, x: torch.Tensor, related: torch.Tensor, rotations: int,
                       size: int) -> torch.Tensor:
    """``relations_fn`` (images (N, C, S, S), related joints (N, K, 2) in map pixels of side ``size`` ->
    relation vectors (N, K, C)) averaged over the turned crops, each pooled at its turned related joints
    and turned back.  Eq. 7 is linear in the maps, so this equals pooling the maps turned back and
    averaged, without turning any map."""
    turns = quarter_turns(rotations)
    if len(turns) == 1:
        return relations_fn(x, related)
    rel = torch.cat([rotate_points(related, k, size) for k in turns], 0)
    r = _per_turn(relations_fn(_turned_batch(x, turns), rel), len(turns))
    return sum(rotate_vectors(r[i], -k) for i, k in enumerate(turns)) / len(turns)


def ensemble_joints(joints_fn, x: torch.Tensor, rotations: int, size: int):
    """``joints_fn`` (images -> (joints (N, K, C) in map pixels of side ``size``, per-joint scores
    (N, K))) averaged over the turned crops, the joints turned back.  For an integral pose network this
    is the soft-argmax of the averaged heatmap distributions (an expectation is linear), without turning
    any heatmap; the scores (heatmap confidence) are averaged."""
    turns = quarter_turns(rotations)
    if len(turns) == 1:
        return joints_fn(x)
    J, c = joints_fn(_turned_batch(x, turns))
    J, c = _per_turn(J, len(turns)), _per_turn(c, len(turns))
    return sum(rotate_points(J[i], -k, size) for i, k in enumerate(turns)) / len(turns), c.mean(0)
