"""Launch loco_node for one camera (and optionally RViz).

    ros2 launch loco_ros loco.launch.py image:=/camera/image_raw \
        camera_info:=/camera/camera_info namespace:=front

One instance per camera: launch this file once per camera with its own namespace; the
outputs are then /<namespace>/people/poses3d, /<namespace>/people/markers, ...
"""

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node


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
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="use /clock (rosbag replay)"),
        DeclareLaunchArgument("backend", default_value="auto",
                              description="auto | tensorrt | torch | onnxruntime"),
        DeclareLaunchArgument("precision", default_value="fp16", description="fp16 | fp32"),
        DeclareLaunchArgument("use_rviz", default_value="false", description="start RViz"),
    ]
    loco_node = Node(
        package="loco_ros",
        executable="loco_node",
        name="loco_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "use_sim_time": LaunchConfiguration("use_sim_time"),
                "backend": LaunchConfiguration("backend"),
                "precision": LaunchConfiguration("precision"),
            },
        ],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="loco_rviz",
        arguments=["-d", PathJoinSubstitution([share, "config", "loco.rviz"])],
        parameters=[{"use_sim_time": LaunchConfiguration("use_sim_time")}],
        condition=IfCondition(LaunchConfiguration("use_rviz")),
    )
    return LaunchDescription([*arguments, loco_node, rviz])
