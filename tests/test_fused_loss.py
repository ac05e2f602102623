"""The spatial network trained through the tracker's bone term (TrainConfig.fused_loss): the fusion against
the solver, the one-pass loss-and-pool against the separate calls, the objective against a hand-written
reference, its validation errors, config errors, and a tiny end-to-end run."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import trt_tracker.train as train_mod
from trt_tracker.models import build_model, joint_loss
from trt_tracker.models.graphs import with_views
from trt_tracker.skeleton import get_skeleton
from trt_tracker.solver import solve_sequence
from trt_tracker.train import Objective, TrainForward, bone_fusion, train

from test_train import random_batch, tiny_cfg


@pytest.mark.parametrize("skeleton", ["HAND21", "BODY17"])
@pytest.mark.parametrize("alpha", [0.3, 1.0, 10.0])
def test_bone_fusion_is_the_solvers_bone_term(skeleton, alpha):
    sk = get_skeleton(skeleton)
    rng = np.random.default_rng(0)
    J = rng.normal(size=(5, sk.K, 3)) * 20
    B = rng.normal(size=(5, sk.K, 3)) * 10
    B[:, sk.root] = 1e3                      # the root's row is ignored
    M, A = bone_fusion(sk.parents_array, alpha)
    X = torch.einsum("kj,njc->nkc", M.double(), torch.from_numpy(J)) + torch.einsum(
        "kj,njc->nkc", A.double(), torch.from_numpy(B))
    for t in range(len(J)):                 # one frame at a time: no temporal term
        ref = solve_sequence(J[t : t + 1], B[t : t + 1], parents=sk, durations=(), alpha=alpha)[0]
        np.testing.assert_allclose(X[t].numpy(), ref, rtol=1e-5, atol=1e-4)


def test_bone_fusion_keeps_consistent_estimates():
    """Joints whose bones agree with them are left as they are."""
    sk = get_skeleton("HAND21")
    J = torch.randn(3, sk.K, 3)
    B = J - J[:, sk.parents_array.clip(min=0)]
    M, A = bone_fusion(sk.parents_array, 2.0)
    X = torch.einsum("kj,njc->nkc", M, J) + torch.einsum("kj,njc->nkc", A, B)
    torch.testing.assert_close(X, J, rtol=1e-4, atol=1e-4)


def test_loss_and_pool_is_the_loss_and_the_pool_of_one_pass(tmp_path):
    cfg = tiny_cfg(tmp_path, name="hand-lite-spatial")
    net = build_model(cfg.model).eval()
    b = random_batch(cfg.model, 3)
    at = random_batch(cfg.model, 3, seed=1)["related"]
    with torch.no_grad():
        loss, pooled = net.loss_and_pool(b["image"], b["related"], b["bones"], at)
        torch.testing.assert_close(loss, net.loss(b["image"], b["related"], b["bones"]))
        torch.testing.assert_close(pooled, net.pool(net.maps(b["image"]), at))


@pytest.fixture()
def fused(tmp_path):
    """A tiny hand spatial config with fused_loss=1 over a saved tiny pose network (about the depth centre,
    four views as the shipped one)."""
    pose_cfg = tiny_cfg(tmp_path, name="hand-lite-pose-jitter")
    torch.manual_seed(0)
    pose = build_model(pose_cfg.model).eval()
    path = tmp_path / "pose.pt"
    train_mod.save_weights(path, pose, pose_cfg, 0, {})
    cfg = tiny_cfg(tmp_path, "init=", "fused_loss=1.0", f"fused_pose={path}", "fused_alpha=2.0", name="hand-lite-spatial")
    return cfg, pose, pose_cfg


def _root_relative(J, root):
    return torch.cat([J[..., :2], J[..., 2:] - J[:, root : root + 1, 2:]], -1)


def test_fused_objective_equals_the_reference(fused):
    cfg, pose, pose_cfg = fused
    m = cfg.model
    sk = get_skeleton(m.skeleton)
    par = torch.as_tensor(np.where(sk.parents_array < 0, np.arange(sk.K), sk.parents_array))
    torch.manual_seed(1)
    net = build_model(m).train()
    b = random_batch(m, 4)
    obj = Objective(cfg)
    loss = obj.loss(TrainForward(net), b)
    # reference: the plain loss, plus the joint loss of the fusion of the pose network's joints (one pass,
    # z relative to its root) with the bones pooled at those joints' parents
    one_pass = with_views(pose, pose_cfg.model, 1, False)[0]
    with torch.no_grad():
        Jp = _root_relative(one_pass(b["image"]), sk.root)
    plain = net.loss(b["image"], b["related"], b["bones"])
    Bp = net.pool(net.maps(b["image"]), Jp[:, par, :2])
    M, A = bone_fusion(sk.parents_array, 2.0)
    X = torch.einsum("kj,njc->nkc", M, Jp) + torch.einsum("kj,njc->nkc", A, Bp)
    ref = plain + joint_loss(X, b["joints"], obj.scale)
    torch.testing.assert_close(loss, ref)
    assert loss > plain
    loss.backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert all(p.grad is None for p in obj.pose_train.parameters())    # the pose network stays frozen
    # without it, the plain loss; with fused_pose alone too (validation still reports the fusion)
    plain_cfg = tiny_cfg(cfg.out, name="hand-lite-spatial")
    torch.testing.assert_close(Objective(plain_cfg).loss(TrainForward(net), b), plain)
    watched = tiny_cfg(cfg.out, f"fused_pose={cfg.fused_pose}", name="hand-lite-spatial")
    torch.testing.assert_close(Objective(watched).loss(TrainForward(net), b), plain)
    assert "fused_err_uv_px" in Objective(watched).errors(net.eval(), b)
    assert "fused_err_uv_px" not in Objective(plain_cfg).errors(net, b)


def test_fused_ensemble_fuses_the_pose_networks_views(fused):
    """fused_ensemble: the loss fuses the joints of the pose network as loaded, with its test-time views (what
    validation and the tracker use), called on chunks of eight samples (an ensemble is); without it, one pass."""
    cfg, _, _ = fused
    m = cfg.model
    sk = get_skeleton(m.skeleton)
    par = torch.as_tensor(np.where(sk.parents_array < 0, np.arange(sk.K), sk.parents_array))
    args = ("init=", "fused_loss=1.0", f"fused_pose={cfg.fused_pose}", "fused_alpha=2.0")
    obj = Objective(tiny_cfg(cfg.out, *args, "fused_ensemble=true", name="hand-lite-spatial"))
    assert obj.pose_train is obj.pose_val and len(obj.pose_val.views) == 4
    assert len(Objective(tiny_cfg(cfg.out, *args, name="hand-lite-spatial")).pose_train.views) == 1

    class Pose(torch.nn.Module):           # joints that depend on each sample's image; records its batch sizes
        views = ((0, False),) * 4          # an ensemble of four views, as the loaded network

        def __init__(self):
            super().__init__()
            self.calls = []
            self.w = torch.randn(m.in_channels * m.input_size * m.input_size, sk.K * 3,
                                 generator=torch.Generator().manual_seed(3))

        def forward(self, x):
            self.calls.append(len(x))
            return (x.flatten(1) @ self.w).reshape(len(x), sk.K, 3) * 0.01 + m.heatmap_size / 2

    obj.pose_train = obj.pose_val = pose = Pose()
    torch.manual_seed(1)
    net = build_model(m).train()
    b = random_batch(m, 11)
    loss = obj.loss(TrainForward(net), b)
    assert pose.calls == [8, 3]
    Jp = _root_relative(pose(b["image"]), sk.root)
    plain = net.loss(b["image"], b["related"], b["bones"])
    M, A = bone_fusion(sk.parents_array, 2.0)
    X = torch.einsum("kj,njc->nkc", M, Jp) + torch.einsum("kj,njc->nkc", A, net.pool(net.maps(b["image"]),
                                                                                    Jp[:, par, :2]))
    torch.testing.assert_close(loss, plain + joint_loss(X, b["joints"], obj.scale))


def test_fused_validation_reports_the_pose_and_the_fusion(fused):
    cfg, pose, _ = fused
    m = cfg.model
    sk = get_skeleton(m.skeleton)
    par = np.where(sk.parents_array < 0, np.arange(sk.K), sk.parents_array)
    net = build_model(m).eval()
    b = random_batch(m, 4)
    errs = Objective(cfg).errors(net, b)
    with torch.no_grad():
        Jp = _root_relative(pose(b["image"]), sk.root)          # its own (four-view) ensemble
        X = Objective(cfg).fuse(Jp, net(b["image"], Jp[:, par, :2]))
    px = m.input_size / m.heatmap_size
    for prefix, P in (("pose_", Jp), ("fused_", X)):
        d = P - b["joints"]
        assert errs[f"{prefix}err_uv_px"] == pytest.approx(float(d[..., :2].norm(dim=-1).mean() * px), rel=1e-5)
        assert errs[f"{prefix}err_z_mm"] == pytest.approx(float(d[..., 2].abs().mean() * m.cube_mm / 2), rel=1e-5)
    assert {"err_uv_px", "err_z_mm"} <= set(errs)


@pytest.mark.parametrize("extra, name, match", [
    (["fused_loss=1", "fused_pose=x.pt", "lr_cycles=1"], "hand-lite-pose", "spatial networks with per-pixel maps"),
    (["fused_pose=x.pt", "lr_cycles=1"], "hand-lite-pose", "spatial networks with per-pixel maps"),
    (["fused_loss=1", "fused_pose=x.pt", "model.arch=fc", "model.rotations=1"], "hand-lite-spatial", "per-pixel maps"),
    (["fused_loss=1"], "hand-lite-spatial", "needs fused_pose"),
    (["fused_loss=-1"], "hand-lite-spatial", "fused_loss must be >= 0"),
    (["fused_alpha=0"], "hand-lite-spatial", "fused_alpha > 0"),
    (["fused_ensemble=true"], "hand-lite-spatial", "fused_ensemble is for the fused loss"),
])
def test_fused_config_errors(tmp_path, extra, name, match):
    with pytest.raises(ValueError, match=match):
        tiny_cfg(tmp_path, *extra, name=name)


def test_fused_pose_must_exist_and_match(tmp_path, fused):
    cfg, _, _ = fused
    missing = tiny_cfg(tmp_path, "fused_loss=1", f"fused_pose={tmp_path / 'none.pt'}", name="hand-lite-spatial")
    with pytest.raises(FileNotFoundError, match="fused_pose weights .* not found"):
        Objective(missing)
    body_cfg = tiny_cfg(tmp_path, name="body-lite-pose")
    path = tmp_path / "body.pt"
    train_mod.save_weights(path, build_model(body_cfg.model), body_cfg, 0, {})
    wrong = tiny_cfg(tmp_path, "fused_loss=1", f"fused_pose={path}", name="hand-lite-spatial")
    with pytest.raises(ValueError, match="needs a pose network for"):
        Objective(wrong)
    spatial = tmp_path / "spatial.pt"
    train_mod.save_weights(spatial, build_model(cfg.model), cfg, 0, {})
    with pytest.raises(ValueError, match="a spatial network"):
        Objective(tiny_cfg(tmp_path, "fused_loss=1", f"fused_pose={spatial}", name="hand-lite-spatial"))


def test_fused_training_runs_and_logs_the_fusion(fused):
    cfg, _, _ = fused
    metrics = train(cfg, progress=False, device="cpu")
    log = [json.loads(line) for line in (cfg.out_dir / "log.jsonl").read_text().splitlines()]
    assert metrics == log[-1]
    assert {"val_pose_err_uv_px", "val_fused_err_uv_px", "val_fused_err_z_mm"} <= set(metrics)
    assert np.isfinite(metrics["loss"])
