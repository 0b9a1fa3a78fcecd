"""What the node publishes for one window, as plain arrays: shared by the ROS node and the output bag writer.

Keeping this out of the node means the evaluation's MCAP bag carries exactly the node's clouds and poses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.poses import body_twist
from .object_inputs import cloud_moving
from .stream import PipelineOutput


@dataclass(frozen=True)
class PublishedArrays:
    """One window's outputs in the frame the node publishes them in.

    Attributes:
        in_odom: True when clouds and poses are in the odometry frame (stitching on); otherwise they are
            in the latest camera's optical frame and ``pose`` is the identity.
        pose: ``[4, 4]`` float64 latest camera pose (odometry-from-camera).
        cloud: columns of /vdpm/points, each ``[N]``: x, y, z, rgb (packed 0x00RRGGBB viewed as float32), confidence.
        static_cloud, dynamic_cloud: the same columns for /vdpm/static_points and /vdpm/dynamic_points: the
            points of ``cloud`` outside and inside the motion mask (together exactly ``cloud``; without a
            mask every point is static).
        flow: organised ``[H, W]`` columns of /vdpm/scene_flow: x, y, z, vx, vy, vz (units per second),
            confidence, dynamic; None when the previous time is not decoded.
        depth: ``[H, W]`` float32 depth of the latest frame in the clouds' units (NaN where unknown).
        length_scale: odometry units per unit of this window (1 without stitching).
        twist: (linear ``[3]`` units/s, angular ``[3]`` rad/s) of the latest camera in its own frame, from
            its previous frame's pose (nav_msgs/Odometry's twist); None without stitching.
    """

    in_odom: bool
    pose: np.ndarray
    cloud: dict[str, np.ndarray]
    static_cloud: dict[str, np.ndarray]
    dynamic_cloud: dict[str, np.ndarray]
    flow: dict[str, np.ndarray] | None
    depth: np.ndarray
    length_scale: float
    twist: tuple[np.ndarray, np.ndarray] | None


def published_arrays(output: PipelineOutput) -> PublishedArrays:
    r, st = output.result, output.stitch
    if st is not None:
        to_frame, vec_to_frame = st.points_to_odom, st.vectors_to_odom
        pose, points, flow = st.latest_pose, r.points, r.scene_flow
        length_scale = float(st.odom_from_window.scale)
    else:
        to_frame = vec_to_frame = lambda a: a  # noqa: E731
        pose, points, flow = np.eye(4), r.points_camera, r.scene_flow_camera
        length_scale = 1.0
    cloud = r.cloud("window" if st is not None else "camera")
    xyz = to_frame(cloud.xyz).astype(np.float32)
    cloud_columns = {
        "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
        "rgb": cloud.rgb_packed.view(np.float32), "confidence": cloud.confidence.astype(np.float32),
    }  # fmt: skip
    moving = cloud_moving(r, cloud)
    static_columns = {k: v[~moving] for k, v in cloud_columns.items()}
    dynamic_columns = {k: v[moving] for k, v in cloud_columns.items()}
    flow_columns = None
    if flow is not None:
        pts = to_frame(points).astype(np.float32)
        vel = vec_to_frame(flow).astype(np.float32)
        flow_columns = {
            "x": pts[..., 0], "y": pts[..., 1], "z": pts[..., 2],
            "vx": vel[..., 0], "vy": vel[..., 1], "vz": vel[..., 2],
            "confidence": r.flow_confidence.astype(np.float32),
            "dynamic": r.dynamic.astype(np.uint8),
        }  # fmt: skip
    depth = (r.depth * length_scale).astype(np.float32)
    twist = None
    if st is not None and len(r.stamps_ns) > 1:
        twist = body_twist(st.odom_from_camera[-2], st.odom_from_camera[-1], (r.stamps_ns[-1] - r.stamps_ns[-2]) * 1e-9)
    return PublishedArrays(st is not None, pose, cloud_columns, static_columns, dynamic_columns, flow_columns, depth, length_scale,
                           twist)  # fmt: skip
