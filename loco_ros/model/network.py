"""The whole network of LoCO as one module: image -> decoded volumetric heatmap."""

from __future__ import annotations

import torch
from torch import nn

from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder


class ImageToVolume(nn.Module):
    """Code predictor followed by the VHA decoder: (B, 3, Hi, Wi) in [0, 1] -> (B, J, D, H, W).

    The output is the decoded volumetric heatmap (non-negative, the VHA ends with a ReLU).
    """

    def __init__(self, predictor: CodePredictor, vha: VolumetricHeatmapAutoencoder) -> None:
        super().__init__()
        self.predictor, self.vha = predictor, vha

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(3, Hi, Wi) of one image."""
        return self.predictor.input_shape

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """(J, D, H, W) of one volume."""
        return self.vha.heatmap_shape

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Decoded volume (B, J, D, H, W) float of images (B, 3, Hi, Wi) float in [0, 1]."""
        return self.vha.decode(self.predictor(image))
