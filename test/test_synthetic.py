"""Synthetic people, scenes, renderer and shards (no ROS, CPU only)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from loco_ros.errors import ConfigError
from loco_ros.skeleton import JOINT_INDEX, LIMBS, NUM_JOINTS
from loco_ros.synthetic.dataset import (
    SyntheticShardDataset,
    generate_sample,
    generate_shards,
    iterate_scenes,
    read_shard_meta,
)
from loco_ros.synthetic.render import render_scene
from loco_ros.synthetic.scene import (
    SceneConfig,
    make_camera,
    make_scene,
    sample_environment,
    sample_scene,
)
from loco_ros.synthetic.skeletons import (
    POSES,
    place_on_ground,
    pose_skeleton,
    sample_body,
    sample_person,
    sample_pose_params,
    standing_height,
)

J = JOINT_INDEX
SMALL = SceneConfig(image_width=128, image_height=72, focal_px=100.0, people=(1, 6))


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Lengths of the rigid bones (neck-hip is not rigid: the spine twists)."""
    rigid = [(a, b) for a, b in LIMBS if (a, b) not in ((1, 8), (1, 11))]
    return np.array([np.linalg.norm(joints[a] - joints[b]) for a, b in rigid])


# --- skeletons -------------------------------------------------------------------------


def test_person_is_deterministic_per_generator_state():
    a = sample_person(np.random.default_rng(11))
    b = sample_person(np.random.default_rng(11))
    c = sample_person(np.random.default_rng(12))
    np.testing.assert_array_equal(a.joints_local, b.joints_local)
    assert a.pose == b.pose
    assert not np.array_equal(a.joints_local, c.joints_local)


def test_heights_and_proportions_are_plausible():
    rng = np.random.default_rng(0)
    for _ in range(200):
        body = sample_body(rng)
        assert 1.5 <= body.height_m <= 1.95
        upright = pose_skeleton(body, {k: 0.0 for k in sample_pose_params(rng, "standing")})
        assert standing_height(upright) == pytest.approx(body.height_m, abs=1e-9)
        h = body.height_m
        assert 0.17 * h < body.upper_arm_m < 0.20 * h
        assert 0.13 * h < body.forearm_m < 0.16 * h
        assert 0.22 * h < body.thigh_m < 0.27 * h
        assert 0.22 * h < body.shank_m < 0.27 * h
        # Head top to ankle within what JTA people show, scaled by stature.
        reach = np.linalg.norm(upright[J["head_top"]] - upright[J["right_ankle"]])
        assert 0.93 * h < reach < 0.98 * h
    kids = [sample_body(rng, child_probability=1.0) for _ in range(50)]
    assert all(1.0 <= k.height_m <= 1.5 and k.child for k in kids)


@pytest.mark.parametrize("pose", POSES)
def test_every_pose_stands_on_the_ground_with_rigid_bones(pose):
    rng = np.random.default_rng(3)
    for _ in range(20):
        person = sample_person(rng, pose=pose)
        j = person.joints_local
        assert j.shape == (NUM_JOINTS, 3) and np.all(np.isfinite(j))
        ankles_y = j[[J["right_ankle"], J["left_ankle"]], 1]
        assert ankles_y.max() == pytest.approx(-person.body.ankle_m)  # y down, ground y = 0
        assert np.all(j[:, 1] < 0.0)  # every joint above the ground
        # Bone lengths do not depend on the pose (same body, rigid segments).
        upright = pose_skeleton(person.body, {k: 0.0 for k in person.params})
        np.testing.assert_allclose(_bone_lengths(j), _bone_lengths(upright), atol=1e-9)
        assert standing_height(j) <= person.height_m + 1e-9
    if pose in ("standing", "walking", "waving", "arms_raised"):
        assert standing_height(j) > 0.9 * person.height_m
    if pose == "sitting":
        assert standing_height(j) < 0.85 * person.height_m
    if pose == "arms_raised":
        assert j[J["right_wrist"], 1] < j[J["head_top"], 1]  # wrists above the head


