"""Networks of :mod:`trt_tracker.models`: shapes, gradients, pooling maths against slow loops, overfitting.

Every network is tiny (ResNet-10 at width 0.25, 32-64 px inputs) so the file runs in seconds on a CPU.
"""
from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
import torch

from trt_tracker.models import (DECAYS, CorrelationTemporalNet, IntegralPoseNet, LateFusionTemporalNet, ModelConfig,
                                RegressionPoseNet, RelationBaseline, RelationNet, ResNet, ResNetConfig, build_model,
                                correlation, soft_argmax_2d, soft_argmax_3d, weighted_l1, weighted_pool,
                                weighting_map)
from trt_tracker.models.relation import _FLOOR
from trt_tracker.train import Objective, TrainConfig, TrainForward

TINY = dict(depth=10, width=0.25, input_size=64, head_channels=16, depth_bins=8)


def tiny(**kw) -> ModelConfig:
    return ModelConfig(**{**TINY, **kw})


def random_batch(cfg: ModelConfig, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """A synthetic training batch in the network frame (u, v in heatmap pixels, z in [-1, 1])."""
    g = torch.Generator().manual_seed(seed)
    K, H, S = cfg.K, cfg.heatmap_size, cfg.input_size

    def pts():
        uv = torch.rand(n, K, 2, generator=g) * (H - 1)
        z = torch.rand(n, K, 1, generator=g) * 2 - 1
        return torch.cat([uv, z], -1)

    J = pts()
    B = torch.randn(n, K, 3, generator=g) * torch.tensor([H / 8, H / 8, 0.2])
    B[:, 0] = 0
    return {"image": torch.randn(n, cfg.in_channels, S, S, generator=g), "joints": J, "bones": B,
            "related": pts()[..., :2], "target": torch.randn(n, K, 3, generator=g) * torch.tensor([1.0, 1.0, 0.1])}


# Every network kind build_model makes: (id, config overrides).
NETWORKS = [
    ("pose-integral-3d", dict(task="pose", pose_head="integral")),
    ("pose-integral-2d", dict(task="pose", pose_head="integral", dims=2)),
    ("pose-joints", dict(task="pose", pose_head="joints")),
    ("pose-bones", dict(task="pose", pose_head="bones")),
    ("pose-bones-2d", dict(task="pose", pose_head="bones", dims=2)),
    ("spatial-maps", dict(task="spatial", arch="maps")),
    ("spatial-fc", dict(task="spatial", arch="fc")),
    ("spatial-sparseflow", dict(task="spatial", arch="sparseflow")),
    ("temporal-early-maps", dict(task="temporal", arch="maps")),
    ("temporal-early-fc", dict(task="temporal", arch="fc")),
    ("temporal-early-sparseflow", dict(task="temporal", arch="sparseflow")),
    ("temporal-late-maps", dict(task="temporal", arch="maps", fusion="late")),
    ("temporal-corr-maps", dict(task="temporal", arch="maps", fusion="corr", corr_radius=2)),
    ("temporal-maps-2d", dict(task="temporal", arch="maps", dims=2)),
]
MODALITIES = [("rgb", dict(modality="rgb", skeleton="BODY17")),
              ("depth", dict(modality="depth", skeleton="HAND21", input_size=32))]
EXPECTED_CLASS = {"integral": IntegralPoseNet, "joints": RegressionPoseNet, "bones": RegressionPoseNet,
                  "maps": RelationNet, "fc": RelationBaseline, "sparseflow": RelationNet}


def _cases():
    return [pytest.param({**kw, **mkw}, id=f"{nid}-{mid}")
            for (nid, kw), (mid, mkw) in itertools.product(NETWORKS, MODALITIES)]


def _predict(net, cfg, batch):
    return net(batch["image"]) if cfg.task == "pose" else net(batch["image"], batch["related"])


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("kw", _cases())
def test_network_output_shapes(kw):
    torch.manual_seed(0)
    cfg = tiny(**kw)
    net = build_model(cfg).eval()
    if cfg.task == "pose":
        assert isinstance(net, EXPECTED_CLASS[cfg.pose_head])
    elif cfg.fusion == "late":
        assert isinstance(net, LateFusionTemporalNet)
    elif cfg.fusion == "corr":
        assert isinstance(net, CorrelationTemporalNet)
        assert net.encoder[0][0].in_channels == cfg.frame_channels
    else:
        assert type(net) is EXPECTED_CLASS[cfg.arch]
    if cfg.fusion != "corr":
        assert net.backbone.cfg.in_channels == (cfg.frame_channels if cfg.fusion == "late" else cfg.in_channels)
    batch = random_batch(cfg, n=2)
    with torch.no_grad():
        out = _predict(net, cfg, batch)
    assert out.shape == (2, cfg.K, cfg.dims)
    assert torch.isfinite(out).all()
    if isinstance(net, (RelationNet, CorrelationTemporalNet)):
        with torch.no_grad():
            maps = net.maps(batch["image"])
        H = cfg.heatmap_size
        assert maps.shape == (2, cfg.K, cfg.dims, H, H)
        if cfg.arch == "sparseflow":   # one flow map shared by every joint
            assert torch.equal(maps[:, 0], maps[:, -1])


def test_integral_logits_shapes():
    cfg = tiny(task="pose")
    net = build_model(cfg).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert net.logits(x).shape == (1, cfg.K, cfg.depth_bins, cfg.heatmap_size, cfg.heatmap_size)
        net2 = build_model(cfg.replace(dims=2)).eval()
        assert net2.logits(x).shape == (1, cfg.K, cfg.heatmap_size, cfg.heatmap_size)
    assert net.stride == cfg.input_size // cfg.heatmap_size


@pytest.mark.parametrize("fusion", ["late", "corr"])
def test_late_fusion_rejects_unstacked_input(fusion):
    net = build_model(tiny(task="temporal", fusion=fusion)).eval()
    with pytest.raises(ValueError, match="stacked pair"):
        net.maps(torch.zeros(1, 3, 64, 64))


# --------------------------------------------------------------- gradients
def _final_layers(net):
    if isinstance(net, CorrelationTemporalNet):
        return net.encoder[0][0].weight, net.final.weight
    first = net.backbone.stem[0].weight
    last = net.fc.weight if hasattr(net, "fc") else net.head.final.weight
    return first, last


@pytest.mark.parametrize("kw", _cases())
def test_training_loss_backpropagates(kw):
    torch.manual_seed(0)
    cfg = tiny(**kw)
    net = build_model(cfg).train()
    objective = Objective(TrainConfig(name="t", model=cfg))
    loss = objective.loss(TrainForward(net), random_batch(cfg, n=2))
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    for p in _final_layers(net):
        assert p.grad is not None
        assert torch.isfinite(p.grad).all()
        assert p.grad.abs().max() > 0


# ------------------------------------------------------------- soft-argmax
def _softmax_expectation_2d(logits: np.ndarray) -> np.ndarray:
    N, K, H, W = logits.shape
    out = np.zeros((N, K, 2))
    for n in range(N):
        for k in range(K):
            m = max(logits[n, k, y, x] for y in range(H) for x in range(W))
            Z = su = sv = 0.0
            for y in range(H):
                for x in range(W):
                    e = math.exp(logits[n, k, y, x] - m)
                    Z += e
                    su += e * x
                    sv += e * y
            out[n, k] = su / Z, sv / Z
    return out


def _softmax_expectation_3d(logits: np.ndarray) -> np.ndarray:
    N, K, D, H, W = logits.shape
    out = np.zeros((N, K, 3))
    for n in range(N):
        for k in range(K):
            m = logits[n, k].max()
            Z = su = sv = sz = 0.0
            for d in range(D):
                for y in range(H):
                    for x in range(W):
                        e = math.exp(logits[n, k, d, y, x] - m)
                        Z += e
                        su += e * x
                        sv += e * y
                        sz += e * ((d + 0.5) / D * 2 - 1)
            out[n, k] = su / Z, sv / Z, sz / Z
    return out


def test_soft_argmax_2d_matches_loops(rng):
    logits = rng.normal(0, 2, (2, 3, 5, 7))
    got = soft_argmax_2d(torch.tensor(logits, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, _softmax_expectation_2d(logits), rtol=0, atol=1e-9)


def test_soft_argmax_3d_matches_loops(rng):
    logits = rng.normal(0, 2, (2, 3, 4, 5, 6))
    got = soft_argmax_3d(torch.tensor(logits, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, _softmax_expectation_3d(logits), rtol=0, atol=1e-9)


def test_soft_argmax_peaked_returns_cell(rng):
    D, H, W = 4, 5, 6
    logits = torch.tensor(rng.normal(0, 1, (1, 2, D, H, W)))
    cells = [(1, 3, 2), (3, 0, 5)]          # (d, y, x) per joint
    for k, (d, y, x) in enumerate(cells):
        logits[0, k, d, y, x] += 50
    want = [[x, y, (d + 0.5) / D * 2 - 1] for d, y, x in cells]
    np.testing.assert_allclose(soft_argmax_3d(logits)[0].numpy(), want, atol=1e-12)
    logits2 = torch.tensor(rng.normal(0, 1, (1, 2, H, W)))
    logits2[0, 0, 2, 4] += 50
    logits2[0, 1, 4, 0] += 50
    np.testing.assert_allclose(soft_argmax_2d(logits2)[0].numpy(), [[4, 2], [0, 4]], atol=1e-12)


def test_soft_argmax_rejects_wrong_rank():
    with pytest.raises(ValueError, match="N, K, H, W"):
        soft_argmax_2d(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="N, K, D, H, W"):
        soft_argmax_3d(torch.zeros(1, 2, 3, 4))


# --------------------------------------------------------- pixel weighting
def _bilinear_loops(u: float, v: float, H: int, W: int) -> np.ndarray:
    u, v = min(max(u, 0), W - 1), min(max(v, 0), H - 1)
    out = np.zeros((H, W))
    for y in range(H):
        for x in range(W):
            out[y, x] = max(0.0, 1 - abs(x - u)) * max(0.0, 1 - abs(y - v))
    return out


def _decay_loops(kind: str, beta: float, u: float, v: float, H: int, W: int) -> np.ndarray:
    """Seed 000 Table 4 pixel by pixel, plus the documented floor ``_FLOOR * bilinear``."""
    out = np.zeros((H, W))
    for y in range(H):
        for x in range(W):
            F = math.sqrt((x - u) ** 2 + (y - v) ** 2)
            out[y, x] = {"binary": float(F <= beta), "gaussian": math.exp(-beta * F * F),
                         "linear": max(0.0, 1 - beta * F), "exponential": math.exp(-beta * F)}[kind]
    return out + _FLOOR * _bilinear_loops(u, v, H, W)


def _related(rng, N, K, H, W):
    # Inside the map, on the border, and one outside (clamped by the bilinear floor).
    r = rng.uniform(0, 1, (N, K, 2)) * [W - 1, H - 1]
    r[0, 0] = [0.0, H - 1]
    r[-1, -1] = [W + 1.7, -2.2]
    return r


@pytest.mark.parametrize("kind", DECAYS)
@pytest.mark.parametrize("beta", [0.3, 2.5])
def test_weighting_map_matches_table4(rng, kind, beta):
    N, K, H, W = 2, 3, 6, 7
    rel = _related(rng, N, K, H, W)
    got = weighting_map(torch.tensor(rel), H, W, kind, beta).numpy()
    assert got.shape == (N, K, H, W)
    for n, k in itertools.product(range(N), range(K)):
        want = _decay_loops(kind, beta, rel[n, k, 0], rel[n, k, 1], H, W)
        np.testing.assert_allclose(got[n, k], want, rtol=1e-12, atol=1e-12)


def test_weighting_map_accepts_3d_related(rng):
    rel = torch.tensor(_related(rng, 1, 2, 5, 5))
    rel3 = torch.cat([rel, torch.ones(1, 2, 1)], -1)
    assert torch.equal(weighting_map(rel, 5, 5, "gaussian", 0.7), weighting_map(rel3, 5, 5, "gaussian", 0.7))
    with pytest.raises(ValueError, match="related joints"):
        weighting_map(torch.zeros(2, 3), 5, 5)
    with pytest.raises(ValueError, match="unknown sampling"):
        weighting_map(rel, 5, 5, sampling="nope")
    with pytest.raises(ValueError, match="unknown decay"):
        weighting_map(rel, 5, 5, kind="nope")


def _bilinear_interp(m: np.ndarray, u: float, v: float) -> np.ndarray:
    """Bilinear interpolation of a (C, H, W) map at (u, v), clamped to the map."""
    C, H, W = m.shape
    u, v = min(max(u, 0), W - 1), min(max(v, 0), H - 1)
    x0, y0 = min(int(math.floor(u)), W - 2), min(int(math.floor(v)), H - 2)
    a, b = u - x0, v - y0
    return ((1 - a) * (1 - b) * m[:, y0, x0] + a * (1 - b) * m[:, y0, x0 + 1]
            + (1 - a) * b * m[:, y0 + 1, x0] + a * b * m[:, y0 + 1, x0 + 1])


def test_joint_one_is_bilinear_interpolation(rng):
    N, K, C, H, W = 2, 3, 3, 6, 7
    rel = _related(rng, N, K, H, W)
    w = weighting_map(torch.tensor(rel), H, W, sampling="joint_one")
    for n, k in itertools.product(range(N), range(K)):
        np.testing.assert_allclose(w[n, k].numpy(), _bilinear_loops(*rel[n, k], H, W), atol=1e-12)
    np.testing.assert_allclose(w.sum((2, 3)).numpy(), 1.0, atol=1e-12)
    maps = rng.normal(size=(N, K, C, H, W))
    pooled = weighted_pool(torch.tensor(maps), w).numpy()
    for n, k in itertools.product(range(N), range(K)):
        np.testing.assert_allclose(pooled[n, k], _bilinear_interp(maps[n, k], *rel[n, k]), atol=1e-12)


def test_full_pooling_is_the_mean(rng):
    N, K, C, H, W = 2, 3, 3, 6, 7
    rel = torch.tensor(_related(rng, N, K, H, W))
    maps = torch.tensor(rng.normal(size=(N, K, C, H, W)))
    w = weighting_map(rel, H, W, sampling="full")
    assert w.min() >= 1 and w.max() <= 1 + _FLOOR
    # The floor moves the result by at most _FLOOR / (H W) times the map's range.
    torch.testing.assert_close(weighted_pool(maps, w), maps.mean((3, 4)), rtol=0, atol=1e-5)


def test_random_samplings(rng):
    torch.manual_seed(0)
    N, K, H, W = 4, 5, 16, 16
    rel = torch.tensor(_related(rng, N, K, H, W))
    one = weighting_map(rel, H, W, sampling="rand_one")
    assert ((one >= 1).sum((2, 3)) == 1).all()
    assert (one.sum((2, 3)) <= 1 + _FLOOR + 1e-12).all()
    half = weighting_map(rel, H, W, sampling="rand_half")
    frac = (half >= 1).double().mean((2, 3))
    assert frac.min() > 0.3 and frac.max() < 0.7          # 256 pixels per map: 0.5 +- 0.03 (sd)
    assert abs(float(frac.mean()) - 0.5) < 0.05


# ------------------------------------------------------- Eq. 6 and Eq. 7
def test_weighted_pool_matches_eq7_loops(rng):
    N, K, C, H, W = 2, 3, 2, 4, 5
    maps = rng.normal(size=(N, K, C, H, W))
    w = rng.uniform(0, 1, (N, K, H, W))
    got = weighted_pool(torch.tensor(maps), torch.tensor(w)).numpy()
    for n, k, c in itertools.product(range(N), range(K), range(C)):
        num = den = 0.0
        for y, x in itertools.product(range(H), range(W)):
            num += w[n, k, y, x] * maps[n, k, c, y, x]
            den += w[n, k, y, x]
        assert got[n, k, c] == pytest.approx(num / den, abs=1e-12)


def test_weighted_l1_matches_eq6_loops(rng):
    N, K, C, H, W = 2, 3, 3, 4, 5
    maps = rng.normal(size=(N, K, C, H, W))
    target = rng.normal(size=(N, K, C))
    w = rng.uniform(0, 1, (N, K, H, W))
    got = float(weighted_l1(torch.tensor(maps), torch.tensor(target), torch.tensor(w)))
    per_joint = []
    for n, k in itertools.product(range(N), range(K)):
        num = den = 0.0
        for y, x in itertools.product(range(H), range(W)):
            num += w[n, k, y, x] * sum(abs(maps[n, k, c, y, x] - target[n, k, c]) for c in range(C))
            den += w[n, k, y, x]
        per_joint.append(num / den)
    assert got == pytest.approx(sum(per_joint) / len(per_joint), abs=1e-12)


def test_relation_forward_pools_maps_and_loss_vanishes_on_constant_maps():
    cfg = tiny(task="spatial")
    net = build_model(cfg).eval()
    b = random_batch(cfg, n=1)
    with torch.no_grad():
        m = net.maps(b["image"])
        w = net.weights(b["related"], m.shape[-2], m.shape[-1])
        pooled = weighted_pool(m, w)
        assert torch.allclose(net(b["image"], b["related"]), pooled)
        const = pooled[..., None, None].expand_as(m)
        assert float(weighted_l1(const, pooled, w)) == pytest.approx(0, abs=1e-6)


# -------------------------------------------------- beta limits of RelationNet
def _with_sampling(net: RelationNet, kind: str, beta: float, sampling: str) -> RelationNet:
    net.decay_kind, net.beta, net.sampling = kind, float(beta), sampling
    return net


def test_binary_beta_limits():
    """binary, beta=1e6 == full pooling (tolerance 1e-6 absolute); binary, beta=0 == joint_one (1e-5).

    With beta -> inf every pixel weighs 1 (+ the same floor as ``full``).  With beta=0 only the floor
    ``_FLOOR * bilinear`` remains (plus weight 1 on a pixel the joint sits on exactly, where the bilinear
    weight is 1 too), which normalises to the bilinear weights of JointOne.
    """
    torch.manual_seed(0)
    cfg = tiny(task="spatial")
    # Train-mode BN normalises the (tiny at initialisation) deconvolution outputs, so the maps vary over
    # pixels; the maps are a deterministic function of the batch in either mode.
    net = build_model(cfg).train()
    torch.nn.init.normal_(net.head.final.weight, std=1.0)
    b = random_batch(cfg, n=2)
    b["related"][0, 0] = torch.tensor([3.0, 5.0])      # exactly on a pixel centre
    x, rel = b["image"], b["related"]
    with torch.no_grad():
        full = _with_sampling(net, "binary", 0, "full")(x, rel)
        wide = _with_sampling(net, "binary", 1e6, "decay")(x, rel)
        joint_one = _with_sampling(net, "binary", 0, "joint_one")(x, rel)
        narrow = _with_sampling(net, "binary", 0.0, "decay")(x, rel)
        mean = net.maps(x).mean((3, 4))
    torch.testing.assert_close(wide, full, rtol=0, atol=1e-6)
    torch.testing.assert_close(full, mean, rtol=0, atol=1e-5)
    torch.testing.assert_close(narrow, joint_one, rtol=0, atol=1e-5)
    assert not torch.allclose(full, joint_one, atol=1e-3)   # the two limits really differ


# ------------------------------------------------------------ late fusion
@pytest.mark.parametrize("fusion", ["late", "corr"])
def test_late_fusion_cached_features_equal_stacked_pair(fusion):
    torch.manual_seed(0)
    cfg = tiny(task="temporal", fusion=fusion)
    net = build_model(cfg)
    # Train-mode forwards so that the BN running statistics are no longer the identity.
    net.train()
    with torch.no_grad():
        for s in range(2):
            net.maps(random_batch(cfg, n=2, seed=s)["image"])
    net.eval()
    b = random_batch(cfg, n=3, seed=5)
    a_, b_ = b["image"][:, :3], b["image"][:, 3:]
    with torch.no_grad():
        stacked = net(b["image"], b["related"])
        cached = net.forward_features(net.features(a_), net.features(b_), b["related"])
    torch.testing.assert_close(cached, stacked, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ correlation
def _correlation_loops(a: np.ndarray, b: np.ndarray, r: int) -> np.ndarray:
    N, C, H, W = a.shape
    out = np.zeros((N, (2 * r + 1) ** 2, H, W))
    for n in range(N):
        for i, (dy, dx) in enumerate((dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)):
            for y in range(H):
                for x in range(W):
                    if 0 <= y + dy < H and 0 <= x + dx < W:
                        out[n, i, y, x] = np.mean(a[n, :, y, x] * b[n, :, y + dy, x + dx])
    return out


@pytest.mark.parametrize("r", [0, 1, 3])
def test_correlation_matches_loops(rng, r):
    """Both forms (training: shifts; inference/export: MatMul) equal the loops, gradients included."""
    from trt_tracker.models.relation import correlation_matmul, correlation_shifts

    a, b = rng.normal(size=(2, 5, 6, 7)), rng.normal(size=(2, 5, 6, 7))
    ta, tb = (torch.from_numpy(x).float().requires_grad_() for x in (a, b))
    ref = _correlation_loops(a, b, r)
    with torch.no_grad():
        np.testing.assert_allclose(correlation(ta, tb, r).numpy(), ref, atol=1e-5)
    grads = []
    for f in (correlation, correlation_shifts, correlation_matmul):
        out = f(ta, tb, r)
        np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-5)
        grads.append(torch.autograd.grad((out * out).sum(), (ta, tb)))
    for g in grads[1:]:
        for x, y in zip(grads[0], g):
            torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)


def test_correlation_peaks_at_the_shift(rng):
    """b is a shifted by (dy, dx) = (1, -2): the cost volume of unit-length features peaks there."""
    a = torch.nn.functional.normalize(torch.randn(1, 16, 12, 12), dim=1) * 4
    b = torch.roll(a, shifts=(1, -2), dims=(2, 3))
    c = correlation(a, b, 3)[0, :, 3:9, 3:9]           # away from the borders the roll wraps
    best = c.argmax(0)
    assert (best == (1 + 3) * 7 + (-2 + 3)).all()
    with pytest.raises(ValueError, match="radius"):
        correlation(a, b, -1)


# --------------------------------------------------------------- backbone
@pytest.mark.parametrize("kw, match", [
    (dict(depth=11), "depth must be one of"),
    (dict(width=0.0), "width multiplier"),
    (dict(width=4.5), "width multiplier"),
    (dict(in_channels=0), "in_channels must be positive"),
])
def test_resnet_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        ResNetConfig(**kw)


def test_resnet_rejects_wrong_channels():
    net = ResNet(ResNetConfig(10, 0.25, 3))
    with pytest.raises(ValueError, match=r"expected input \(N, 3, H, W\)"):
        net(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="expected input"):
        net(torch.zeros(3, 32, 32))


@pytest.mark.parametrize("depth", [10, 18, 50])
def test_resnet_output_stride_32(depth):
    net = ResNet(ResNetConfig(depth, 0.25, 2)).eval()
    with torch.no_grad():
        y = net(torch.zeros(1, 2, 64, 96))
    assert net.stride == 32
    assert y.shape == (1, net.out_channels, 2, 3)
    assert net.out_channels == net.stage_channels[-1]


# ------------------------------------------------------------ model config
def test_model_config_from_dict():
    cfg = tiny(task="temporal", fusion="late")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['bogus'\]"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize("kw, match", [
    (dict(task="segment"), "task='segment'"),
    (dict(arch="transformer"), "arch='transformer'"),
    (dict(fusion="middle"), "fusion='middle'"),
    (dict(pose_head="heatmap"), "pose_head"),
    (dict(modality="thermal"), "modality"),
    (dict(dims=4), "dims"),
    (dict(input_size=48), "multiple of 32"),
    (dict(task="spatial", fusion="late"), "temporal networks only"),
    (dict(task="pose", fusion="corr"), "temporal networks only"),
    (dict(task="temporal", fusion="corr", n_deconv=2), "n_deconv=3"),
    (dict(task="temporal", fusion="corr", corr_radius=-1), "corr_radius"),
    (dict(cube_mm=0.0), "cube_mm"),
    (dict(z_ref="camera"), "z_ref='camera'"),
    (dict(z_ref="centre", modality="rgb"), "needs depth input"),
])
def test_model_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kw)


