"""Sample vdpm_ros messages with known contents, shared by the tests and scene_flow_publisher.py.

Plain functions (no pytest); importing this module needs rclpy and the generated vdpm_ros.msg.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from vdpm_ros.messages.pointcloud import CloudLayout, Field, unpack_cloud
from vdpm_ros.msg import SceneFlow

HEIGHT, WIDTH = 6, 8
FRAME_ID = "odom"
SOURCE_NS = 1_700_000_000_000_000_000
TARGET_NS = SOURCE_NS + 100_000_000  # 0.1 s later


def time_msg(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def time_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def scene_flow_columns(seed: int = 0) -> dict[str, np.ndarray]:
    """The SceneFlow cloud's fields in the documented order, [HEIGHT, WIDTH] each, one NaN point."""
    rng = np.random.default_rng(seed)
    shape = (HEIGHT, WIDTH)
    columns = {name: rng.normal(size=shape).astype(np.float32) for name in ("x", "y", "z", "vx", "vy", "vz")}
    columns["x"][0, 0] = columns["y"][0, 0] = columns["z"][0, 0] = np.nan  # a point without estimate
    columns["confidence"] = (1.0 + rng.random(shape) * 5.0).astype(np.float32)
    columns["dynamic"] = (rng.random(shape) > 0.7).astype(np.uint8)
    return columns


def cloud_msg(columns: dict[str, np.ndarray], header: Header) -> PointCloud2:
    """An organised PointCloud2 from ``[H, W]`` columns: the node's own builder."""
    from vdpm_ros.output import RclpyTypes
    from vdpm_ros.output.builders import cloud

    return cloud(RclpyTypes(), columns, header)


def cloud_columns(cloud: PointCloud2) -> np.ndarray:
    """A PointCloud2 -> structured array ``[height, width]`` (via unpack_cloud)."""
    layout = CloudLayout(tuple(Field(f.name, f.offset, f.datatype, f.count) for f in cloud.fields), cloud.point_step)
    return unpack_cloud(layout, cloud.data, cloud.height, cloud.width)


def make_scene_flow(seed: int = 0) -> SceneFlow:
    header = Header(stamp=time_msg(TARGET_NS), frame_id=FRAME_ID)
    return SceneFlow(
        header=header,
        source_stamp=time_msg(SOURCE_NS),
        target_stamp=time_msg(TARGET_NS),
        metric=True,
        scale=2.5,
        cloud=cloud_msg(scene_flow_columns(seed), header),
    )


def check_scene_flow(msg: SceneFlow, seed: int = 0) -> None:
    """Raises AssertionError unless ``msg`` carries exactly make_scene_flow(seed)."""
    assert msg.header.frame_id == FRAME_ID and msg.cloud.header.frame_id == FRAME_ID
    assert time_ns(msg.header.stamp) == TARGET_NS == time_ns(msg.target_stamp)
    assert time_ns(msg.source_stamp) == SOURCE_NS
    assert msg.metric is True and msg.scale == 2.5
    assert (msg.cloud.height, msg.cloud.width) == (HEIGHT, WIDTH)
    assert [f.name for f in msg.cloud.fields] == ["x", "y", "z", "vx", "vy", "vz", "confidence", "dynamic"]
    got = cloud_columns(msg.cloud)
    for name, values in scene_flow_columns(seed).items():
        np.testing.assert_array_equal(got[name], values)
