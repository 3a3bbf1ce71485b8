"""The network with a memory of the images it has decoded, for decoding grids.

A decoding grid (thresholds x min_joints x ...) scores the same frames once per decoding;
the network's volume does not depend on the decoding, so :class:`RememberingNetwork` returns
the volume of an image it has already seen (the same input tensor, byte for byte) instead of
running the network again. It keeps the ``capacity`` most recent volumes (one volume of the
demo grid is 8.3 MB).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch

from loco_ros.model.network import ImageToVolume


class RememberingNetwork(ImageToVolume):
    """``network`` (ImageToVolume) whose forward returns remembered volumes for repeated
    inputs; the same parameters, so exports and devices follow the wrapped network."""

    def __init__(self, network: ImageToVolume, capacity: int = 128) -> None:
        super().__init__(network.predictor, network.vha)
        self.capacity = capacity
        self._volumes: OrderedDict[bytes, torch.Tensor] = OrderedDict()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Decoded volume (B, J, D, H, W) of images (B, 3, Hi, Wi), as ImageToVolume."""
        key = hashlib.blake2b(image.detach().cpu().numpy().tobytes(), digest_size=16).digest()
        if key in self._volumes:
            self._volumes.move_to_end(key)
            return self._volumes[key]
        volume = super().forward(image)
        self._volumes[key] = volume
        if len(self._volumes) > self.capacity:
            self._volumes.popitem(last=False)
        return volume