@pytest.mark.parametrize("arch", [
    "sparseflow",
    "fc",
])
@pytest.mark.parametrize("fusion", ["late", "corr"])
def test_late_fusion_needs_maps(arch, fusion):
    with pytest.raises(ValueError, match="arch='maps' only"):
        build_model(tiny(task="temporal", fusion=fusion, arch=arch))


@pytest.mark.parametrize("input_size, n_deconv", [(32, 3), (64, 3), (128, 2), (256, 3), (96, 0)])
def test_heatmap_size(input_size, n_deconv):
    cfg = ModelConfig(input_size=input_size, n_deconv=n_deconv)
    assert cfg.heatmap_size == input_size // 32 * 2 ** n_deconv


def test_heatmap_size_is_the_network_output():
    cfg = tiny(task="spatial", n_deconv=2)
    with torch.no_grad():
        m = build_model(cfg).eval().maps(torch.zeros(1, 3, 64, 64))
    assert m.shape[-1] == cfg.heatmap_size == 8


# -------------------------------------------------------------- overfitting
def _temporal_set(n: int = 8) -> dict[str, torch.Tensor]:
    from trt_tracker.codec import PoseCodec
    from trt_tracker.data.body import make_body_sequence
    from trt_tracker.data.samples import no_augment, temporal_sample
    from trt_tracker.train import collate

    cfg = tiny(task="temporal")
    seq = make_body_sequence(3, 20)
    codec = PoseCodec(cfg.input_size, cfg.heatmap_size, cfg.cube_mm)
    r = np.random.default_rng(1)
    samples = []
    for _ in range(n):
        gap = int(r.integers(8, len(seq)))          # large gaps: displacements of a pixel or more
        samples.append(temporal_sample(seq, int(r.integers(gap, len(seq))), gap, codec, no_augment("rgb")))
    return collate(samples)


