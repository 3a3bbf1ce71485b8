"""Walking sequences and the synthetic bag writer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from rosbags.rosbag2 import Reader

from loco_ros.bags.messages import camera_info_to_K, image_msg_to_rgb, pose_array_to_people
from loco_ros.bags.typestore import loco_typestore
from loco_ros.stamps import stamp_ns_of
from loco_ros.synthetic.bag import CAMERA_INFO_TOPIC, GT_TOPIC, IMAGE_TOPIC, write_scene_bag
from loco_ros.synthetic.sequence import SequenceConfig, walking_sequence


def test_walkers_move_smoothly_and_keep_their_bodies() -> None:
    config = replace(SequenceConfig(), frames=11, fps=10.0, people=(3, 3))
    scenes, ids = walking_sequence(5, config)
    assert ids == ("1", "2", "3") and len(scenes) == 11
    first, last = scenes[0].joints_xyz_m, scenes[-1].joints_xyz_m
    moved = np.linalg.norm(last.mean(1) - first.mean(1), axis=-1)  # (P,) over 1 s
    assert np.all((moved > 0.3) & (moved < 1.6)), moved  # 0.5-1.3 m/s plus the gait
    np.testing.assert_allclose(scenes[0].heights_m, scenes[-1].heights_m)
    step = np.linalg.norm(np.diff([s.joints_xyz_m for s in scenes], axis=0), axis=-1)
    assert step.max() < 0.5  # no joint jumps between frames at 10 Hz
    np.testing.assert_array_equal(walking_sequence(5, config)[0][4].joints_xyz_m,
                                  scenes[4].joints_xyz_m)


def test_scene_bag_holds_images_intrinsics_and_ground_truth(tmp_path) -> None:
    config = replace(SequenceConfig(), frames=3, people=(2, 2), sensor_noise=False)
    scenes, ids = walking_sequence(1, config)
    write_scene_bag(tmp_path / "bag", scenes, ids, fps=10.0)
    store = loco_typestore()
    seen: dict[str, list] = {IMAGE_TOPIC: [], CAMERA_INFO_TOPIC: [], GT_TOPIC: []}
    with Reader(tmp_path / "bag") as reader:
        for connection, stamp, raw in reader.messages():
            msg = store.deserialize_cdr(raw, connection.msgtype)
            if connection.topic == "/tf_static":  # its stamps are in the transforms
                assert msg.transforms[0].child_frame_id == "camera_optical_frame"
                continue
            assert stamp_ns_of(msg) == stamp
            seen[connection.topic].append(msg)
    assert [len(v) for v in seen.values()] == [3, 3, 3]
    for i, scene in enumerate(scenes):
        assert image_msg_to_rgb(seen[IMAGE_TOPIC][i]).shape == (288, 512, 3)
        np.testing.assert_allclose(camera_info_to_K(seen[CAMERA_INFO_TOPIC][i]), scene.K)
        truth = pose_array_to_people(seen[GT_TOPIC][i])
        np.testing.assert_allclose(truth.xyz_m, scene.joints_xyz_m, atol=1e-6)
        np.testing.assert_array_equal(truth.detected, scene.visible)
        assert truth.track_id == ids


def test_fixed_camera_bag_carries_its_mount_in_tf_static(tmp_path) -> None:
    """A sequence (one camera) gets /tf_static base_footprint -> camera; reading it back
    gives the scene's own ground plane. Scenes with different cameras get none."""
    from loco_ros.bags.transforms import ground_plane_from_bag
    from loco_ros.synthetic.scene import SceneConfig, sample_scene

    scenes, ids = walking_sequence(5, replace(SequenceConfig(), frames=2, people=(1, 2)))
    path = write_scene_bag(tmp_path / "seq", scenes, ids)
    plane = ground_plane_from_bag(path, IMAGE_TOPIC)
    assert plane is not None
    np.testing.assert_allclose(plane.up_cam, scenes[0].camera.ground_up_cam, atol=1e-9)
    assert plane.camera_height_m == scenes[0].camera.height_m
    rng = np.random.default_rng(0)
    mixed = [sample_scene(rng, SceneConfig(people=(1, 2))) for _ in range(2)]
    assert ground_plane_from_bag(write_scene_bag(tmp_path / "mixed", mixed)) is None


def test_transform_chains_compose() -> None:
    """base_footprint -> base_link -> camera_optical: the composed transform maps a point
    of the camera frame like the two steps do."""
    from scipy.spatial.transform import Rotation

    from loco_ros.bags.transforms import chain_transform

    R1 = Rotation.from_euler("z", 0.3).as_matrix()
    R2 = Rotation.from_euler("xyz", [-1.4, 0.2, -1.6]).as_matrix()
    t1, t2 = np.array([0.5, 0.0, 0.3]), np.array([0.1, -0.2, 1.1])
    tree = {"base_link": ("base_footprint", (R1, t1)), "camera_optical": ("base_link", (R2, t2))}
    R, t = chain_transform(tree, "base_footprint", "camera_optical")
    x = np.array([0.3, -0.4, 5.0])
    np.testing.assert_allclose(R @ x + t, R1 @ (R2 @ x + t2) + t1, atol=1e-12)
    assert chain_transform(tree, "map", "camera_optical") is None
