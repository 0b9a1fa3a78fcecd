"""Launch vdpm_node: ``ros2 launch vdpm_ros vdpm.launch.py image_topic:=/camera/image_raw``.

Every node parameter lives in config/vdpm.yaml (or the file given as params_file). The parameter
arguments below (model_path, engine, window_size, device, use_sim_time) override that file only when
they are given: left empty, the file decides.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node

from vdpm_ros.ros.launch_args import OVERRIDABLE, parameter_overrides


def _node(context):
    given = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDABLE}
    image_topic = LaunchConfiguration("image_topic")
    return [
        Node(
            package="vdpm_ros",
            executable="vdpm_node",
            name="vdpm_node",
            output="screen",
            emulate_tty=True,
            parameters=[LaunchConfiguration("params_file"), parameter_overrides(given)],
            remappings=[
                ("image", image_topic),
                ("image/compressed", PythonExpression(["'", image_topic, "' + '/compressed'"])),
                ("camera_info", LaunchConfiguration("input_camera_info_topic")),
                ("depth", LaunchConfiguration("input_depth_topic")),
            ],
        )
    ]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("vdpm_ros")
    not_given = "; empty = the value in params_file"
    args = [
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "vdpm.yaml"), description="YAML with all vdpm_node parameters"),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw", description="input camera topic; with image_transport compressed, <image_topic>/compressed is used"),
        DeclareLaunchArgument("input_camera_info_topic", default_value="/camera/camera_info", description="input CameraInfo topic (optional); not the node parameter camera_info_topic, which names an output"),
        DeclareLaunchArgument("input_depth_topic", default_value="/camera/depth/image_raw", description="input aligned depth topic, used when scale_mode is depth; not the node parameter depth_topic, which names an output"),
        DeclareLaunchArgument("model_path", default_value="", description="checkpoint or ONNX export directory" + not_given),
        DeclareLaunchArgument("engine", default_value="", description="auto, pytorch or onnxruntime" + not_given),
        DeclareLaunchArgument("window_size", default_value="", description="frames per window" + not_given),
        DeclareLaunchArgument("device", default_value="", description="auto, cpu, cuda, cuda:N" + not_given),
        DeclareLaunchArgument("use_sim_time", default_value="", description="true to use /clock (bag replay)" + not_given),
    ]
    return LaunchDescription([*args, OpaqueFunction(function=_node)])
