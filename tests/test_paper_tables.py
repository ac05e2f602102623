"""benchmarks/paper_tables/ (``trt-tracker eval``): DenseFlow, FLOP counting, feature sharing, formatting, CLI.

The end-to-end test runs one table with ``--quick`` budgets (a few seconds).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from benchmarks.dense_flow import dense_flow_displacements, pool_flow
from benchmarks.paper_tables import TABLES, main
from benchmarks.paper_tables.claims import fmt_abs, fmt_rel
from benchmarks.paper_tables.relations import decay_betas
from benchmarks.paper_tables.sharing import count_flops
from trt_tracker.camera import CropBox
from trt_tracker.codec import PoseCodec
from trt_tracker.models import ModelConfig, build_model, count_parameters
from trt_tracker.models.backbone import ResNetConfig
from trt_tracker.models.sharing import SharedFeatureRelationNet, branch_parameters, total_parameters


# ---------------------------------------------------------------- DenseFlow
def _texture(seed: int = 0, size: int = 256) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2.0)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


@pytest.mark.parametrize("shift", [(4.0, -3.0), (-2.5, 1.5)])
def test_dense_flow_recovers_a_translation_around_each_joint(shift):
    import cv2

    img0 = _texture()
    img1 = cv2.warpAffine(img0, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), img0.shape[::-1],
                          borderMode=cv2.BORDER_REFLECT)
    codec = PoseCodec(64, 16, 2000.0)
    tf = codec.transform(CropBox(128, 128, 160))
    joints = np.array([[128.0, 128.0], [100.0, 150.0], [160.0, 90.0]])
    related = codec.encode_points(joints, tf)
    d = dense_flow_displacements(img0, img1, tf, related, "binary", 1.25)
    assert d.shape == (3, 2)
    np.testing.assert_allclose(d, np.tile(shift, (3, 1)), atol=0.25)


def test_pool_flow_weights_only_pixels_near_the_joint():
    flow = np.zeros((16, 16, 2))
    flow[:8, :8] = (5.0, 1.0)          # top-left quadrant moves, the rest is still
    out = pool_flow(flow, np.array([[3.0, 3.0], [12.0, 12.0]]), "binary", 1.25)
    np.testing.assert_allclose(out[0], (5.0, 1.0), atol=1e-3)
    np.testing.assert_allclose(out[1], (0.0, 0.0), atol=1e-3)


# ---------------------------------------------------------------- FLOPs and parameters
def test_conv_flops_and_parameters_are_analytic():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.zeros(2, 3, 16, 16)
    # 2 FLOPs per multiply-add: N * Cout * H * W * Cin * k * k
    assert count_flops(conv, x) == 2 * 2 * 8 * 16 * 16 * 3 * 3 * 3
    assert count_parameters(conv) == 8 * 3 * 3 * 3 + 8
    lin = torch.nn.Linear(10, 4)
    assert count_flops(lin, torch.zeros(5, 10)) == 2 * 5 * 10 * 4


@pytest.fixture(scope="module")
def tiny_pose():
    torch.manual_seed(0)
    cfg = ModelConfig(task="pose", input_size=64, depth=10, width=0.25, head_channels=16, depth_bins=4)
    return build_model(cfg).eval(), cfg


def _shared(pose, share):
    torch.manual_seed(1)
    return SharedFeatureRelationNet(pose, share, ResNetConfig(10, 0.25, 3), 17, 3, 16, 3, 16)


def test_feature_sharing_costs_fall_with_the_branch_point(tiny_pose):
    pose, _ = tiny_pose
    x, rel = torch.zeros(1, 3, 64, 64), torch.full((1, 17, 2), 8.0)
    nets = {s: _shared(pose, s).eval() for s in ("none", "shallow", "deep", "all")}
    params = [total_parameters(n) for n in nets.values()]
    flops = [count_flops(n.forward_both, x, rel) for n in nets.values()]
    assert params == sorted(params, reverse=True) and len(set(params)) == 4
    assert flops == sorted(flops, reverse=True) and len(set(flops)) == 4
    for n in nets.values():   # shared parameters are counted once
        assert total_parameters(n) == count_parameters(pose) + branch_parameters(n)
    # No sharing costs exactly the two networks side by side.
    assert flops[0] == count_flops(pose, x) + count_flops(lambda a, r: nets["none"](a, r), x, rel)


@pytest.mark.parametrize("share", ["none", "shallow", "deep", "all"])
def test_shared_branch_trains_alone_and_matches_forward_both(tiny_pose, share):
    pose, _ = tiny_pose
    before = {k: v.clone() for k, v in pose.state_dict().items()}
    net = _shared(pose, share).train()
    assert not pose.training                      # the frozen network keeps its batch-norm statistics
    x, rel = torch.randn(2, 3, 64, 64), torch.rand(2, 17, 2) * 15
    loss = net.loss(x, rel, torch.randn(2, 17, 3))
    loss.backward()
    assert all(p.grad is None for p in pose.parameters())
    assert any(p.grad is not None for p in net.parameters() if p.requires_grad)
    net.eval()
    with torch.no_grad():
        joints, bones = net.forward_both(x, rel)
        torch.testing.assert_close(bones, net(x, rel))
        torch.testing.assert_close(joints, pose(x))
    for k, v in pose.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_sharing_rejects_unknown_points(tiny_pose):
    with pytest.raises(ValueError, match="unknown sharing"):
        _shared(tiny_pose[0], "middle")


# ---------------------------------------------------------------- formatting
def test_relative_and_absolute_changes_read_like_the_papers():
    assert fmt_rel(40.4, 49.5) == "↓18.4%"
    assert fmt_rel(59.2, 49.5) == "↑19.6%"
    assert fmt_rel(50.0, 50.0) == "±0.0%"
    assert fmt_rel(1.0, 0.0) == "" and fmt_rel(float("nan"), 1.0) == ""
    assert fmt_abs(92.4, 102.2) == "↓9.8"
    assert fmt_abs(103.3, 102.2) == "↑1.1"
    assert fmt_abs(75.0, 75.0) == "±0.0"


def test_decay_betas_share_the_binary_radius():
    from trt_tracker.models.relation import decay

    r = 1.25
    b = decay_betas(r)
    F = torch.tensor([r])
    assert float(decay(F, "gaussian", b["gaussian"])) == pytest.approx(np.exp(-1))
    assert float(decay(F, "exponential", b["exponential"])) == pytest.approx(np.exp(-1))
    assert float(decay(F, "linear", b["linear"])) == pytest.approx(0.5)


# ---------------------------------------------------------------- CLI
def test_unknown_table_is_a_clear_error(capsys, tmp_path):
    assert main(["t2", "table9", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown table" in err and "'table9'" in err and all(t in err for t in TABLES)
    assert not (tmp_path / "paper_tables.json").exists()
    assert main(["--no-such-option"]) == 2


def test_quick_run_writes_json_and_markdown_and_reuses_its_cache(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["--quick", "bone2", "--out", str(out), "--cache", str(cache), "--no-progress"]
    assert main(args) == 0
    doc = json.loads((out / "paper_tables.json").read_text())
    assert doc["benchmark"] == "paper_tables" and doc["settings"]["quick"] is True
    assert "cpu" in doc["machine"] and list(doc["tables"]) == ["bone2"]
    t = doc["tables"]["bone2"]
    assert set(t["results"]) == {"joints", "joint", "bone", "both", "all"}
    assert all(np.isfinite(r["joint_error"]) for r in t["results"].values())
    assert t["claims"] and all(c["agrees"] is not False or c["likely_reason"] for c in t["claims"])
    assert len(doc["training"]) == 5 and not any(r["cached"] for r in doc["training"].values())
    assert all(r["config"]["steps"] == 2 for r in doc["training"].values())
    # Each variant starts from the shipped body pose network (the shipped relation networks' recipe).
    assert all(r["config"]["init"].endswith("body-lite/pose.pt") for r in doc["training"].values())
    # ... and keeps its own weights: no weight average, whose horizon (~500 steps) outlasts these budgets.
    assert all(r["config"]["ema"] == 0 and r["config"]["warmup_steps"] < 2 for r in doc["training"].values())
    md = (out / "paper_tables.md").read_text()
    assert "## bone2" in md and "| Metric | Baseline | Ours (joint)" in md and "paper Joint Error" in md
    # A second run evaluates only (cached weights) and keeps the finished table.
    assert main(args) == 0
    doc2 = json.loads((out / "paper_tables.json").read_text())
    assert all(r["cached"] and not r["code_changed_since_training"] for r in doc2["training"].values())
    assert doc2["tables"]["bone2"]["results"]["all"]["joint_error"] == pytest.approx(t["results"]["all"]["joint_error"])
