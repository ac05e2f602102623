"""ResNet backbones written here (no torchvision), with depth and width as parameters.

The papers use ResNet-50 (body, 256 x 256) and ResNet-18 (hand, 128 x 128);
the shipped real-time models use fewer blocks and a width below 1.  The
stem is ResNet's (7x7 stride-2 convolution, 3x3 stride-2 max pool), then four
stages at strides 4, 8, 16, 32.

>>> net = ResNet(ResNetConfig(depth=18, width=0.5, in_channels=3))
>>> net(torch.zeros(2, 3, 128, 128)).shape        # (2, net.out_channels, 4, 4)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

#: blocks per stage and block type for each named depth (He et al. 2016, Table 1).
DEPTHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}


@dataclass(frozen=True)
class ResNetConfig:
    depth: int = 18          # one of DEPTHS
    width: float = 1.0       # channel multiplier (stem 64 * width)
    in_channels: int = 3     # 3 for RGB, 1 for depth; doubled for stacked temporal pairs

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ValueError(f"ResNet depth must be one of {sorted(DEPTHS)}, got {self.depth}")
        if not 0 < self.width <= 4:
            raise ValueError(f"ResNet width multiplier must be in (0, 4], got {self.width}")
        if self.in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {self.in_channels}")


def _ch(c: float) -> int:
    """Channels rounded to a multiple of 8 (at least 8), as for mobile-width networks."""
    return max(8, int(round(c / 8)) * 8)


def _shortcut(cin: int, cout: int, stride: int):
    """The projection shortcut (1x1 conv + BN) where the residual changes shape, else None."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.down is None else self.down(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.down is None else self.down(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


class ResNet(nn.Module):
    """ResNet feature extractor: (N, in_channels, H, W) -> (N, out_channels, H/32, W/32).

    ``stem`` (to stride 4) and ``stages[0..3]`` are separate attributes so
    that another network can share the shallow part (supplement section 2.2).
    """

    def __init__(self, cfg: ResNetConfig):
        super().__init__()
        self.cfg = cfg
        kind, blocks = DEPTHS[cfg.depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        c0 = _ch(64 * cfg.width)
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, c0, 7, 2, 3, bias=False), nn.BatchNorm2d(c0), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        stages, cin = [], c0
        self.stage_channels: list[int] = []
        for i, n in enumerate(blocks):
            planes = _ch(64 * cfg.width * 2 ** i)
            layers = []
            for j in range(n):
                layers.append(block(cin, planes, stride=2 if (i > 0 and j == 0) else 1))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*layers))
            self.stage_channels.append(cin)
        self.stages = nn.ModuleList(stages)
        self.stem_channels = c0
        self.out_channels = cin
        self.stride = 32
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"expected input (N, {self.cfg.in_channels}, H, W), got {tuple(x.shape)}")
        x = self.stem(x)
        for s in self.stages:
            x = s(x)
        return x


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    # Zero the last BN of each residual branch so blocks start as identities
    # (Goyal et al. 2017): small networks trained briefly converge faster.
    for m in module.modules():
        if isinstance(m, BasicBlock):
            nn.init.zeros_(m.bn2.weight)
        elif isinstance(m, Bottleneck):
            nn.init.zeros_(m.bn3.weight)
