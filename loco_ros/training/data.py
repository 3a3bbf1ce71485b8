"""Training / evaluation samples drawn from synthetic scenes (loco_ros.synthetic).

A sample is a pure function of (seed, index): :func:`loco_ros.training.common.sample_rng`.
Scenes are drawn at the network input size with the model's canonical focal, so the scene
intrinsics ARE the network intrinsics (no letterbox); a focal jitter makes the depth targets
exercise the canonical-focal convention (the codec rescales depth by ``focal_px / fx``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loco_ros.config import GridConfig
from loco_ros.decoding.codec import encode_joints_to_voxels, render_volumetric_heatmap
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.synthetic.scene import Scene, SceneConfig, sample_scene
from loco_ros.training.common import sample_rng


@dataclass(frozen=True)
class SceneRanges:
    """What the synthetic scenes span (people count, ground distance, focal jitter)."""

    people: tuple[int, int] = (1, 20)
    distance_m: tuple[float, float] = (2.0, 25.0)
    focal_jitter: float = 0.3
    people_distribution: str = "log_uniform"
    mocap_share: float = 0.0  # share of people in real mocap poses (SceneConfig.mocap_share)


def scene_config(grid: GridConfig, ranges: SceneRanges = SceneRanges(),
                 size_wh: tuple[int, int] | None = None,
                 focal_px: float | None = None) -> SceneConfig:
    """SceneConfig at the grid's input size (or ``size_wh``) and canonical focal."""
    w, h = size_wh if size_wh is not None else (grid.image_width, grid.image_height)
    return SceneConfig(
        image_width=w,
        image_height=h,
        focal_px=grid.focal_px if focal_px is None else focal_px,
        focal_jitter=ranges.focal_jitter,
        people=tuple(ranges.people),
        distance_m=tuple(ranges.distance_m),
        people_distribution=ranges.people_distribution,
        mocap_share=ranges.mocap_share,
    )


def draw_scene(seed: int, index: int, config: SceneConfig, stream: int = 0) -> Scene:
    """Scene ``index`` of the stream (seed, stream)."""
    return sample_scene(sample_rng(seed, index, stream), config)


def heatmap_of(scene: Scene, grid: GridConfig, sigma: float | None = None) -> np.ndarray:
    """GT volumetric heatmap (J, D, H, W) of a scene (all joints in the image, occluded
    ones included, as the authors)."""
    if sigma is not None and sigma != grid.sigma:
        from dataclasses import replace

        grid = replace(grid, sigma=float(sigma))
    return render_volumetric_heatmap(scene.joints_xyz_m, scene.K, grid)


def gt_voxels_per_joint(scene: Scene, grid: GridConfig) -> list[np.ndarray]:
    """J arrays (n_j, 3) of the integer GT voxels (rounded continuous voxels) per joint."""
    voxel, valid = encode_joints_to_voxels(scene.joints_xyz_m, scene.K, grid)
    out = []
    for k in range(NUM_JOINTS):
        v = voxel[valid[:, k], k].astype(np.float64)
        out.append(np.floor(v + 0.5))
    return out


def gt_people(scene: Scene, grid: GridConfig | None = None) -> np.ndarray:
    """GT people (P, J, 3) metres for the metrics: joints in front of the camera and inside
    the image (``scene.visible``); others NaN. With ``grid``, joints whose network depth
    falls outside the grid's depth range are also removed (they cannot be detected)."""
    xyz = scene.joints_xyz_m.astype(np.float64).copy()
    keep = scene.visible.copy()
    if grid is not None:
        _, valid = encode_joints_to_voxels(scene.joints_xyz_m, scene.K, grid)
        keep &= valid
    xyz[~keep] = np.nan
    return xyz
