"""Test-time ensembles of turned and mirrored crops (beyond the papers).

A network sees several *views* of its crop in one batch; each view's output
is mapped back to the crop and the results are averaged:

* quarter turns, for networks trained with in-plane rotations over +-180
  degrees (the hand's, :data:`~trt_tracker.data.samples.HAND_AUGMENT`): 0 and
  180 degrees (``rotations=2``) or every quarter turn (``rotations=4``);
* the mirror image with left and right joints swapped (``flip``), for
  networks trained with horizontal flips (the body's).

Both are exact on the pixel grid: pixel centres sit at integers, and the
crop's centre ``(S - 1) / 2`` maps to the map's centre ``(H - 1) / 2``
(:mod:`trt_tracker.camera`), so nothing is resampled.

* relation networks: each view's relations pooled at its view of the related
  joints and mapped back, then averaged; Eq. 7's pooling is linear, so this
  is pooling the averaged mapped-back maps, without moving a map;
* integral pose networks: each view's joints mapped back and averaged, which
  is the soft-argmax of the averaged heatmap distributions (the soft-argmax is
  an expectation), without moving a heatmap; the per-joint heatmap confidence
  is the mean of the views'.

Views are written with Gather (constant indices), Transpose, Mul and Add, so
the exported graph stays within TensorRT's parser.  A quarter turn ``k`` is
NumPy's ``np.rot90(x, k, axes=(-2, -1))``: counter-clockwise on screen; a
point ``(u, v)`` of a map of side ``H`` goes to ``(v, H - 1 - u)``.  The
mirror sends ``(u, v)`` to ``(H - 1 - u, v)`` and joint ``k`` to
``perm[k]`` (:attr:`~trt_tracker.skeleton.Skeleton.flip_permutation`); a view
turns first, then mirrors.
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


def views(rotations: int, flip: bool) -> tuple[tuple[int, bool], ...]:
    """The (quarter turns, mirrored) views of an ensemble; the first is the crop itself."""
    return tuple((k, m) for m in ((False, True) if flip else (False,)) for k in quarter_turns(rotations))


def ensemble_setup(rotations: int, flip_perm) -> tuple[tuple[tuple[int, bool], ...], list[int] | None]:
    """A network's (views, left/right joint swap) for ``rotations`` and the skeleton's flip permutation (None:
    no mirrored views): what :func:`ensemble_relations` and :func:`ensemble_joints` take."""
    return views(rotations, flip_perm is not None), None if flip_perm is None else [int(i) for i in flip_perm]


def _affine_u(p: torch.Tensor, offset: float) -> torch.Tensor:
    """``u -> offset - u`` on the last axis (other entries kept), as a Mul and an Add of constants."""
    n = int(p.shape[-1])
    sign = torch.tensor([-1.0] + [1.0] * (n - 1), dtype=p.dtype, device=p.device)
    shift = torch.tensor([offset] + [0.0] * (n - 1), dtype=p.dtype, device=p.device)
    return p * sign + shift


def _swap_joints(p: torch.Tensor, perm) -> torch.Tensor:
    return p.index_select(1, torch.as_tensor(perm, dtype=torch.long, device=p.device))


def mirror_points(p: torch.Tensor, perm, size: int) -> torch.Tensor:
    """Joints (N, K, >=2) of a map of side ``size`` in the mirrored crop (an involution)."""
    return _affine_u(_swap_joints(p, perm), size - 1.0)


def mirror_vectors(v: torch.Tensor, perm) -> torch.Tensor:
    """Per-joint vectors (N, K, >=2) in the mirrored crop (an involution)."""
    return _affine_u(_swap_joints(v, perm), 0.0)


def view_image(x: torch.Tensor, k: int, mirror: bool) -> torch.Tensor:
    x = rot90(x, k)
    return _reverse(x, -1) if mirror else x


def _view_batch(x: torch.Tensor, vs) -> torch.Tensor:
    return torch.cat([view_image(x, k, m) for k, m in vs], 0)


def _per_view(y: torch.Tensor, n: int) -> torch.Tensor:
    """(n N, ...) outputs of a batch of views -> (n, N, ...) (a reshape, so an exported graph keeps a
    dynamic batch)."""
    return y.reshape(n, -1, *y.shape[1:])


def ensemble_relations(relations_fn, x: torch.Tensor, related: torch.Tensor, vs, size: int,
                       perm=None) -> torch.Tensor:
    """``relations_fn`` (images (N, C, S, S), related joints (N, K, 2) in map pixels of side ``size`` ->
    relation vectors (N, K, C)) averaged over the views ``vs`` (:func:`views`), each pooled at its view
    of the related joints and mapped back.  Eq. 7 is linear in the maps, so this equals pooling the
    maps mapped back and averaged, without moving any map.  ``perm``: the left/right joint swap (mirrored
    views)."""
    if len(vs) == 1 and vs[0] == (0, False):
        return relations_fn(x, related)

    def view_rel(k, m):
        r = rotate_points(related, k, size)
        return mirror_points(r, perm, size) if m else r

    r = _per_view(relations_fn(_view_batch(x, vs), torch.cat([view_rel(k, m) for k, m in vs], 0)), len(vs))
    back = [rotate_vectors(mirror_vectors(r[i], perm) if m else r[i], -k) for i, (k, m) in enumerate(vs)]
    return sum(back) / len(vs)


def ensemble_joints(joints_fn, x: torch.Tensor, vs, size: int, perm=None):
    """``joints_fn`` (images -> (joints (N, K, C) in map pixels of side ``size``, per-joint scores
    (N, K))) averaged over the views ``vs``, the joints mapped back.  For an integral pose network this
    is the soft-argmax of the averaged heatmap distributions (an expectation is linear), without moving
    any heatmap; the scores (heatmap confidence) are averaged."""
    if len(vs) == 1 and vs[0] == (0, False):
        return joints_fn(x)
    J, c = joints_fn(_view_batch(x, vs))
    J, c = _per_view(J, len(vs)), _per_view(c, len(vs))
    Js, cs = [], []
    for i, (k, m) in enumerate(vs):
        Ji, ci = J[i], c[i]
        if m:
            Ji, ci = mirror_points(Ji, perm, size), _swap_joints(ci, perm)
        Js.append(rotate_points(Ji, -k, size))
        cs.append(ci)
    return sum(Js) / len(vs), sum(cs) / len(vs)
