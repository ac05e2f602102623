"""Training: configs and overrides, presets (full sizes smoke-tested), the loop end to end, resume, DDP, CLI.

Runs are tiny (ResNet-10 x0.25 at 64 px, 8-frame sequences, a few steps) and use no data-loader workers.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import trt_tracker.train as train_mod
from trt_tracker.cli import main
from trt_tracker.data.samples import BODY_AUGMENT, HAND_AUGMENT, AugmentConfig, SampleStreamConfig
from trt_tracker.models import ModelConfig, build_model
from trt_tracker.train import (PRESETS, Objective, TrainConfig, TrainForward, load_weights, lr_at, make_ema, preset,
                               train, train_step)

REPO = Path(__file__).resolve().parents[1]
TINY_OVERRIDES = [
    "steps=3", "batch_size=2", "val_every=2", "checkpoint_every=2", "val_sequences=1", "val_samples_per_sequence=2",
    "stream.frames_per_sequence=8", "stream.samples_per_sequence=4", "stream.max_gap=3", "stream.pool_size=2",
    "num_workers=0",
    "model.width=0.25", "model.input_size=64", "model.head_channels=16", "model.depth_bins=8",
]


def tiny_cfg(out, *extra, name="body-lite-pose") -> TrainConfig:
    return preset(name).override(TINY_OVERRIDES + [f"out={out}", *extra])


def random_batch(m: ModelConfig, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A training batch in the network frame for any model config."""
    g = torch.Generator().manual_seed(seed)
    H = m.heatmap_size

    def pts():
        return torch.cat([torch.rand(n, m.K, 2, generator=g) * (H - 1), torch.rand(n, m.K, 1, generator=g) * 2 - 1], -1)

    bones = torch.randn(n, m.K, 3, generator=g) * torch.tensor([H / 8, H / 8, 0.2])
    bones[:, 0] = 0
    return {"image": torch.randn(n, m.in_channels, m.input_size, m.input_size, generator=g), "joints": pts(),
            "bones": bones, "related": pts()[..., :2], "target": torch.randn(n, m.K, 3, generator=g) * 0.5,
            "root_dz": torch.randn(n, generator=g) * 0.1}


