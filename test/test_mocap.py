"""Real human motion (DeepMimic clips of pybullet) in the synthetic pose sampler."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from loco_ros.data import real_material
from loco_ros.errors import ConfigError
from loco_ros.skeleton import JOINT_INDEX as J
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.synthetic import mocap
from loco_ros.synthetic.scene import SceneConfig, sample_scene

BONES = {  # name: (parent, child)
    "head": ("head_top", "neck"),
    "r_upper_arm": ("right_shoulder", "right_elbow"),
    "r_forearm": ("right_elbow", "right_wrist"),
    "l_upper_arm": ("left_shoulder", "left_elbow"),
    "l_forearm": ("left_elbow", "left_wrist"),
    "r_thigh": ("right_hip", "right_knee"),
    "r_shank": ("right_knee", "right_ankle"),
    "l_thigh": ("left_hip", "left_knee"),
    "l_shank": ("left_knee", "left_ankle"),
    "shoulders": ("right_shoulder", "left_shoulder"),
    "hips": ("right_hip", "left_hip"),
}
# Sane adult ranges (m) for a 1.5-1.9 m person.
SANE_M = {"head": (0.18, 0.32), "upper_arm": (0.22, 0.36), "forearm": (0.20, 0.32),
          "thigh": (0.35, 0.52), "shank": (0.33, 0.50), "shoulders": (0.28, 0.45),
          "hips": (0.14, 0.35)}


def bone_lengths(joints: np.ndarray) -> dict[str, np.ndarray]:
    joints = np.asarray(joints, np.float64)
    return {name: np.linalg.norm(joints[..., J[a], :] - joints[..., J[b], :], axis=-1)
            for name, (a, b) in BONES.items()}


@pytest.fixture(scope="module")
def material():
    try:
        clips = real_material.motion_clips()
        urdf = real_material.fetch("pybullet") / "pybullet_data/humanoid/humanoid.urdf"
    except real_material.FetchError as exc:
        pytest.skip(f"pybullet's motion clips cannot be fetched: {exc}")
    return clips, urdf


@pytest.fixture(scope="module")
def bank(material):
    return mocap.load_bank()


def walk_frames(material) -> np.ndarray:
    clips, _ = material
    walk = next(c for c in clips if c.name == "humanoid3d_walk.txt")
    return np.asarray(json.loads(walk.read_text())["Frames"], np.float64)


def test_clips_hold_the_documented_layout(material):
    clips, _ = material
    assert len(clips) == 15
    total = 0
    for clip in clips:
        frames = np.asarray(json.loads(clip.read_text())["Frames"])
        assert frames.shape[1] == mocap.FRAME_LENGTH
        # The quaternions (w x y z) have unit norm, up to a few sloppy frames (kick's right
        # hip: 0.58; scipy normalises): a layout shifted by one would not.
        starts = [4] + [s for _, s, kind in mocap.FRAME_LAYOUT if kind == "spherical"]
        norms = np.stack([np.linalg.norm(frames[:, s:s + 4], axis=1) for s in starts])
        assert np.median(np.abs(norms - 1.0)) < 1e-3 and np.all(np.abs(norms - 1.0) < 0.5)
        shifted = np.stack([np.linalg.norm(frames[:, s + 1:s + 5], axis=1) for s in starts])
        assert np.median(np.abs(shifted - 1.0)) > 0.01
        total += len(frames)
    assert total == 1620


def test_walk_first_frame_is_a_standing_person(material):
    humanoid = mocap.parse_urdf(material[1])
    stature = mocap.upright_stature_m(humanoid)
    assert 1.5 <= stature <= 1.9
    fk = mocap.forward_kinematics(walk_frames(material)[:1], humanoid)
    joints = mocap.loco_joints(fk)[0]  # DeepMimic world, y up, metres
    y = joints[:, 1]

    def low(part):
        return min(y[J[f"right_{part}"]], y[J[f"left_{part}"]])

    def high(part):
        return max(y[J[f"right_{part}"]], y[J[f"left_{part}"]])

    assert y[J["head_top"]] > y[J["neck"]] + 0.15
    assert y[J["neck"]] > high("hip") + 0.3
    assert low("hip") > high("knee") + 0.2 and low("knee") > high("ankle") + 0.2
    assert abs(y[J["neck"]] - low("shoulder")) < 0.1
    assert 1.45 < y[J["head_top"]] < 1.7  # the clip's own ground is y = 0
    soles = min(fk["right_sole"][0, 1], fk["left_sole"][0, 1])
    assert abs(soles) < 0.03  # a foot on the ground
    lengths = bone_lengths(joints)
    for name, value in lengths.items():
        lo, hi = SANE_M[name.removeprefix("r_").removeprefix("l_")]
        assert lo <= value <= hi, (name, value)
    # Scaled to a stature, the person is that tall when upright.
    rest = mocap.loco_joints(mocap.forward_kinematics(mocap.rest_frame()[None], humanoid))[0]
    sole = mocap.forward_kinematics(mocap.rest_frame()[None], humanoid)["right_sole"][0, 1]
    assert rest[J["head_top"], 1] - sole == pytest.approx(stature)


def test_bank_poses_are_person_local_facing_forward(bank):
    assert len(bank) == 2 * 1620
    assert bank.poses.shape == (3240, NUM_JOINTS, 3) and bank.poses.dtype == np.float32
    assert 1.5 <= bank.stature_m <= 1.9
    assert mocap.bank_path().exists()
    assert real_material.MATERIALS["pybullet"].version in mocap.bank_path().name
    # Origin on the ground under the pelvis, no joint under the ground (y down).
    pelvis = (bank.poses[:, J["right_hip"]] + bank.poses[:, J["left_hip"]]) / 2
    np.testing.assert_allclose(pelvis[:, [0, 2]], 0.0, atol=1e-5)
    assert np.all(bank.poses[:, :, 1] <= 1e-6)
    walk = bank.poses[bank.clip_rows(bank.clip_names.index("walk"), False)]
    # Right is +x; a walker's knees point forward (+z) of the hip-ankle line.
    assert np.all(walk[:, J["right_hip"], 0] > 0) and np.all(walk[:, J["left_hip"], 0] < 0)
    for side in ("right", "left"):
        mid = (walk[:, J[f"{side}_hip"], 2] + walk[:, J[f"{side}_ankle"], 2]) / 2
        assert np.mean(walk[:, J[f"{side}_knee"], 2] - mid > -0.01) > 0.9
    # Upright: head top 1.4-1.7 m above the ground (y is down).
    assert np.all((-walk[:, J["head_top"], 1] > 1.4) & (-walk[:, J["head_top"], 1] < 1.7))


def test_mirror_is_consistent(bank):
    half = len(bank) // 2
    original, mirrored = bank.poses[:half], bank.poses[half:]
    assert not bank.mirrored[:half].any() and bank.mirrored[half:].all()
    np.testing.assert_array_equal(bank.clip[:half], bank.clip[half:])
    np.testing.assert_allclose(mocap.mirror(original), mirrored, atol=1e-6)
    np.testing.assert_allclose(mocap.mirror(mirrored), original, atol=1e-6)
    # The mirrored right wrist is the original left wrist seen in a mirror.
    np.testing.assert_allclose(mirrored[:, J["right_wrist"]],
                               original[:, J["left_wrist"]] * [-1, 1, 1], atol=1e-6)
    # Right stays +x, and right/left bone lengths swap.
    assert np.all(mirrored[:, J["right_hip"], 0] > 0)
    a, b = bone_lengths(original), bone_lengths(mirrored)
    for name in ("upper_arm", "forearm", "thigh", "shank"):
        np.testing.assert_allclose(a[f"r_{name}"], b[f"l_{name}"], atol=1e-5)


# Scenes of the sampler before mocap_share existed (rounded to 0.1 mm, plus the generator
# state after the scene, so a single extra draw shows). Update only on purpose.
BEFORE = {
    "default": ["b9629410e06fe31b", "7f53555c0d34c1d9", "420f74e399981ed7",
                "980eaac3da90ca4e", "a6bd0e045f8d27c4"],
    "small": ["ea4ce298ff0e36c6", "8b5677ba8aadc66d", "6dbb9ed93ae80164",
              "4bca09efb2f388a9", "9340ae0d828850c9"],
}


def scene_hash(seed: int, config: SceneConfig) -> str:
    rng = np.random.default_rng(seed)
    s = sample_scene(rng, config)
    h = hashlib.sha256()
    for a in (s.joints_xyz_m, s.heights_m, s.yaw_rad, s.K, s.ground_xz_m):
        h.update(np.round(np.asarray(a, np.float64), 4).tobytes())
    h.update(s.visible.tobytes())
    h.update(repr(s.poses).encode())
    h.update(repr(rng.bit_generator.state).encode())
    return h.hexdigest()[:16]


def test_default_scenes_are_unchanged_and_never_load_the_bank(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the pose bank was loaded with mocap_share = 0")

    monkeypatch.setattr(mocap, "load_bank", refuse)
    configs = {"default": SceneConfig(),
               "small": SceneConfig(people=(1, 8), image_width=256, image_height=160)}
    for name, config in configs.items():
        assert config.mocap_share == 0.0
        assert [scene_hash(seed, config) for seed in range(5)] == BEFORE[name]


def test_mocap_share_config_and_training_pass_through():
    with pytest.raises(ConfigError):
        SceneConfig(mocap_share=1.5)
    from loco_ros.config import GridConfig
    from loco_ros.synthetic.dataset import _config_dict
    from loco_ros.training.data import SceneRanges, scene_config

    assert scene_config(GridConfig()).mocap_share == 0.0
    assert scene_config(GridConfig(), SceneRanges(mocap_share=0.4)).mocap_share == 0.4
    # Shard meta of the default config stays as before the option.
    assert "mocap_share" not in _config_dict(SceneConfig())
    assert _config_dict(SceneConfig(mocap_share=0.4))["mocap_share"] == 0.4


def test_training_flag():
    pytest.importorskip("torch")
    from loco_ros.training.train_predictor import build_parser

    required = ["--model-config", "m.yaml", "--vha", "v.safetensors", "--out", "o"]
    try:
        default = build_parser().parse_args(required)
    except SystemExit:
        pytest.skip("train_predictor's required arguments changed")
    assert default.mocap_share == 0.0
    assert build_parser().parse_args(required + ["--mocap-share", "0.25"]).mocap_share == 0.25


def test_mocap_people_come_from_the_bank(bank):
    config = SceneConfig(people=(4, 10), image_width=256, image_height=160, mocap_share=1.0)
    # The mocap humanoid's bone lengths relative to its stature.
    rest = bank.poses[0].astype(np.float64)
    ratio = {k: v / bank.stature_m for k, v in bone_lengths(rest).items()}
    people = 0
    for seed in range(4):
        scene = sample_scene(np.random.default_rng(seed), config)
        again = sample_scene(np.random.default_rng(seed), config)  # a pure function of the seed
        np.testing.assert_array_equal(scene.joints_xyz_m, again.joints_xyz_m)
        for p in range(scene.num_people):
            assert scene.poses[p].startswith("mocap_")
            assert scene.poses[p].removeprefix("mocap_") in bank.clip_names
            lengths = bone_lengths(scene.joints_xyz_m[p])
            for name in ratio:
                assert lengths[name] / scene.heights_m[p] == pytest.approx(ratio[name], abs=2e-3)
            people += 1
    assert people >= 8
    # Synthetic pose families have other proportions (a shorter head): the check can tell.
    scene = sample_scene(np.random.default_rng(0), SceneConfig(people=(4, 4)))
    heads = bone_lengths(scene.joints_xyz_m)["head"] / scene.heights_m
    assert np.all(np.abs(heads - ratio["head"]) > 0.01)
    # A share in between mixes both, deterministically.
    mixed = SceneConfig(people=(20, 20), image_width=256, image_height=160, mocap_share=0.5)
    poses = sample_scene(np.random.default_rng(1), mixed).poses
    assert any(p.startswith("mocap_") for p in poses)
    assert any(not p.startswith("mocap_") for p in poses)


def test_sample_mocap_person_scales_to_the_stature(bank):
    rng = np.random.default_rng(7)
    for _ in range(20):
        person = mocap.sample_mocap_person(rng, height_m=1.72, bank=bank)
        row = np.flatnonzero((bank.clip == int(person.params["clip"]))
                             & (bank.frame == int(person.params["frame"]))
                             & (bank.mirrored == bool(person.params["mirrored"])))
        assert len(row) == 1
        np.testing.assert_allclose(person.joints_local,
                                   bank.poses[row[0]] * (1.72 / bank.stature_m), atol=1e-5)
        assert person.height_m == 1.72


def test_mocap_scene_renders(bank):
    from loco_ros.synthetic.render import render_scene

    config = SceneConfig(people=(3, 6), image_width=128, image_height=80, mocap_share=1.0)
    scene = sample_scene(np.random.default_rng(3), config)
    image = render_scene(scene, np.random.default_rng(4))
    assert image.shape == (80, 128, 3) and image.dtype == np.uint8 and image.std() > 0
