"""Test process: publishes a fixed Pose3DArray on /people/poses3d until interrupted.

Usage: pose_publisher.py {sensor_data|reliable} PEOPLE SEED
"""

from __future__ import annotations

import sys
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import qos_profile_sensor_data
from std_msgs.msg import Header

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import make_people  # noqa: E402

from loco_ros.msg import Pose3DArray  # noqa: E402
from loco_ros.ros.conversions import people_to_msg  # noqa: E402


def main() -> None:
    profile, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    qos = qos_profile_sensor_data if profile == "sensor_data" else 10
    rclpy.init()
    node = rclpy.create_node("pose_publisher")
    publisher = node.create_publisher(Pose3DArray, "/people/poses3d", qos)
    header = Header(frame_id="camera_optical_frame")
    header.stamp.sec, header.stamp.nanosec = 1234, 567
    msg = people_to_msg(make_people(count, seed), header)
    node.create_timer(0.05, lambda: publisher.publish(msg))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
