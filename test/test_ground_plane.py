"""The ground-plane prior: plane construction and snapping people onto it (no ROS)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from loco_ros.decoding.ground_plane import (
    ANKLES,
    GroundPlaneConfig,
    ground_plane_from_angles,
    ground_plane_from_config,
    ground_plane_from_transform,
    snap_people_to_ground,
    snap_with_config,
)
from loco_ros.errors import ConfigError
from loco_ros.synthetic.scene import SceneConfig, sample_scene
from loco_ros.types import People


def _people(xyz: np.ndarray, detected: np.ndarray | None = None) -> People:
    p = xyz.shape[0]
    detected = np.isfinite(xyz).all(-1) if detected is None else detected
    return People(xyz_m=xyz.astype(np.float32), confidence=np.ones((p, 14), np.float32),
                  detected=detected, uv_px=np.zeros((p, 14, 2), np.float32),
                  score=np.ones(p, np.float32), track_id=("",) * p)


def _standing_scene(seed: int):
    """A synthetic scene whose people all stand or walk (both feet near the ground)."""
    config = SceneConfig(people=(6, 6), pose_weights=(1, 1, 0, 0, 0, 0, 0), focal_jitter=0.0)
    return sample_scene(np.random.default_rng(seed), config)


def test_plane_from_angles_is_the_synthetic_cameras_ground() -> None:
    for seed in range(5):
        scene = _standing_scene(seed)
        cam = scene.camera
        plane = ground_plane_from_angles(cam.height_m, cam.pitch_rad, cam.roll_rad)
        np.testing.assert_allclose(plane.up_cam, cam.ground_up_cam, atol=1e-12)
        # The ground point straight below the camera centre is at height 0.
        foot = cam.world_to_camera(np.array([0.0, 0.0, 7.0]))
        assert plane.height_above_m(foot) == pytest.approx(0.0, abs=1e-9)


def test_plane_from_a_tf_transform_matches_the_angles() -> None:
    """A camera 1.4 m above base_footprint (x forward, z up), pitched down 12 degrees: the
    optical frame's axes in the ground frame give the same plane as the angles."""
    pitch = math.radians(12.0)
    optical_in_level = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    tilt = Rotation.from_euler("y", pitch).as_matrix()  # nose down about the ground y axis
    R = tilt @ optical_in_level
    plane = ground_plane_from_transform(R, np.array([0.3, -0.1, 1.4]))
    ref = ground_plane_from_angles(1.4, pitch)
    np.testing.assert_allclose(plane.up_cam, ref.up_cam, atol=1e-12)
    assert plane.camera_height_m == pytest.approx(1.4)
    with pytest.raises(ValueError, match="not above"):
        ground_plane_from_transform(R, np.array([0.0, 0.0, -0.2]))


def test_people_scaled_along_their_rays_come_back_onto_the_ground() -> None:
    """GT people pushed to a wrong depth (a wrong stature guess) return to the truth: the
    ankle on the ground pins the scale, pixels stay where they were."""
    scene = _standing_scene(11)
    plane = scene.camera.ground_plane
    gt = scene.joints_xyz_m.astype(np.float64)
    # the true height of each person's lower ankle is the snap target
    ankle_h = plane.height_above_m(gt[:, ANKLES]).min(axis=1)
    factors = np.linspace(0.75, 1.3, gt.shape[0])
    moved = gt * factors[:, None, None]
    for p in range(gt.shape[0]):
        one = _people(moved[p:p + 1])
        snapped = snap_people_to_ground(one, plane, float(ankle_h[p]), max_depth_change=0.5)
        np.testing.assert_allclose(snapped.xyz_m[0], gt[p], rtol=1e-5, atol=1e-4)


