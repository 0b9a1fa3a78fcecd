"""Numpy -> ROS message builders for every output, written once for any :class:`~vdpm_ros.output.types.MessageTypes`.

The byte layouts come from :mod:`vdpm_ros.messages` (images, point clouds); poses use the package's one
rotation conversion (:func:`vdpm_ros.geometry.rotation.mat_to_quat`, w >= 0), so the node and the bags
agree on quaternion signs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..geometry.rotation import mat_to_quat
from ..messages.image import encode_image
from ..messages.pointcloud import pack_cloud
from .types import MessageTypes


def stamp(T: MessageTypes, stamp_ns: int) -> Any:
    return T.make("builtin_interfaces/msg/Time", sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def header(T: MessageTypes, stamp_ns: int, frame_id: str) -> Any:
    return T.make("std_msgs/msg/Header", stamp=stamp(T, stamp_ns), frame_id=frame_id)


def image(T: MessageTypes, array: np.ndarray, hdr: Any) -> Any:
    """uint8 ``[H, W]`` mono8, uint8 ``[H, W, 3]`` rgb8, float32 ``[H, W]`` 32FC1 or ``[H, W, 2]`` 32FC2."""
    p = encode_image(array)
    return T.make("sensor_msgs/msg/Image", header=hdr, height=p.height, width=p.width, encoding=p.encoding,
                  is_bigendian=0, step=p.step, data=np.frombuffer(p.data, np.uint8))  # fmt: skip


def cloud(T: MessageTypes, columns: dict[str, np.ndarray], hdr: Any, is_dense: bool = False) -> Any:
    """Columns of shape ``[N]`` (unorganised) or ``[H, W]`` (organised) -> PointCloud2.

    ``is_dense`` False (the default) says some points may be NaN (no estimate), as the node's clouds are.
    """
    layout, data = pack_cloud(columns)
    shape = next(iter(columns.values())).shape
    height, width = (1, shape[0]) if len(shape) == 1 else shape
    fields = [T.make("sensor_msgs/msg/PointField", name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
              for f in layout.fields]  # fmt: skip
    return T.make("sensor_msgs/msg/PointCloud2", header=hdr, height=height, width=width, fields=fields, is_bigendian=False,
                  point_step=layout.point_step, row_step=layout.point_step * width, data=np.frombuffer(data, np.uint8),
                  is_dense=is_dense)  # fmt: skip


def camera_info(T: MessageTypes, k: np.ndarray, height: int, width: int, hdr: Any) -> Any:
    """Pinhole intrinsics ``[3, 3]`` on an image of ``height x width`` (no distortion: the model predicts none)."""
    k = np.asarray(k, dtype=np.float64)
    proj = np.zeros((3, 4))
    proj[:, :3] = k
    return T.make("sensor_msgs/msg/CameraInfo", header=hdr, height=int(height), width=int(width), distortion_model="plumb_bob",
                  d=np.zeros(5), k=k.reshape(-1), r=np.eye(3).reshape(-1), p=proj.reshape(-1))  # fmt: skip


def poses(T: MessageTypes, matrices: np.ndarray) -> list[Any]:
    """``[N, 4, 4]`` (orthonormal rotations) -> N geometry_msgs/Pose, with one batched rotation conversion."""
    matrices = np.asarray(matrices, dtype=np.float64).reshape(-1, 4, 4)
    quats = mat_to_quat(matrices[:, :3, :3])  # x, y, z, w
    return [
        T.make("geometry_msgs/msg/Pose",
               position=T.make("geometry_msgs/msg/Point", x=float(t[0]), y=float(t[1]), z=float(t[2])),
               orientation=T.make("geometry_msgs/msg/Quaternion", x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))
        for t, q in zip(matrices[:, :3, 3], quats)
    ]  # fmt: skip


def pose(T: MessageTypes, matrix: np.ndarray) -> Any:
    """``[4, 4]`` -> geometry_msgs/Pose."""
    return poses(T, matrix[None])[0]


def vector3(T: MessageTypes, v: Sequence[float]) -> Any:
    x, y, z = (float(c) for c in v)
    return T.make("geometry_msgs/msg/Vector3", x=x, y=y, z=z)


def odometry(T: MessageTypes, pose_msg: Any, twist: tuple[np.ndarray, np.ndarray] | None, variance: float, hdr: Any,
             child_frame: str) -> Any:  # fmt: skip
    """nav_msgs/Odometry: pose in ``hdr.frame_id``, twist in ``child_frame``, ``variance`` on both covariance diagonals."""
    linear, angular = twist if twist is not None else (np.zeros(3), np.zeros(3))
    covariance = np.diag(np.full(6, float(variance))).reshape(-1)
    return T.make(
        "nav_msgs/msg/Odometry", header=hdr, child_frame_id=child_frame,
        pose=T.make("geometry_msgs/msg/PoseWithCovariance", pose=pose_msg, covariance=covariance),
        twist=T.make("geometry_msgs/msg/TwistWithCovariance", covariance=covariance,
                     twist=T.make("geometry_msgs/msg/Twist", linear=vector3(T, linear), angular=vector3(T, angular))),
    )  # fmt: skip


def transform(T: MessageTypes, pose_msg: Any, hdr: Any, child_frame: str) -> Any:
    """The transform ``hdr.frame_id`` -> ``child_frame`` that places the child at ``pose_msg``."""
    p = pose_msg.position
    tf = T.make("geometry_msgs/msg/Transform", translation=T.make("geometry_msgs/msg/Vector3", x=p.x, y=p.y, z=p.z),
                rotation=pose_msg.orientation)  # fmt: skip
    return T.make("geometry_msgs/msg/TransformStamped", header=hdr, child_frame_id=child_frame, transform=tf)


def path(T: MessageTypes, stamps_ns: np.ndarray, matrices: np.ndarray, hdr: Any) -> Any:
    """nav_msgs/Path of the trajectory: stamps ``[N]`` int64 ns, poses ``[N, 4, 4]`` in ``hdr.frame_id``."""
    frame = hdr.frame_id
    stamped = [T.make("geometry_msgs/msg/PoseStamped", header=header(T, int(s), frame), pose=p)
               for s, p in zip(stamps_ns, poses(T, matrices))]  # fmt: skip
    return T.make("nav_msgs/msg/Path", header=hdr, poses=stamped)


def diagnostics(T: MessageTypes, stamp_ns: int, name: str, level: int, message: str, values: dict[str, Any]) -> Any:
    """diagnostic_msgs/DiagnosticArray with one status (``level``: 0 OK, 1 WARN, 2 ERROR)."""
    status = T.make("diagnostic_msgs/msg/DiagnosticStatus", level=level, name=name, message=message, hardware_id="vdpm_ros",
                    values=[T.make("diagnostic_msgs/msg/KeyValue", key=k, value=str(v)) for k, v in values.items()])  # fmt: skip
    return T.make("diagnostic_msgs/msg/DiagnosticArray", header=header(T, stamp_ns, ""), status=[status])
