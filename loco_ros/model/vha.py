"""Volumetric Heatmap Autoencoder (VHA), paper Sec. 3.2 and Table 1.

The encoder compresses J per-joint volumetric heatmaps (B, J, D, H, W) into one code
(B, C, Hc, Wc); the decoder maps a code (the Code Predictor's output at test time) back to
heatmaps. Three versions differ in channel divisors d and strides s (Table 1):

    v1: d = (1, 2, 2), s = (1, 2, 1)    code D/2 x H/2 x W/2
    v2: d = (2, 4, 4), s = (2, 2, 1)    code D/4 x H/4 x W/4   (the paper's best)
    v3: d = (2, 4, 8), s = (2, 2, 2)    code D/8 x H/8 x W/8

Encoder ("e-c2d" then "e-c3d"): every joint's (D, H, W) volume is a 2D image with D channels,
processed by three Conv2d + ReLU (kernel 5, padding 2, weights shared by the J joints); the J
results are stacked as channels of a 3D volume (C, Hc, Wc) and fused by Conv3d J -> 4 -> 1
(kernel 5, padding 2, ReLU). Decoder: Conv3d 1 -> 4 -> J with ReLU, then per joint three
Conv2d (kernel 5) with channels D/d3 -> D/d2 -> D/d1 -> D; decoder layer i is followed by a
bilinear x2 upsampling when the encoder's stride s_i is 2, then a ReLU. For v2 this is exactly
the authors' order (79->79, x2, ReLU; 79->158, x2, ReLU; 158->316, ReLU); for v1 and v3 it
equals the mirrored encoder. The last ReLU makes the output non-negative. No normalisation
layers. Sizes come from the GridConfig only: at the paper grid (D, H, W) = (316, 136, 240),
v2 has 3,448,442 parameters and a (79, 34, 60) code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from loco_ros.config import GridConfig
from loco_ros.errors import ConfigError, InputError
from loco_ros.skeleton import NUM_JOINTS

# version -> (channel divisors (d1, d2, d3), strides (s1, s2, s3)), paper Table 1.
VHA_VERSIONS: dict[int, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    1: ((1, 2, 2), (1, 2, 1)),
    2: ((2, 4, 4), (2, 2, 1)),
    3: ((2, 4, 8), (2, 2, 2)),
}
KERNEL = 5
PADDING = 2
FUSER_CHANNELS = 4


def _version_spec(version: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    if version not in VHA_VERSIONS:
        raise ConfigError(f"VHA version must be one of {sorted(VHA_VERSIONS)}, got {version!r}")
    return VHA_VERSIONS[version]


def total_stride(version: int) -> int:
    """Spatial downsampling factor H / Hc of the VHA ``version`` (2, 4 or 8)."""
    return math.prod(_version_spec(version)[1])


def _channels(depth_bins: int, version: int) -> tuple[int, int, int, int]:
    """Encoder channels (D, D // d1, D // d2, D // d3)."""
    divisors, _ = _version_spec(version)
    channels = (depth_bins, *(depth_bins // d for d in divisors))
    if min(channels) < 1:
        raise ConfigError(f"depth_bins={depth_bins} too small for VHA v{version}")
    return channels  # type: ignore[return-value]


def code_shape(grid: GridConfig, version: int) -> tuple[int, int, int]:
    """Code shape (C, Hc, Wc) = (D // d3, H / stride, W / stride) for ``grid`` and ``version``."""
    stride = total_stride(version)
    if grid.height % stride or grid.width % stride:
        raise ConfigError(f"grid {grid.height}x{grid.width} not divisible by {stride}")
    return _channels(grid.depth_bins, version)[3], grid.height // stride, grid.width // stride


def _conv2d(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, KERNEL, stride=stride, padding=PADDING)


def _conv3d(c_in: int, c_out: int) -> nn.Conv3d:
    return nn.Conv3d(c_in, c_out, KERNEL, padding=PADDING)


class VolumetricHeatmapAutoencoder(nn.Module):
    """LoCO's VHA for one heatmap grid and one version (1, 2 or 3)."""

    def __init__(self, grid: GridConfig, version: int) -> None:
        super().__init__()
        _, strides = _version_spec(version)
        ch = _channels(grid.depth_bins, version)
        self.version = version
        self.num_joints = NUM_JOINTS
        self.heatmap_shape: tuple[int, int, int, int] = (
            NUM_JOINTS, grid.depth_bins, grid.height, grid.width
        )
        self.code_shape: tuple[int, int, int] = code_shape(grid, version)
        self.upsample: tuple[bool, bool, bool] = tuple(s == 2 for s in strides)  # type: ignore
        # Encoder, per joint (weights shared over J): D -> D/d1 -> D/d2 -> D/d3.
        self.enc = nn.ModuleList([_conv2d(ch[i], ch[i + 1], strides[i]) for i in range(3)])
        # Fuser over (joints as channels, C as depth, Hc, Wc): J -> 4 -> 1.
        self.fuse = nn.ModuleList(
            [_conv3d(NUM_JOINTS, FUSER_CHANNELS), _conv3d(FUSER_CHANNELS, 1)]
        )
        # Defuser 1 -> 4 -> J, then per joint D/d3 -> D/d2 -> D/d1 -> D.
        self.defuse = nn.ModuleList(
            [_conv3d(1, FUSER_CHANNELS), _conv3d(FUSER_CHANNELS, NUM_JOINTS)]
        )
        self.dec = nn.ModuleList([_conv2d(ch[3 - i], ch[2 - i]) for i in range(3)])

    def _check(self, x: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise InputError(f"VHA v{self.version} {what}: expected (B, *{shape}), got "
                             f"{tuple(x.shape)}")

    def encode(self, heatmap: torch.Tensor) -> torch.Tensor:
        """Compress heatmaps (B, J, D, H, W) into a code (B, C, Hc, Wc)."""
        self._check(heatmap, self.heatmap_shape, "encode input")
        _, depth, height, width = self.heatmap_shape
        c, hc, wc = self.code_shape
        x = heatmap.reshape(-1, depth, height, width)  # (B*J, D, H, W)
        for conv in self.enc:
            x = F.relu(conv(x))
        x = x.reshape(-1, self.num_joints, c, hc, wc)  # (B, J, C, Hc, Wc)
        for conv in self.fuse:
            x = F.relu(conv(x))
        return x.reshape(-1, c, hc, wc)  # (B, C, Hc, Wc)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Decompress a code (B, C, Hc, Wc) into non-negative heatmaps (B, J, D, H, W)."""
        self._check(code, self.code_shape, "decode input")
        _, depth, height, width = self.heatmap_shape
        c, hc, wc = self.code_shape
        x = code.unsqueeze(1)  # (B, 1, C, Hc, Wc)
        for conv in self.defuse:
            x = F.relu(conv(x))
        x = x.reshape(-1, c, hc, wc)  # (B*J, C, Hc, Wc)
        for conv, up in zip(self.dec, self.upsample, strict=True):
            x = conv(x)
            if up:
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = F.relu(x)
        return x.reshape(-1, self.num_joints, depth, height, width)  # (B, J, D, H, W)

    def forward(self, heatmap: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``decode(encode(heatmap))``, (B, J, D, H, W) -> (B, J, D, H, W)."""
        return self.decode(self.encode(heatmap))
