"""Code Predictor (paper Sec. 3.3): RGB image -> VHA code.

    image (B, 3, Hi, Wi) in [0, 1], RGB
      -> ImageNet mean/std normalisation (inside the module, so exported graphs include it)
      -> backbone (B, Cb, Hf, Wf), stride 32
      -> average pooling by ``pool`` = max(1, 2 * code_stride / 32)     (v2: 2, the authors')
      -> ConvTranspose2d Cb -> c1 (k4, s2) + ReLU
      -> bilinear resize to exactly (Hc, Wc), only when the size differs
      -> Conv2d c1 -> c2 (k4, "same": pad 1 before, 2 after) + ReLU
      -> Conv2d c2 -> c3 (k4, "same") + ReLU
      -> Conv2d c3 -> C (1x1), no activation
      -> code (B, C, Hc, Wc), the grid of ``vha.code_shape(config.grid, config.vha.version)``

Grid alignment, per backbone (``Backbone.aligned``):

- Inception-v3 (unpadded, not aligned): the authors' arithmetic, floor average pooling and
  ConvTranspose2d padding 0 (n -> 2n + 2). At 1920x1080 with VHA v2: 32x58 -> 16x29 -> 34x60,
  the code grid exactly, so no resize. Other sizes (e.g. 512x288: 7x14 -> 3x7 -> 8x16, code
  10x16) are bilinearly resized after the transposed convolution.
- Compact (aligned, Hf = ceil(Hi / 32)): ceil-mode average pooling and ConvTranspose2d padding 1
  (n -> 2n), so with VHA v2 the output is 2 * ceil(Hi / 64) = Hc for every input size: never
  resized. With v1 / v3 the resize is used when Hi, Wi are not multiples of 64 / 128.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from loco_ros.config import ModelConfig
from loco_ros.errors import InputError
from loco_ros.model.backbones import build_backbone
from loco_ros.model.vha import code_shape, total_stride

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SAME_PAD_K4 = (1, 2, 1, 2)  # (left, right, top, bottom) "same" padding of a 4x4 kernel


class CodePredictor(nn.Module):
    """Backbone + the paper's f-c2d head, predicting the VHA code of ``config``'s grid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        grid = config.grid
        self.input_shape: tuple[int, int, int] = (3, grid.image_height, grid.image_width)
        self.code_shape: tuple[int, int, int] = code_shape(grid, config.vha.version)
        self.backbone = build_backbone(config.predictor.backbone,
                                       (grid.image_height, grid.image_width))
        code_stride = grid.stride * total_stride(config.vha.version)  # pixels per code cell
        self.pool_factor = max(1, 2 * code_stride // self.backbone.stride)
        aligned = self.backbone.aligned
        self.pool: nn.Module = (
            nn.AvgPool2d(self.pool_factor, ceil_mode=aligned) if self.pool_factor > 1
            else nn.Identity()
        )
        c1, c2, c3 = config.predictor.head_channels
        self.up = nn.ConvTranspose2d(
            self.backbone.out_channels, c1, 4, stride=2, padding=1 if aligned else 0
        )
        self.conv1 = nn.Conv2d(c1, c2, 4)
        self.conv2 = nn.Conv2d(c2, c3, 4)
        self.out = nn.Conv2d(c3, self.code_shape[0], 1)
        self.register_buffer(
            "mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Code (B, C, Hc, Wc) of RGB images (B, 3, Hi, Wi) with values in [0, 1]."""
        if image.dim() != 4 or tuple(image.shape[1:]) != self.input_shape:
            raise InputError(
                f"predictor input: expected (B, *{self.input_shape}), got {tuple(image.shape)}"
            )
        _, hc, wc = self.code_shape
        x = (image - self.mean) / self.std  # (B, 3, Hi, Wi)
        x = self.pool(self.backbone(x))  # (B, Cb, Hf / pool, Wf / pool)
        x = F.relu(self.up(x))  # (B, c1, ~Hc, ~Wc)
        if tuple(x.shape[-2:]) != (hc, wc):
            x = F.interpolate(x, size=(hc, wc), mode="bilinear", align_corners=False)
        x = F.relu(self.conv1(F.pad(x, SAME_PAD_K4)))  # (B, c2, Hc, Wc)
        x = F.relu(self.conv2(F.pad(x, SAME_PAD_K4)))  # (B, c3, Hc, Wc)
        return self.out(x)  # (B, C, Hc, Wc)
