"""loco_ros: multi-person 3D pose estimation with compressed volumetric heatmaps (LoCO).

The core (model, codec, decoding, geometry, association, training, evaluation, export) is
importable without ROS; only :mod:`loco_ros.ros` needs rclpy.
"""

__version__ = "0.1.0"
