"""ROS-free install of the loco_ros core library and command-line tools: `pip install .`.

The ROS 2 package (messages, node, launch) is built by colcon from CMakeLists.txt instead.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
REQUIREMENTS = [
    line.strip()
    for line in (HERE / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]

setup(
    name="loco_ros",
    version="0.1.0",
    description="Multi-person 3D pose estimation with compressed volumetric heatmaps (LoCO)",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["loco_ros", "loco_ros.*"], exclude=["loco_ros.ros*"]),
    package_data={"loco_ros": ["kernels/*.cu"]},
    data_files=[("share/loco_ros/msg", [str(p) for p in sorted(Path("msg").glob("*.msg"))])],
    install_requires=REQUIREMENTS,
    entry_points={"console_scripts": ["loco = loco_ros.cli:main"]},
)
