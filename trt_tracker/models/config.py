"""One typed configuration per model, and the function that builds it.

>>> cfg = ModelConfig(task="spatial", skeleton="BODY17", modality="rgb", depth=10, width=0.25, input_size=128)
>>> net = build_model(cfg)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..codec import Z_REFS
from ..skeleton import get_skeleton
from .ensemble import ROTATIONS

TASKS = ("pose", "spatial", "temporal", "localiser")
POSE_HEADS = ("integral", "joints", "bones")
RELATION_ARCHS = ("maps", "fc", "sparseflow")
FUSIONS = ("early", "late", "corr")
DISPLACEMENT_Z = ("root", "joint")


@dataclass(frozen=True)
class ModelConfig:
    task: str = "pose"              # pose | spatial | temporal | localiser (whole frames: the box, issue 14)
    skeleton: str = "BODY17"
    modality: str = "rgb"           # rgb (3 channels) | depth (1 channel)
    input_size: int = 256           # square crop side (pixels)
    depth: int = 50                 # ResNet depth (10, 18, 34, 50, 101)
    width: float = 1.0              # ResNet channel multiplier
    head_channels: int = 256        # deconvolution channels
    n_deconv: int = 3               # 4x4 stride-2 deconvolutions (3: stride-32 features -> stride 4)
    dims: int = 3                   # 3 for (u, v, z), 2 for 2D
    cube_mm: float = 2000.0         # metric cube side: z in [-cube/2, cube/2] maps to [-1, 1]
    # pose networks
    pose_head: str = "integral"     # integral | joints | bones (seed 002 regression)
    depth_bins: int = 64            # volumetric heatmap depth (integral, dims=3)
    logit_scale: float = 1.0        # integral: heatmap logits = head output x this (faster training when small)
    z_ref: str = "root"             # pose: z of the joints relative to the root (the RGB protocol: camera space
    #                                 needs the root's depth from elsewhere) | "centre" (depth only: relative to
    #                                 the crop's normalisation depth, so the network also gives the root's depth)
    # relation networks
    arch: str = "maps"              # maps (ours) | fc (Baseline) | sparseflow
    decay: str = "binary"           # binary | gaussian | linear | exponential
    beta: float = 5.0               # decay rate (binary: radius in heatmap pixels)
    sampling: str = "decay"         # decay | full | rand_half | rand_one | joint_one
    fusion: str = "early"           # temporal: early (stacked pair) | late (cached per-frame features)
    #                                 | corr (cost volume of cached stride-4 features; width sets its channels)
    corr_radius: int = 4            # corr: displacements matched, in stride-4 cells (4 -> +-16 input pixels)
    displacement_z: str = "root"    # temporal: what the maps' z gives: "root" (the change of each joint's
    #                                 root-relative depth, the output itself) | "joint" (each joint's own change
    #                                 of depth, what a depth pair shows at the joint: local; pooling subtracts
    #                                 the root's, so the output is the same root-relative displacement)
    # inference
    rotations: int = 1              # test-time rotation ensemble (models.ensemble): 1 (one pass), 2 (0 and 180
    #                                 degrees) or 4 (every quarter turn), outputs turned back and averaged; for
    #                                 networks trained with rotations over +-180 degrees (the hand's). Training
    #                                 losses take one pass; validation and the exported graphs the ensemble
    flip: bool = False              # test-time mirror ensemble: the crop and its mirror image with left and
    #                                 right joints swapped (times rotations); for networks trained with
    #                                 horizontal flips (the body's)

    def __post_init__(self) -> None:
        def bad(name, value, allowed):
            raise ValueError(f"model config: {name}={value!r} is not one of {allowed}")

        if self.task not in TASKS:
            bad("task", self.task, TASKS)
        try:
            get_skeleton(self.skeleton)
        except KeyError as e:
            raise ValueError(f"model config: {e.args[0]}") from None
        if self.modality not in ("rgb", "depth"):
            bad("modality", self.modality, ("rgb", "depth"))
        if self.pose_head not in POSE_HEADS:
            bad("pose_head", self.pose_head, POSE_HEADS)
        if self.arch not in RELATION_ARCHS:
            bad("arch", self.arch, RELATION_ARCHS)
        if self.fusion not in FUSIONS:
            bad("fusion", self.fusion, FUSIONS)
        if self.dims not in (2, 3):
            bad("dims", self.dims, (2, 3))
        if self.input_size % 32 or self.input_size < 32:
            raise ValueError(f"model config: input_size must be a positive multiple of 32, got {self.input_size}")
        if self.fusion != "early" and self.task != "temporal":
            raise ValueError(f"model config: fusion={self.fusion!r} is for temporal networks only")
        if self.fusion == "corr" and self.n_deconv != 3:
            raise ValueError("model config: fusion='corr' makes stride-4 maps; it needs n_deconv=3, got "
                             f"{self.n_deconv}")
        if self.corr_radius < 0:
            raise ValueError(f"model config: corr_radius must be >= 0, got {self.corr_radius}")
        if self.task == "pose" and self.pose_head == "integral" and self.dims == 3 and self.depth_bins < 1:
            raise ValueError("model config: a 3D integral pose network needs depth_bins >= 1")
        if self.z_ref not in Z_REFS:
            bad("z_ref", self.z_ref, Z_REFS)
        if self.z_ref == "centre" and self.modality != "depth":
            raise ValueError("model config: z_ref='centre' needs depth input (an RGB crop has no depth centre)")
        if self.rotations not in ROTATIONS:
            bad("rotations", self.rotations, ROTATIONS)
        ensemble_ok = (self.task in ("pose", "spatial", "temporal") and self.pose_head == "integral"
                       and self.arch == "maps" and self.fusion == "early")
        if (self.rotations > 1 or self.flip) and not ensemble_ok:
            raise ValueError("model config: rotations > 1 or flip (a test-time ensemble) is for integral pose "
                             "networks and per-pixel relation networks with early fusion (arch 'maps', fusion "
                             f"'early'); this one is task={self.task!r} pose_head={self.pose_head!r} "
                             f"arch={self.arch!r} fusion={self.fusion!r}: set rotations=1 and flip=false")
        if self.displacement_z not in DISPLACEMENT_Z:
            bad("displacement_z", self.displacement_z, DISPLACEMENT_Z)
        if self.displacement_z != "root" and (self.task != "temporal" or self.dims != 3 or self.arch == "fc"):
            raise ValueError("model config: displacement_z='joint' is for per-pixel temporal networks with 3D "
                             f"outputs (task 'temporal', dims 3, arch 'maps' or 'sparseflow'); this one is task="
                             f"{self.task!r} dims={self.dims} arch={self.arch!r}: set displacement_z='root'")
        if self.cube_mm <= 0:
            raise ValueError(f"model config: cube_mm must be positive, got {self.cube_mm}")

    @property
    def frame_channels(self) -> int:
        return 3 if self.modality == "rgb" else 1

    @property
    def in_channels(self) -> int:
        """Input channels of the network: a stacked pair for early-fusion temporal networks."""
        return self.frame_channels * (2 if self.task == "temporal" else 1)

    @property
    def heatmap_size(self) -> int:
        return self.input_size // 32 * 2 ** self.n_deconv

    @property
    def K(self) -> int:
        return get_skeleton(self.skeleton).K

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"model config: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    def replace(self, **kw) -> "ModelConfig":
        return replace(self, **kw)


def build_model(cfg: ModelConfig):
    """The ``torch.nn.Module`` for a config (see :mod:`trt_tracker.models.pose` and ``relation``)."""
    net = _build(cfg)
    if cfg.displacement_z == "joint":
        net.z_root = get_skeleton(cfg.skeleton).root
    return net


def _build(cfg: ModelConfig):
    from .backbone import ResNet, ResNetConfig
    from .pose import IntegralPoseNet, RegressionPoseNet
    from .backbone import _ch
    from .relation import CorrelationTemporalNet, LateFusionTemporalNet, RelationBaseline, RelationNet

    sk = get_skeleton(cfg.skeleton)
    if cfg.fusion != "early" and cfg.arch != "maps":
        raise ValueError(f"model config: fusion={cfg.fusion!r} is implemented for arch='maps' only")
    if cfg.fusion == "corr":
        return CorrelationTemporalNet(cfg.frame_channels, sk.K, cfg.dims, _ch(96 * cfg.width), cfg.head_channels,
                                      cfg.corr_radius, cfg.heatmap_size, cfg.decay, cfg.beta, cfg.sampling)
    in_ch = cfg.frame_channels if (cfg.task == "temporal" and cfg.fusion == "late") else cfg.in_channels
    backbone = ResNet(ResNetConfig(cfg.depth, cfg.width, in_ch))
    if cfg.task == "localiser":
        from .localiser import LocaliserNet

        return LocaliserNet(backbone, cfg.head_channels, cfg.n_deconv)
    if cfg.task == "pose":
        if cfg.pose_head == "integral":
            return IntegralPoseNet(backbone, sk.K, cfg.depth_bins if cfg.dims == 3 else 0, cfg.head_channels,
                                   cfg.n_deconv, cfg.logit_scale, cfg.rotations, _flip_perm(cfg, sk))
        return RegressionPoseNet(backbone, sk.parents, cfg.heatmap_size, cfg.pose_head, cfg.dims)
    if cfg.arch == "fc":
        return RelationBaseline(backbone, sk.K, cfg.dims, cfg.heatmap_size)
    kw = dict(dims=cfg.dims, head_channels=cfg.head_channels, n_deconv=cfg.n_deconv, heatmap_size=cfg.heatmap_size,
              decay_kind=cfg.decay, beta=cfg.beta, sampling=cfg.sampling)
    if cfg.fusion == "late":
        return LateFusionTemporalNet(backbone, sk.K, **kw)
    return RelationNet(backbone, sk.K, shared_map=cfg.arch == "sparseflow", rotations=cfg.rotations,
                       flip_perm=_flip_perm(cfg, sk), **kw)


def _flip_perm(cfg: ModelConfig, sk):
    return sk.flip_permutation if cfg.flip else None


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())
