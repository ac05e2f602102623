"""Training: typed configs, on-the-fly synthetic samples, checkpoints with resume, DDP.

>>> cfg = preset("body-lite-pose").override(["steps=2000", "batch_size=32"])
>>> train(cfg)                                   # writes runs/train/body-lite-pose/{checkpoint.pt, weights.pt, log.jsonl}

Multi-GPU / multi-node: ``torchrun --nproc_per_node=N -m trt_tracker.cli train --preset ...``;
each rank draws its own shard of sequence seeds, gradients are averaged by
DistributedDataParallel (NCCL on GPUs, gloo on CPUs) and rank 0 writes.

Losses (in the network frame, see :mod:`trt_tracker.models`):
pose ``integral``/``joints`` - joint L1 (seed 002 Eq. 3); ``bones`` - the
compositional loss over ``pairs`` (Eq. 8); relation maps - Eq. 6 with the
pixel weighting of the model config around the ground-truth related joints;
the fully connected Baseline - L1 on the relation vector.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .codec import LocaliserCodec, PoseCodec
from .data.samples import (BODY_AUGMENT, HAND_AUGMENT, AugmentConfig, SampleStreamConfig, SyntheticSamples,
                           no_augment)
from .models.pose import value_scale
from .models import CompositionalLoss, ModelConfig, build_model, joint_loss
from .models.graphs import load_weights
from .skeleton import get_skeleton

LR_SCHEDULES = ("step", "cosine")

#: Seed ranges that never overlap: training sequences, validation, held-out test.
TRAIN_SEEDS, VAL_SEEDS, TEST_SEEDS = 0, 10_000_000, 20_000_000


@dataclass(frozen=True)
class TrainConfig:
    name: str
    model: ModelConfig
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    lr_schedule: str = "step"        # step: lr *= lr_drop after lr_drop_at of the steps | cosine: to lr * final_lr
    lr_drop_at: float = 0.8          # step: fraction of steps after which lr *= lr_drop
    lr_drop: float = 0.1
    warmup_steps: int = 0            # linear warm-up from lr / 100 (both schedules)
    final_lr: float = 0.01           # cosine: the last step's lr as a fraction of lr
    lr_cycles: int = 1               # cosine: this many equal cycles, each restarting at lr (SGDR; warm-up
    #                                  only in the first), so a finished run continues as a longer one
    ema: float = 0.0                 # decay of an exponential moving average of the weights (0: none); when
    #                                  set, validation reports both and weights.pt holds the average
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    pairs: str = "all"               # compositional loss pair set (pose_head="bones")
    heatmap_loss: float = 0.0        # integral pose: weight of the auxiliary heatmap loss (Sun et al. 2018, "I2")
    heatmap_sigma: float = 1.0       # its Gaussian target's sd in heatmap pixels (and depth bins)
    root_z_loss: float = 0.0         # pose with z_ref="centre": weight of an extra L1 loss on each joint's depth
                                     # relative to the root's (what MPJPE with the true root depth measures)
    fused_loss: float = 0.0          # spatial: weight of a loss on the joints the tracker's bone term makes of
    #                                  a frozen pose network's (fused_pose, one pass) and the predicted bones
    #                                  (pooled at that network's joints): the per-frame least-squares fusion
    #                                  argmin_X |X - J|^2 + fused_alpha |L X - B|^2 (bone_fusion).  The plain
    #                                  loss teaches bones; this one teaches bones that correct the pose
    #                                  network's errors instead of sharing them (the tracker's gain)
    fused_pose: str = ""             # that pose network: a weights file, or a preset name (out/<name>/weights.pt);
    #                                  set without fused_loss, validation still reports the fusion's errors
    fused_alpha: float = 1.0         # the bone weight of that fusion (the tracker's alpha)
    fused_ensemble: bool = False     # the fused loss's joints from the pose network's test-time ensemble (its
    #                                  rotations / mirror views, what the tracker fuses) instead of one pass:
    #                                  that many forward passes per step
    augment: AugmentConfig = BODY_AUGMENT
    stream: SampleStreamConfig = SampleStreamConfig()
    seed: int = 0                    # initialisation and data order
    channels_last: bool = False      # the network and its input batches in channels-last memory format: the same
    #                                  computation (tests/test_train.py checks a step against the default format),
    #                                  faster convolutions on a CPU.  A hand spatial round's steps, one thread, two
    #                                  runs side by side: model 190 -> 217 samples/s, but the whole step only
    #                                  1.04x, as making the samples in the training process (153 samples/s) is
    #                                  half of it
    init: str = ""                   # start from another network's weights: a weights file, or a preset name
    #                                  (its out/<name>/weights.pt); tensors of the same name and shape are
    #                                  copied (see init_from), e.g. a pose network's backbone
    data_seed: int = TRAIN_SEEDS     # first training sequence seed
    num_workers: int = 1             # data loader processes (0: in the training process)
    threads: int = 0                 # torch intra-op threads (0: leave the default)
    val_every: int = 250
    val_sequences: int = 16
    val_samples_per_sequence: int = 32
    checkpoint_every: int = 250
    out: str = "runs/train"

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"train config: lr_schedule={self.lr_schedule!r} is not one of {LR_SCHEDULES}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"train config: ema must be in [0, 1) (e.g. 0.999), got {self.ema}")
        if self.steps < 1 or self.batch_size < 1 or self.warmup_steps < 0:
            raise ValueError("train config: steps and batch_size must be >= 1 and warmup_steps >= 0")
        if self.lr_cycles < 1 or self.steps % self.lr_cycles:
            raise ValueError(f"train config: lr_cycles must be >= 1 and divide steps ({self.steps}), "
                             f"got {self.lr_cycles}")
        if self.fused_loss < 0 or self.fused_alpha <= 0:
            raise ValueError("train config: fused_loss must be >= 0 and fused_alpha > 0")
        if (self.fused_loss > 0 or self.fused_pose) and (self.model.task != "spatial" or self.model.arch != "maps"):
            raise ValueError("train config: fused_loss and fused_pose are for spatial networks with per-pixel maps "
                             f"(model.task=spatial, model.arch=maps), got task={self.model.task}, "
                             f"arch={self.model.arch}")
        if self.fused_ensemble and not self.fused_loss > 0:
            raise ValueError("train config: fused_ensemble is for the fused loss: set fused_loss > 0 (and fused_pose)")
        if self.fused_loss > 0 and not self.fused_pose:
            raise ValueError("train config: fused_loss needs fused_pose, the pose network whose joints the "
                             "bones are fused with (a weights file or a preset name)")
        # a test-time view the network never saw in training is not a view of the same task
        m, a = self.model, self.augment
        if m.flip and not a.flip:
            raise ValueError("train config: model.flip (a mirror ensemble) needs augment.flip=true: the network "
                             "would never have seen a mirrored crop")
        if m.rotations > 1 and a.rotate_deg < 180:
            raise ValueError(f"train config: model.rotations={m.rotations} turns crops by 180 degrees but "
                             f"augment.rotate_deg={a.rotate_deg:g}: train with rotations over +-180 degrees or set "
                             "model.rotations=1")

    @property
    def out_dir(self) -> Path:
        return Path(self.out) / self.name

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        _reject_unknown(cls, d, "train config")
        d["model"] = ModelConfig.from_dict(d["model"])
        if "augment" in d:
            _reject_unknown(AugmentConfig, d["augment"], "augment")
            d["augment"] = AugmentConfig(**d["augment"])
        if "stream" in d:
            _reject_unknown(SampleStreamConfig, d["stream"], "stream")
            d["stream"] = SampleStreamConfig(**d["stream"])
        return cls(**d)

    def override(self, items) -> "TrainConfig":
        """Apply ``key=value`` overrides; ``model.``/``augment.``/``stream.`` prefixes reach the parts."""
        d = self.to_dict()
        for item in items or ():
            if "=" not in item:
                raise ValueError(f"override {item!r} is not key=value (e.g. steps=500 or model.width=0.5)")
            key, value = item.split("=", 1)
            target, leaf = d, key
            if "." in key:
                part, leaf = key.split(".", 1)
                if part not in ("model", "augment", "stream"):
                    raise ValueError(f"override {key!r}: only model., augment. and stream. have sub-keys")
                target = d[part]
            if leaf not in target:
                raise ValueError(f"override {key!r}: unknown key; known: {sorted(target)}")
            target[leaf] = _parse_like(value, target[leaf], key)
        return TrainConfig.from_dict(d)


def _reject_unknown(cls, d: dict, what: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {unknown}; known: {sorted(known)}")


def _parse_like(value: str, current, key: str):
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return value.lower() in ("true", "1")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        raise ValueError(f"override {key}={value!r}: expected a {type(current).__name__}") from None
    return value


# ------------------------------------------------------------------ presets
def _lite(modality: str, task: str, **kw) -> ModelConfig:
    base = dict(skeleton="BODY17", modality="rgb", input_size=128, cube_mm=2000.0) if modality == "rgb" else \
        dict(skeleton="HAND21", modality="depth", input_size=96, cube_mm=300.0)
    # A heatmap-logit gain for the briefly trained lite pose networks (see IntegralPoseNet).
    gain = {"logit_scale": 10.0} if task == "pose" else {}
    return ModelConfig(task=task, depth=10, width=0.5, head_channels=64, depth_bins=16, decay="binary", beta=2.5,
                       **gain, **base, **kw)


def _full(modality: str, task: str, **kw) -> ModelConfig:
    # The papers: ResNet-50 at 256 x 256 (body), ResNet-18 at 128 x 128 (hand); 64 x 64 / 32 x 32 maps.
    base = dict(skeleton="BODY17", modality="rgb", input_size=256, depth=50, cube_mm=2000.0) \
        if modality == "rgb" else dict(skeleton="HAND21", modality="depth", input_size=128, depth=18, cube_mm=300.0)
    return ModelConfig(task=task, width=1.0, head_channels=256, depth_bins=64, decay="binary", beta=5.0, **base, **kw)


#: Steps of the shipped lite models on a 2-core CPU (see LITE_RECIPE), per task and body/hand.
LITE_STEPS = {"pose": {"body": 12_000, "hand": 16_000}, "spatial": {"body": 5000, "hand": 4000},
              "temporal": {"body": 3000, "hand": 4000}, "temporal-late": {"body": 3000, "hand": 500},
              "temporal-corr": {"body": 1000, "hand": 1000}}
#: The recipe (issue 13; learning curves in benchmarks/results/learning_curves-*): every batch mixes
#: 64 sequences held in memory, the pose networks get the auxiliary heatmap loss, the learning rate
#: warms up and follows a cosine, and the shipped weights are an exponential moving average.
RECIPE = {"lr_schedule": "cosine", "warmup_steps": 200, "ema": 0.998, "stream": SampleStreamConfig(pool_size=64)}
#: Lite: the loader runs in the training process (num_workers=0), so a 2-core CPU can train two
#: networks at once, one thread each, without oversubscription.
LITE_RECIPE = {**RECIPE, "num_workers": 0, "val_every": 500}
POSE_RECIPE = {"heatmap_loss": 1.0}
#: the crop jitter of hand-lite-pose-jitter (augment.translate, augment.scale; benchmarks/results/crop_shift.json)
HAND_JITTER = {"translate": 0.1, "scale": 0.2}


def _presets() -> dict[str, TrainConfig]:
    out = {}
    for prefix, modality, aug in (("body", "rgb", BODY_AUGMENT), ("hand", "depth", HAND_AUGMENT)):
        for size, make, extra in (("lite", _lite, {}), ("full", _full, {**RECIPE, "batch_size": 128, "lr": 1e-4,
                                                                         "steps": 100_000, "num_workers": 8,
                                                                         "stream": SampleStreamConfig(pool_size=32)})):
            for task, kw in (("pose", {}), ("spatial", {}), ("temporal", {}), ("temporal-late", {"fusion": "late"}),
                            ("temporal-corr", {"fusion": "corr"})):
                t = task.split("-")[0]
                name = f"{prefix}-{size}-{task}"
                lite = {**LITE_RECIPE, "steps": LITE_STEPS[task][prefix]} if size == "lite" else {}
                if t == "pose":
                    lite.update(POSE_RECIPE)
                    if size == "lite" and prefix == "hand":
                        lite["lr_cycles"] = 2    # two cosine cycles of 8000 (a warm restart; learning curves)
                elif kw.get("fusion") != "corr":
                    # Start from the pose network's backbone: the spatial network reached the
                    # from-scratch run's final error in a tenth of its steps (learning curves).
                    lite["init"] = f"{prefix}-{size}-pose"
                out[name] = TrainConfig(name=name, model=make(modality, t, **kw), augment=aug, **extra, **lite)
    # The shipped hand pose network gives z about the crop's depth centre, so the root's depth too
    # (z_ref; the tracker's live root depth): hand-lite-pose fine-tuned to it.  Against 4000 steps at lr 1e-4
    # with the crops jittered by +-5 % (augment.translate=0.05) it ends lower on validation
    # (benchmarks/results/learning_curves-hand-lite-pose-centre.*; live: python -m benchmarks.live_tracking).
    # The full-frame localisers (issue 14): the whole frame at 128 x 128 (letterboxed), ResNet-10 x 0.5, two
    # deconvolutions to a 16 x 16 centre map.  Sequences of 24 frames at 10 fps, 48 samples each from a pool
    # of 32, so a batch mixes subjects, scenes and empty frames.
    for prefix, modality, aug in (("body", "rgb", replace(BODY_AUGMENT, photometric=0.5)),
                                  ("hand", "depth", HAND_AUGMENT)):
        name = f"{prefix}-lite-localiser"
        sk = "BODY17" if prefix == "body" else "HAND21"
        out[name] = TrainConfig(
            name=name, model=ModelConfig(task="localiser", skeleton=sk, modality=modality, input_size=128, depth=10,
                                         width=0.5, head_channels=64, n_deconv=2, dims=2),
            augment=aug, steps=4000, **{**LITE_RECIPE, "stream": SampleStreamConfig(
                pool_size=32, frames_per_sequence=24, samples_per_sequence=48)})
    base = out["hand-lite-pose"]
    out["hand-lite-pose-centre"] = replace(
        base, name="hand-lite-pose-centre", model=base.model.replace(z_ref="centre"), steps=3000, lr=3e-4,
        lr_cycles=1, init="hand-lite-pose")
    # The shipped hand pose network: hand-lite-pose-centre fine-tuned on crops moved by up to +-translate of
    # the box side and scaled by up to +-scale (HAND_JITTER), as a live tracker's are (its box comes from the last frame's
    # estimate or the localiser).  Trained on centred crops only, the network read an off-centre crop as
    # another hand and slid its wrist onto the forearm, the next box followed (benchmarks/crop_shift.py).
    # With it an L1 loss on each joint's depth relative to the root's (root_z_loss): what MPJPE with the true
    # root depth measures.  Against the same run without it: 2D and absolute depth errors unchanged on
    # validation (learning_curves-hand-lite-pose-rootz), the card's single-frame MPJPE with the true root
    # depth 10.2 -> 9.8 mm at 25 fps, root depth error 4.4 -> 3.7 mm.
    # The shipped hand pose and spatial networks run as test-time rotation ensembles of every quarter turn
    # (model.rotations=4, models.ensemble; training takes one pass, validation the ensemble): trained with
    # rotations over +-180 degrees, their errors on a turned crop are partly independent.  Card protocol at
    # 25 fps, the same weights: single-frame 9.8 -> 8.7 mm, Bone Error 6.3 -> 5.7 mm, the best online tracker
    # 8.6 -> 7.9 mm, for pose + spatial 1.75 -> 6.90 ms in ONNX Runtime at batch 1 (side by side:
    # benchmarks/results/ensembles-hand-lite.json).  The temporal network's ensemble changed nothing
    # (7.90 -> 7.89 mm) and it stays one pass.
    centre = out["hand-lite-pose-centre"]
    out["hand-lite-pose-jitter"] = replace(
        centre, name="hand-lite-pose-jitter", augment=replace(HAND_AUGMENT, **HAND_JITTER), steps=2000, lr=1e-4,
        warmup_steps=100, val_every=250, init="hand-lite-pose-centre", root_z_loss=1.0,
        model=centre.model.replace(rotations=4))
    # The shipped body pose and spatial networks run as mirror ensembles (model.flip: the crop and its mirror
    # image, left and right joints swapped; trained with horizontal flips).  Card protocol, the same weights:
    # single-frame 62.2 -> 58.7 mm at 25 fps, Bone Error 38.4 -> 36.7 mm, the best online tracker at 8 fps
    # 52.9 -> 50.6 mm, for pose + spatial 2.97 -> 6.61 ms (benchmarks/results/ensembles-body-lite.json).
    for name in ("body-lite-pose", "body-lite-spatial"):
        out[name] = replace(out[name], model=out[name].model.replace(flip=True))
    # hand-lite-spatial was still improving at its end: the shipped one is it trained once more, the same
    # 4000-step cosine from its weights (validation 2D 2.82 -> 2.55 px, z 3.91 -> 3.61 mm with EMA weights)
    out["hand-lite-spatial"] = replace(out["hand-lite-spatial"],
                                       model=out["hand-lite-spatial"].model.replace(rotations=4))
    sp = out["hand-lite-spatial"]
    out["hand-lite-spatial-long"] = replace(sp, name="hand-lite-spatial-long", init="hand-lite-spatial")
    # The body's spatial network, the same once more: the tracker's gain rides on its bone error
    # (benchmarks/tracker_bound.py: halving it would give 23 %, the temporal term hardly anything).
    sp = out["body-lite-spatial"]
    out["body-lite-spatial-long"] = replace(sp, name="body-lite-spatial-long", init="body-lite-spatial")
    # The body's late-fusion temporal network, the same once more: its displacements trailed dense optical
    # flow (OpenCV DIS) on the small motions of 25 fps (benchmarks/results/paper_tables.md, t3) and its
    # validation error was still falling when the cosine ended (learning_curves-body-lite-temporal).
    tl = out["body-lite-temporal-late"]
    out["body-lite-temporal-late-long"] = replace(tl, name="body-lite-temporal-late-long",
                                                  init="body-lite-temporal-late")
    # Later rounds, each the previous round's recipe from its weights on sequences no earlier round drew
    # (data_seed; the first two rounds drew the same stream).  The second had lowered the body spatial
    # network's validation depth error 32.7 -> 29.2 mm and doubled the tracker's bone gain (-2.4 -> -4.8 % at
    # 8 fps); the third 29.2 -> 25.5 mm (-4.8 -> -10.7 %), the body temporal network's 22.8 -> 21.2 mm, every
    # curve still falling at its end (learning_curves-*-long2/-long3).  The hand spatial network's fourth
    # to sixth rounds: 2.39 -> 2.32 -> 2.24 -> 2.25 px, 3.44 -> 3.19 -> 3.06 -> 2.95 mm, the tracker -8.5 ->
    # -10.3 -> -12.2 -> -12.5 % at 25 fps (learning_curves-hand-lite-spatial-long5); its seventh round
    # (hand-lite-spatial-long6, with the 4-view ensemble) 2.03 -> 2.04 px, 2.82 -> 2.65 mm, Bone Error 5.70 ->
    # 5.60 mm, the tracker -9.7 -> -10.3 % at 25 fps (learning_curves-hand-lite-spatial-r18).  The body temporal
    # network's fifth round (body-lite-temporal-late-long4) is not shipped: it would take body-lite's
    # training over 5 h.  hand-lite-temporal, trained once, trails the difference of two single-frame poses
    # over long gaps (tracker_bound-hand-lite-2.5fps): its second round is hand-lite-temporal-long.
    for name, prev, data_seed in (("body-lite-spatial-long2", "body-lite-spatial-long", 1_000_000),
                                  ("body-lite-temporal-late-long2", "body-lite-temporal-late-long", 1_000_000),
                                  ("hand-lite-spatial-long2", "hand-lite-spatial-long", 1_000_000),
                                  ("body-lite-spatial-long3", "body-lite-spatial-long2", 2_000_000),
                                  ("body-lite-temporal-late-long3", "body-lite-temporal-late-long2", 2_000_000),
                                  ("hand-lite-spatial-long3", "hand-lite-spatial-long2", 2_000_000),
                                  ("hand-lite-spatial-long4", "hand-lite-spatial-long3", 3_000_000),
                                  ("hand-lite-spatial-long5", "hand-lite-spatial-long4", 4_000_000),
                                  ("hand-lite-spatial-long6", "hand-lite-spatial-long5", 5_000_000),
                                  ("body-lite-temporal-late-long4", "body-lite-temporal-late-long3", 3_000_000),
                                  ("hand-lite-temporal-long", "hand-lite-temporal", 1_000_000)):
        out[name] = replace(out[prev], name=name, init=prev, data_seed=data_seed)
    # The hand's temporal network learnt no depth motion (validation z 8.08 mm against 8.07 for zero motion):
    # the change of a joint's root-relative depth is the difference of two changes a depth pair shows far apart
    # (the joint's and the wrist's), which per-pixel maps around the joint cannot see.  With
    # displacement_z="joint" the maps give each joint's own change of depth (local) and pooling subtracts the
    # root's.  It starts from the shipped pose network (hand-lite-pose-jitter, trained before it in its queue).
    # Against the same run with root-relative targets: validation depth 7.36 against 8.09 mm (zero motion 8.07),
    # but the card's trackers move by less than 0.01 mm (learning_curves-hand-lite-temporal-jointz): not shipped.
    # The hand's spatial network at twice the depth (ResNet-18 x 0.5): the sixth round's weights
    # (hand-lite-spatial-long5) copied into the first block of every stage, the new blocks starting as
    # identities (their last BN zeroed), so it starts as exactly that network, and trained one more round on
    # sequences no earlier round drew.  Step for step it matches the same round at ResNet-10 (2.030 / 2.642
    # against 2.037 px / 2.649 mm) in 1.3x the time (learning_curves-hand-lite-spatial-r18): not shipped.
    sp = out["hand-lite-spatial-long5"]
    out["hand-lite-spatial-r18"] = replace(sp, name="hand-lite-spatial-r18", init="hand-lite-spatial-long5",
                                           data_seed=5_000_000, model=sp.model.replace(depth=18))
    t = out["hand-lite-temporal"]
    out["hand-lite-temporal-jointz"] = replace(t, name="hand-lite-temporal-jointz", init="hand-lite-pose-jitter",
                                               model=t.model.replace(displacement_z="joint"))
    # The hand's spatial network trained through the tracker's bone term (fused_loss): the seventh round's bone
    # errors share much with the pose network's (correlation 0.71 / 0.62 / 0.57 in u / v / z with the errors of
    # the single-frame pose's own bones), and bones with the same errors drawn from 40 frames away would take the
    # tracker from -10.0 to -14.5 % at 25 fps (tracker_bound's bone_independence, 8 test sequences,
    # benchmarks/results/tracker_bound-hand-lite-seventh.json): the gain is in what the bones add to the pose,
    # not in their own error.  The round stands in for the seventh (hand-lite-spatial-long6: the
    # same start and sequences, 4000 steps of the plain loss); 2800 steps, as a fused step also runs the
    # pose network, so it takes the seventh round's time and the hand's longer queue stays within 5 h.
    # Doses of the fused loss (3, 10, 30, 100, 300, 1000), fused_pose set as well to log the fusion's validation.  On the
    # card (side by side) the tracker's gain rises with the dose while the bones' own error rises too: Df+bone
    # at 25 fps -10.3 % for the seventh round, -10.0 / -10.8 / -11.1 / -11.3 % (Bone Error 5.60 -> 5.62 / 5.71 /
    # 6.01 / 6.44 mm); validation Df+bone 7.511 -> 7.525 / 7.506 / 7.477 / 7.469 mm; 300 and 1000 level off (-11.1 /
    # -11.2 %, validation 7.481 / 7.480).  Shipped: fused100, in the
    # seventh round's place (benchmarks/results/card-hand-lite-spatial-fused*.json, learning_curves-hand-lite-
    # spatial-fused).
    sp = out["hand-lite-spatial-long6"]
    for name, w in (("hand-lite-spatial-fused", 3.0), ("hand-lite-spatial-fused10", 10.0),
                    ("hand-lite-spatial-fused30", 30.0), ("hand-lite-spatial-fused100", 100.0),
                    ("hand-lite-spatial-fused300", 300.0), ("hand-lite-spatial-fused1000", 1000.0)):
        out[name] = replace(sp, name=name, steps=2800, fused_loss=w, fused_pose="hand-lite-pose-jitter")
    # Fused rounds in place of plain ones (a fused round of 2800 steps takes a plain round's time): the sixth
    # round fused as well (-r6: from the fifth's weights on the sixth's sequences), then the seventh from it
    # (-r7).  On the card (2026-12-05) Df+bone -11.2 / -11.3 / -11.4 % at 25 / 8 / 2.5 fps against fused100's
    # -11.3 / -11.4 / -11.7 % (validation 7.489 against 7.469 mm at 25 fps; Bone Error 6.57 against 6.44): a
    # second fused round adds nothing (benchmarks/results/card-hand-lite-spatial-fused100-r7.json).
    f = out["hand-lite-spatial-fused100"]
    out["hand-lite-spatial-fused100-r6"] = replace(f, name="hand-lite-spatial-fused100-r6",
                                                   init="hand-lite-spatial-long4", data_seed=4_000_000)
    out["hand-lite-spatial-fused100-r7"] = replace(f, name="hand-lite-spatial-fused100-r7",
                                                   init="hand-lite-spatial-fused100-r6")
    # The fused loss with the pose network's four views (what the tracker fuses) instead of one pass, from the
    # sixth round on the seventh's sequences as fused100; a step costs about twice fused100's, so 1400 steps.
    # Step for step no better than fused100 (EMA validation of the fusion 2.418 px / 4.819 mm at 1400 steps
    # against 2.423 / 4.810 at 1500), so at equal time worse (learning_curves-hand-lite-spatial-fused100e).
    out["hand-lite-spatial-fused100e"] = replace(f, name="hand-lite-spatial-fused100e", fused_ensemble=True,
                                                 steps=1400)
    # fused100 with the budget's throughput levers: 800 samples cut from each rendered sequence instead of 200 and
    # channels_last, so 3400 steps in about fused100's 2800 steps' time.  Far worse (EMA validation of the fusion
    # 2.453 px / 4.862 mm against 2.402 / 4.795; the bones alone 2.505 / 3.722 against 2.322 / 3.217): it saw
    # 136 sequences against 448.  So the other way, fewer samples per sequence (more sequences, slower data) at
    # fused100's time: 100 (2250 steps) and 50 (1610) (learning_curves-hand-lite-spatial-sequences).  Card: Bone
    # Error 6.31 / 6.09 mm, Df+bone -11.0 / -11.6 % at 25 fps against fused100's 6.44 and -11.3 % (validation 7.538 /
    # 7.466 against 7.469) in 1.12x its time: within the noise, not shipped.
    out["hand-lite-spatial-fused100-fast"] = replace(f, name="hand-lite-spatial-fused100-fast", steps=3400,
                                                     channels_last=True,
                                                     stream=replace(f.stream, samples_per_sequence=800))
    for sps, steps in ((100, 2250), (50, 1610)):
        out[f"hand-lite-spatial-fused100-sps{sps}"] = replace(f, name=f"hand-lite-spatial-fused100-sps{sps}",
                                                             steps=steps,
                                                             stream=replace(f.stream, samples_per_sequence=sps))
    return out


PRESETS = _presets()


def preset(name: str) -> TrainConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None


def codec_for(m: ModelConfig) -> PoseCodec:
    return PoseCodec(m.input_size, m.heatmap_size, m.cube_mm)


def localiser_codec_for(m: ModelConfig) -> LocaliserCodec:
    return LocaliserCodec(m.input_size, m.modality)


# ------------------------------------------------------------------ data
class SampleDataset(IterableDataset):
    """Endless samples sharded by distributed rank and data-loader worker."""

    def __init__(self, cfg: TrainConfig, rank: int = 0, world: int = 1, start: int = 0):
        if cfg.model.task == "localiser":
            from .data.localiser import LocaliserSamples

            self.samples = LocaliserSamples(cfg.model.modality, localiser_codec_for(cfg.model), cfg.augment.margin,
                                            cfg.stream, cfg.data_seed, cfg.augment.photometric)
        else:
            self.samples = SyntheticSamples(_data_task(cfg.model), cfg.model.modality, codec_for(cfg.model),
                                            cfg.augment, cfg.stream, cfg.data_seed, _z_ref(cfg.model))
        self.rank, self.world, self.start = rank, world, start

    def __iter__(self):
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        yield from self.samples(shard=self.rank * nw + wid, num_shards=self.world * nw, start=self.start)


def _data_task(m: ModelConfig) -> str:
    return "temporal" if m.task == "temporal" else "pose"


def _z_ref(m: ModelConfig) -> str:
    return m.z_ref if m.task == "pose" else "root"


def validation_set(cfg: TrainConfig) -> list[dict]:
    """Fixed, un-augmented samples from the validation seeds (the same for every run of a preset).

    A network that gives the root's depth (``z_ref="centre"``) is validated with the training's error of the
    depth centre (seeded, so still fixed): with the exact root depth as centre its z error would not count
    the root's."""
    m = cfg.model
    if m.task == "localiser":
        from .data.localiser import localiser_validation

        return localiser_validation(m.modality, localiser_codec_for(m), cfg.augment.margin,
                                    range(VAL_SEEDS, VAL_SEEDS + cfg.val_sequences), cfg.stream.frames_per_sequence,
                                    cfg.val_samples_per_sequence)
    stream = replace(cfg.stream, samples_per_sequence=cfg.val_samples_per_sequence)
    aug = no_augment(m.modality)
    if _z_ref(m) == "centre":
        aug = replace(aug, depth_centre_noise_mm=cfg.augment.depth_centre_noise_mm)
    src = SyntheticSamples(_data_task(m), m.modality, codec_for(m), aug, stream, VAL_SEEDS, _z_ref(m))
    from .data.samples import make_sequence

    out = []
    for i in range(cfg.val_sequences):
        seq = make_sequence(m.modality, VAL_SEEDS + i, cfg.stream.frames_per_sequence)
        out.extend(src.from_sequence(seq, VAL_SEEDS + i))
    return out


