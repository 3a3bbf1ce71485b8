"""Ground-truth round trip: 3D joints -> rendered volume -> peaks -> lifting -> people.

The upper bound of the method (paper: F1 99.96 with GT volumes) and the value of sub-voxel
refinement over the authors' integer-voxel readout, on random crowds at the paper grid
(JTA intrinsics, 1920x1080, D = 316 over 0-100 m) and at the demo grid.
"""

from __future__ import annotations

import numpy as np
import pytest

from loco_ros.config import AssociationConfig, DecodeConfig, GridConfig
from loco_ros.decoding.association import associate_people, unassigned_candidates
from loco_ros.decoding.codec import encode_joints_to_voxels, render_volumetric_heatmap
from loco_ros.decoding.lifting import peaks_to_candidates
from loco_ros.decoding.peaks import find_peaks
from loco_ros.metrics import jta_frame_counts, jta_scores, match_people_hungarian
from loco_ros.synthetic.scene import SceneConfig, sample_scene

PAPER_GRID = GridConfig(1920, 1080, depth_bins=316, depth_min_m=0.0, depth_max_m=100.0,
                        focal_px=1158.0)
PAPER_SCENES = SceneConfig(image_width=1920, image_height=1080, focal_px=1158.0,
                           focal_jitter=0.0, principal_jitter_px=0.0, distance_m=(2.0, 90.0),
                           people=(1, 60))
DEMO_GRID = GridConfig()
DEMO_SCENES = SceneConfig(people=(1, 20), distance_m=(2.0, 25.0))


def _matched_errors_m(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    pairs = match_people_hungarian(gt, pred)
    if len(pairs) == 0:
        return np.zeros(0)
    err = np.linalg.norm(gt[pairs[:, 0]] - pred[pairs[:, 1]], axis=-1)
    return err[np.isfinite(err)]


def round_trip(grid: GridConfig, scenes: SceneConfig, frames: int, seed: int) -> dict:
    """F1 at 0.4 m (with sub-voxel readout) and MPJPE (mm) with and without it."""
    rng = np.random.default_rng(seed)
    counts, errors = [], {True: [], False: []}
    for _ in range(frames):
        scene = sample_scene(rng, scenes)
        volume = render_volumetric_heatmap(scene.joints_xyz_m, scene.K, grid)
        _, valid = encode_joints_to_voxels(scene.joints_xyz_m, scene.K, grid)
        gt = np.where(valid[..., None], scene.joints_xyz_m, np.nan)  # (P, J, 3)
        for subvoxel in (True, False):
            peaks = find_peaks(volume, DecodeConfig(subvoxel=subvoxel))
            candidates = peaks_to_candidates(peaks, grid, scene.K)
            people = associate_people(candidates, AssociationConfig())
            errors[subvoxel].append(_matched_errors_m(gt, people.xyz_m))
            if subvoxel:
                solitary = unassigned_candidates(candidates, people)
                counts.append(jta_frame_counts(gt, people.xyz_m, 0.4, solitary=solitary))
    return {
        "f1": jta_scores(counts)["f1"],
        "mpjpe_subvoxel_mm": 1e3 * float(np.concatenate(errors[True]).mean()),
        "mpjpe_integer_mm": 1e3 * float(np.concatenate(errors[False]).mean()),
    }


@pytest.mark.parametrize(
    ("name", "grid", "scenes", "frames"),
    [("paper", PAPER_GRID, PAPER_SCENES, 12), ("demo", DEMO_GRID, DEMO_SCENES, 60)],
)
def test_ground_truth_round_trip(name, grid, scenes, frames) -> None:
    result = round_trip(grid, scenes, frames, seed=1)
    print(f"\n{name} grid: F1@0.4m {100 * result['f1']:.3f} %, MPJPE sub-voxel "
          f"{result['mpjpe_subvoxel_mm']:.1f} mm vs integer voxels "
          f"{result['mpjpe_integer_mm']:.1f} mm")
    assert result["f1"] >= 0.999
    assert result["mpjpe_subvoxel_mm"] <= result["mpjpe_integer_mm"] / 3
