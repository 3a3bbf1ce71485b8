"""ROS 2 glue: messages in, numpy out; numpy in, messages out. The only place rclpy is used."""
