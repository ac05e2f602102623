"""PyTorch models: backbones, heads, integral pose, relation networks, losses, configs.

Importing this package needs PyTorch (the ``train`` extra); the runtime does not.
"""
from .backbone import DEPTHS, ResNet, ResNetConfig
from .config import ModelConfig, build_model, count_parameters
from .heads import DeconvHead
from .losses import CompositionalLoss, bone_loss, joint_loss
from .pose import IntegralPoseNet, RegressionPoseNet, compose_bones, soft_argmax_2d, soft_argmax_3d
from .relation import (DECAYS, SAMPLINGS, CorrelationTemporalNet, LateFusionTemporalNet, RelationBaseline,
                       RelationNet, correlation, decay, weighted_l1, weighted_pool, weighting_map)

__all__ = [
    "DECAYS", "DEPTHS", "SAMPLINGS", "CompositionalLoss", "CorrelationTemporalNet", "DeconvHead", "IntegralPoseNet", "LateFusionTemporalNet",
    "ModelConfig", "RegressionPoseNet", "RelationBaseline", "RelationNet", "ResNet", "ResNetConfig", "bone_loss",
    "build_model", "compose_bones", "correlation", "count_parameters", "decay", "joint_loss", "soft_argmax_2d", "soft_argmax_3d",
    "weighted_l1", "weighted_pool", "weighting_map",
]