def test_lifted_foot_does_not_set_the_depth() -> None:
    """Of two ankles the lower one (the smaller scale) wins: a foot 40 cm up is ignored."""
    plane = ground_plane_from_angles(2.0, math.radians(10.0))
    xyz = np.full((1, 14, 3), np.nan)
    down = -plane.up_cam
    forward = np.array([0.0, 0.0, 1.0]) - (plane.up_cam[2]) * plane.up_cam
    forward /= np.linalg.norm(forward)
    foot = 8.0 * forward + 2.0 * down  # on the ground, 8 m ahead
    xyz[0, ANKLES[0]] = foot + 0.07 * plane.up_cam
    xyz[0, ANKLES[1]] = foot + 0.4 * plane.up_cam + 0.3 * forward
    xyz[0, 0] = foot + 1.7 * plane.up_cam
    truth = xyz.copy()
    snapped = snap_people_to_ground(_people(xyz * 1.2), plane, 0.07)
    np.testing.assert_allclose(snapped.xyz_m, truth, rtol=1e-5, atol=1e-5)


def test_who_is_left_alone() -> None:
    plane = ground_plane_from_angles(1.5, math.radians(5.0))
    scene = _standing_scene(3)
    xyz = scene.joints_xyz_m[:3].astype(np.float64) * 1.1
    no_ankles = xyz.copy()
    no_ankles[0, list(ANKLES)] = np.nan
    snapped = snap_people_to_ground(_people(no_ankles[:1]), plane)
    np.testing.assert_array_equal(snapped.xyz_m, _people(no_ankles[:1]).xyz_m)
    # a correction beyond max_depth_change (person on a platform, a wrong ankle) is not made
    far = _people(xyz[:1] * 3.0)
    assert snap_people_to_ground(far, plane, max_depth_change=0.5) is far
    assert snap_with_config(far, plane, GroundPlaneConfig(max_depth_change=0.5)) is far
    wide = snap_with_config(far, plane, GroundPlaneConfig(max_depth_change=0.95))
    np.testing.assert_allclose(wide.xyz_m, snap_people_to_ground(far, plane, 0.07, 0.95).xyz_m)
    assert not np.allclose(wide.xyz_m, far.xyz_m)
    # refiner-filled ankles anchor a person only when no ankle was detected
    detected = np.isfinite(xyz).all(-1)
    detected[1, ANKLES[0]] = False
    both = _people(xyz[1:2], detected[1:2])
    only_detected = replace(both, xyz_m=both.xyz_m.copy())
    only_detected.xyz_m[0, ANKLES[0]] *= 0.5  # a wrong fill must not be used
    a = snap_people_to_ground(only_detected, plane)
    b = snap_people_to_ground(_people(xyz[1:2]), plane)
    np.testing.assert_allclose(np.delete(a.xyz_m[0], ANKLES[0], 0),
                               np.delete(b.xyz_m[0], ANKLES[0], 0), rtol=1e-6)


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="camera_height_m"):
        GroundPlaneConfig(mode="fixed")
    with pytest.raises(ConfigError, match="mode"):
        GroundPlaneConfig(mode="lidar")
    with pytest.raises(ValueError, match="no fixed plane"):
        ground_plane_from_config(GroundPlaneConfig())
    plane = ground_plane_from_config(GroundPlaneConfig("fixed", 2.5, pitch_deg=20.0))
    assert plane.camera_height_m == 2.5
    # up is mostly -y; looking down, "up" points behind the optical axis (z < 0)
    np.testing.assert_allclose(plane.up_cam, [0.0, -math.cos(0.349066), -math.sin(0.349066)],
                               atol=1e-6)


def test_angles_of_a_plane_give_it_back() -> None:
    from loco_ros.decoding.ground_plane import angles_of_plane

    for pitch_deg, roll_deg in ((0.0, 0.0), (12.0, -3.0), (-8.0, 25.0), (60.0, 1.0)):
        plane = ground_plane_from_angles(1.7, math.radians(pitch_deg), math.radians(roll_deg))
        pitch, roll = angles_of_plane(plane)
        assert math.degrees(pitch) == pytest.approx(pitch_deg, abs=1e-9)
        assert math.degrees(roll) == pytest.approx(roll_deg, abs=1e-9)