def weights_of(path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


# ---------------------------------------------------------------- configs
def test_override_reaches_every_part():
    cfg = preset("body-full-pose").override(["model.width=0.5", "augment.rotate_deg=10", "stream.max_gap=5", "steps=7",
                                             "lr=2e-4", "augment.flip=false", "name=x", "model.task=spatial"])
    assert cfg.model.width == 0.5 and isinstance(cfg.model.width, float)
    assert cfg.augment.rotate_deg == 10.0 and cfg.augment.flip is False
    assert cfg.stream.max_gap == 5 and isinstance(cfg.stream.max_gap, int)
    assert (cfg.steps, cfg.lr, cfg.name, cfg.model.task) == (7, 2e-4, "x", "spatial")
    assert isinstance(cfg.model, ModelConfig) and isinstance(cfg.augment, AugmentConfig)
    assert isinstance(cfg.stream, SampleStreamConfig)
    # The original is untouched (frozen configs).
    assert preset("body-full-pose").model.width == 1.0 and preset("body-full-pose").steps != 7
    assert preset("body-full-pose").override([]) == preset("body-full-pose")


@pytest.mark.parametrize("item, match", [
    ("bogus=1", r"override 'bogus': unknown key; known: \["),
    ("model.bogus=1", r"override 'model.bogus': unknown key"),
    ("augment.nope=1", r"override 'augment.nope': unknown key"),
    ("optim.lr=1", "only model., augment. and stream. have sub-keys"),
    ("steps", "is not key=value"),
    ("steps=ten", r"override steps='ten': expected a int"),
    ("model.width=wide", r"override model.width='wide': expected a float"),
    ("augment.flip=maybe", "expected a bool"),
    ("model.task=segment", "task='segment' is not one of"),
    ("model.input_size=48", "multiple of 32"),
    ("model.skeleton=BODY99", None),
])
def test_override_rejects_bad_items(item, match):
    cfg = preset("body-lite-pose")
    if match is None:      # an unknown skeleton is a KeyError from get_skeleton
        with pytest.raises((KeyError, ValueError), match="BODY99"):
            cfg.override([item])
        return
    with pytest.raises(ValueError, match=match):
        cfg.override([item])


def test_config_dict_round_trip():
    for name in ("body-lite-temporal-late", "hand-full-spatial"):
        cfg = preset(name).override(["augment.scale=0.3", "stream.max_gap=7"])
        d = json.loads(json.dumps(cfg.to_dict()))
        assert TrainConfig.from_dict(d) == cfg
    d = preset("body-lite-pose").to_dict()
    with pytest.raises(ValueError, match=r"train config: unknown key\(s\) \['extra'\]"):
        TrainConfig.from_dict({**d, "extra": 1})
    with pytest.raises(ValueError, match=r"augment: unknown key\(s\) \['mirror'\]"):
        TrainConfig.from_dict({**d, "augment": {**d["augment"], "mirror": True}})
    with pytest.raises(ValueError, match=r"stream: unknown key\(s\)"):
        TrainConfig.from_dict({**d, "stream": {"fps": 3}})
    with pytest.raises(ValueError, match=r"model config: unknown key\(s\)"):
        TrainConfig.from_dict({**d, "model": {**d["model"], "layers": 3}})


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'nope'; known: body-full-pose"):
        preset("nope")


def test_lr_schedule():
    cfg = replace(preset("body-lite-pose"), steps=10, lr=1e-3, lr_schedule="step", warmup_steps=0, lr_drop_at=0.8,
                  lr_drop=0.1)
    assert [lr_at(cfg, s) for s in (0, 7)] == [1e-3, 1e-3]
    assert lr_at(cfg, 8) == pytest.approx(1e-4) and lr_at(cfg, 9) == pytest.approx(1e-4)


def test_cosine_schedule_with_warmup():
    cfg = replace(preset("body-lite-pose"), steps=111, lr=1e-3, lr_schedule="cosine", warmup_steps=10,
                  final_lr=0.01)
    lrs = [lr_at(cfg, s) for s in range(cfg.steps)]
    assert lrs[0] == pytest.approx(1e-5) and lrs[5] == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert max(lrs) == pytest.approx(1e-3) and lrs[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))             # falls monotonically after warm-up
    assert lrs[60] == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))        # half way: the mean of the ends
    assert lrs[-1] == pytest.approx(1e-5)
    with pytest.raises(ValueError, match="lr_schedule='linear' is not one of"):
        replace(cfg, lr_schedule="linear")
    with pytest.raises(ValueError, match="ema must be in"):
        replace(cfg, ema=1.0)


def test_cosine_cycles_continue_a_finished_run():
    """Warm restarts (SGDR): the first of two cycles is the one-cycle schedule of half the steps, the second
    restarts at lr without warm-up and ends at final_lr."""
    one = replace(preset("body-lite-pose"), steps=100, lr=1e-3, lr_schedule="cosine", warmup_steps=10,
                  final_lr=0.01)
    two = replace(one, steps=200, lr_cycles=2)
    assert [lr_at(two, s) for s in range(100)] == [lr_at(one, s) for s in range(100)]
    second = [lr_at(two, s) for s in range(100, 200)]
    assert second[0] == pytest.approx(1e-3) and second[-1] == pytest.approx(1e-5)
    assert all(a >= b for a, b in zip(second, second[1:]))
    with pytest.raises(ValueError, match="lr_cycles must be >= 1 and divide steps"):
        replace(one, lr_cycles=3)
    with pytest.raises(ValueError, match="lr_cycles must be"):
        replace(one, lr_cycles=0)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dims,depth_bins", [(3, 4), (2, 0)])
