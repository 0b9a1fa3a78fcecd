"""ROS 2 message objects for writing bags without ROS (``rosbags`` typestore), built from numpy arrays.

One place for the codecs the bag writers share: images through :func:`encode_image`, clouds through
:func:`pack_cloud`, the same functions the node's messages use.
"""

from __future__ import annotations

import numpy as np

from ..messages.image import encode_image
from ..messages.pointcloud import pack_cloud


class BagMessages:
    """Message builders on the ROS 2 Jazzy typestore; ``serialize(msg, msgtype)`` gives the CDR bytes to write."""

    def __init__(self) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.store = get_typestore(Stores.ROS2_JAZZY)
        self.T = self.store.types

    def serialize(self, msg, msgtype: str) -> bytes:
        return self.store.serialize_cdr(msg, msgtype)

    def header(self, stamp_ns: int, frame_id: str):
        time = self.T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        return self.T["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)

    def image(self, array: np.ndarray, hdr):
        """uint8 ``[H, W]`` mono8, ``[H, W, 3]`` rgb8, float32 ``[H, W]`` 32FC1 or ``[H, W, 2]`` 32FC2."""
        p = encode_image(array)
        return self.T["sensor_msgs/msg/Image"](header=hdr, height=p.height, width=p.width, encoding=p.encoding,
                                               is_bigendian=0, step=p.step, data=np.frombuffer(bytes(p.data), np.uint8))  # fmt: skip

    def cloud(self, columns: dict[str, np.ndarray], hdr, is_dense: bool = False):
        """Columns ``[N]`` (unorganised) or ``[H, W]`` (organised) -> PointCloud2."""
        layout, data = pack_cloud(columns)
        shape = next(iter(columns.values())).shape
        height, width = (1, shape[0]) if len(shape) == 1 else shape
        fields = [self.T["sensor_msgs/msg/PointField"](name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                  for f in layout.fields]  # fmt: skip
        return self.T["sensor_msgs/msg/PointCloud2"](
            header=hdr, height=height, width=width, fields=fields, is_bigendian=False, point_step=layout.point_step,
            row_step=layout.point_step * width, data=np.frombuffer(data, dtype=np.uint8), is_dense=is_dense,
        )  # fmt: skip

    def camera_info(self, k: np.ndarray, height: int, width: int, hdr):
        """Pinhole K ``[3, 3]`` on a ``height x width`` image, no distortion."""
        k = np.asarray(k, dtype=np.float64)
        proj = np.zeros((3, 4))
        proj[:, :3] = k
        roi = self.T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        return self.T["sensor_msgs/msg/CameraInfo"](
            header=hdr, height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5), k=k.reshape(-1),
            r=np.eye(3).reshape(-1), p=proj.reshape(-1), binning_x=0, binning_y=0, roi=roi,
        )  # fmt: skip

    def pose(self, pose: np.ndarray):
        """``[4, 4]`` (orthonormal rotation) -> geometry_msgs/Pose, with the node's quaternion convention (w >= 0)."""
        import torch

        from ..geometry.rotation import mat_to_quat

        q = mat_to_quat(torch.from_numpy(np.ascontiguousarray(pose[:3, :3], dtype=np.float64))).numpy()  # x, y, z, w
        t = pose[:3, 3]
        return self.T["geometry_msgs/msg/Pose"](
            position=self.T["geometry_msgs/msg/Point"](x=float(t[0]), y=float(t[1]), z=float(t[2])),
            orientation=self.T["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
        )