def _overfit(cfg: ModelConfig, batch: dict, max_steps: int, factor: float = 10.0) -> tuple[float, float, int]:
    torch.manual_seed(0)
    net = build_model(cfg).train()
    model = TrainForward(net)
    objective = Objective(TrainConfig(name="t", model=cfg))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = last = None
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        loss = objective.loss(model, batch)
        loss.backward()
        opt.step()
        last = float(loss.detach())
        first = last if first is None else first
        if last * factor <= first:
            break
    return first, last, step


@pytest.mark.parametrize("fusion", ["early", "corr"])
def test_temporal_relation_net_overfits_small_set(fusion):
    batch = _temporal_set(8)
    t0 = time.perf_counter()
    first, last, steps = _overfit(tiny(task="temporal", fusion=fusion), batch, max_steps=300)
    assert last * 10 <= first, f"loss {first:.4f} -> {last:.4f} after {steps} steps"
    assert time.perf_counter() - t0 < 60


def test_integral_pose_net_overfits_random_set():
    cfg = tiny(task="pose", input_size=32, depth_bins=8)
    g = torch.Generator().manual_seed(0)
    H = cfg.heatmap_size
    batch = {"image": torch.randn(4, 3, 32, 32, generator=g),
             "joints": torch.cat([torch.rand(4, cfg.K, 2, generator=g) * (H - 1) * 0.6 + 0.2 * (H - 1),
                                  torch.rand(4, cfg.K, 1, generator=g) - 0.5], -1)}
    first, last, steps = _overfit(cfg, batch, max_steps=300)
    assert last * 10 <= first, f"loss {first:.4f} -> {last:.4f} after {steps} steps"