def test_fused_integral_and_heatmap_loss_equals_reference(dims, depth_bins, weighted):
    from trt_tracker.models import soft_argmax_2d, soft_argmax_3d
    from trt_tracker.train import heatmap_loss, integral_and_heatmap_loss

    g = torch.Generator().manual_seed(0)
    shape = (3, 5, depth_bins, 8, 6) if dims == 3 else (3, 5, 8, 6)
    logits = (torch.randn(shape, generator=g) * 3).requires_grad_()
    J = torch.rand(3, 5, dims, generator=g) * torch.tensor([6, 8, 2][:dims]) - torch.tensor([0.5, 0.5, 1][:dims])
    w = (torch.rand(3, 5, generator=g) > 0.4).float() if weighted else None
    J_fast, ce_fast = integral_and_heatmap_loss(logits, J, 1.5, w)
    J_ref = soft_argmax_3d(logits) if dims == 3 else soft_argmax_2d(logits)
    ce_ref = heatmap_loss(logits, J, 1.5, w)
    torch.testing.assert_close(J_fast, J_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ce_fast, ce_ref, rtol=1e-5, atol=1e-5)
    gf = torch.autograd.grad(J_fast.sum() + ce_fast, logits)[0]
    gr = torch.autograd.grad(J_ref.sum() + ce_ref, logits)[0]
    torch.testing.assert_close(gf, gr, rtol=1e-4, atol=1e-6)


def test_weighted_losses_leave_out_the_uv_of_joints_outside_the_crop():
    from trt_tracker.models import joint_loss
    from trt_tracker.train import heatmap_loss, weighted_joint_loss

    g = torch.Generator().manual_seed(1)
    J, J_gt, scale = torch.randn(2, 5, 3, generator=g), torch.randn(2, 5, 3, generator=g), torch.tensor(2.0)
    ones = torch.ones(2, 5)
    torch.testing.assert_close(weighted_joint_loss(J, J_gt, scale, ones), joint_loss(J, J_gt, scale))
    assert weighted_joint_loss(J, J_gt, scale, None) == joint_loss(J, J_gt, scale)
    w = ones.clone()
    w[1, 3] = 0.0
    moved = J.clone()
    moved[1, 3, :2] += 10.0                       # a left-out joint's (u, v): no change
    torch.testing.assert_close(weighted_joint_loss(moved, J_gt, scale, w), weighted_joint_loss(J, J_gt, scale, w))
    moved[1, 3, 2] += 10.0                        # its depth still counts
    assert weighted_joint_loss(moved, J_gt, scale, w) > weighted_joint_loss(J, J_gt, scale, w) + 0.1
    # The heatmap cross-entropy likewise: a left-out joint's (u, v) target does not matter, its z does.
    logits = torch.randn(2, 5, 4, 6, 6, generator=g)
    T = torch.rand(2, 5, 3, generator=g) * torch.tensor([5.0, 5.0, 1.0])
    T2 = T.clone()
    T2[1, 3, :2] = torch.tensor([0.0, 5.0])
    torch.testing.assert_close(heatmap_loss(logits, T, 1.0, w), heatmap_loss(logits, T2, 1.0, w))
    T2[1, 3, 2] = -0.9
    assert heatmap_loss(logits, T2, 1.0, w) != heatmap_loss(logits, T, 1.0, w)


def test_root_relative_z_loss_ignores_a_common_depth_shift_only():
    from trt_tracker.train import root_relative_z_loss

    g = torch.Generator().manual_seed(2)
    J_gt, scale = torch.randn(3, 21, 3, generator=g), torch.tensor([4.0, 4.0, 0.5])
    shifted = J_gt.clone()
    shifted[..., 2] += torch.randn(3, 1, generator=g)          # the whole hand deeper or nearer
    shifted[..., :2] += 1.0                                     # (u, v) are not its business
    assert float(root_relative_z_loss(shifted, J_gt, scale, 0)) == pytest.approx(0.0, abs=1e-6)
    bent = J_gt.clone()
    bent[:, 5, 2] += 0.5                                        # one joint 0.5 deeper than the rest: 1 unit
    assert float(root_relative_z_loss(bent, J_gt, scale, 0)) == pytest.approx(1 / 21)
    root = J_gt.clone()
    root[:, 0, 2] += 0.5                                        # the root off: every other joint is off
    assert float(root_relative_z_loss(root, J_gt, scale, 0)) == pytest.approx(20 / 21)


