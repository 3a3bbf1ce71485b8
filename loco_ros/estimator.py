"""The public API (implemented in :mod:`loco_ros.runtime.estimator`): one RGB image and its
intrinsics in, metric 3D people out.

    estimator = LocoEstimator.from_dir("weights/demo")   # model.yaml + *.safetensors
    estimator.open()
    result = estimator.estimate(image_rgb, K)            # (H, W, 3) uint8, (3, 3) pixels
    result.people.xyz_m                                   # (P, 14, 3) metres, camera frame
"""

from loco_ros.runtime.estimator import (
    Estimate,
    LocoEstimator,
    default_model_dir,
    letterbox_image,
    load_model,
)

__all__ = ["Estimate", "LocoEstimator", "default_model_dir", "letterbox_image", "load_model"]
