"""rosbag2 reading, writing, replay and offline processing on `rosbags` (no ROS needed)."""
