"""Launch vdpm_node: ``ros2 launch vdpm_ros vdpm.launch.py image_topic:=/camera/image_raw``.

Every node parameter is also a launch argument (``stride:=3``, ``image_qos:=reliable``, ...). A parameter
argument left empty leaves the value in params_file (default: the package's config/vdpm.yaml) alone; one
that is given replaces it. ``namespace:=cam1`` puts the node and its relative topics under /cam1, so one
node per camera needs nothing else.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from vdpm_ros.ros.launch_args import INPUT_ARGUMENTS, input_remappings, parameter_arguments, parameter_overrides


def _node(context):
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    given = {name: arg(name) for name, _ in parameter_arguments()}
    params_file = arg("params_file") or os.path.join(get_package_share_directory("vdpm_ros"), "config", "vdpm.yaml")
    return [
        Node(
            package="vdpm_ros",
            executable="vdpm_node",
            name="vdpm_node",
            namespace=arg("namespace"),
            output="screen",
            emulate_tty=True,
            parameters=[params_file, parameter_overrides(given)],
            remappings=input_remappings(arg("image_topic"), arg("input_camera_info_topic"), arg("input_depth_topic")),
        )
    ]


def generate_launch_description() -> LaunchDescription:
    args = [DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in INPUT_ARGUMENTS]
    args += [DeclareLaunchArgument(name, default_value="", description=text) for name, text in parameter_arguments()]
    return LaunchDescription([*args, OpaqueFunction(function=_node)])
