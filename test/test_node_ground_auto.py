"""loco_node with ground_plane.mode auto, as a separate process over real DDS: a saved
estimate starts the node converged (people on its ground, the latched transform, the
diagnostics state); the node saves the estimate on shutdown and on deactivate and the next
start loads it; a reset by parameter starts over and is counted."""

from __future__ import annotations

import math
import signal

import numpy as np
import pytest
from node_harness import (
    NodeHarness,
    change_state,
    get_parameter,
    joints_of,
    node_command,
    set_parameter,
)

from loco_ros.calibration import CalibrationEstimate, load_estimate, save_estimate

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SECOND = 1_000_000_000
HEIGHT_M, PITCH_DEG = 2.2, 12.0
TOPIC = "/loco_node/ground_estimate"


@pytest.fixture
def harness(rclpy_context):
    h = NodeHarness(rclpy_context)
    yield h
    h.close()


def converged_estimate() -> CalibrationEstimate:
    return CalibrationEstimate(
        camera_height_m=HEIGHT_M, pitch_deg=PITCH_DEG, roll_deg=0.0, camera_height_std_m=0.03,
        pitch_std_deg=0.2, roll_std_deg=0.2, observations=400, people=12, frames=300,
        inlier_fraction=0.9, converged=True)


def rendered_frame():
    """A rendered image of people seen by a camera HEIGHT_M up, pitched PITCH_DEG down."""
    from loco_ros.synthetic.render import render_scene
    from loco_ros.synthetic.scene import SceneConfig, sample_scene

    config = SceneConfig(people=(4, 6), distance_m=(4.0, 14.0), focal_jitter=0.0,
                         principal_jitter_px=0.0, camera_height_m=(HEIGHT_M, HEIGHT_M),
                         pitch_deg=(PITCH_DEG, PITCH_DEG), roll_deg=(0.0, 0.0),
                         pose_weights=(1, 1, 0, 0, 0, 0, 0))
    rng = np.random.default_rng(77)
    scene = sample_scene(rng, config)
    return render_scene(scene, rng), scene.K


def latched_transforms(harness: NodeHarness, count: int = 1) -> list:
    """Subscribe now (a late joiner) and wait for ``count`` transforms of the latched topic."""
    from geometry_msgs.msg import TransformStamped

    from loco_ros.ros.ground_estimate import LATCHED_QOS

    received: list = []
    subscription = harness.node.create_subscription(TransformStamped, TOPIC, received.append,
                                                    LATCHED_QOS)
    harness.spin_until(lambda: len(received) >= count, 30.0)
    harness.node.destroy_subscription(subscription)
    return received


def diagnostics_with(harness: NodeHarness, key: str, value: str) -> dict[str, str]:
    """The first loco_node diagnostics whose ``key`` is ``value`` (or the last seen)."""
    values: dict[str, str] = {}
    for _ in range(10):
        values = harness.latest_diagnostics()
        if values.get(key) == value:
            break
    return values


def stop(process) -> str:
    """SIGINT, as Ctrl-C; the process's output."""
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=30)[0]
    assert "Traceback" not in output, output
    return output