def test_yaw_turns_about_the_vertical():
    person = sample_person(np.random.default_rng(5), pose="standing")
    turned = place_on_ground(person.joints_local, math.pi / 2, np.array([1.0, 7.0]))
    np.testing.assert_allclose(turned[:, 1], person.joints_local[:, 1])
    # Facing +z turned by 90 degrees faces +x: the right shoulder goes to -z.
    rs = turned[J["right_shoulder"]] - turned[J["left_shoulder"]]
    assert rs[2] < -0.2 and abs(rs[0]) < 0.1


# --- scenes ----------------------------------------------------------------------------


def test_scene_and_image_are_deterministic_per_seed():
    s1 = sample_scene(np.random.default_rng(21), SMALL)
    s2 = sample_scene(np.random.default_rng(21), SMALL)
    np.testing.assert_array_equal(s1.joints_xyz_m, s2.joints_xyz_m)
    np.testing.assert_array_equal(s1.K, s2.K)
    a = generate_sample(4, 9, SMALL)
    b = generate_sample(4, 9, SMALL)
    np.testing.assert_array_equal(a.image, b.image)
    c = generate_sample(4, 10, SMALL)
    assert not np.array_equal(a.image, c.image)
    # Image i of a run does not depend on the images before it.
    listed = list(iterate_scenes(4, 3, SMALL, start=8))
    np.testing.assert_array_equal(listed[1].image, a.image)
    assert listed[1].index == 9


def test_scene_geometry_camera_frame_ground_and_frustum():
    config = SceneConfig()
    rng = np.random.default_rng(1)
    visible_fraction = []
    for _ in range(25):
        scene = sample_scene(rng, config)
        p = scene.num_people
        assert 1 <= p <= 60
        K = scene.K
        assert K.shape == (3, 3) and K[0, 0] == K[1, 1]
        assert 400 * 0.7 - 1e-9 <= K[0, 0] <= 400 * 1.3 + 1e-9
        assert abs(K[0, 2] - 255.5) <= 8 and abs(K[1, 2] - 143.5) <= 8
        j = scene.joints_xyz_m.astype(np.float64)
        assert j.shape == (p, NUM_JOINTS, 3) and scene.visible.shape == (p, NUM_JOINTS)
        assert np.all(j[..., 2] > 0.3)  # in front of the camera
        # Visible = projects inside the image.
        uv = scene.uv_px()
        inside = (uv[..., 0] >= 0) & (uv[..., 0] <= 511) & (uv[..., 1] >= 0) & (uv[..., 1] <= 287)
        np.testing.assert_array_equal(scene.visible, inside)
        assert np.all(scene.visible.sum(axis=1) >= config.min_joints_in_image)
        visible_fraction.append(scene.visible.mean())
        # Feet on the ground plane n . X + h = 0, head tops up to the stature above it.
        n, h = scene.camera.ground_up_cam, scene.camera.height_m
        above = j @ n + h
        lowest = np.minimum(above[:, J["right_ankle"]], above[:, J["left_ankle"]])
        np.testing.assert_allclose(lowest, 0.039 * scene.heights_m, atol=1e-3)
        assert np.all(above[:, J["head_top"]] <= scene.heights_m + 1e-3)
        assert np.all(above[:, J["head_top"]] > 0.5)
        # No two people interpenetrate: ground points of their hips/feet keep apart.
        pts = scene.camera.camera_to_world(j)[:, :, [0, 2]]
        for a in range(p):
            for b in range(a + 1, p):
                gap = np.linalg.norm(pts[a][:, None] - pts[b][None], axis=-1).min()
                assert gap > 0.1
    assert np.mean(visible_fraction) > 0.85


def test_scene_config_validates():
    with pytest.raises(ConfigError):
        SceneConfig(people=(0, 5))
    with pytest.raises(ConfigError):
        SceneConfig(focal_jitter=1.5)
    with pytest.raises(ConfigError):
        SceneConfig(pose_weights=(1.0, 2.0))
    fixed = SceneConfig(focal_jitter=0.0, principal_jitter_px=0.0)
    scene = sample_scene(np.random.default_rng(0), fixed)
    assert scene.K[0, 0] == 400.0 and scene.K[0, 2] == 255.5


