"""Launch vdpm_node: ``ros2 launch vdpm_ros vdpm.launch.py image_topic:=/camera/image_raw``.

Every node parameter lives in config/vdpm.yaml (or the file given as params_file); the launch
arguments below override the few that are changed most often.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("vdpm_ros")
    args = [
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "vdpm.yaml"), description="YAML with all vdpm_node parameters"),
        DeclareLaunchArgument("model_path", default_value="", description="checkpoint or ONNX export directory; empty = embedded default model"),
        DeclareLaunchArgument("engine", default_value="auto", description="auto, pytorch or onnxruntime"),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw", description="camera topic; with image_transport compressed, <image_topic>/compressed is used"),
        DeclareLaunchArgument("camera_info_topic", default_value="/camera/camera_info", description="optional CameraInfo input"),
        DeclareLaunchArgument("depth_topic", default_value="/camera/depth/image_raw", description="aligned depth, used when scale_mode is depth"),
        DeclareLaunchArgument("window_size", default_value="5", description="frames per window"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu, cuda, cuda:N"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag replay)"),
    ]
    image_topic = LaunchConfiguration("image_topic")
    node = Node(
        package="vdpm_ros",
        executable="vdpm_node",
        name="vdpm_node",
        output="screen",
        emulate_tty=True,
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model_path": ParameterValue(LaunchConfiguration("model_path"), value_type=str),
                "engine": ParameterValue(LaunchConfiguration("engine"), value_type=str),
                "window_size": ParameterValue(LaunchConfiguration("window_size"), value_type=int),
                "device": ParameterValue(LaunchConfiguration("device"), value_type=str),
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
            },
        ],
        remappings=[
            ("image", image_topic),
            ("image/compressed", PythonExpression(["'", image_topic, "' + '/compressed'"])),
            ("camera_info", LaunchConfiguration("camera_info_topic")),
            ("depth", LaunchConfiguration("depth_topic")),
        ],
    )
    return LaunchDescription([*args, node])
