"""ROS glue of ground_plane.mode ``auto``: the learnt ground as a latched TransformStamped,
and the std_srvs/Trigger reset service (std_srvs is a dependency in package.xml; where it is
missing the node logs so and the parameter ``ground_plane.reset`` does the same)."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from scipy.spatial.transform import Rotation

from loco_ros.calibration import CalibrationEstimate
from loco_ros.runtime.ground_calibration import ground_to_camera
from loco_ros.stamps import ns_to_sec_nanosec

GROUND_ESTIMATE_TOPIC = "~/ground_estimate"
RESET_SERVICE = "~/reset_ground_calibration"
# Latched: a subscriber that comes later still gets the last estimate.
LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


def estimate_to_transform(estimate: CalibrationEstimate, ground_frame: str, camera_frame: str,
                          stamp_ns: int) -> TransformStamped:
    """The camera optical frame's pose in ``ground_frame`` (z up, z = 0 on the ground,
    origin below the camera, x along the view; see ``ground_calibration.ground_to_camera``):
    header.frame_id = ground_frame, child_frame_id = camera_frame, metres."""
    rotation, translation = ground_to_camera(estimate)
    msg = TransformStamped()
    msg.header.frame_id, msg.child_frame_id = ground_frame, camera_frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = ns_to_sec_nanosec(stamp_ns)
    t = msg.transform.translation
    t.x, t.y, t.z = (float(v) for v in translation)
    x, y, z, w = Rotation.from_matrix(np.asarray(rotation)).as_quat()
    q = msg.transform.rotation
    q.x, q.y, q.z, q.w = float(x), float(y), float(z), float(w)
    return msg


def create_reset_service(node, callback):
    """The Trigger service ``~/reset_ground_calibration`` calling ``callback() -> (success,
    message)``; None when std_srvs is not installed."""
    try:
        from std_srvs.srv import Trigger
    except ImportError:
        return None

    def serve(request, response):
        response.success, response.message = callback()
        return response

    return node.create_service(Trigger, RESET_SERVICE, serve)
