"""rclpy message <-> numpy conversions; the byte layouts come from ``vdpm_ros.messages``.

Everything here is a small pure function so the node callbacks stay free of maths.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, TransformStamped, Vector3
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from ..geometry.rotation import mat_to_quat
from ..messages.image import ImagePayload, encode_image
from ..messages.pointcloud import pack_cloud


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def header(stamp_ns: int, frame_id: str) -> Header:
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)


def image_payload(msg: Image) -> ImagePayload:
    """The message's fields as a payload; ``msg.data`` is shared, not copied."""
    return ImagePayload(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))


def image_msg(array: np.ndarray, hdr: Header) -> Image:
    """uint8 [H, W] mono8, uint8 [H, W, 3] rgb8, float32 [H, W] 32FC1 or [H, W, 2] 32FC2."""
    p = encode_image(array)
    msg = Image(header=hdr, height=p.height, width=p.width, encoding=p.encoding, is_bigendian=0, step=p.step)
    msg.data = p.data
    return msg


def cloud_msg(columns: dict[str, np.ndarray], hdr: Header) -> PointCloud2:
    """Columns of shape ``[N]`` (unorganised) or ``[H, W]`` (organised) -> PointCloud2."""
    layout, data = pack_cloud(columns)
    shape = next(iter(columns.values())).shape
    height, width = (1, shape[0]) if len(shape) == 1 else shape
    msg = PointCloud2(
        header=hdr,
        height=height,
        width=width,
        fields=[PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in layout.fields],
        is_bigendian=False,
        point_step=layout.point_step,
        row_step=layout.point_step * width,
        is_dense=False,
    )
    msg.data = data
    return msg


def pose_msg(pose: np.ndarray) -> Pose:
    """``[4, 4]`` (orthonormal rotation) -> geometry_msgs/Pose."""
    return pose_msgs(pose[None])[0]


def pose_msgs(poses: np.ndarray) -> list[Pose]:
    """``[N, 4, 4]`` -> N geometry_msgs/Pose, with one batched rotation conversion (a path holds thousands)."""
    import torch

    poses = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    quats = mat_to_quat(torch.from_numpy(np.ascontiguousarray(poses[:, :3, :3]))).numpy()
    return [
        Pose(position=Point(x=float(t[0]), y=float(t[1]), z=float(t[2])),
             orientation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))
        for t, q in zip(poses[:, :3, 3], quats)
    ]  # fmt: skip


def odometry_msg(pose: Pose, twist: tuple[np.ndarray, np.ndarray] | None, variance: float, hdr: Header, child_frame: str) -> Odometry:
    """nav_msgs/Odometry: pose in ``hdr.frame_id``, twist in ``child_frame``, ``variance`` on both covariance diagonals."""
    msg = Odometry(header=hdr, child_frame_id=child_frame)
    msg.pose.pose = pose
    diagonal = np.diag(np.full(6, float(variance))).reshape(-1).tolist()
    msg.pose.covariance = diagonal
    msg.twist.covariance = diagonal
    if twist is not None:
        (vx, vy, vz), (wx, wy, wz) = (np.asarray(v, dtype=float) for v in twist)
        msg.twist.twist.linear = Vector3(x=float(vx), y=float(vy), z=float(vz))
        msg.twist.twist.angular = Vector3(x=float(wx), y=float(wy), z=float(wz))
    return msg


def transform_msg(pose: Pose, hdr: Header, child_frame: str) -> TransformStamped:
    """The transform ``hdr.frame_id`` -> ``child_frame`` that places the child at ``pose``."""
    t = pose.position
    return TransformStamped(
        header=hdr,
        child_frame_id=child_frame,
        transform=Transform(translation=Vector3(x=t.x, y=t.y, z=t.z), rotation=pose.orientation),
    )


def camera_info_msg(k: np.ndarray, height: int, width: int, hdr: Header) -> CameraInfo:
    """Pinhole intrinsics ``[3, 3]`` on an image of ``height x width`` (no distortion: the model predicts none)."""
    p = np.zeros((3, 4))
    p[:, :3] = k
    msg = CameraInfo(header=hdr, height=height, width=width, distortion_model="plumb_bob")
    msg.d = [0.0] * 5
    msg.k = [float(v) for v in np.asarray(k).reshape(-1)]
    msg.r = [float(v) for v in np.eye(3).reshape(-1)]
    msg.p = [float(v) for v in p.reshape(-1)]
    return msg


def camera_info_k(msg: CameraInfo) -> np.ndarray | None:
    """``[3, 3]`` K of a CameraInfo, or None when it is unset (all zeros) or not finite."""
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    return k if np.isfinite(k).all() and k[0, 0] > 0 and k[1, 1] > 0 else None
