"""Test-time rotation ensembles (beyond the papers).

A network trained with in-plane rotations over +-180 degrees (the hand
networks, :data:`~trt_tracker.data.samples.HAND_AUGMENT`) sees its crop
turned by 0 and 180 degrees (``rotations=2``) or by every quarter turn
(``rotations=4``) in one batch; each output is turned back and the results
are averaged.  Quarter turns are exact on the pixel grid: pixel centres sit
at integers, and the crop's centre ``(S - 1) / 2`` maps to the map's centre
``(H - 1) / 2`` (:mod:`trt_tracker.camera`), so nothing is resampled.

* relation maps (N, K, C, H, W): each map turned back and its ``(u, v)``
  vector channels rotated back, then averaged; Eq. 7's pooling is linear, so
  pooling the averaged maps at the related joints equals averaging the pooled
  relations of the turned crops (each pooled at its turned joints);
* pose heatmap logits (N, K, [D,] H, W): each turned back and the softmax
  distributions averaged (returned as log-probabilities): the soft-argmax is
  an expectation, so the joints are the mean of the turned crops' joints and
  the heatmap confidence reads the averaged distribution.

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


def ensemble_maps(maps_fn, x: torch.Tensor, rotations: int) -> torch.Tensor:
    """``maps_fn`` (images (N, C, S, S) -> relation maps (N, K, C, H, W)) averaged over the turned crops."""
    turns = quarter_turns(rotations)
    if len(turns) == 1:
        return maps_fn(x)
    m = _per_turn(maps_fn(_turned_batch(x, turns)), len(turns))
    return sum(rotate_vectors(rot90(m[i], -k), -k, dim=2) for i, k in enumerate(turns)) / len(turns)


def ensemble_logits(logits_fn, x: torch.Tensor, rotations: int) -> torch.Tensor:
    """``logits_fn`` (images -> heatmap logits (N, K, [D,] H, W)) over the turned crops: the log of the
    averaged softmax distributions (a softmax of the result gives that average)."""
    turns = quarter_turns(rotations)
    if len(turns) == 1:
        return logits_fn(x)
    h = logits_fn(_turned_batch(x, turns))
    logp = _per_turn(torch.log_softmax(h.flatten(2), -1).reshape(h.shape), len(turns))
    back = torch.stack([rot90(logp[i], -k) for i, k in enumerate(turns)], 0)
    return torch.logsumexp(back, 0) - float(torch.log(torch.tensor(float(len(turns)))))
