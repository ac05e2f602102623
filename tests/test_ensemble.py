"""Test-time ensembles (:mod:`trt_tracker.models.ensemble`): turns and mirrors against NumPy, the
ensembled networks against a slow reference that moves crops and joints one view at a time (NumPy
for the mirror), the equivariance a full set of views gives, and the exported graph."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trt_tracker.models import ModelConfig, build_model
from trt_tracker.models.ensemble import (mirror_points, mirror_vectors, quarter_turns, rot90, rotate_points,
                                         rotate_vectors, view_image, views)
from trt_tracker.models.graphs import with_views
from trt_tracker.models.pose import soft_argmax_3d
from trt_tracker.skeleton import get_skeleton

HAND = dict(skeleton="HAND21", modality="depth", depth=10, width=0.25, input_size=64, head_channels=16, depth_bins=8)
BODY = {**HAND, "skeleton": "BODY17", "modality": "rgb"}


def hand(**kw) -> ModelConfig:
    return ModelConfig(**{**HAND, **kw})


def body(**kw) -> ModelConfig:
    return ModelConfig(**{**BODY, **kw})


def _inputs(cfg, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cfg.in_channels, cfg.input_size, cfg.input_size, generator=g)
    related = torch.rand(n, cfg.K, 2, generator=g) * (cfg.heatmap_size - 1)
    return x, related


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 3, 5])
def test_rot90_is_numpys(k):
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(rot90(x, k).numpy(), np.rot90(x.numpy(), k, axes=(-2, -1)))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rotate_points_follows_the_turned_pixel(k):
    """A one-hot map turned with rot90 has its pixel where rotate_points sends the point; vectors between
    two points turn like their difference."""
    H = 7
    rng = np.random.default_rng(k)
    for _ in range(5):
        u, v = rng.integers(0, H, 2)
        m = torch.zeros(1, H, H)
        m[0, v, u] = 1
        vv, uu = np.argwhere(rot90(m, k)[0].numpy())[0]
        got = rotate_points(torch.tensor([[float(u), float(v), 0.3]]), k, H)[0]
        np.testing.assert_allclose(got.numpy(), [uu, vv, 0.3], atol=1e-6)
    a, b = torch.rand(2, 4, 3) * (H - 1)
    np.testing.assert_allclose(rotate_points(b, k, H) - rotate_points(a, k, H), rotate_vectors(b - a, k), atol=1e-5)
    np.testing.assert_allclose(rotate_vectors(rotate_vectors(b, k), -k), b, atol=1e-6)


def test_mirror_matches_numpy_and_swaps_left_and_right():
    sk = get_skeleton("BODY17")
    perm, H = sk.flip_permutation, 9
    rng = np.random.default_rng(0)
    P = rng.random((2, sk.K, 3)) * (H - 1)
    want = P[:, perm].copy()
    want[..., 0] = (H - 1) - want[..., 0]
    np.testing.assert_allclose(mirror_points(torch.from_numpy(P), perm, H).numpy(), want)
    want[..., 0] -= H - 1
    np.testing.assert_allclose(mirror_vectors(torch.from_numpy(P), perm).numpy(), want)
    m = torch.zeros(1, H, H)
    m[0, 2, 3] = 1                                   # (u, v) = (3, 2)
    vv, uu = np.argwhere(view_image(m, 0, True)[0].numpy())[0]   # the pixel goes where mirror_points says
    assert (uu, vv) == (H - 1 - 3, 2)


def test_quarter_turns_reject_other_counts():
    assert quarter_turns(1) == (0,) and quarter_turns(2) == (0, 2) and quarter_turns(4) == (0, 1, 2, 3)
    assert views(2, True) == ((0, False), (2, False), (0, True), (2, True))
    with pytest.raises(ValueError, match="rotations must be one of"):
        quarter_turns(3)


def _build(cfg):
    """A network in eval mode with a random head (a fresh head's weights are near zero: flat maps)."""
    net = build_model(cfg).eval()
    for m in net.head.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.normal_(m.weight, std=0.3)
    return net


def _single_pass(cfg, ensembled):
    """The same weights, one pass."""
    return with_views(ensembled, cfg)[0]


@pytest.mark.parametrize("task,rotations", [("spatial", 4), ("spatial", 2), ("temporal", 4)])
@torch.no_grad()
def test_relation_ensemble_equals_turning_crops_one_at_a_time(task, rotations):
    """The slow reference: each turned crop through the one-pass network, pooled at the turned related
    joints, its relations turned back, averaged."""
    torch.manual_seed(0)
    cfg = hand(task=task, rotations=rotations)
    net = _build(cfg)
    one = _single_pass(cfg, net)
    x, related = _inputs(cfg)
    want = torch.stack([rotate_vectors(one(rot90(x, k), rotate_points(related, k, cfg.heatmap_size)), -k)
                        for k in quarter_turns(rotations)]).mean(0)
    np.testing.assert_allclose(net(x, related).numpy(), want.numpy(), atol=1e-5)
    # training takes one pass: the loss is the one-pass network's
    target = torch.randn(2, cfg.K, 3)
    assert torch.allclose(net.loss(x, related, target), one.loss(x, related, target))


def _np_mirror(a, perm, H=None):
    """NumPy reference: joints (H given) or vectors (N, K, C) seen in the mirrored crop."""
    out = np.array(a, np.float64)[:, perm]
    out[..., 0] = ((H - 1) if H is not None else 0.0) - out[..., 0]
    return out


@pytest.mark.parametrize("task", ["pose", "spatial", "temporal"])
@torch.no_grad()
def test_mirror_ensemble_equals_numpy_reference(task):
    """The crop mirrored with NumPy, the related joints mirrored and swapped, the output swapped back."""
    torch.manual_seed(0)
    cfg = body(task=task, flip=True)
    net = _build(cfg)
    one = _single_pass(cfg, net)
    x, related = _inputs(cfg)
    perm, H = get_skeleton("BODY17").flip_permutation, cfg.heatmap_size
    xm = torch.from_numpy(np.ascontiguousarray(x.numpy()[..., ::-1]))
    if task == "pose":
        want = (one(x).numpy() + _np_mirror(one(xm).numpy(), perm, H)) / 2
        got = net(x).numpy()
    else:
        rm = torch.from_numpy(_np_mirror(related.numpy(), perm, H).astype(np.float32))
        want = (one(x, related).numpy() + _np_mirror(one(xm, rm).numpy(), perm)) / 2
        got = net(x, related).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


@torch.no_grad()
def test_pose_ensemble_is_the_mean_of_the_turned_crops_joints():
    torch.manual_seed(0)
    cfg = hand(task="pose", rotations=4)
    net = _build(cfg)
    one = _single_pass(cfg, net)
    x, _ = _inputs(cfg)
    want = torch.stack([rotate_points(one(rot90(x, k)), -k, cfg.heatmap_size) for k in range(4)]).mean(0)
    np.testing.assert_allclose(net(x).numpy(), want.numpy(), atol=1e-4)
    # ... which is the soft-argmax of the turned-back heatmap distributions, averaged
    p = torch.stack([rot90(torch.softmax(one.logits(rot90(x, k)).flatten(2), -1).reshape(2, cfg.K, cfg.depth_bins,
                                                                                      16, 16), -k) for k in range(4)])
    np.testing.assert_allclose(net(x).numpy(), soft_argmax_3d(p.mean(0).log()).numpy(), atol=1e-4)
    J, conf = net.predict(x)
    want_conf = torch.stack([one.predict(rot90(x, k))[1] for k in range(4)]).mean(0)
    np.testing.assert_allclose(conf.numpy(), want_conf.numpy(), atol=1e-6)
    assert torch.equal(net.logits(x), one.logits(x))               # the training pass is one pass


@pytest.mark.parametrize("task", ["pose", "spatial"])
@pytest.mark.parametrize("rotations,flip", [(4, False), (1, True), (2, True)])
@torch.no_grad()
def test_full_view_sets_make_the_network_equivariant(task, rotations, flip):
    """Over a group of views (every quarter turn; a mirror; a half turn and a mirror) the ensemble answers
    a moved crop with the moved answer; one pass does not."""
    torch.manual_seed(1)
    cfg = body(task=task, rotations=rotations, flip=flip)
    net = _build(cfg)
    one = _single_pass(cfg, net)
    x, related = _inputs(cfg)
    H, perm = cfg.heatmap_size, get_skeleton("BODY17").flip_permutation
    k, m = (1, False) if rotations == 4 else (2 if rotations == 2 else 0, True)

    def moved_back(n):
        xv = rot90(x, k)
        xv = torch.flip(xv, (-1,)) if m else xv
        if task == "pose":
            out = n(xv)
            out = mirror_points(out, perm, H) if m else out
            return rotate_points(out, -k, H)
        rel = rotate_points(related, k, H)
        out = n(xv, mirror_points(rel, perm, H) if m else rel)
        return rotate_vectors(mirror_vectors(out, perm) if m else out, -k)

    np.testing.assert_allclose(moved_back(net).numpy(), net(*((x,) if task == "pose" else (x, related))).numpy(),
                               atol=1e-4)
    assert not np.allclose(moved_back(one).numpy(), one(*((x,) if task == "pose" else (x, related))).numpy(),
                           atol=1e-4)


@pytest.mark.parametrize("kw,match", [(dict(rotations=3), "rotations=3 is not one of"),
                                      (dict(task="temporal", fusion="corr", flip=True), "early fusion"),
                                      (dict(task="temporal", fusion="late", rotations=2), "early fusion"),
                                      (dict(task="spatial", arch="fc", rotations=4), "early fusion"),
                                      (dict(task="localiser", dims=2, rotations=4), "early fusion")])
def test_config_rejects_ensembles_it_cannot_build(kw, match):
    with pytest.raises(ValueError, match=match):
        hand(**kw)


def test_exported_frame_graph_matches_torch_and_stays_in_tensorrts_parser():
    """The frame graph with ensembled pose and spatial networks: ONNX Runtime equals PyTorch at batches 1
    and 3, and every operator is one TensorRT's parser takes (the turns are Gather and Transpose)."""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from trt_tracker.export import export_graph, parity_errors
    from trt_tracker.models.graphs import FrameGraph
    from trt_tracker.runtime.tensorrt_build import unsupported_ops
    from trt_tracker.skeleton import get_skeleton

    torch.manual_seed(0)
    pose_cfg = body(task="pose", rotations=2, flip=True)     # turns and mirrors
    graph = FrameGraph(build_model(pose_cfg), build_model(body(task="spatial", rotations=2, flip=True)),
                       list(get_skeleton("BODY17").parents))
    data = export_graph(graph, pose_cfg, "frame")
    assert unsupported_ops(data) == []
    assert "Gather" in {n.op_type for n in onnx.load_from_string(data).graph.node}
    errs = parity_errors(graph, data, pose_cfg, "frame")
    assert max(errs.values()) < 1e-4, errs


@pytest.mark.parametrize("name,sets,match", [("hand-lite-pose", ["model.flip=true"], "needs augment.flip=true"),
                                             ("body-lite-pose", ["model.flip=false", "model.rotations=2"],
                                              "turns crops by 180 degrees")])
def test_training_config_rejects_views_the_network_never_saw(name, sets, match):
    from trt_tracker.train import preset

    with pytest.raises(ValueError, match=match):
        preset(name).override(sets)