def test_auto_mode_loads_publishes_saves_and_resets(harness, start_process,
                                                    demo_model_without_refiner,
                                                    tmp_path) -> None:
    from lifecycle_msgs.msg import Transition

    from loco_ros.decoding.ground_plane import (
        ANKLES,
        angles_of_plane,
        ground_plane_from_angles,
        ground_plane_from_transform,
        transform_to_rotation_translation,
    )

    path = tmp_path / "ground.yaml"
    save_estimate(converged_estimate(), path)
    command = node_command(demo_model_without_refiner, "tracking.enabled:=false",
                           "ground_plane.mode:=auto", f"ground_plane.calibration_file:={path}")
    image, K = rendered_frame()

    # 1. The saved estimate: converged at once, people on its ground, the latched transform.
    process = start_process(*command[1:])
    harness.wait_for_node(process)
    values = diagnostics_with(harness, "ground_calibration_state", "converged")
    assert values["ground_calibration_state"] == "converged", values
    assert values["ground_plane"] == "auto" and values["ground_calibration_resets"] == "0"
    msg = harness.send_frame(image, K, 70 * SECOND)
    assert msg is not None
    xyz, _, detected = joints_of(msg)
    plane = ground_plane_from_angles(HEIGHT_M, math.radians(PITCH_DEG))
    with_ankle = detected[:, list(ANKLES)].any(axis=1)
    assert with_ankle.sum() >= 2, "the demo model should find feet in this image"
    lowest = np.nanmin(np.where(detected[:, list(ANKLES)],
                                plane.height_above_m(xyz[:, list(ANKLES)]), np.inf), axis=1)
    assert (np.abs(lowest[with_ankle] - 0.07) < 2e-3).mean() >= 0.75, lowest[with_ankle]
    transforms = latched_transforms(harness)
    assert len(transforms) == 1, "one latched estimate, not one per frame"
    tf = transforms[0]
    assert (tf.header.frame_id, tf.child_frame_id) == ("base_footprint", msg.header.frame_id)
    learnt = ground_plane_from_transform(*transform_to_rotation_translation(tf.transform))
    assert learnt.camera_height_m == pytest.approx(HEIGHT_M)
    assert math.degrees(angles_of_plane(learnt)[0]) == pytest.approx(PITCH_DEG)

    # 2. Saved on shutdown (the file is written anew by the node).
    path.unlink()
    stop(process)
    saved = load_estimate(path)
    assert saved.converged and saved.camera_height_m == pytest.approx(HEIGHT_M)
    assert saved.pitch_deg == pytest.approx(PITCH_DEG) and saved.resets == 0

    # 3. A restart loads it: converged from the start, the transform after the first frame.
    process = start_process(*command[1:])
    harness.wait_for_node(process)
    values = diagnostics_with(harness, "ground_calibration_state", "converged")
    assert values["ground_calibration_state"] == "converged", values
    assert harness.send_frame(image, K, 71 * SECOND) is not None
    assert len(latched_transforms(harness)) == 1

    # 4. A reset by parameter: calibrating again, counted; the parameter flips back.
    assert set_parameter(harness, "ground_plane.reset", True).successful
    values = diagnostics_with(harness, "ground_calibration_state", "calibrating")
    assert values["ground_calibration_state"] == "calibrating", values
    assert values["ground_calibration_resets"] == "1", values
    assert values["ground_calibration_resets_requested"] == "1", values
    assert "ground_plane.reset" in values["ground_calibration_last_reset"], values
    assert harness.spin_until(lambda: get_parameter(harness, "ground_plane.reset") is False,
                              30.0)
    msg = harness.send_frame(image, K, 72 * SECOND)  # image-only depth again
    assert msg is not None
    xyz, _, detected = joints_of(msg)
    lowest = np.nanmin(np.where(detected[:, list(ANKLES)],
                                plane.height_above_m(xyz[:, list(ANKLES)]), np.inf), axis=1)
    assert not (np.abs(lowest[np.isfinite(lowest)] - 0.07) < 2e-3).all()

    # 5. Saved on deactivate: the reset estimate, with its reset counted.
    assert change_state(harness, Transition.TRANSITION_DEACTIVATE)
    saved = load_estimate(path)
    assert not saved.converged and saved.resets == 1
    output = stop(process)
    assert output.count("ground calibration reset by parameter ground_plane.reset") == 1, output


def test_reset_service(harness, start_process, random_model_dir) -> None:
    """~/reset_ground_calibration (std_srvs/Trigger; std_srvs is in package.xml and in the
    test environment's lock, ros-std-srvs)."""
    from node_harness import call_service
    from std_srvs import srv

    process = start_process(*node_command(random_model_dir, "ground_plane.mode:=auto")[1:])
    harness.wait_for_node(process)
    response = call_service(harness, srv.Trigger, "/loco_node/reset_ground_calibration",
                            srv.Trigger.Request())
    assert response.success and "reset" in response.message, response.message
    values = diagnostics_with(harness, "ground_calibration_resets_requested", "1")
    assert values["ground_calibration_resets"] == "1", values
    assert values["ground_calibration_state"] == "calibrating", values
    assert "reset_ground_calibration" in values["ground_calibration_last_reset"], values
