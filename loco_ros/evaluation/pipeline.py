"""The node's frame pipeline around a network in memory, for evaluation and validation during
training: the same ``FramePipeline`` as loco_node and ``loco_bag process`` (torch backend on the
network's device, no tracking), so evaluated results are the node's by construction. Its
``FrameResult`` carries what the metrics need (people before and after the refiner, on the
ground, the solitary joints).
"""

from __future__ import annotations

import numpy as np
import torch

from loco_ros.camera.lens import ImageCamera
from loco_ros.config import ModelConfig
from loco_ros.decoding.ground_plane import GroundPlane, GroundPlaneConfig
from loco_ros.decoding.lifting import in_image
from loco_ros.decoding.refiner import PoseRefiner
from loco_ros.model.network import ImageToVolume
from loco_ros.runtime.estimator import LocoEstimator
from loco_ros.runtime.frame_pipeline import FramePipeline, FrameResult, PipelineConfig
from loco_ros.runtime.tracking import TrackingConfig
from loco_ros.types import People


def evaluation_pipeline(network: ImageToVolume, config: ModelConfig,
                        refiner: PoseRefiner | None = None,
                        ground_config: GroundPlaneConfig | None = None,
                        backend_options: dict | None = None,
                        tracking: TrackingConfig | None = None) -> FramePipeline:
    """A FramePipeline (no tracking unless ``tracking``) running ``network`` with the torch
    backend where its weights are, or with ``backend_options`` for LocoEstimator (e.g. ONNX
    Runtime int8). Never close its estimator: that would move a GPU network to the CPU."""
    device = next(network.parameters()).device
    options = backend_options or dict(backend="torch", device=device.type,
                                      device_index=device.index or 0)
    estimator = LocoEstimator(config, network, refiner, **options)
    return FramePipeline(estimator, PipelineConfig(ground_plane=ground_config
                                                   or GroundPlaneConfig(), tracking=tracking))


def run_frame(pipeline: FramePipeline, image_rgb: np.ndarray, K: np.ndarray,
              plane: GroundPlane | None = None, stamp_ns: int = 0) -> FrameResult:
    """One (H, W, 3) uint8 RGB image with pinhole intrinsics K (3, 3) of that image, taken
    at ``stamp_ns`` (what a tracking pipeline needs); with a ``plane`` also the people
    snapped onto it (``FrameResult.grounded``)."""
    with torch.no_grad():
        return pipeline.process(image_rgb, stamp_ns,
                                camera=ImageCamera(np.asarray(K, np.float64)), plane=plane)


def people_in_image(people: People, size_wh: tuple[int, int], K: np.ndarray) -> np.ndarray:
    """(P, J, 3) xyz with NaN for joints not in front of the camera or projecting outside the
    image (the GT of the JTA protocol has only in-image joints; refiner-filled joints outside
    the image cannot match anything and are not predictions of the visible scene)."""
    xyz = people.xyz_m.astype(np.float64).copy()
    if xyz.shape[0] == 0:
        return xyz
    xyz[~in_image(xyz, K, size_wh)] = np.nan
    return xyz