def collate(samples: list[dict]) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.stack([s[k] for s in samples])) for k in samples[0]}


# ------------------------------------------------------------------ losses
class Objective:
    """The training loss of a model config, and the validation errors."""

    def __init__(self, cfg: TrainConfig, device: str | torch.device = "cpu"):
        self.m = cfg.model
        self.scale = value_scale(self.m.heatmap_size, self.m.dims).to(device)
        self.fused_loss, self.pose_val = cfg.fused_loss, None
        if cfg.fused_pose:
            self._init_fusion(cfg, device)
        self.comp = None
        self.heatmap_loss, self.sigma = cfg.heatmap_loss, cfg.heatmap_sigma
        self.root_z_loss = cfg.root_z_loss if self.m.task == "pose" and self.m.z_ref == "centre" else 0.0
        self.root = get_skeleton(self.m.skeleton).root
        if self.m.task == "pose" and self.m.pose_head == "bones":
            self.comp = CompositionalLoss(get_skeleton(self.m.skeleton), cfg.pairs)

    def _init_fusion(self, cfg: TrainConfig, device) -> None:
        """The frozen pose network of ``fused_loss``: one pass in training (its ensemble with
        ``fused_ensemble``), its own ensemble in validation (what the tracker fuses), and the fusion's matrices."""
        from .models.graphs import load_weights, signature, with_views

        path = weights_path(cfg, cfg.fused_pose)
        if not path.is_file():
            raise FileNotFoundError(f"fused_pose weights {path} not found: train that pose network first or "
                                    "point fused_pose= at a weights file")
        net, pcfg, _ = load_weights(path)
        if pcfg.task != "pose" or signature(pcfg) != signature(self.m) or pcfg.dims != self.m.dims:
            raise ValueError(f"fused_pose {path}: a {pcfg.task} network for {signature(pcfg)} with dims "
                             f"{pcfg.dims}; this spatial network needs a pose network for {signature(self.m)} "
                             f"with dims {self.m.dims}")
        self.pose_val = net.to(device).requires_grad_(False)
        self.pose_train = (self.pose_val if cfg.fused_ensemble else
                           with_views(net, pcfg, 1, False)[0].to(device).requires_grad_(False))
        sk = get_skeleton(self.m.skeleton)
        self.par = torch.as_tensor(np.where(sk.parents_array < 0, np.arange(sk.K), sk.parents_array), device=device)
        self.fusion = [t.to(device) for t in bone_fusion(sk.parents_array, cfg.fused_alpha)]

    def _pose_joints(self, pose, x: torch.Tensor) -> torch.Tensor:
        """The frozen pose network's joints, z relative to its root joint's (as the tracker fuses them)."""
        # an ensemble runs its views as one batch: views x 8 samples per call is faster on a CPU than views x N
        J = torch.cat([pose(xc) for xc in x.split(8)]) if len(getattr(pose, "views", ())) > 1 else pose(x)
        return torch.cat([J[..., :2], J[..., 2:] - J[:, self.root : self.root + 1, 2:]], -1)

    def fuse(self, J: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        """(N, K, C) joints and bones -> the per-frame least-squares fusion (:func:`bone_fusion`)."""
        M, A = self.fusion
        return torch.einsum("kj,njc->nkc", M, J) + torch.einsum("kj,njc->nkc", A, B)

    def loss(self, model, batch: dict) -> torch.Tensor:
        """``model`` is a :class:`TrainForward` (or DDP around one), so DDP sees every forward."""
        m, x = self.m, batch["image"]
        if m.task == "localiser":
            from .models.localiser import localiser_loss

            out, logits = model(x, mode="logits")
            return localiser_loss(out, logits, batch["target"], self.sigma)
        if m.task == "pose":
            J_gt = batch["joints"][..., : m.dims]
            if self.comp is not None:
                return self.comp(model(x, mode="bones"), J_gt, self.scale)
            w = batch.get("weight")              # (N, K): 0 for joints a half-body crop cuts off
            if self.heatmap_loss > 0 and m.pose_head == "integral":
                J, ce = integral_and_heatmap_loss(model(x, mode="logits"), J_gt, self.sigma, w)
                loss = weighted_joint_loss(J, J_gt, self.scale, w) + self.heatmap_loss * ce
            else:
                J = model(x)
                loss = weighted_joint_loss(J, J_gt, self.scale, w)
            if self.root_z_loss > 0:
                loss = loss + self.root_z_loss * root_relative_z_loss(J, J_gt, self.scale, self.root)
            return loss
        target = batch["bones" if m.task == "spatial" else "target"][..., : m.dims]
        if m.displacement_z == "joint":
            # the maps learn each joint's own change of depth: the root-relative one plus the root's
            target = torch.cat([target[..., :2], target[..., 2:] + batch["root_dz"][:, None, None]], -1)
        if self.fused_loss > 0:
            with torch.no_grad():
                Jp = self._pose_joints(self.pose_train, x)
            loss, B = model(x, batch["related"], target, mode="loss_and_pool", pool_at=Jp[:, self.par, :2])
            X = self.fuse(Jp, B)
            return loss + self.fused_loss * joint_loss(X, batch["joints"][..., : m.dims], self.scale)
        return model(x, batch["related"], target, mode="loss")

    @torch.no_grad()
    def errors(self, model, batch: dict) -> dict[str, float]:
        """Validation errors in crop pixels (u, v) and mm (z)."""
        m, net = self.m, unwrap(model)
        if m.task == "localiser":
            return localiser_errors(net(batch["image"]), batch["target"])
        if m.task == "pose":
            pred, gt = net(batch["image"]), batch["joints"][..., : m.dims]
        else:
            pred = net(batch["image"], batch["related"])
            gt = batch["bones" if m.task == "spatial" else "target"][..., : m.dims]
        if m.task == "spatial":
            pred, gt = pred[:, 1:], gt[:, 1:]   # the root has no bone
        px = m.input_size / m.heatmap_size
        out = {}
        # Temporal: also the zero-motion baseline (no displacement), what a network that learnt no motion scores.
        cases = [("", pred)] + ([("zero_", torch.zeros_like(gt))] if m.task == "temporal" else [])
        for prefix, p in cases:
            d = p - gt
            out[f"{prefix}err_uv_px"] = float(d[..., :2].norm(dim=-1).mean() * px)
            if m.dims == 3:
                out[f"{prefix}err_z_mm"] = float(d[..., 2].abs().mean() * m.cube_mm / 2)
        if m.task == "pose" and m.dims == 3 and m.z_ref == "centre":
            # What MPJPE with the true root depth sees: each joint's depth relative to the root's.
            out["err_zrel_mm"] = float(root_relative_z_error(pred, gt, self.root).abs().mean() * m.cube_mm / 2)
        if self.pose_val is not None:
            # The joints the tracker's bone term would give (both networks with their test-time views), and
            # the pose network's alone: the fusion's gain.
            J_gt = batch["joints"][..., : m.dims]
            Jp = self._pose_joints(self.pose_val, batch["image"])
            X = self.fuse(Jp, net(batch["image"], Jp[:, self.par, :2]))
            for prefix, p in (("pose_", Jp), ("fused_", X)):
                d = p - J_gt
                out[f"{prefix}err_uv_px"] = float(d[..., :2].norm(dim=-1).mean() * px)
                out[f"{prefix}err_z_mm"] = float(d[..., 2].abs().mean() * m.cube_mm / 2)
        return out


def bone_fusion(parents, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(M, A)``, (K, K) float32 each, with ``X = M J + A B`` the per-frame least-squares fusion
    ``argmin_X sum_k |X_k - J_k|^2 + alpha sum_(k not root) |X_k - X_parent(k) - B_k|^2`` of joints J and bones
    B (root row ignored), each coordinate alone: the tracker's bone term for one frame
    (:func:`~trt_tracker.solver.solve_sequence` with no durations).  ``M = (I + alpha L^T L)^-1`` and
    ``A = alpha M L^T``, L the bones' incidence matrix (row k: +1 at k, -1 at its parent; the root's row 0)."""
    par = np.asarray(parents)
    K = len(par)
    L = np.zeros((K, K))
    for k, p in enumerate(par):
        if p >= 0:
            L[k, k], L[k, p] = 1.0, -1.0
    M = np.linalg.inv(np.eye(K) + alpha * L.T @ L)
    return torch.tensor(M, dtype=torch.float32), torch.tensor(alpha * M @ L.T, dtype=torch.float32)


def localiser_errors(out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Localiser validation: presence errors (threshold 0.5) and, on frames with the subject, the centre's
    error as a share of the true box side and the side's ratio error (|log|)."""
    present = target[:, 0] > 0.5
    said = out[:, 0] > 0
    res = {"presence_err": float((said != present).float().mean())}
    if bool(present.any()):
        o, t = out[present], target[present]
        side = torch.exp(t[:, 3]) * 2           # the box side in the [-1, 1] units of the centre
        res["centre_err_box"] = float(((o[:, 1:3] - t[:, 1:3]).norm(dim=-1) / side).mean())
        res["size_err_log"] = float((o[:, 3] - t[:, 3]).abs().mean())
    return res


def _gaussian_target(centre: torch.Tensor, n: int, sigma: float) -> torch.Tensor:
    """(...,) centres in cell units -> (..., n) normalised Gaussian weights over cells 0..n-1."""
    cells = torch.arange(n, dtype=centre.dtype, device=centre.device)
    g = torch.exp(-0.5 * ((cells - centre[..., None]) / sigma) ** 2)
    return g / g.sum(-1, keepdim=True).clamp_min(1e-12)


def heatmap_loss(logits: torch.Tensor, J_gt: torch.Tensor, sigma: float = 1.0,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of the heatmap's marginals against Gaussians at the ground truth.

    An auxiliary loss beside the integral (joint) loss, as in Integral Regression's
    combined variant: it gives every heatmap cell a gradient from the first step,
    so small networks trained from scratch leave the mean pose sooner.
    ``logits`` (N, K, H, W) or (N, K, D, H, W); ``J_gt`` (N, K, 2 or 3) in the network frame; ``weight``
    (N, K) scales each joint's (u, v) terms (0: a joint outside the crop), None: all 1.
    """
    if logits.ndim == 4:
        logits = logits[:, :, None]
    N, K, D, H, W = logits.shape
    logp = torch.log_softmax(logits.reshape(N, K, -1), -1).reshape(N, K, D, H, W)
    p = logp.exp()
    # Marginals over u, v (and z): log of sums of probabilities.
    log_u = torch.log(p.sum((2, 3)).clamp_min(1e-12))             # (N, K, W)
    log_v = torch.log(p.sum((2, 4)).clamp_min(1e-12))             # (N, K, H)
    ce = -(_gaussian_target(J_gt[..., 0], W, sigma) * log_u).sum(-1) \
        - (_gaussian_target(J_gt[..., 1], H, sigma) * log_v).sum(-1)
    if weight is not None:
        ce = ce * weight.to(ce.dtype)
    if D > 1 and J_gt.shape[-1] > 2:
        log_z = torch.log(p.sum((3, 4)).clamp_min(1e-12))         # (N, K, D)
        zc = (J_gt[..., 2] + 1) / 2 * D - 0.5                    # z in [-1, 1] -> bin index
        ce = ce - (_gaussian_target(zc, D, sigma) * log_z).sum(-1)
    return ce.mean()


def weighted_joint_loss(J: torch.Tensor, J_gt: torch.Tensor, scale: torch.Tensor,
                        weight: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`joint_loss` with the (u, v) of each joint weighted by ``weight`` (N, K) (its z is kept: the
    depth of a joint outside the crop is still the body's); None: the plain joint loss."""
    if weight is None:
        return joint_loss(J, J_gt, scale)
    if J.shape != J_gt.shape:
        raise ValueError(f"prediction {tuple(J.shape)} and target {tuple(J_gt.shape)} differ")
    d = ((J - J_gt) / scale).abs()
    w = torch.ones_like(d)
    w[..., :2] = weight[..., None].to(d.dtype)
    return (d * w).mean()


def root_relative_z_error(J: torch.Tensor, J_gt: torch.Tensor, root: int) -> torch.Tensor:
    """(..., K) error of each joint's depth relative to the root joint's."""
    return (J[..., 2] - J[..., root : root + 1, 2]) - (J_gt[..., 2] - J_gt[..., root : root + 1, 2])


def root_relative_z_loss(J: torch.Tensor, J_gt: torch.Tensor, scale: torch.Tensor, root: int) -> torch.Tensor:
    """Mean |error| of each joint's depth relative to the root joint's, in :func:`joint_loss`'s units."""
    return (root_relative_z_error(J, J_gt, root) / scale[..., 2]).abs().mean()


def integral_and_heatmap_loss(logits: torch.Tensor, J_gt: torch.Tensor, sigma: float = 1.0,
                              weight: torch.Tensor | None = None):
    """(soft-argmax joints, :func:`heatmap_loss`) from one softmax: the fast path of the pose objective.

    Equal to ``soft_argmax_3d(logits)`` (or ``soft_argmax_2d``) and ``heatmap_loss(logits, J_gt, sigma)``
    computed apart (tested), at about half the cost: both need the same marginals.  ``weight`` (N, K)
    scales each joint's (u, v) cross-entropy (as :func:`weighted_joint_loss` its (u, v) error).
    """
    squeeze = logits.ndim == 4
    if squeeze:
        logits = logits[:, :, None]
    N, K, D, H, W = logits.shape
    p = torch.softmax(logits.reshape(N, K, -1), -1).reshape(N, K, D, H, W)
    pu, pv = p.sum((2, 3)), p.sum((2, 4))                          # (N, K, W), (N, K, H)
    xs = torch.arange(W, dtype=p.dtype, device=p.device)
    ys = torch.arange(H, dtype=p.dtype, device=p.device)
    cols = [(pu * xs).sum(-1), (pv * ys).sum(-1)]
    ce = -(_gaussian_target(J_gt[..., 0], W, sigma) * torch.log(pu.clamp_min(1e-12))).sum(-1) \
        - (_gaussian_target(J_gt[..., 1], H, sigma) * torch.log(pv.clamp_min(1e-12))).sum(-1)
    if weight is not None:
        ce = ce * weight.to(ce.dtype)
    if not squeeze:
        pz = p.sum((3, 4))                                         # (N, K, D)
        cols.append((pz * ((torch.arange(D, dtype=p.dtype, device=p.device) + 0.5) / D * 2 - 1)).sum(-1))
        if D > 1 and J_gt.shape[-1] > 2:
            zc = (J_gt[..., 2] + 1) / 2 * D - 0.5
            ce = ce - (_gaussian_target(zc, D, sigma) * torch.log(pz.clamp_min(1e-12))).sum(-1)
    return torch.stack(cols, -1), ce.mean()


class TrainForward(torch.nn.Module):
    """Routes every training computation through ``forward`` (DDP's gradient hooks need that)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, related=None, target=None, mode: str = "predict", pool_at=None):
        if mode == "loss":
            return self.net.loss(x, related, target)
        if mode == "loss_and_pool":
            return self.net.loss_and_pool(x, related, target, pool_at)
        if mode == "bones":
            return self.net.bones(x)
        if mode == "logits":
            return self.net.logits(x)
        return self.net(x) if related is None else self.net(x, related)


# ------------------------------------------------------------------ distributed
def distributed_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (1 process: 0, 1, 0)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def setup_distributed(device: torch.device) -> tuple[int, int]:
    rank, world, _ = distributed_env()
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
    return rank, world


def wrap_model(net: torch.nn.Module, device: torch.device, world: int) -> torch.nn.Module:
    """The model the training step calls: the network itself, or DDP around it on several processes."""
    if world <= 1:
        return TrainForward(net)
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    return DDP(TrainForward(net), device_ids=ids)


def unwrap(model) -> torch.nn.Module:
    m = getattr(model, "module", model)
    return getattr(m, "net", m)


def train_step(model, objective: Objective, batch: dict, opt: torch.optim.Optimizer, grad_clip: float) -> float:
    opt.zero_grad(set_to_none=True)
    loss = objective.loss(model, batch)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training loss became {float(loss)}; lower the learning rate (lr=...)")
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    return float(loss.detach())


def lr_at(cfg: TrainConfig, step: int) -> float:
    """The learning rate of a step (0-based): warm-up, then the step or cosine schedule over ``cfg.steps``
    (cosine: ``cfg.lr_cycles`` cycles, the first of which is the whole schedule of a run of
    ``steps / lr_cycles`` steps, so resuming a finished run with both doubled continues it exactly)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (0.01 + 0.99 * step / cfg.warmup_steps)
    if cfg.lr_schedule == "cosine":
        cycle = cfg.steps // cfg.lr_cycles
        i = min(step // cycle, cfg.lr_cycles - 1)
        warm = cfg.warmup_steps if i == 0 else 0
        span = max(cycle - 1 - warm, 1)
        f = min((step - i * cycle - warm) / span, 1.0)
        return cfg.lr * (cfg.final_lr + (1 - cfg.final_lr) * 0.5 * (1 + math.cos(math.pi * f)))
    return cfg.lr * (cfg.lr_drop if step >= math.ceil(cfg.lr_drop_at * cfg.steps) else 1.0)


def make_ema(net: torch.nn.Module, decay: float):
    """torch's AveragedModel keeping an exponential moving average of weights and BatchNorm buffers."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


# ------------------------------------------------------------------ checkpoints
def save_checkpoint(path: Path, net, opt, step: int, cfg: TrainConfig, log: list, ema=None,
                    elapsed: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"step": step, "model": net.state_dict(), "optimizer": opt.state_dict(),
                "config": cfg.to_dict(), "log": log, "torch_rng": torch.get_rng_state(), "elapsed": elapsed,
                **({"ema": ema.state_dict()} if ema is not None else {})}, tmp)
    os.replace(tmp, path)   # never a half-written checkpoint


def save_weights(path: Path, net, cfg: TrainConfig, step: int, metrics: dict) -> None:
    """The shipped form: model config + weights (+ how they were trained)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    torch.save({"format": "trt_tracker.weights", "version": 1, "model": cfg.model.to_dict(), "state_dict": state,
                "train": cfg.to_dict(), "step": step, "metrics": metrics}, tmp)
    os.replace(tmp, path)


def weights_path(cfg: TrainConfig, name: str) -> Path | None:
    """The weights file ``name`` names (a path, or a preset trained into ``cfg.out``), or None (empty)."""
    if not name:
        return None
    if name in PRESETS:
        return Path(cfg.out) / name / "weights.pt"
    return Path(name)


def init_path(cfg: TrainConfig) -> Path | None:
    """The weights file ``cfg.init`` names (a path, or a preset trained into ``cfg.out``), or None."""
    return weights_path(cfg, cfg.init)


def init_from(net: torch.nn.Module, path) -> list[str]:
    """Copy into ``net`` every tensor of the weights file ``path`` with the same name and shape; a
    first convolution that takes a stack of frames (in channels a multiple of the source's) gets the
    source's kernel divided among them.  Returns the names copied; raises if none match (a network of
    another architecture, e.g. the correlation network from a pose network)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"init weights {path} not found: train that network first, point init= at "
                                "an existing weights file, or pass init= (empty) to start from scratch")
    src = load_weights(path)[0].state_dict()
    own = net.state_dict()
    copied = []
    for name, t in own.items():
        s = src.get(name)
        if s is None:
            continue
        if s.shape == t.shape:
            own[name] = s.clone()
        elif (t.ndim == 4 and s.ndim == 4 and t.shape[0] == s.shape[0] and t.shape[2:] == s.shape[2:]
              and t.shape[1] % s.shape[1] == 0):
            n = t.shape[1] // s.shape[1]
            own[name] = s.repeat(1, n, 1, 1) / n
        else:
            continue
        copied.append(name)
    if not copied:
        raise ValueError(f"init weights {path}: no tensor matches this network by name and shape (another "
                         "architecture); set init= to start from scratch")
    net.load_state_dict(own)
    return copied


# ------------------------------------------------------------------ the loop
def train(cfg: TrainConfig, resume: bool = True, progress: bool = True, device: str | None = None) -> dict:
    """Train one network; returns the final validation metrics.  Resumes from ``checkpoint.pt`` if present."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rank, world = setup_distributed(dev)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", distributed_env()[2])
        torch.cuda.set_device(dev)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net = build_model(cfg.model)
    if init_path(cfg) is not None and not (resume and (cfg.out_dir / "checkpoint.pt").is_file()):
        n = len(init_from(net, init_path(cfg)))
        if rank == 0:
            print(f"{cfg.name}: {n} of {len(net.state_dict())} tensors initialised from {init_path(cfg)}",
                  flush=True)
    net = net.to(dev, memory_format=torch.channels_last) if cfg.channels_last else net.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = make_ema(net, cfg.ema) if cfg.ema > 0 else None
    out = cfg.out_dir
    ckpt = out / "checkpoint.pt"
    step, log, elapsed = 0, [], 0.0
    if resume and ckpt.is_file():
        c = torch.load(ckpt, map_location=dev, weights_only=False)
        diff = _config_diff(TrainConfig.from_dict(c["config"]).to_dict(), cfg.to_dict())
        if diff:
            raise ValueError(f"{ckpt} was written by a different config ({', '.join(diff)}); use another out "
                             "directory or delete it (or pass --no-resume)")
        net.load_state_dict(c["model"])
        opt.load_state_dict(c["optimizer"])
        if ema is not None:
            ema.load_state_dict(c["ema"])
        step, log, elapsed = int(c["step"]), list(c["log"]), float(c.get("elapsed", 0.0))
        torch.set_rng_state(c["torch_rng"])
        old_lr = c["optimizer"]["param_groups"][0]["lr"]
        if rank == 0 and step < cfg.steps and lr_at(cfg, step) > 1.01 * old_lr:
            print(f"{cfg.name}: resuming at step {step} with steps={cfg.steps} raises the learning rate from "
                  f"{old_lr:.2e} to {lr_at(cfg, step):.2e} (the schedule follows the new length: a warm "
                  "restart)", flush=True)
    model = wrap_model(net, dev, world)
    objective = Objective(cfg, dev)
    val = collate(validation_set(cfg)) if rank == 0 and cfg.val_sequences > 0 else None
    # Each rank's loader takes its batches from its workers in turn, each worker from its own
    # sequences; resuming skips the sequences a worker has already used.
    # (With a pool, the same start refills the pool the worker held at that step.)
    start_seq = step * cfg.batch_size // max(cfg.num_workers, 1) // max(cfg.stream.samples_per_sequence, 1)
    loader = DataLoader(SampleDataset(cfg, rank, world, start_seq), batch_size=cfg.batch_size,
                        num_workers=cfg.num_workers, collate_fn=_collate_list,
                        persistent_workers=cfg.num_workers > 0)
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=step, desc=cfg.name, unit="step", dynamic_ncols=True)
    metrics: dict = log[-1] if log else {}
    t_last, n_last = time.perf_counter(), 0
    t_data = t_model = 0.0      # since the last validation (or this start): waiting for batches, training steps
    timed_from = step
    try:
        it = iter(loader)
        while step < cfg.steps:
            t0 = time.perf_counter()
            batch = to_device(collate(next(it)), dev, cfg.channels_last)
            t1 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = lr_at(cfg, step)
            net.train()
            loss = train_step(model, objective, batch, opt, cfg.grad_clip)
            if ema is not None:
                ema.update_parameters(net)
            t2 = time.perf_counter()
            t_data, t_model, elapsed = t_data + t1 - t0, t_model + t2 - t1, elapsed + t2 - t0
            step += 1
            n_last += cfg.batch_size * world
            if bar is not None:
                rate = n_last / max(time.perf_counter() - t_last, 1e-9)
                bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{rate:.0f}", lr=f"{lr_at(cfg, step - 1):.0e}")
                bar.update(1)
            if rank == 0 and (step % cfg.val_every == 0 or step == cfg.steps):
                n = cfg.batch_size * (step - timed_from)
                metrics = {"step": step, "loss": loss, "time": time.time(), "elapsed_s": round(elapsed, 2),
                           "lr": lr_at(cfg, step - 1),
                           # Per-process throughput of the two halves of a step (the loader's wait
                           # is ~0 when its workers keep up; in-process loading is its whole cost).
                           "data_samples_s": round(n / max(t_data, 1e-9), 1),
                           "model_samples_s": round(n / max(t_model, 1e-9), 1),
                           **_validate(net, objective, val, dev)}
                if ema is not None:
                    metrics.update({f"ema_{k}": v for k, v in _validate(ema.module, objective, val, dev).items()})
                t_data, t_model, timed_from = 0.0, 0.0, step
                log.append(metrics)
                _append_jsonl(out / "log.jsonl", metrics)
                if bar is not None:
                    bar.write(f"{cfg.name} step {step}: " + ", ".join(
                        f"{k}={v:.4g}" for k, v in metrics.items() if k not in ("step", "time")))
            if rank == 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
                save_checkpoint(ckpt, net, opt, step, cfg, log, ema, elapsed)
    finally:
        if bar is not None:
            bar.close()
    if rank == 0:
        save_weights(out / "weights.pt", net if ema is None else ema.module, cfg, step, metrics)
    if world > 1:
        torch.distributed.barrier()
    return metrics


#: Settings that may change when resuming: more steps extend a run (the learning-rate
#: schedule follows the new length), the rest does not change the arithmetic.
RESUMABLE_CHANGES = ("steps", "lr_cycles", "val_every", "checkpoint_every", "threads", "out")


def _config_diff(old: dict, new: dict) -> list[str]:
    return [k for k in sorted(set(old) | set(new)) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k)]


def to_device(batch: dict, dev, channels_last: bool = False) -> dict:
    """A collated batch on ``dev``; with ``channels_last`` its images (4-D tensors) in that memory format."""
    out = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
    if channels_last:
        out = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in out.items()}
    return out


def _collate_list(samples):
    return samples


def _validate(net, objective: Objective, val, dev) -> dict:
    if val is None:
        return {}
    net.eval()
    errs: dict[str, list] = {}
    n = len(val["image"])
    for i in range(0, n, 64):
        b = {k: v[i:i + 64].to(dev) for k, v in val.items()}
        for k, v in objective.errors(net, b).items():
            errs.setdefault(k, []).append(v * len(b["image"]))
    net.train()
    return {f"val_{k}": float(sum(v) / n) for k, v in errs.items()}


def _append_jsonl(path: Path, rec: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
        f.flush()
