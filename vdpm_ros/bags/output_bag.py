"""Write what the node publishes into an MCAP rosbag2, without ROS: open it in Foxglove or replay it into RViz.

Topic names, frames and message contents are the node's defaults (``NodeParameters``); the arrays come
from :func:`~vdpm_ros.pipeline.published.published_arrays`, the same function the node publishes from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..messages.image import encode_image
from ..messages.pointcloud import pack_cloud
from ..pipeline.published import published_arrays
from ..pipeline.stream import PipelineOutput
from ..ros.parameters import NodeParameters

INPUT_IMAGE_TOPIC = "/camera/image_raw"


class OutputBagWriter:
    """``with OutputBagWriter(path) as bag: bag.write(output)`` for each window, in stamp order."""

    def __init__(self, path: str | Path, camera_frame: str = "camera_optical_frame", params: NodeParameters | None = None):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} already exists; choose a new directory for the output bag")
        self.params = params or NodeParameters()
        self.camera_frame = camera_frame
        self.ts = get_typestore(Stores.ROS2_JAZZY)
        self.T = self.ts.types
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
            self._conns[topic] = (self._writer.add_connection(topic, msgtype, typestore=self.ts), msgtype)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._writer.close()

    def _put(self, topic: str, stamp_ns: int, msg) -> None:
        conn, msgtype = self._conns[topic]
        self._writer.write(conn, stamp_ns, self.ts.serialize_cdr(msg, msgtype))
        self.messages += 1

    def _header(self, stamp_ns: int, frame_id: str):
        time = self.T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        return self.T["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)

    def _image(self, array: np.ndarray, hdr):
        p = encode_image(array)
        data = np.frombuffer(bytes(p.data), dtype=np.uint8)
        return self.T["sensor_msgs/msg/Image"](header=hdr, height=p.height, width=p.width, encoding=p.encoding,
                                               is_bigendian=0, step=p.step, data=data)  # fmt: skip

    def _cloud(self, columns: dict[str, np.ndarray], hdr):
        layout, data = pack_cloud(columns)
        shape = next(iter(columns.values())).shape
        height, width = (1, shape[0]) if len(shape) == 1 else shape
        fields = [self.T["sensor_msgs/msg/PointField"](name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                  for f in layout.fields]  # fmt: skip
        return self.T["sensor_msgs/msg/PointCloud2"](
            header=hdr, height=height, width=width, fields=fields, is_bigendian=False, point_step=layout.point_step,
            row_step=layout.point_step * width, data=np.frombuffer(data, dtype=np.uint8), is_dense=False,
        )  # fmt: skip

    def _pose(self, pose: np.ndarray):
        from scipy.spatial.transform import Rotation

        q = Rotation.from_matrix(pose[:3, :3]).as_quat()  # x, y, z, w
        t = pose[:3, 3]
        return (
            self.T["geometry_msgs/msg/Point"](x=float(t[0]), y=float(t[1]), z=float(t[2])),
            self.T["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
        )

    def write(self, output: PipelineOutput) -> None:
        """Every topic the node publishes for this window (the input image too, for context)."""
        T, p, r = self.T, self.params, output.result
        a = published_arrays(output)
        stamp = r.latest_stamp_ns
        cam_hdr = self._header(stamp, self.camera_frame)
        frame_hdr = self._header(stamp, p.odom_frame) if a.in_odom else cam_hdr
        self._put(INPUT_IMAGE_TOPIC, stamp, self._image(r.rgb, cam_hdr))
        self._put(p.points_topic, stamp, self._cloud(a.cloud, frame_hdr))
        if a.flow is not None:
            self._put(p.scene_flow_topic, stamp, self._cloud(a.flow, frame_hdr))
            self._put(p.motion_mask_topic, stamp, self._image(r.motion_mask, cam_hdr))
        self._put(p.depth_topic, stamp, self._image(a.depth, cam_hdr))
        k = r.intrinsics[-1].astype(np.float64)
        proj = np.zeros((3, 4))
        proj[:, :3] = k
        info = T["sensor_msgs/msg/CameraInfo"](
            header=cam_hdr, height=r.raw_hw[0], width=r.raw_hw[1], distortion_model="plumb_bob", d=np.zeros(5),
            k=k.reshape(-1), r=np.eye(3).reshape(-1), p=proj.reshape(-1), binning_x=0, binning_y=0,
            roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
        )  # fmt: skip
        self._put(p.camera_info_topic, stamp, info)
        position, orientation = self._pose(a.pose)
        pose = T["geometry_msgs/msg/Pose"](position=position, orientation=orientation)
        self._put(p.camera_pose_topic, stamp, T["geometry_msgs/msg/PoseStamped"](header=frame_hdr, pose=pose))
        zero_cov = np.zeros(36)
        twist = T["geometry_msgs/msg/TwistWithCovariance"](
            twist=T["geometry_msgs/msg/Twist"](linear=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
                                               angular=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)),
            covariance=zero_cov,
        )  # fmt: skip
        odom = T["nav_msgs/msg/Odometry"](
            header=frame_hdr, child_frame_id=self.camera_frame,
            pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=zero_cov), twist=twist,
        )  # fmt: skip
        self._put(p.odometry_topic, stamp, odom)
        if a.in_odom:
            transform = T["geometry_msgs/msg/Transform"](
                translation=T["geometry_msgs/msg/Vector3"](x=position.x, y=position.y, z=position.z), rotation=orientation
            )
            tf = T["geometry_msgs/msg/TransformStamped"](header=frame_hdr, child_frame_id=self.camera_frame, transform=transform)
            self._put("/tf", stamp, T["tf2_msgs/msg/TFMessage"](transforms=[tf]))
