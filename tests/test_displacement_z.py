"""Temporal networks whose maps give each joint's own change of depth (``ModelConfig.displacement_z="joint"``):
the pooled output against a NumPy reference, the late-fusion and correlation paths, the samples' root depth
change, the training target, and what the config rejects."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trt_tracker.codec import PoseCodec
from trt_tracker.data.samples import no_augment, temporal_sample
from trt_tracker.models import ModelConfig, build_model
from trt_tracker.skeleton import get_skeleton
from trt_tracker.train import Objective, TrainConfig

HAND = dict(task="temporal", skeleton="HAND21", modality="depth", depth=10, width=0.25, input_size=64,
            head_channels=16, depth_bins=8)


def _net(cfg, seed=0):
    """The network with every weight random (a new head predicts zeros, which would hide the root's part)."""
    torch.manual_seed(seed)
    net = build_model(cfg).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net


def _inputs(cfg, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cfg.in_channels, cfg.input_size, cfg.input_size, generator=g)
    related = torch.rand(n, cfg.K, 2, generator=g) * (cfg.heatmap_size - 1)
    return x, related


@pytest.mark.parametrize("fusion", ["early", "late", "corr"])
def test_output_is_each_joints_pooled_change_less_the_roots(fusion):
    cfg = ModelConfig(**HAND, fusion=fusion, displacement_z="joint")
    net = _net(cfg)
    root = get_skeleton("HAND21").root
    assert net.z_root == root
    x, related = _inputs(cfg)
    with torch.no_grad():
        got = net(x, related).numpy()
        maps = net.maps(x).numpy()                                      # (N, K, 3, H, W)
        w = net.weights(related, maps.shape[-2], maps.shape[-1]).numpy()  # (N, K, H, W)
    # slow reference: Eq. 7 joint by joint, then the root's own change of depth taken off every joint's
    ref = np.empty(got.shape)
    for n in range(maps.shape[0]):
        for k in range(maps.shape[1]):
            ref[n, k] = [(maps[n, k, c] * w[n, k]).sum() / w[n, k].sum() for c in range(3)]
    joint_dz = ref[..., 2].copy()
    ref[..., 2] = joint_dz - joint_dz[:, root : root + 1]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert np.all(got[:, root, 2] == 0)
    assert np.abs(joint_dz[:, root]).max() > 1e-4        # the subtraction is not of zeros
    if fusion != "early":
        c = cfg.frame_channels
        with torch.no_grad():
            f_prev, f_cur = net.features(x[:, :c]), net.features(x[:, c:])
            np.testing.assert_allclose(net.forward_features(f_prev, f_cur, related).numpy(), got, atol=1e-5)


def test_ensembled_joint_z_network_keeps_the_root_at_zero():
    cfg = ModelConfig(**HAND, displacement_z="joint", rotations=4)
    net = _net(cfg, 1)
    x, related = _inputs(cfg)
    with torch.no_grad():
        out = net(x, related)
    assert torch.all(out[:, net.z_root, 2].abs() < 1e-6)


def test_root_dz_makes_the_target_each_joints_own_change_of_depth():
    from trt_tracker.data.hand import make_hand_sequence

    seq = make_hand_sequence(4, 8)
    codec = PoseCodec(32, 8, 300.0)
    t, gap = 6, 4
    s = temporal_sample(seq, t, gap, codec, no_augment("depth"))
    own = (seq.joints_2p5d[t, :, 2] + seq.root_depth[t]) - (seq.joints_2p5d[t - gap, :, 2] + seq.root_depth[t - gap])
    np.testing.assert_allclose(s["target"][:, 2] + s["root_dz"], own / codec.z_scale, atol=1e-5)
    assert abs(float(s["root_dz"])) > 0                  # the wrist moves in depth in this sequence


def test_objective_trains_the_maps_on_each_joints_own_change_of_depth():
    joint = TrainConfig(name="t", model=ModelConfig(**HAND, displacement_z="joint"))
    root = TrainConfig(name="t", model=ModelConfig(**HAND))
    net = _net(joint.model, 2)
    x, related = _inputs(joint.model, n=4)
    g = torch.Generator().manual_seed(3)
    batch = {"image": x, "related": related, "target": torch.randn(4, 21, 3, generator=g) * 0.1,
             "root_dz": torch.randn(4, generator=g) * 0.1}
    own = batch["target"].clone()
    own[..., 2] += batch["root_dz"][:, None]

    class Call(torch.nn.Module):          # what train_step calls: model(x, related, target, mode="loss")
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, x, related=None, target=None, mode="predict"):
            return self.n.loss(x, related, target)

    with torch.no_grad():
        got = Objective(joint).loss(Call(net), batch)
        assert torch.allclose(got, net.loss(x, related, own))
        assert not torch.allclose(Objective(root).loss(Call(net), batch), got)


@pytest.mark.parametrize("kw", [dict(task="spatial"), dict(task="pose"), dict(task="temporal", dims=2),
                                dict(task="temporal", arch="fc")])
def test_config_rejects_joint_z_where_it_means_nothing(kw):
    with pytest.raises(ValueError, match="displacement_z"):
        ModelConfig(**{**HAND, **kw, "displacement_z": "joint"})


def test_config_rejects_unknown_displacement_z():
    with pytest.raises(ValueError, match="displacement_z='camera' is not one of"):
        ModelConfig(**HAND, displacement_z="camera")