# --- renderer --------------------------------------------------------------------------


def _controlled_scene(placements, *, seed=0, blur=0, width=320, height=240, focal=300.0):
    """People (pose, ground x, ground z, yaw) in front of a level camera 1.2 m high."""
    rng = np.random.default_rng(seed)
    cam = make_camera(width, height, focal, 1.2, 0.0)
    joints, heights = [], []
    for pose, x, z, yaw in placements:
        person = sample_person(np.random.default_rng(seed), pose=pose, height_m=1.75)
        joints.append(place_on_ground(person.joints_local, yaw, np.array([x, z])))
        heights.append(person.height_m)
    env = dataclasses.replace(sample_environment(rng, cam), blur=blur)
    return make_scene(
        cam,
        np.array(joints),
        rng,
        heights_m=np.array(heights),
        poses=tuple(p[0] for p in placements),
        environment=env,
    )


def test_render_shape_type_and_people_change_the_image():
    rng = np.random.default_rng(8)
    checked = changed = 0
    for _ in range(6):
        scene = sample_scene(rng, SceneConfig(people=(5, 12)))
        img, depth, label = render_scene(scene, np.random.default_rng(1), return_maps=True)
        empty = render_scene(scene.without_people(), np.random.default_rng(1))
        assert img.shape == (288, 512, 3) and img.dtype == np.uint8
        assert depth.shape == label.shape == (288, 512)
        diff = np.abs(img.astype(int) - empty.astype(int)).sum(axis=2)
        uv = scene.uv_px()
        for p in range(scene.num_people):
            if not scene.visible[p, J["head_top"]]:
                continue
            # The head centre is ~0.11 m below head_top, towards the neck.
            top, neck = scene.joints_xyz_m[p, J["head_top"]], scene.joints_xyz_m[p, J["neck"]]
            centre = top + 0.11 * (neck - top) / np.linalg.norm(neck - top)
            u, v = scene.camera.project(centre)
            iu, iv = int(round(u)), int(round(v))
            if not (0 <= iu < 512 and 0 <= iv < 288) or label[iv, iu] != p:
                continue  # hidden by someone nearer
            checked += 1
            win = diff[max(iv - 1, 0) : iv + 2, max(iu - 1, 0) : iu + 2]
            changed += bool(win.max() > 12)
            assert np.isfinite(uv[p, J["head_top"]]).all()
        # Where nobody is drawn and no shadow falls, the image is the empty one.
        assert np.mean(diff[label < 0] == 0) > 0.5
    assert checked >= 20
    assert changed / checked > 0.9


