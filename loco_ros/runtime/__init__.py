"""Running the method on images: the estimator (backend + stages), the one frame pipeline
(camera, estimator, ground plane, tracking), tracking, the node's configuration, the latest
frame slot and runtime statistics (ROS-free; ``loco_ros.ros`` wires them to rclpy)."""
