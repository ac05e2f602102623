"""Relation networks (seed 000 section 3): per-pixel relation maps with pixel weighting.

One architecture for both relations; only the input differs:

* spatial: one image -> bones ``B[k] = J[k] - J[parent(k)]``, related joint = the parent in frame t;
* temporal: two images stacked on the channel axis (``I[t-d]`` then ``I[t]``,
  both cropped with one box) -> displacements ``J[t,k] - J[t-d,k]``, related
  joint = the joint itself in frame t-d.

The head outputs K relation maps of C-vectors ``M`` (N, K, C, H, W).  A pixel
weighting map ``W = O(F, beta)`` decays with the distance ``F`` (heatmap
pixels) from the related joint.  Training minimises Eq. 6,
``sum_p W |M - M_gt|_1`` (divided by ``sum_p W`` so that the scale does not
depend on beta); inference pools Eq. 7, ``R = sum_p W M / sum_p W``.  The
related joints are an input of :meth:`RelationNet.forward`, so an exported
graph returns (N, K, C) relations, never full maps.

Comparisons of the paper, in this module too: the fully connected
:class:`RelationBaseline`; the pixel sampling modes ``full``, ``rand_half``,
``rand_one``, ``joint_one`` (Table 2); :class:`RelationNet` with
``shared_map=True`` is the SparseFlow baseline (one flow map for all joints,
read at each joint).  :class:`LateFusionTemporalNet` (beyond the paper)
computes per-frame features once, so each extra duration costs only a head;
:class:`CorrelationTemporalNet` (beyond the paper too) matches per-frame
features in a local cost volume at the maps' resolution (stride 4).

Units are those of :mod:`trt_tracker.models.pose`: ``u, v`` in heatmap
pixels, ``z`` normalised by half the metric cube.
"""
from __future__ import annotations

import torch
from torch import nn

from .backbone import ResNet
from .ensemble import ensemble_relations, ensemble_setup
from .heads import DeconvHead
from .pose import value_scale

DECAYS = ("binary", "gaussian", "linear", "exponential")
SAMPLINGS = ("decay", "full", "rand_half", "rand_one", "joint_one")
#: Added to the weights as a multiple of the bilinear weights at the related
#: joint, so ``sum W`` never vanishes (a binary window with beta below the
#: pixel spacing, or a joint outside the map) and beta -> 0 gives JointOne.
_FLOOR = 1e-4


def decay(F: torch.Tensor, kind: str, beta: float) -> torch.Tensor:
    """Table 4's decay functions ``O(F, beta)`` of a distance map ``F``."""
    if kind == "binary":
        return (F <= beta).to(F.dtype)
    if kind == "gaussian":
        return torch.exp(-beta * F * F)
    if kind == "linear":
        return torch.clamp(1 - beta * F, min=0.0)
    if kind == "exponential":
        return torch.exp(-beta * F)
    raise ValueError(f"unknown decay {kind!r}; choose one of {DECAYS}")