# ---------------------------------------------------------------- presets
def test_presets_cover_every_task():
    assert len(PRESETS) == 52
    for name, cfg in PRESETS.items():
        assert cfg.name == name
        m = cfg.model
        assert m.skeleton == ("BODY17" if name.startswith("body") else "HAND21")
        assert (m.fusion == "late") == ("temporal-late" in name)
        assert (m.fusion == "corr") == name.endswith("temporal-corr")
        assert (m.z_ref == "centre") == (name in ("hand-lite-pose-centre", "hand-lite-pose-jitter"))
        assert (m.task == "localiser") == name.endswith("-localiser")
        # the shipped hand pose and spatial networks run as rotation ensembles (trained one pass)
        assert (m.rotations == 4) == (name == "hand-lite-pose-jitter" or name.startswith("hand-lite-spatial"))
        assert m.flip == (name == "body-lite-pose" or name.startswith("body-lite-spatial"))   # mirror ensembles
        if m.task == "localiser":     # the body localiser also sees photometric changes
            assert cfg.augment == (replace(BODY_AUGMENT, photometric=0.5) if name.startswith("body") else HAND_AUGMENT)
        elif name == "hand-lite-pose-jitter":   # off-centre crops, as a live tracker's
            assert cfg.augment.translate > HAND_AUGMENT.translate and cfg.augment.scale > HAND_AUGMENT.scale
            assert replace(cfg.augment, translate=0.0, scale=HAND_AUGMENT.scale) == HAND_AUGMENT
        else:
            assert cfg.augment == (BODY_AUGMENT if name.startswith("body") else HAND_AUGMENT)
    # the shipped body temporal network: the late-fusion recipe once more from its weights
    long, late = PRESETS["body-lite-temporal-late-long"], PRESETS["body-lite-temporal-late"]
    assert long.init == "body-lite-temporal-late" and replace(long, name=late.name, init=late.init) == late
    # later rounds: the previous round's recipe from its weights, on training sequences no earlier round drew
    for name, prev in (("body-lite-spatial-long2", "body-lite-spatial-long"),
                       ("body-lite-temporal-late-long2", "body-lite-temporal-late-long"),
                       ("hand-lite-spatial-long2", "hand-lite-spatial-long"),
                       ("body-lite-spatial-long3", "body-lite-spatial-long2"),
                       ("body-lite-temporal-late-long3", "body-lite-temporal-late-long2")):
        later, earlier = PRESETS[name], PRESETS[prev]
        assert later.init == prev and later.data_seed != earlier.data_seed
        assert replace(later, name=prev, init=earlier.init, data_seed=earlier.data_seed) == earlier
    seeds = {PRESETS[n].data_seed for n in ("body-lite-spatial", "body-lite-spatial-long2", "body-lite-spatial-long3")}
    assert len(seeds) == 3             # every later round on sequences no earlier one drew
    # the shipped hand pose network: hand-lite-pose fine-tuned to give the root's depth
    centre, base = PRESETS["hand-lite-pose-centre"], PRESETS["hand-lite-pose"]
    assert centre.init == "hand-lite-pose" and centre.model == base.model.replace(z_ref="centre")
    # ... then on jittered crops
    assert PRESETS["hand-lite-pose-jitter"].init == "hand-lite-pose-centre"
    assert PRESETS["hand-lite-pose-jitter"].model == centre.model.replace(rotations=4)
    assert PRESETS["hand-lite-pose-jitter"].root_z_loss > 0 and centre.root_z_loss == 0
    # the shipped hand spatial network: hand-lite-spatial trained once more
    assert PRESETS["hand-lite-spatial-long"].init == "hand-lite-spatial"
    assert replace(PRESETS["hand-lite-spatial-long"], name="hand-lite-spatial", init="hand-lite-pose") == PRESETS["hand-lite-spatial"]
    assert PRESETS["body-lite-spatial-long"].init == "body-lite-spatial"
    assert replace(PRESETS["body-lite-spatial-long"], name="body-lite-spatial", init="body-lite-pose") == PRESETS["body-lite-spatial"]
    assert PRESETS["body-full-pose"].model.depth == 50 and PRESETS["body-full-pose"].model.input_size == 256
    assert PRESETS["hand-full-pose"].model.depth == 18 and PRESETS["hand-full-pose"].model.input_size == 128


LITE = sorted(n for n in PRESETS if "-lite-" in n)
FULL = sorted(n for n in PRESETS if "-full-" in n)


