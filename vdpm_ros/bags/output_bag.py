"""Write what the node publishes into an MCAP rosbag2, without ROS: open it in Foxglove or replay it into RViz.

Topic names, frames and message contents are the node's defaults (``NodeParameters``); the arrays come
from :func:`~vdpm_ros.pipeline.published.published_arrays`, the same function the node publishes from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..pipeline.published import published_arrays
from ..pipeline.stream import PipelineOutput
from ..ros.parameters import NodeParameters
from .bag_messages import BagMessages

INPUT_IMAGE_TOPIC = "/camera/image_raw"


class OutputBagWriter:
    """``with OutputBagWriter(path) as bag: bag.write(output)`` for each window, in stamp order."""

    def __init__(self, path: str | Path, camera_frame: str = "camera_optical_frame", params: NodeParameters | None = None):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} already exists; choose a new directory for the output bag")
        self.params = params or NodeParameters()
        self.camera_frame = camera_frame
        self.m = BagMessages()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._conns: dict[str, object] = {}
        self.messages = 0

    def __enter__(self) -> "OutputBagWriter":
        self._writer.open()
        p = self.params
        for topic, msgtype in (
            (INPUT_IMAGE_TOPIC, "sensor_msgs/msg/Image"),
            (p.points_topic, "sensor_msgs/msg/PointCloud2"),
            (p.scene_flow_topic, "sensor_msgs/msg/PointCloud2"),
            (p.motion_mask_topic, "sensor_msgs/msg/Image"),
            (p.depth_topic, "sensor_msgs/msg/Image"),
            (p.camera_info_topic, "sensor_msgs/msg/CameraInfo"),
            (p.camera_pose_topic, "geometry_msgs/msg/PoseStamped"),
            (p.odometry_topic, "nav_msgs/msg/Odometry"),
            ("/tf", "tf2_msgs/msg/TFMessage"),
        ):
            # The node's topic names are relative (so that a namespace applies); a bag needs absolute ones,
            # which are what the node resolves them to without a namespace.
            absolute = topic if topic.startswith("/") else "/" + topic
            self._conns[topic] = (self._writer.add_connection(absolute, msgtype, typestore=self.m.store), msgtype)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._writer.close()

    def _put(self, topic: str, stamp_ns: int, msg) -> None:
        conn, msgtype = self._conns[topic]
        self._writer.write(conn, stamp_ns, self.m.serialize(msg, msgtype))
        self.messages += 1

    def write(self, output: PipelineOutput) -> None:
        """Every topic the node publishes for this window (the input image too, for context)."""
        m, T, p, r = self.m, self.m.T, self.params, output.result
        a = published_arrays(output)
        stamp = r.latest_stamp_ns
        cam_hdr = m.header(stamp, self.camera_frame)
        frame_hdr = m.header(stamp, p.odom_frame) if a.in_odom else cam_hdr
        self._put(INPUT_IMAGE_TOPIC, stamp, m.image(r.rgb, cam_hdr))
        self._put(p.points_topic, stamp, m.cloud(a.cloud, frame_hdr))
        if a.flow is not None:
            self._put(p.scene_flow_topic, stamp, m.cloud(a.flow, frame_hdr))
            self._put(p.motion_mask_topic, stamp, m.image(r.motion_mask, cam_hdr))
        self._put(p.depth_topic, stamp, m.image(a.depth, cam_hdr))
        self._put(p.camera_info_topic, stamp, m.camera_info(r.intrinsics[-1], r.raw_hw[0], r.raw_hw[1], cam_hdr))
        pose = m.pose(a.pose)
        self._put(p.camera_pose_topic, stamp, T["geometry_msgs/msg/PoseStamped"](header=frame_hdr, pose=pose))
        if a.in_odom:  # as the node: no odometry without stitching
            vec = T["geometry_msgs/msg/Vector3"]
            linear, angular = a.twist if a.twist is not None else (np.zeros(3), np.zeros(3))
            covariance = np.diag(np.full(6, float(p.odometry_variance))).reshape(-1)
            odom = T["nav_msgs/msg/Odometry"](
                header=frame_hdr, child_frame_id=self.camera_frame,
                pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=covariance),
                twist=T["geometry_msgs/msg/TwistWithCovariance"](
                    twist=T["geometry_msgs/msg/Twist"](linear=vec(*map(float, linear)), angular=vec(*map(float, angular))),
                    covariance=covariance),
            )  # fmt: skip
            self._put(p.odometry_topic, stamp, odom)
            translation = T["geometry_msgs/msg/Vector3"](x=pose.position.x, y=pose.position.y, z=pose.position.z)
            transform = T["geometry_msgs/msg/Transform"](translation=translation, rotation=pose.orientation)
            tf = T["geometry_msgs/msg/TransformStamped"](header=frame_hdr, child_frame_id=self.camera_frame, transform=transform)
            self._put("/tf", stamp, T["tf2_msgs/msg/TFMessage"](transforms=[tf]))
