"""Write synthetic scenes to a rosbag2: images, CameraInfo and the ground truth."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from tqdm import tqdm

from loco_ros.bags.messages import camera_info_msg, pose_array_msg, rgb_image_msg
from loco_ros.bags.transforms import TF_MESSAGE, TF_STATIC_TOPIC, static_transform_msg
from loco_ros.bags.typestore import CAMERA_INFO, IMAGE, POSE3D_ARRAY, loco_typestore
from loco_ros.synthetic.render import render_scene
from loco_ros.synthetic.scene import Scene
from loco_ros.types import People

IMAGE_TOPIC = "/camera/image"
CAMERA_INFO_TOPIC = "/camera/camera_info"
GT_TOPIC = "/people/poses3d_gt"


@dataclass(frozen=True)
class BagTopics:
    """Topic names of a synthetic bag."""

    image: str = IMAGE_TOPIC
    camera_info: str = CAMERA_INFO_TOPIC
    ground_truth: str = GT_TOPIC

GROUND_FRAME = "base_footprint"
# base_footprint (x forward, y left, z up) <- the synthetic world frame (x right, y down,
# z forward), both on the ground below the camera.
BASE_FROM_WORLD = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def scene_ground_truth(scene: Scene, ids: Sequence[str] = ()) -> People:
    """GT People of a scene: every joint's true position; ``detected`` = visible in the image."""
    visible = scene.visible.astype(bool)
    count = scene.num_people
    return People(
        xyz_m=scene.joints_xyz_m.astype(np.float32),
        confidence=visible.astype(np.float32),
        detected=visible,
        uv_px=scene.uv_px(),
        score=np.ones(count, np.float32),
        track_id=tuple(ids) if ids else tuple(str(i + 1) for i in range(count)),
    )


def fixed_camera_pose(scenes: Sequence[Scene]) -> tuple[np.ndarray, np.ndarray] | None:
    """(R, t) of the camera in base_footprint when every scene has the same camera pose."""
    cams = [s.camera for s in scenes]
    first = cams[0]
    if any((c.height_m, c.pitch_rad, c.roll_rad) != (first.height_m, first.pitch_rad,
                                                      first.roll_rad) for c in cams):
        return None
    return BASE_FROM_WORLD @ first.R_world_cam, BASE_FROM_WORLD @ first.position_w


def write_scene_bag(path: str | Path, scenes: Sequence[Scene], ids: Sequence[str] = (),
                    fps: float = 10.0, frame_id: str = "camera_optical_frame",
                    start_ns: int = 1_700_000_000 * 10**9, seed: int = 0,
                    storage: str = "mcap", compress: bool = True,
                    topics: BagTopics = BagTopics(),
                    render: Callable[[int, Scene], np.ndarray] | None = None) -> Path:
    """Render ``scenes`` and write them as a bag (zstd-compressed messages by default).

    Topics (``topics``): the image (rgb8), its CameraInfo, the GT (Pose3DArray), and
    /tf_static (base_footprint -> ``frame_id``) when all scenes share one camera pose.
    ``ids``: ground-truth identities of the people (same order in every scene).
    ``render(index, scene)`` gives frame ``index``'s RGB image; by default the scene is
    rendered with the noise of ``(seed, index)``.
    """
    if render is None:
        def render(index: int, scene: Scene) -> np.ndarray:
            return render_scene(scene, np.random.default_rng([seed, index]))

    store = loco_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(Path(path), version=9, storage_plugin=plugin)
    if compress:
        mode = CompressionMode.STORAGE if plugin == StoragePlugin.MCAP else CompressionMode.MESSAGE
        writer.set_compression(mode, CompressionFormat.ZSTD)
    with writer:
        image = writer.add_connection(topics.image, IMAGE, typestore=store)
        info = writer.add_connection(topics.camera_info, CAMERA_INFO, typestore=store)
        truth = writer.add_connection(topics.ground_truth, POSE3D_ARRAY, typestore=store)
        pose = fixed_camera_pose(scenes) if len(scenes) else None
        if pose is not None:
            static = writer.add_connection(TF_STATIC_TOPIC, TF_MESSAGE, typestore=store)
            msg = static_transform_msg(GROUND_FRAME, frame_id, *pose, start_ns)
            writer.write(static, start_ns, store.serialize_cdr(msg, TF_MESSAGE))
        for index, scene in enumerate(tqdm(scenes, desc="writing bag", unit="frame")):
            stamp = start_ns + round(index * 1e9 / fps)
            rgb = render(index, scene)
            width, height = scene.image_size
            messages = (
                (info, camera_info_msg(scene.K, width, height, stamp, frame_id), CAMERA_INFO),
                (image, rgb_image_msg(rgb, stamp, frame_id), IMAGE),
                (truth, pose_array_msg(scene_ground_truth(scene, ids), stamp, frame_id),
                 POSE3D_ARRAY),
            )
            for connection, msg, msgtype in messages:
                writer.write(connection, stamp, store.serialize_cdr(msg, msgtype))
    return Path(path)
