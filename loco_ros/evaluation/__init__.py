"""Evaluation of trained LoCO models (ROS-free): VHA peak F1, JTA metric, MPJPE, 3DPCK."""