def _grids(H: int, W: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    xs = torch.arange(W, dtype=like.dtype, device=like.device)
    ys = torch.arange(H, dtype=like.dtype, device=like.device)
    return xs, ys


def bilinear_weights(related: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """(N, K, >=2) locations -> (N, K, H, W) bilinear interpolation weights (clamped to the map)."""
    xs, ys = _grids(H, W, related)
    u = related[..., 0].clamp(0, W - 1)
    v = related[..., 1].clamp(0, H - 1)
    wx = torch.clamp(1 - (xs - u[..., None]).abs(), min=0.0)   # (N, K, W)
    wy = torch.clamp(1 - (ys - v[..., None]).abs(), min=0.0)   # (N, K, H)
    return wy[..., :, None] * wx[..., None, :]


def weighting_map(related: torch.Tensor, H: int, W: int, kind: str = "binary", beta: float = 2.5,
                  sampling: str = "decay") -> torch.Tensor:
    """Pixel weighting maps (N, K, H, W) for related joints (N, K, >=2) in heatmap pixels.

    ``sampling="decay"`` is Eq. 4; the others are Table 2's strategies:
    ``full`` (every pixel), ``rand_half`` (a random half), ``rand_one`` (one
    random pixel), ``joint_one`` (the pixel at the related joint, bilinear).
    """
    if related.ndim != 3 or related.shape[-1] < 2:
        raise ValueError(f"related joints must be (N, K, 2 or 3), got {tuple(related.shape)}")
    N, K = related.shape[:2]
    bil = bilinear_weights(related, H, W)
    if sampling == "decay":
        xs, ys = _grids(H, W, related)
        dx = xs - related[..., 0, None]                     # (N, K, W)
        dy = ys - related[..., 1, None]                     # (N, K, H)
        F = torch.sqrt(dy[..., :, None] ** 2 + dx[..., None, :] ** 2)
        Wm = decay(F, kind, beta)
    elif sampling == "full":
        Wm = torch.ones(N, K, H, W, dtype=related.dtype, device=related.device)
    elif sampling == "rand_half":
        Wm = (torch.rand(N, K, H, W, device=related.device) < 0.5).to(related.dtype)
    elif sampling == "rand_one":
        idx = torch.randint(0, H * W, (N, K, 1), device=related.device)
        Wm = torch.zeros(N, K, H * W, dtype=related.dtype, device=related.device)
        Wm = Wm.scatter(2, idx, 1.0).reshape(N, K, H, W)
    elif sampling == "joint_one":
        return bil
    else:
        raise ValueError(f"unknown sampling {sampling!r}; choose one of {SAMPLINGS}")
    return Wm + _FLOOR * bil


def weighted_pool(maps: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 7: (N, K, C, H, W) maps and (N, K, H, W) weights -> (N, K, C) weighted averages."""
    num = (maps * weights[:, :, None]).sum((3, 4))
    return num / weights.sum((2, 3))[..., None]


def weighted_l1(maps: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 6 per joint, divided by ``sum W``: maps (N, K, C, H, W), target (N, K, C) -> scalar mean."""
    err = (maps - target[..., None, None]).abs().sum(2)            # (N, K, H, W), L1 over C
    per_joint = (weights * err).sum((2, 3)) / weights.sum((2, 3))
    return per_joint.mean()


class PooledRelation:
    """Eq. 6 and Eq. 7 over ``self.maps(x)`` (N, K, C, H, W), for any module with ``decay_kind``,
    ``beta``, ``sampling`` and a ``scale`` buffer: what every per-pixel relation network shares."""

    # the test-time ensemble of forward (models.ensemble): its views and the left/right joint swap of
    # mirrored ones; RelationNet sets them
    views, flip_perm = ((0, False),), None
    # displacement_z="joint" (ModelConfig): the maps give each joint's own change of depth and pooling
    # subtracts the root's (this index), so the output is the root-relative displacement; None: as the maps say
    z_root = None

    def _init_pooling(self, decay_kind: str, beta: float, sampling: str, heatmap_size: int, dims: int) -> None:
        """Check and set the pixel weighting, and the ``scale`` buffer (maps predict relation / scale,
        seed 002's normalisation inside the network); call after ``nn.Module.__init__``."""
        if decay_kind not in DECAYS:
            raise ValueError(f"unknown decay {decay_kind!r}; choose one of {DECAYS}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"unknown sampling {sampling!r}; choose one of {SAMPLINGS}")
        self.decay_kind, self.beta, self.sampling = decay_kind, float(beta), sampling
        self.scale_size = int(heatmap_size)   # the maps' side (turning related joints needs it)
        self.register_buffer("scale", value_scale(heatmap_size, dims), persistent=False)

    def weights(self, related: torch.Tensor, H: int, W: int) -> torch.Tensor:
        return weighting_map(related, H, W, self.decay_kind, self.beta, self.sampling)

    def _as_maps(self, h: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """Raw head output (N, k*C, H, W) -> relation maps (N, k, C, H, W) in relation units (k: K by default)."""
        N, _, H, W = h.shape
        return h.reshape(N, self.K if k is None else k, self.C, H, W) * self.scale[:, None, None]

    def pool(self, m: torch.Tensor, related: torch.Tensor) -> torch.Tensor:
        """Eq. 7: the maps (N, K, C, H, W) averaged with the pixel weighting around ``related`` -> (N, K, C);
        with :attr:`z_root` set, the root's pooled z subtracted from every joint's."""
        out = weighted_pool(m, self.weights(related, m.shape[-2], m.shape[-1]))
        if self.z_root is None:
            return out
        r = self.z_root                        # (u, v, z): only z is relative to the root
        return torch.cat([out[..., :2], out[..., 2:] - out[:, r : r + 1, 2:]], -1)

    def forward(self, x: torch.Tensor, related: torch.Tensor) -> torch.Tensor:
        """Eq. 7 at the related joints; with ensemble views, averaged over them
        (:func:`~trt_tracker.models.ensemble.ensemble_relations`; the loss takes one pass)."""
        return ensemble_relations(self._pooled, x, related, self.views, self.scale_size, self.flip_perm)

    def _pooled(self, x: torch.Tensor, related: torch.Tensor) -> torch.Tensor:
        return self.pool(self.maps(x), related)

    def loss(self, x: torch.Tensor, related: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._maps_loss(self.maps(x), related, target)

    def loss_and_pool(self, x: torch.Tensor, related: torch.Tensor, target: torch.Tensor,
                      pool_at: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`loss` and, from the same maps (one pass), the relations pooled at other related joints
        ``pool_at`` (N, K, 2): e.g. a pose network's, where a tracker pools them."""
        m = self.maps(x)
        return self._maps_loss(m, related, target), self.pool(m, pool_at)

    def _maps_loss(self, m: torch.Tensor, related: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Eq. 6 over maps (N, K, C, H, W), in the maps' normalised units."""
        w = self.weights(related, m.shape[-2], m.shape[-1])
        return weighted_l1(m / self.scale[:, None, None], target / self.scale, w)


class RelationNet(PooledRelation, nn.Module):
    """Per-pixel relation regression with pixel weighting (spatial or early-fusion temporal).

    ``forward(image, related) -> (N, K, C)`` pools the maps at the related
    joints (Eq. 7); ``maps(image)`` gives the raw (N, K, C, H, W) maps.
    ``shared_map=True`` makes it the SparseFlow baseline: one C-channel map
    for every joint, read with each joint's own weighting.
    """

    def __init__(self, backbone: ResNet, num_joints: int, dims: int = 3, head_channels: int = 256,
                 n_deconv: int = 3, heatmap_size: int = 64, decay_kind: str = "binary", beta: float = 2.5,
                 sampling: str = "decay", shared_map: bool = False, rotations: int = 1, flip_perm=None):
        super().__init__()
        self._init_pooling(decay_kind, beta, sampling, heatmap_size, dims)
        self.views, self.flip_perm = ensemble_setup(rotations, flip_perm)
        self.backbone = backbone
        self.K, self.C = num_joints, dims
        self.shared_map = shared_map
        self.head = DeconvHead(backbone.out_channels, dims * (1 if shared_map else num_joints), head_channels,
                               n_deconv)

    def maps_from_features(self, f: torch.Tensor) -> torch.Tensor:
        m = self._as_maps(self.head(f), 1 if self.shared_map else None)
        return m.expand(-1, self.K, -1, -1, -1) if self.shared_map else m

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps_from_features(self.backbone(x))


class PairRelation(PooledRelation):
    """A temporal relation network whose frames are encoded separately, so a tracker can cache them:
    ``features(frame)`` once per frame, ``maps_from_pair_features(f_prev, f_cur)`` per pair.
    ``forward``/``maps`` take the stacked pair ``[I(t-d), I(t)]`` of the early-fusion network."""

    frame_channels: int

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        c = self.frame_channels
        if x.ndim != 4 or x.shape[1] != 2 * c:
            raise ValueError(f"expected a stacked pair (N, {2 * c}, H, W), got {tuple(x.shape)}")
        n = x.shape[0]
        f = self.features(torch.cat([x[:, :c], x[:, c:]], 0))   # both frames in one batch
        return self.maps_from_pair_features(f[:n], f[n:])

    def forward_features(self, f_prev: torch.Tensor, f_cur: torch.Tensor, related: torch.Tensor) -> torch.Tensor:
        return self.pool(self.maps_from_pair_features(f_prev, f_cur), related)


class LateFusionTemporalNet(PairRelation, RelationNet):
    """Temporal relations from per-frame features computed once and cached.

    The backbone sees one frame; the head sees ``[f(t-d), f(t)]`` concatenated
    and fused by a 1x1 convolution.  In a tracker each frame's features are
    computed once, so |D| durations cost |D| heads and no extra backbones.
    ``forward`` takes the same stacked pair as the early-fusion network.
    """

    def __init__(self, backbone: ResNet, num_joints: int, dims: int = 3, head_channels: int = 256,
                 n_deconv: int = 3, heatmap_size: int = 64, decay_kind: str = "binary", beta: float = 2.5,
                 sampling: str = "decay"):
        super().__init__(backbone, num_joints, dims, head_channels, n_deconv, heatmap_size, decay_kind, beta,
                         sampling)
        c = backbone.out_channels
        self.fuse = nn.Sequential(nn.Conv2d(2 * c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.frame_channels = backbone.cfg.in_channels

    def features(self, frame: torch.Tensor) -> torch.Tensor:
        """Per-frame features (N, C_b, h, w) to cache."""
        return self.backbone(frame)

    def maps_from_pair_features(self, f_prev: torch.Tensor, f_cur: torch.Tensor) -> torch.Tensor:
        return self.maps_from_features(self.fuse(torch.cat([f_prev, f_cur], 1)))


def correlation(a: torch.Tensor, b: torch.Tensor, radius: int) -> torch.Tensor:
    """Local cost volume: (N, c, H, W) x2 -> (N, (2r+1)^2, H, W), channel ``(dy + r)(2r+1) + dx + r``
    holding ``mean_c a[:, :, y, x] * b[:, :, y + dy, x + dx]`` (zero outside ``b``).

    Two forms, tested equal to each other and to a NumPy loop: training
    (autograd on) takes :func:`correlation_shifts`, whose backward is about
    2.5x cheaper in PyTorch on a CPU; inference and ONNX export take
    :func:`correlation_matmul`, the form ONNX Runtime and TensorRT run fast.
    """
    if radius < 0:
        raise ValueError(f"correlation radius must be >= 0, got {radius}")
    if torch.is_grad_enabled() and not torch.onnx.is_in_onnx_export():
        return correlation_shifts(a, b, radius)
    return correlation_matmul(a, b, radius)


def correlation_shifts(a: torch.Tensor, b: torch.Tensor, radius: int) -> torch.Tensor:
    """:func:`correlation` as one channel mean per shift (the training form)."""
    H, W = a.shape[-2:]
    r = radius
    bp = nn.functional.pad(b, (r, r, r, r))
    return torch.stack([(a * bp[:, :, dy:dy + H, dx:dx + W]).mean(1)
                        for dy in range(2 * r + 1) for dx in range(2 * r + 1)], 1)


def correlation_matmul(a: torch.Tensor, b: torch.Tensor, radius: int) -> torch.Tensor:
    """:func:`correlation` for inference and export.

    Channels-last shifted slices of a padded ``b``, one row of shifts at a
    time, with the channel mean as a MatMul: in ONNX only Pad, Transpose,
    Slice, Unsqueeze, Concat, Mul and MatMul (all in TensorRT's parser), and
    about 3x faster in ONNX Runtime than a ReduceMean per shift.
    """
    H, W = a.shape[-2:]
    c, r = a.shape[1], radius
    mean = torch.full((c, 1), 1.0 / c, dtype=a.dtype, device=a.device)
    at = a.permute(0, 2, 3, 1)[:, :, :, None, :]                               # (N, H, W, 1, c)
    bp = nn.functional.pad(b, (r, r, r, r)).permute(0, 2, 3, 1)                # (N, H+2r, W+2r, c)
    bx = torch.stack([bp[:, :, dx:dx + W] for dx in range(2 * r + 1)], 3)      # (N, H+2r, W, 2r+1, c)
    rows = [torch.matmul(at * bx[:, dy:dy + H], mean)[..., 0] for dy in range(2 * r + 1)]
    return torch.cat(rows, 3).permute(0, 3, 1, 2)


def _cbr(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CorrelationTemporalNet(PairRelation, nn.Module):
    """Temporal relations from a local cost volume (beyond the papers; FlowNetC-like matching).

    A shallow per-frame encoder (stride 4, so its grid is the relation maps'
    grid) runs once per frame; the pair head correlates ``f(t-d)`` with
    ``f(t)`` over displacements up to ``radius`` cells (4 input pixels each),
    then dilated 3x3 convolutions turn ``[cost volume, f(t-d), f(t)]`` into
    the K relation maps pooled by Eq. 6/7 like every relation network here.
    Matching is what the early-fusion network has to discover from stacked
    pixels; given to it explicitly, motion is learnt in a few hundred steps
    where the stacked-input network of the same budget predicts zero motion.
    ``forward`` takes the stacked pair of the early-fusion network;
    :meth:`features` and :meth:`forward_features` let a tracker cache frames.
    """

    def __init__(self, frame_channels: int, num_joints: int, dims: int = 3, channels: int = 48,
                 head_channels: int = 64, radius: int = 4, heatmap_size: int = 32, decay_kind: str = "binary",
                 beta: float = 2.5, sampling: str = "decay"):
        super().__init__()
        self._init_pooling(decay_kind, beta, sampling, heatmap_size, dims)
        self.K, self.C, self.radius = num_joints, dims, int(radius)
        self.frame_channels = frame_channels
        half = max(8, channels // 2)
        self.encoder = nn.Sequential(_cbr(frame_channels, half, 2), _cbr(half, channels, 2), _cbr(channels, channels),
                                     _cbr(channels, channels))
        n_cost = (2 * self.radius + 1) ** 2
        self.head = nn.Sequential(nn.Conv2d(n_cost + 2 * channels, head_channels, 1, bias=False),
                                  nn.BatchNorm2d(head_channels), nn.ReLU(inplace=True),
                                  _cbr(head_channels, head_channels), _cbr(head_channels, head_channels, dilation=2),
                                  _cbr(head_channels, head_channels, dilation=4))
        self.final = nn.Conv2d(head_channels, num_joints * dims, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    def features(self, frame: torch.Tensor) -> torch.Tensor:
        """Per-frame features (N, channels, S/4, S/4), unit length per pixel, to cache."""
        f = self.encoder(frame)
        return f * torch.rsqrt((f * f).mean(1, keepdim=True) + 1e-6)

    def maps_from_pair_features(self, f_prev: torch.Tensor, f_cur: torch.Tensor) -> torch.Tensor:
        h = self.head(torch.cat([correlation(f_prev, f_cur, self.radius), f_prev, f_cur], 1))
        return self._as_maps(self.final(h))


class RelationBaseline(nn.Module):
    """Seed 000 section 3.1: backbone -> average pool -> FC to K x C relations (ignores ``related``)."""

    def __init__(self, backbone: ResNet, num_joints: int, dims: int = 3, heatmap_size: int = 64):
        super().__init__()
        self.backbone = backbone
        self.K, self.C = num_joints, dims
        self.fc = nn.Linear(backbone.out_channels, num_joints * dims)
        nn.init.normal_(self.fc.weight, std=0.001)
        nn.init.zeros_(self.fc.bias)
        self.register_buffer("scale", value_scale(heatmap_size, dims), persistent=False)

    def forward(self, x: torch.Tensor, related: torch.Tensor | None = None) -> torch.Tensor:
        f = self.backbone(x).mean((2, 3))
        return self.fc(f).reshape(-1, self.K, self.C) * self.scale

    def loss(self, x: torch.Tensor, related: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((self.forward(x) - target) / self.scale).abs().sum(-1).mean()
