"""One window's outputs -> every message the node publishes for it, for any message library.

:func:`window_messages` is the one place the outputs become messages: the node publishes what it returns
and the output bag writes the same list, so a bag holds exactly the node's topics and payloads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..objects import object_markers
from ..pipeline.published import PublishedArrays, published_arrays
from ..pipeline.results import WindowResult
from ..pipeline.stream import PipelineOutput
from . import builders as b
from . import objects as ob
from .config import OutputConfig
from .types import MessageTypes


@dataclass(frozen=True)
class OutboundMessage:
    """A message for the output channel ``key`` (see :meth:`OutputConfig.channels`)."""

    key: str
    message: Any


def window_messages(
    output: PipelineOutput,
    T: MessageTypes,
    config: OutputConfig,
    camera_frame: str,
    trajectory: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> list[OutboundMessage]:
    """The messages of one window, in publishing order.

    Args:
        output: the pipeline's output for the window.
        T: the message library (:class:`~vdpm_ros.output.types.RclpyTypes` or ``RosbagsTypes``).
        config: topics, frames and flags.
        camera_frame: the latest camera's optical frame (``config.camera_frame`` or the images' frame_id).
        trajectory: returns the stitched trajectory (stamps ``[N]`` ns, poses ``[N, 4, 4]``) for the path;
            called only when the path is wanted.
        wanted: ``wanted(key)`` is False for channels nobody listens to (they are not built); None = all.
            Only channels that ``config.channels()`` enables are ever built.
    """
    enabled = {c.key for c in config.channels()}

    def want(key: str) -> bool:
        return key in enabled and (wanted is None or wanted(key))

    r, a = output.result, published_arrays(output)
    stamp = r.latest_stamp_ns
    cam_hdr = b.header(T, stamp, camera_frame)
    frame_hdr = b.header(T, stamp, config.odom_frame) if a.in_odom else cam_hdr
    out: list[OutboundMessage] = []

    def put(key: str, build: Callable[[], Any]) -> Any:
        if want(key):
            msg = build()
            out.append(OutboundMessage(key, msg))
            return msg
        return None

    put("points", lambda: b.cloud(T, a.cloud, frame_hdr))
    put("static_points", lambda: b.cloud(T, a.static_cloud, frame_hdr))
    put("dynamic_points", lambda: b.cloud(T, a.dynamic_cloud, frame_hdr))
    if a.flow is not None:
        flow_cloud = b.cloud(T, a.flow, frame_hdr) if want("scene_flow") or want("scene_flow_msg") else None
        put("scene_flow", lambda: flow_cloud)
        put("scene_flow_msg", lambda: _scene_flow_msg(T, r, a, flow_cloud, frame_hdr))
        put("motion_mask", lambda: b.image(T, r.motion_mask, cam_hdr))
        put("optical_flow", lambda: b.image(T, r.optical_flow.astype(np.float32), cam_hdr))
    # Depth in the same units as the clouds and poses (the odometry frame's, once stitched).
    put("depth", lambda: b.image(T, a.depth, cam_hdr))
    # The camera that the published maps are images of: the output grid, which need not be the camera's size.
    put("camera_info", lambda: b.camera_info(T, r.output_intrinsics, r.output_hw[0], r.output_hw[1], cam_hdr))
    pose_msg = b.pose(T, a.pose)
    put("camera_pose", lambda: T.make("geometry_msgs/msg/PoseStamped", header=frame_hdr, pose=pose_msg))
    if a.in_odom:  # without stitching the pose is the identity in the camera's own frame: no odometry
        put("odometry", lambda: b.odometry(T, pose_msg, a.twist, config.odometry_variance, frame_hdr, camera_frame))
        if trajectory is not None:
            put("path", lambda: b.path(T, *trajectory(), frame_hdr))
        put("tf", lambda: T.make("tf2_msgs/msg/TFMessage", transforms=[b.transform(T, pose_msg, frame_hdr, camera_frame)]))
    scene = output.scene
    if scene is not None and scene.detections is not None:  # the scene stage's objects, in the frame of the clouds
        det = scene.detections
        put("moving_objects", lambda: ob.moving_object_array(T, scene.objects, det.source_stamp_ns, det.units == "m", frame_hdr))
        put("object_markers", lambda: ob.object_marker_array(T, object_markers(scene.objects, det.units), frame_hdr))
    if scene is not None and scene.static_map is not None and a.in_odom:
        put("static_map", lambda: ob.static_map_cloud(T, scene.static_map, frame_hdr))
    put("window", lambda: _window_msg(T, r, b.header(T, stamp, camera_frame)))
    return out


def _scene_flow_msg(T: MessageTypes, r: WindowResult, a: PublishedArrays, cloud: Any, hdr: Any) -> Any:
    return T.make("vdpm_ros/msg/SceneFlow", header=hdr, cloud=cloud, metric=r.units == "m", scale=float(r.scale * a.length_scale),
                  source_stamp=b.stamp(T, r.previous_stamp_ns), target_stamp=b.stamp(T, r.latest_stamp_ns))  # fmt: skip


def _grid_to_image(r: WindowResult) -> np.ndarray:
    """``[3, 3]`` affine map from output-grid pixel coordinates to camera-image pixel coordinates (Window.map_to_image)."""
    return np.linalg.inv(r.output_grid.intrinsics_to_net(np.eye(3)))


def _window_msg(T: MessageTypes, r: WindowResult, hdr: Any) -> Any:
    """vdpm_ros/Window: poses and point maps in the window's own frame (its first camera), as Window.msg defines them."""
    S = len(r.stamps_ns)
    maps, confs, targets = [r.points], [r.confidence], [S - 1]
    if r.scene_flow is not None:
        maps.append(r.points - r.scene_flow * r.flow_dt_s)
        confs.append(r.flow_confidence)
        targets.append(S - 2)
    return T.make(
        "vdpm_ros/msg/Window", header=hdr, metric=r.units == "m", scale=float(r.scale),
        stamps=[b.stamp(T, s) for s in r.stamps_ns], poses=b.poses(T, r.world_from_camera),
        intrinsics=r.intrinsics.reshape(-1).astype(np.float64), image_height=r.raw_hw[0], image_width=r.raw_hw[1],
        height=r.output_hw[0], width=r.output_hw[1],
        map_to_image=_grid_to_image(r).reshape(-1),
        map_frames=np.full(len(maps), S - 1, dtype=np.uint32), map_targets=np.asarray(targets, dtype=np.uint32),
        points=np.stack(maps).astype(np.float32).reshape(-1), confidences=np.stack(confs).astype(np.float32).reshape(-1),
    )  # fmt: skip
