"""The core never needs ROS: every core module imports with rclpy and the messages blocked."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT

BLOCKER = """
import importlib.abc, pkgutil, sys
BLOCKED = ("rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "visualization_msgs",
           "diagnostic_msgs", "lifecycle_msgs", "builtin_interfaces", "loco_ros.msg",
           "loco_ros.ros")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith(BLOCKED):
            raise ImportError(f"blocked in this test: {name}")
        return None
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
import loco_ros
names = [m.name for m in pkgutil.walk_packages(loco_ros.__path__, "loco_ros.")
         if not m.name.startswith(("loco_ros.ros", "loco_ros.msg"))]
for name in names:
    __import__(name)
print(len(names))
"""


def test_core_modules_import_with_ros_blocked() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, str(REPO_ROOT)], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 5
