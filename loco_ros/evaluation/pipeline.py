"""The LoCO pipeline run stage by stage in plain torch/numpy (no backend needed), for
evaluation and validation during training.

Same stages and functions as ``LocoEstimator.estimate``: letterbox, predictor + VHA decoder,
peaks, lifting, association, refiner; also returns what the metrics need (people before and
after the refiner, the solitary joints).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from loco_ros.association import associate_people, unassigned_candidates
from loco_ros.config import ModelConfig
from loco_ros.estimator import ImageToVolume, letterbox_image
from loco_ros.ground_plane import GroundPlane, GroundPlaneConfig, snap_with_config
from loco_ros.lifting import peaks_to_candidates
from loco_ros.peaks import find_peaks
from loco_ros.refiner import PoseRefiner, refine_people
from loco_ros.types import Candidates, People


@dataclass
class PipelineOutput:
    """People without / with the refiner, then on the ground plane (refined if a refiner
    ran), solitary joints, timings (s) per stage."""

    people: People
    refined: People | None
    solitary: Candidates
    timings_s: dict[str, float] = field(default_factory=dict)
    grounded: People | None = None


def run_pipeline(
    network: ImageToVolume,
    config: ModelConfig,
    image_rgb: np.ndarray,
    K: np.ndarray,
    refiner: PoseRefiner | None = None,
    ground: GroundPlane | None = None,
    ground_config: GroundPlaneConfig | None = None,
) -> PipelineOutput:
    """People in one (H, W, 3) uint8 RGB image with intrinsics K (3, 3) of that image; with
    a ``ground`` plane also the people snapped onto it (``ground_plane``)."""
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    pre = letterbox_image(image_rgb, K, (config.grid.image_width, config.grid.image_height))
    t1 = time.perf_counter()
    with torch.no_grad():
        param = next(network.parameters())
        volume = network(torch.from_numpy(pre.image).to(param.device))[0]
    volume = volume.float().cpu().numpy()
    t2 = time.perf_counter()
    peaks = find_peaks(volume, config.decode)
    t3 = time.perf_counter()
    cand = peaks_to_candidates(peaks, config.grid, pre.K_net, pre.scale_xy, pre.pad_xy)
    people = associate_people(cand, config.association)
    t4 = time.perf_counter()
    refined = refine_people(refiner, people, np.asarray(K)) if refiner is not None else None
    t5 = time.perf_counter()
    grounded = None
    if ground is not None:
        grounded = snap_with_config(refined if refined is not None else people, ground,
                                    ground_config or GroundPlaneConfig())
    t6 = time.perf_counter()
    t.update(preprocess=t1 - t0, network=t2 - t1, peaks=t3 - t2, lifting_association=t4 - t3,
             refiner=t5 - t4, ground_plane=t6 - t5, total=t6 - t0)
    return PipelineOutput(people, refined, unassigned_candidates(cand, people), t, grounded)


def people_in_image(people: People, size_wh: tuple[int, int], K: np.ndarray) -> np.ndarray:
    """(P, K, 3) xyz with NaN for joints not in front of the camera or projecting outside the
    image (the GT of the JTA protocol has only in-image joints; refiner-filled joints outside
    the image cannot match anything and are not predictions of the visible scene)."""
    xyz = people.xyz_m.astype(np.float64).copy()
    if xyz.shape[0] == 0:
        return xyz
    k = np.asarray(K, np.float64)
    z = xyz[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = k[0, 0] * xyz[..., 0] / z + k[0, 2]
        v = k[1, 1] * xyz[..., 1] / z + k[1, 2]
    w, h = size_wh
    inside = (z > 0) & (u >= -0.5) & (u < w - 0.5) & (v >= -0.5) & (v < h - 0.5)
    xyz[~inside] = np.nan
    return xyz