@pytest.mark.parametrize("name", LITE)
def test_lite_presets_build(name):
    m = PRESETS[name].model
    net = build_model(m).eval()
    batch = random_batch(m, 1)
    if m.task == "localiser":        # a whole frame -> presence logit, box centre, log side
        with torch.no_grad():
            out = net(torch.zeros(1, m.frame_channels, m.input_size, m.input_size))
        assert out.shape == (1, 4)
        return
    with torch.no_grad():
        out = net(batch["image"]) if m.task == "pose" else net(batch["image"], batch["related"])
    assert out.shape == (1, m.K, m.dims)


@pytest.mark.parametrize("name", FULL)
def test_full_presets_train_one_step(name):
    """The paper-sized networks (ResNet-50 at 256 px, ResNet-18 at 128 px): one optimiser step, batch 1."""
    cfg = PRESETS[name]
    torch.manual_seed(0)
    net = build_model(cfg.model).train()
    first = net.encoder[0][0].weight if hasattr(net, "encoder") else net.backbone.stem[0].weight
    before = first.detach().clone()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loss = train_step(TrainForward(net), Objective(cfg), random_batch(cfg.model, 1), opt, cfg.grad_clip)
    assert loss > 0 and torch.isfinite(torch.tensor(loss))
    assert not torch.equal(before, first)


