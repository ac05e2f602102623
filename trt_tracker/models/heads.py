"""The deconvolution head of seed 000's supplement and Integral Regression:
``n`` deconvolutions (4x4 kernels, stride 2, BN, ReLU), then a 1x1 convolution.

With the default three deconvolutions a stride-32 backbone becomes a
stride-4 map: 256 x 256 input -> 64 x 64 maps, 128 x 128 -> 32 x 32.
"""
from __future__ import annotations

import torch
from torch import nn


class DeconvHead(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, channels: int = 256, n_deconv: int = 3):
        super().__init__()
        if n_deconv < 0:
            raise ValueError(f"n_deconv must be >= 0, got {n_deconv}")
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(n_deconv):
            layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.BatchNorm2d(channels),
                       nn.ReLU(inplace=True)]
            c = channels
        self.deconv = nn.Sequential(*layers)
        self.final = nn.Conv2d(c, out_channels, 1)
        self.upsample = 2 ** n_deconv
        for m in self.deconv.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final(self.deconv(x))