def test_apparent_size_scales_with_inverse_depth():
    sizes = {}
    for z in (4.0, 8.0):
        scene = _controlled_scene([("standing", 0.0, z, math.pi)])
        _, depth, label = render_scene(scene, np.random.default_rng(0), return_maps=True)
        rows = np.flatnonzero((label == 0).any(axis=1))
        cols = np.flatnonzero((label == 0).any(axis=0))
        sizes[z] = (rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
        # Silhouette height ~ f * stature / depth (shoes and hair add a little).
        assert sizes[z][0] == pytest.approx(300.0 * 1.75 / z, rel=0.1)
        # The z-buffer holds metric surface depth near z.
        assert np.all(np.abs(depth[label == 0] - z) < 0.6)
    assert sizes[4.0][0] / sizes[8.0][0] == pytest.approx(2.0, rel=0.08)
    assert sizes[4.0][1] / sizes[8.0][1] == pytest.approx(2.0, rel=0.2)


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_person_occludes_farther_one(near_first):
    near, far = ("standing", 0.0, 4.0, math.pi), ("arms_raised", 0.05, 7.0, math.pi)
    both = _controlled_scene([near, far] if near_first else [far, near])
    i_near = 0 if near_first else 1
    img, _, label = render_scene(both, np.random.default_rng(0), return_maps=True)
    alone = both.subset([i_near])
    img_alone, _, label_alone = render_scene(alone, np.random.default_rng(0), return_maps=True)
    mine = label_alone == 0
    # Every pixel of the near person stays the near person's, with the same colour.
    assert np.all(label[mine] == i_near)
    np.testing.assert_array_equal(img[mine], img_alone[mine])
    # The far person is drawn only around the near one (its raised arms, its head).
    far_px = label == 1 - i_near
    assert far_px.sum() > 50 and not np.any(far_px & mine)
    # Its torso centre (straight behind the near person) is hidden.
    j = both.joints_xyz_m[1 - i_near]
    centre = 0.25 * (
        j[J["right_shoulder"]] + j[J["left_shoulder"]] + j[J["right_hip"]] + j[J["left_hip"]]
    )
    u, v = both.camera.project(centre)
    assert label[int(round(v)), int(round(u))] == i_near


# --- shards ----------------------------------------------------------------------------


def test_shards_are_deterministic_resumable_and_readable(tmp_path):
    config = dataclasses.replace(SMALL, people=(1, 4))
    paths = generate_shards(
        tmp_path / "a", 5, seed=3, scene_config=config, shard_size=2, progress=False
    )
    assert [p.name for p in paths] == ["shard_00000.npz", "shard_00001.npz", "shard_00002.npz"]
    meta = read_shard_meta(paths[1])
    assert meta["first"] == 2 and meta["count"] == 2 and meta["seed"] == 3
    with np.load(paths[0]) as z:
        assert z["images"].shape == (2, 72, 128, 3) and z["images"].dtype == np.uint8
        assert z["K"].shape == (2, 3, 3)
        assert z["joints"].shape == (2, 4, NUM_JOINTS, 3)
        assert z["visible"].shape == (2, 4, NUM_JOINTS)
        first = generate_sample(3, 1, config)
        np.testing.assert_array_equal(z["images"][1], first.image)
        p = first.scene.num_people
        np.testing.assert_array_equal(z["joints"][1, :p], first.scene.joints_xyz_m)
        assert np.all(np.isnan(z["joints"][1, p:])) and not z["visible"][1, p:].any()
    # Resume: complete shards are skipped, a missing one is rewritten identically.
    stamps = [p.stat().st_mtime_ns for p in paths]
    before = paths[1].read_bytes()
    paths[1].unlink()
    generate_shards(tmp_path / "a", 5, seed=3, scene_config=config, shard_size=2, progress=False)
    assert paths[0].stat().st_mtime_ns == stamps[0]
    assert paths[1].read_bytes() == before
    # Growing the run keeps the full shards and redoes only the short last one.
    grown = generate_shards(
        tmp_path / "c", 5, seed=3, scene_config=config, shard_size=2, progress=False
    )
    stamps = [p.stat().st_mtime_ns for p in grown]
    grown = generate_shards(
        tmp_path / "c", 6, seed=3, scene_config=config, shard_size=2, progress=False
    )
    assert [p.stat().st_mtime_ns for p in grown[:2]] == stamps[:2]
    assert read_shard_meta(grown[2])["count"] == 2
    # Parallel generation writes the same bytes; image_size overrides the config's.
    generate_shards(
        tmp_path / "b", 5, seed=3, scene_config=config, shard_size=2, workers=2, progress=False
    )
    for p in paths:
        assert (tmp_path / "b" / p.name).read_bytes() == p.read_bytes()
    # The torch Dataset.
    ds = SyntheticShardDataset(tmp_path / "a")
    assert len(ds) == 5
    item = ds[3]
    assert tuple(item["image"].shape) == (3, 72, 128)
    assert int(item["index"]) == 3
    np.testing.assert_array_equal(
        item["image"].numpy().transpose(1, 2, 0), generate_sample(3, 3, config).image
    )
    assert tuple(item["joints"].shape) == (4, NUM_JOINTS, 3)
    assert int(item["num_people"]) == int(np.isfinite(item["joints"][:, 0, 0].numpy()).sum())


def test_image_size_override(tmp_path):
    paths = generate_shards(
        tmp_path, 1, seed=0, scene_config=SMALL, image_size=(96, 64), progress=False
    )
    with np.load(paths[0]) as z:
        assert z["images"].shape == (1, 64, 96, 3)
