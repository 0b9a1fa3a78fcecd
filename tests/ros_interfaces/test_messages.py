"""vdpm_ros.msg (SceneFlow, Window) and tf2_msgs/TFMessage: fields, types and CDR round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def test_import_vdpm_ros_stays_cheap_and_ros_free():
    """Runs without ROS: `import vdpm_ros` imports neither rclpy nor the generated messages."""
    code = "import sys, vdpm_ros; bad = sorted(m for m in sys.modules if m.startswith(('rclpy', 'vdpm_ros.', 'numpy', 'torch'))); print(bad); sys.exit(bool(bad))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scene_flow_has_the_documented_fields(ros):
    from vdpm_ros.msg import SceneFlow

    assert SceneFlow.get_fields_and_field_types() == {
        "header": "std_msgs/Header",
        "source_stamp": "builtin_interfaces/Time",
        "target_stamp": "builtin_interfaces/Time",
        "metric": "boolean",
        "scale": "float",
        "cloud": "sensor_msgs/PointCloud2",
    }


def test_window_has_the_documented_fields(ros):
    from vdpm_ros.msg import Window

    assert Window.get_fields_and_field_types() == {
        "header": "std_msgs/Header",
        "stamps": "sequence<builtin_interfaces/Time>",
        "poses": "sequence<geometry_msgs/Pose>",
        "intrinsics": "sequence<double>",
        "image_height": "uint32",
        "image_width": "uint32",
        "metric": "boolean",
        "scale": "float",
        "height": "uint32",
        "width": "uint32",
        "map_to_image": "double[9]",
        "map_frames": "sequence<uint32>",
        "map_targets": "sequence<uint32>",
        "points": "sequence<float>",
        "confidences": "sequence<float>",
    }


def test_scene_flow_with_a_packed_cloud_survives_serialization(ros):
    from rclpy.serialization import deserialize_message, serialize_message
    from ros_interface_samples import check_scene_flow, make_scene_flow

    from vdpm_ros.msg import SceneFlow

    msg = make_scene_flow(seed=3)
    assert len(msg.cloud.data) == msg.cloud.height * msg.cloud.row_step
    check_scene_flow(deserialize_message(serialize_message(msg), SceneFlow), seed=3)


def test_window_point_maps_survive_serialization(ros):
    from geometry_msgs.msg import Pose
    from rclpy.serialization import deserialize_message, serialize_message
    from ros_interface_samples import time_msg, time_ns

    from vdpm_ros.msg import Window

    s, m, h, w = 3, 2, 4, 5
    rng = np.random.default_rng(1)
    points = rng.normal(size=(m, h, w, 3)).astype(np.float32)
    conf = (1.0 + rng.random((m, h, w))).astype(np.float32)
    k = np.tile(np.array([[300.0, 0.0, 319.5], [0.0, 300.0, 239.5], [0.0, 0.0, 1.0]]), (s, 1, 1))
    poses = [Pose() for _ in range(s)]
    poses[2].position.x, poses[2].orientation.w = 0.25, 1.0
    msg = Window(
        stamps=[time_msg(1_000_000_000 * (i + 1)) for i in range(s)],
        poses=poses,
        intrinsics=k.ravel(),
        image_height=480,
        image_width=640,
        metric=False,
        scale=1.0,
        height=h,
        width=w,
        map_to_image=np.diag([640 / w, 480 / h, 1.0]).ravel(),
        map_frames=[2, 2],
        map_targets=[1, 2],
        points=points.ravel(),
        confidences=conf.ravel(),
    )
    msg.header.frame_id = "camera_optical_frame"
    back = deserialize_message(serialize_message(msg), Window)
    assert [time_ns(t) for t in back.stamps] == [1_000_000_000, 2_000_000_000, 3_000_000_000]
    assert back.poses[2].position.x == 0.25 and back.header.frame_id == "camera_optical_frame"
    np.testing.assert_array_equal(np.asarray(back.intrinsics).reshape(s, 3, 3), k)
    np.testing.assert_array_equal(np.asarray(back.map_to_image).reshape(3, 3), np.diag([128.0, 120.0, 1.0]))
    assert list(back.map_frames) == [2, 2] and list(back.map_targets) == [1, 2]
    # float32[] arrive as array.array('f'): a zero-copy numpy view reshapes them to [M, H, W, 3].
    maps_shape = (len(back.map_frames), back.height, back.width)
    np.testing.assert_array_equal(np.frombuffer(back.points, np.float32).reshape(*maps_shape, 3), points)
    np.testing.assert_array_equal(np.frombuffer(back.confidences, np.float32).reshape(maps_shape), conf)


def test_tf_message_round_trip(tf2_msgs):
    from geometry_msgs.msg import TransformStamped
    from rclpy.serialization import deserialize_message, serialize_message
    from tf2_msgs.msg import TFMessage

    t = TransformStamped()
    t.header.frame_id, t.child_frame_id = "odom", "camera_optical_frame"
    t.transform.translation.x, t.transform.rotation.w = 1.5, 1.0
    back = deserialize_message(serialize_message(TFMessage(transforms=[t, t])), TFMessage)
    assert TFMessage.get_fields_and_field_types() == {"transforms": "sequence<geometry_msgs/TransformStamped>"}
    assert len(back.transforms) == 2 and back.transforms[1].child_frame_id == "camera_optical_frame"
    assert back.transforms[0].transform.translation.x == 1.5
