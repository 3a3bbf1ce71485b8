"""Launch loco_node for one camera (and optionally RViz).

    ros2 launch loco_ros loco.launch.py image:=/camera/image_raw \
        camera_info:=/camera/camera_info namespace:=front

One instance per camera: launch this file once per camera with its own namespace; the
outputs are then /<namespace>/people/poses3d, /<namespace>/people/markers, ... and RViz
(use_rviz:=true) shows that namespace's topics.

Parameters come from params_file; the launch arguments backend, precision and use_sim_time
override it only when given (their default '' leaves the file's value, or the node's default).
"""

import os
import re
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node

# Launch arguments that become node parameters only when given (non-empty).
OPTIONAL_PARAMETERS = ("backend", "precision", "use_sim_time")


def node_parameters(params_file: str, given: dict[str, str]) -> list:
    """The node's parameters: the params file, then only the launch arguments given (later
    entries win, so an empty argument leaves the file's value)."""
    overrides = {name: value for name, value in given.items()
                 if name in OPTIONAL_PARAMETERS and value != ""}
    if "use_sim_time" in overrides:
        overrides["use_sim_time"] = overrides["use_sim_time"].lower() in ("true", "1")
    return [params_file, overrides] if overrides else [params_file]


def namespaced_rviz_config(text: str, namespace: str) -> str:
    """The RViz config with its absolute topics moved under ``namespace`` ('' or '/': as is)."""
    namespace = namespace.strip("/")
    if not namespace:
        return text
    return re.sub(r"(\bValue: )/(?!/)", rf"\1/{namespace}/", text)


def write_rviz_config(template: str, namespace: str) -> str:
    """A namespaced copy of the RViz config ``template`` in a temporary file; its path."""
    with open(template, encoding="utf-8") as src:
        text = namespaced_rviz_config(src.read(), namespace)
    fd, path = tempfile.mkstemp(prefix="loco_rviz_", suffix=".rviz")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def _setup(context, *args, **kwargs) -> list:
    """The node (and RViz) with the launch arguments' values."""
    value = dict(context.launch_configurations)  # every declared argument, substituted
    loco_node = Node(
        package="loco_ros",
        executable="loco_node",
        name="loco_node",
        namespace=value["namespace"],
        output="screen",
        parameters=node_parameters(value["params_file"], value),
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
    )
    if not IfCondition(LaunchConfiguration("use_rviz")).evaluate(context):
        return [loco_node]
    given = node_parameters("", value)[1:]
    sim_time = [{"use_sim_time": p["use_sim_time"]} for p in given if "use_sim_time" in p]
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="loco_rviz",
        arguments=["-d", write_rviz_config(value["rviz_config"], value["namespace"])],
        parameters=sim_time,
    )
    return [loco_node, rviz]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("loco_ros")
    arguments = [
        DeclareLaunchArgument("namespace", default_value="", description="namespace per camera"),
        DeclareLaunchArgument("image", default_value="image", description="image topic"),
        DeclareLaunchArgument("camera_info", default_value="camera_info",
                              description="camera_info topic"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "loco.yaml"]),
                              description="parameters of loco_node"),
        DeclareLaunchArgument("use_sim_time", default_value="",
                              description="use /clock (rosbag replay): true | false; '' = the "
                              "params file's value (default false)"),
        DeclareLaunchArgument("backend", default_value="",
                              description="auto | tensorrt | torch | onnxruntime; '' = the "
                              "params file's value"),
        DeclareLaunchArgument("precision", default_value="",
                              description="fp16 | fp32; '' = the params file's value"),
        DeclareLaunchArgument("use_rviz", default_value="false", description="start RViz"),
        DeclareLaunchArgument("rviz_config",
                              default_value=PathJoinSubstitution([share, "config", "loco.rviz"]),
                              description="RViz config; its topics are moved under namespace"),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_setup)])
