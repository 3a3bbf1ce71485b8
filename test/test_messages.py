"""The colcon-built messages: constants, and every field across real processes over DDS."""

from __future__ import annotations

import pytest
from conftest import TEST_DIR, assert_people_equal, make_people, spin_until

from loco_ros import skeleton

pytestmark = pytest.mark.ros


def test_installed_message_constants_match_the_skeleton() -> None:
    from loco_ros.msg import Person3D, Pose3DArray

    assert Pose3DArray.NUM_JOINTS == skeleton.NUM_JOINTS == 14
    for k, name in enumerate(skeleton.JOINT_NAMES):
        assert getattr(Pose3DArray, name.upper()) == k
    assert len(Person3D().joints) == skeleton.NUM_JOINTS


def test_people_message_round_trip_in_process() -> None:
    from std_msgs.msg import Header

    from loco_ros.ros.conversions import msg_to_people, people_to_msg

    people = make_people(5, seed=3)
    msg = people_to_msg(people, Header(frame_id="cam"))
    assert_people_equal(msg_to_people(msg), people)
    assert msg_to_people(people_to_msg(make_people(0), Header())).xyz_m.shape == (0, 14, 3)


@pytest.mark.parametrize("profile", ["sensor_data", "reliable"])
def test_pose_array_crosses_processes_intact(profile, rclpy_context, start_process) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data

    from loco_ros.msg import Pose3DArray
    from loco_ros.ros.conversions import msg_to_people

    count, seed = 7, 11
    start_process(str(TEST_DIR / "processes" / "pose_publisher.py"), profile, str(count),
                  str(seed))
    node = rclpy.create_node("pose_listener", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    received: list[Pose3DArray] = []
    qos = qos_profile_sensor_data if profile == "sensor_data" else 10
    subscription = node.create_subscription(Pose3DArray, "/people/poses3d", received.append, qos)
    assert spin_until(executor, lambda: subscription.get_publisher_count() > 0, 30.0)
    assert spin_until(executor, lambda: len(received) >= 3, 30.0)
    msg = received[-1]
    assert msg.header.frame_id == "camera_optical_frame"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1234, 567)
    assert_people_equal(msg_to_people(msg), make_people(count, seed))
    node.destroy_node()