def test_integral_3d_needs_depth_bins():
    with pytest.raises(ValueError, match="depth_bins"):
        ModelConfig(task="pose", pose_head="integral", dims=3, depth_bins=0)


def test_heatmap_confidence_is_the_mass_near_the_estimate():
    """1 for a peak where the joint is said to be, ~2 pi sigma^2 / (H W) for a flat map, and the 3D
    (depth-binned) logits give the confidence of their 2D marginal."""
    import math

    from trt_tracker.models.pose import heatmap_confidence, soft_argmax_2d

    H = W = 16
    peak = torch.full((1, 2, H, W), -1e4)
    peak[0, 0, 5, 7] = 0.0
    peak[0, 1, 9, 3] = 0.0
    uv = soft_argmax_2d(peak)
    np.testing.assert_allclose(heatmap_confidence(peak, uv).numpy(), 1.0, atol=1e-5)
    flat = torch.zeros((1, 1, H, W))
    c = float(heatmap_confidence(flat, soft_argmax_2d(flat)))
    assert 0.5 * 2 * math.pi / (H * W) < c < 2 * math.pi / (H * W)
    split = torch.full((1, 1, H, W), -1e4)
    split[0, 0, 2, 2] = split[0, 0, 13, 13] = 0.0           # two peaks: the estimate falls between them
    assert float(heatmap_confidence(split, soft_argmax_2d(split))) < 1e-3
    vol = peak[:, :, None].repeat(1, 1, 4, 1, 1)             # the same peak in every depth bin
    np.testing.assert_allclose(heatmap_confidence(vol, uv).numpy(), 1.0, atol=1e-5)