# ------------------------------------------------------------- the loop
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny end-to-end run: (config, output folder)."""
    out = tmp_path_factory.mktemp("train")
    cfg = tiny_cfg(out)
    metrics = train(cfg, progress=False, device="cpu")
    return cfg, metrics


def test_train_writes_outputs(trained):
    cfg, metrics = trained
    d = cfg.out_dir
    assert {p.name for p in d.iterdir()} >= {"checkpoint.pt", "weights.pt", "log.jsonl"}
    assert not list(d.glob("*.tmp"))
    log = [json.loads(line) for line in (d / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 3]                     # val_every=2, plus the last step
    assert metrics == log[-1]
    assert {"loss", "val_err_uv_px", "val_err_z_mm"} <= set(metrics)
    ckpt = torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert ckpt["step"] == 3 and ckpt["config"] == cfg.to_dict() and len(ckpt["log"]) == 2


def test_load_weights_reproduces_the_trained_net(trained):
    cfg, _ = trained
    net, mcfg, d = load_weights(cfg.out_dir / "weights.pt")
    assert mcfg == cfg.model and not net.training
    assert d["step"] == 3 and d["train"] == cfg.to_dict()
    ckpt = torch.load(cfg.out_dir / "checkpoint.pt", weights_only=False)
    raw = build_model(cfg.model)
    raw.load_state_dict(ckpt["model"])
    # The lite recipe ships the moving average of the weights, not the last step's.
    assert cfg.ema > 0
    ema = make_ema(build_model(cfg.model), cfg.ema)
    ema.load_state_dict(ckpt["ema"])
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(net(x), ema.module.eval()(x))
        assert not torch.equal(net(x), raw.eval()(x))


def test_load_weights_errors(tmp_path, trained):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_weights(tmp_path / "missing.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(os.urandom(256))
    with pytest.raises(ValueError, match=str(bad).replace("\\", "\\\\") + " is not a readable weights file"):
        load_weights(bad)
    untagged = tmp_path / "untagged.pt"
    torch.save({"model": {}}, untagged)
    with pytest.raises(ValueError, match="no format tag"):
        load_weights(untagged)
    cfg, _ = trained
    d = torch.load(cfg.out_dir / "weights.pt", weights_only=True)
    d["model"] = {**d["model"], "width": 0.5}
    wrong = tmp_path / "wrong.pt"
    torch.save(d, wrong)
    with pytest.raises(ValueError, match="weights do not match the model config"):
        load_weights(wrong)


def test_temporal_validation_reports_the_zero_motion_baseline(tmp_path):
    cfg = tiny_cfg(tmp_path, name="body-lite-temporal")
    m = cfg.model
    batch = random_batch(m, 4)
    errs = Objective(cfg).errors(build_model(m).eval(), batch)
    px = m.input_size / m.heatmap_size
    assert errs["zero_err_uv_px"] == pytest.approx(float(batch["target"][..., :2].norm(dim=-1).mean() * px), rel=1e-5)
    assert errs["zero_err_z_mm"] == pytest.approx(float(batch["target"][..., 2].abs().mean() * m.cube_mm / 2),
                                                  rel=1e-5)
    spatial = tiny_cfg(tmp_path, name="body-lite-spatial")
    assert "zero_err_uv_px" not in Objective(spatial).errors(build_model(spatial.model).eval(),
                                                             random_batch(spatial.model, 4))


def test_init_copies_the_pose_backbone(trained, tmp_path):
    """init= a pose run: spatial and early-fusion temporal networks start from its backbone (a stack of
    frames shares the first kernel), and training from there runs; another architecture is refused."""
    cfg, _ = trained
    src = weights_of(cfg.out_dir / "weights.pt")
    spatial = tiny_cfg(tmp_path, f"init={cfg.name}", "steps=1", f"out={cfg.out}", "name=from-pose",
                       name="body-lite-spatial")
    assert train_mod.init_path(spatial) == cfg.out_dir / "weights.pt"
    net = build_model(spatial.model)
    copied = train_mod.init_from(net, train_mod.init_path(spatial))
    own = net.state_dict()
    assert "backbone.stem.0.weight" in copied and "head.final.weight" not in copied
    assert all(k.startswith(("backbone.", "head.deconv.")) for k in copied)
    for k in copied:
        assert torch.equal(own[k], src[k]), k
    pair = build_model(tiny_cfg(tmp_path, name="body-lite-temporal").model)
    assert "backbone.stem.0.weight" in train_mod.init_from(pair, cfg.out_dir / "weights.pt")
    stem = pair.state_dict()["backbone.stem.0.weight"]
    assert stem.shape[1] == 6
    assert torch.allclose(stem[:, :3] + stem[:, 3:], src["backbone.stem.0.weight"])
    with pytest.raises(ValueError, match="no tensor matches"):
        train_mod.init_from(build_model(tiny_cfg(tmp_path, name="body-lite-temporal-corr").model),
                            cfg.out_dir / "weights.pt")
    with pytest.raises(FileNotFoundError, match="train that network first"):
        train_mod.init_from(net, tmp_path / "nothing.pt")
    train(spatial, progress=False, device="cpu")     # the loop starts from it
    assert (spatial.out_dir / "weights.pt").is_file()


def test_resume_with_another_config_is_refused(trained):
    cfg, _ = trained
    with pytest.raises(ValueError, match="written by a different config") as e:
        train(cfg.override(["lr=0.002"]), progress=False, device="cpu")
    assert "lr" in str(e.value) and str(cfg.out_dir / "checkpoint.pt") in str(e.value)
    with pytest.raises(ValueError, match="written by a different config"):
        train(cfg.override(["model.beta=1.5"]), progress=False, device="cpu")


def test_fresh_runs_are_deterministic(trained, tmp_path):
    cfg, _ = trained
    again = replace(cfg, out=str(tmp_path))
    train(again, progress=False, device="cpu")
    a, b = weights_of(cfg.out_dir / "weights.pt"), weights_of(again.out_dir / "weights.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    """A run stopped after step 2 (checkpoint) resumes at step 3 and ends with the uninterrupted run's weights."""
    cfg = tiny_cfg(tmp_path / "a", "steps=5")
    calls = {"n": 0}

    def stop_at_third(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return train_step(*a, **kw)

    monkeypatch.setattr(train_mod, "train_step", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False, device="cpu")
    monkeypatch.setattr(train_mod, "train_step", train_step)
    assert torch.load(cfg.out_dir / "checkpoint.pt", weights_only=False)["step"] == 2
    assert not (cfg.out_dir / "weights.pt").exists()
    train(cfg, progress=False, device="cpu")
    log = [json.loads(line)["step"] for line in (cfg.out_dir / "log.jsonl").read_text().splitlines()]
    assert log == [2, 4, 5]
    # step * batch_size is a whole number of sequences, so the resumed data stream is the original one.
    straight = replace(cfg, out=str(tmp_path / "b"))
    train(straight, progress=False, device="cpu")
    a, b = weights_of(cfg.out_dir / "weights.pt"), weights_of(straight.out_dir / "weights.pt")
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_with_more_steps_continues(trained, tmp_path):
    """A finished 3-step run extended to 5 steps starts at step 4 from the saved weights and optimiser."""
    cfg, _ = trained
    import shutil

    shutil.copytree(cfg.out_dir, tmp_path / cfg.name)
    more = replace(cfg, out=str(tmp_path), steps=5)
    metrics = train(more, progress=False, device="cpu")
    log = [json.loads(line)["step"] for line in (more.out_dir / "log.jsonl").read_text().splitlines()]
    assert log == [2, 3, 4, 5] and metrics["step"] == 5
    ckpt = torch.load(more.out_dir / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 5 and ckpt["config"]["steps"] == 5
    assert [r["step"] for r in ckpt["log"]] == [2, 3, 4, 5]
    # The saved optimiser state went on: Adam's step count is 5, not 2.
    assert all(int(st["step"]) == 5 for st in ckpt["optimizer"]["state"].values())


# ------------------------------------------------------------------- DDP
DDP_WORKER = textwrap.dedent("""
    import sys
    import torch
    from trt_tracker.models import ModelConfig, build_model
    from trt_tracker.train import Objective, TrainConfig, setup_distributed, train_step, wrap_model

    torch.set_num_threads(1)
    data = torch.load(sys.argv[1], weights_only=False)
    dev = torch.device("cpu")
    rank, world = setup_distributed(dev)
    assert world == 2 and torch.distributed.get_backend() == "gloo"
    cfg = TrainConfig(name="ddp", model=ModelConfig(**data["model"]))
    torch.manual_seed(0)
    net = build_model(cfg.model).train()
    model = wrap_model(net, dev, world)
    assert type(model).__name__ == "DistributedDataParallel"
    opt = torch.optim.Adam(net.parameters(), lr=data["lr"])
    objective = Objective(cfg)
    for batch in data["batches"]:
        half = {k: v[2 * rank: 2 * rank + 2] for k, v in batch.items()}
        train_step(model, objective, half, opt, data["grad_clip"])
    if rank == 0:
        torch.save({k: v for k, v in net.named_parameters()}, sys.argv[2])
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_matches_single_process(tmp_path):
    """Two gloo ranks on halves of a batch == one process averaging the two halves' losses."""
    m = ModelConfig(task="pose", pose_head="integral", depth=10, width=0.25, input_size=64, head_channels=16,
                    depth_bins=8)
    lr, clip = 1e-3, 1.0
    batches = [random_batch(m, 4, seed=s) for s in range(3)]
    data = tmp_path / "data.pt"
    torch.save({"model": m.to_dict(), "batches": batches, "lr": lr, "grad_clip": clip}, data)
    script = tmp_path / "worker.py"
    script.write_text(DDP_WORKER)
    result = tmp_path / "rank0.pt"
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        procs.append(subprocess.Popen([sys.executable, str(script), str(data), str(result)], env=env, cwd=tmp_path,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out

    # The same three steps in one process.
    cfg = TrainConfig(name="ddp", model=m)
    torch.manual_seed(0)
    net = build_model(m).train()
    model = TrainForward(net)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    objective = Objective(cfg)
    for batch in batches:
        opt.zero_grad()
        halves = [{k: v[i:i + 2] for k, v in batch.items()} for i in (0, 2)]
        loss = 0.5 * (objective.loss(model, halves[0]) + objective.loss(model, halves[1]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
    ddp = torch.load(result, weights_only=True)
    single = dict(net.named_parameters())
    assert ddp.keys() == single.keys()
    initial = build_model(m)
    moved = 0
    for k, p in single.items():
        assert (ddp[k] - p.detach()).abs().max() < 1e-5, k
        moved += int(not torch.equal(p.detach(), dict(initial.named_parameters())[k]))
    assert moved > len(single) // 2        # the comparison is not between two untrained networks


# ------------------------------------------------------------------- CLI
def test_cli_train_list(capsys):
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS:
        assert name in out
    assert "ResNet-50" in out and "ResNet-10" in out


def test_cli_train_errors(capsys):
    assert main(["train", "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert main(["train", "--preset", "body-lite-pose", "--set", "bogus=1"]) == 2
    assert "override 'bogus': unknown key" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "--preset NAME" in capsys.readouterr().err


def test_cli_unknown_skeleton_is_a_user_error(capsys):
    assert main(["train", "--preset", "body-lite-pose", "--set", "model.skeleton=BODY99", "--print-config"]) == 2


def test_cli_print_config(capsys, tmp_path):
    assert main(["train", "--preset", "hand-lite-spatial", "--set", "steps=9", "model.beta=3", "--print-config"]) == 0
    d = json.loads(capsys.readouterr().out)
    cfg = TrainConfig.from_dict(d)
    assert cfg.name == "hand-lite-spatial" and cfg.steps == 9 and cfg.model.beta == 3.0
    assert cfg == preset("hand-lite-spatial").override(["steps=9", "model.beta=3"])
    # The printed JSON is a valid --config file.
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(d))
    assert main(["train", "--config", str(path), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out) == d
    assert main(["train", "--config", str(tmp_path / "none.json")]) == 2
    assert "cannot read training config" in capsys.readouterr().err


def test_a_network_about_the_depth_centre_trains_and_validates_on_it(tmp_path):
    """model.z_ref=centre: the training samples and the (fixed) validation samples have the root's z at its
    offset from a centre with the training's error, not at 0 as a root-relative network's; the spatial and
    temporal samples of the same model stay root-relative."""
    from trt_tracker.train import SampleDataset, validation_set

    root = tiny_cfg(tmp_path, "lr_cycles=1", name="hand-lite-pose")
    centre = tiny_cfg(tmp_path, "lr_cycles=1", "model.z_ref=centre", name="hand-lite-pose")
    assert all(abs(s["joints"][0, 2]) < 1e-6 for s in validation_set(root))
    v = validation_set(centre)
    assert all(abs(s["joints"][0, 2]) > 1e-4 for s in v)
    assert [s["joints"][0, 2] for s in v] == [s["joints"][0, 2] for s in validation_set(centre)]
    s = next(iter(SampleDataset(centre)))
    assert abs(s["joints"][0, 2]) > 1e-4
    assert SampleDataset(tiny_cfg(tmp_path, "model.z_ref=centre", name="hand-lite-spatial")).samples.z_ref == "root"
    # Its validation also reports the depth error relative to the root (what MPJPE with the true root sees).
    from trt_tracker.train import collate

    batch = collate(v[:4])
    net = build_model(centre.model).eval()
    errs = Objective(centre).errors(net, batch)
    with torch.no_grad():
        pred = net(batch["image"])
    gt = batch["joints"]
    dz = (pred[..., 2] - pred[..., :1, 2]) - (gt[..., 2] - gt[..., :1, 2])
    assert errs["err_zrel_mm"] == pytest.approx(float(dz.abs().mean()) * centre.model.cube_mm / 2, rel=1e-5)
    assert "err_zrel_mm" not in Objective(root).errors(build_model(root.model).eval(), collate(validation_set(root)[:4]))


@pytest.mark.parametrize("name", ["body-lite-pose", "hand-lite-spatial", "body-lite-temporal"])
def test_channels_last_step_matches_the_default_format(tmp_path, name):
    """channels_last: the same training step (loss, gradients) as the default memory format, the reference;
    only the layout of the network's and the images' tensors differs (gradients, not Adam's updates, are
    compared: Adam turns rounding noise in a near-zero gradient into a full step)."""
    import copy

    from trt_tracker.train import Objective, TrainForward, to_device, train_step

    cfg = tiny_cfg(tmp_path, "init=", name=name)
    torch.manual_seed(0)
    ref = build_model(cfg.model).train()
    fast = copy.deepcopy(ref).to(memory_format=torch.channels_last)
    assert fast.state_dict()[next(k for k, v in fast.state_dict().items() if v.dim() == 4)].is_contiguous(
        memory_format=torch.channels_last)
    b = random_batch(cfg.model, 6)
    obj = Objective(cfg)
    losses = []
    for net, channels_last in ((ref, False), (fast, True)):
        batch = to_device(b, "cpu", channels_last)
        assert batch["image"].is_contiguous(memory_format=torch.channels_last if channels_last else
                                            torch.contiguous_format)
        opt = torch.optim.SGD(net.parameters(), lr=0.0)
        losses.append(train_step(TrainForward(net), obj, batch, opt, 0.0))
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    for (k, a), b_ in zip(ref.named_parameters(), fast.parameters()):
        scale = float(a.grad.abs().max()) + 1e-12
        torch.testing.assert_close(b_.grad / scale, a.grad / scale, rtol=1e-3, atol=1e-4, msg=k)
