"""The object stage's inputs from one window's output (numpy only): its observation, and the motion split.

The publish frame F is the one the node publishes ``vdpm/points`` in: the odometry frame when the
window is stitched, else the latest camera's optical frame. Lengths are in ``WindowResult.units``; in the
odometry frame they include the window's alignment scale, as the published clouds do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..objects.observation import ObjectObservation
from .results import CloudPoints, WindowResult

if TYPE_CHECKING:  # stream.py imports this module: the type alone is needed here
    from .stream import PipelineOutput


def to_publish_frame(output: PipelineOutput) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
    """``(points [..., 3] window frame -> F as float64, the latest camera's centre [3] in F)`` for this output."""
    r, st = output.result, output.stitch
    if st is not None:
        return (lambda p: st.points_to_odom(np.asarray(p, dtype=np.float64))), st.latest_pose[:3, 3].copy()
    ext = np.asarray(r.extrinsics[-1], dtype=np.float64)  # camera-from-window of the latest camera
    return (lambda p: np.asarray(p, dtype=np.float64) @ ext[:, :3].T + ext[:, 3]), np.zeros(3)


def motion_source_stamp(result: WindowResult) -> int:
    """The time the objects' motion is measured from: t_0 when the window kept P_{S-1}(t_0), else t_{S-2}."""
    if result.points_first is not None and result.first_stamp_ns is not None:
        return int(result.first_stamp_ns)
    return int(result.stamps_ns[-2])


def observation_from_output(
    output: PipelineOutput,
    source_points: np.ndarray | None = None,
    source_stamp_ns: int | None = None,
    confident_only: bool = False,
) -> ObjectObservation | None:
    """The :class:`ObjectObservation` of a processed window, or None when it has no motion (no previous time decoded).

    Args:
        output: the window and its stitch.
        source_points: ``[H, W, 3]`` P_{S-1}(t_src) in the WINDOW frame and the result's units. Default: the
            longest span the window has, P_{S-1}(t_0) (``WindowResult.points_first``) with motion_span
            "window"; else P_{S-1}(t_{S-2}), recovered from the scene flow as ``points - scene_flow * flow_dt_s``.
        source_stamp_ns: the stamp of ``source_points`` (required with them).
        confident_only: use only pixels of the confidence-filtered cloud (``cloud_mask``), not every valid one.
    """
    r: WindowResult = output.result
    if r.dynamic is None or r.scene_flow is None or r.flow_dt_s is None or r.flow_confidence is None:
        return None
    if (source_points is None) != (source_stamp_ns is None):
        raise ValueError("source_points and source_stamp_ns go together")
    if source_points is None:
        source_stamp_ns = motion_source_stamp(r)
        source_points = r.points_first if source_stamp_ns == r.first_stamp_ns else r.points - r.scene_flow * np.float32(r.flow_dt_s)
    to_frame, camera = to_publish_frame(output)
    usable = (r.cloud_mask if confident_only else r.valid).astype(bool)
    return ObjectObservation(
        stamp_ns=int(r.latest_stamp_ns),
        source_stamp_ns=int(source_stamp_ns),
        points=to_frame(r.points).astype(np.float32),
        source_points=to_frame(source_points).astype(np.float32),
        dynamic=np.asarray(r.dynamic, dtype=bool),
        confidence=np.asarray(r.flow_confidence, dtype=np.float32),
        usable=usable,
        camera_position=camera,
        units=r.units,
    )


@dataclass(frozen=True, eq=False)
class MotionSplit:
    """The confidence-filtered cloud of the latest frame split by the motion mask, in F.

    ``static`` goes to ``vdpm/static_points`` and the static map, ``dynamic`` to ``vdpm/dynamic_points``;
    together they are exactly ``vdpm/points``. Without a motion mask every point is static.

    Attributes:
        static, dynamic: the two parts (positions in F, same units as ``vdpm/points``).
        camera_position: ``[3]`` the latest camera's centre in F (the static map's eviction viewpoint).
    """

    static: CloudPoints
    dynamic: CloudPoints
    camera_position: np.ndarray


def cloud_moving(result: WindowResult, cloud: CloudPoints) -> np.ndarray:
    """``[N]`` bool: which points of ``cloud`` (a cloud of ``result``) are in the motion mask (none without one)."""
    if result.dynamic is None:
        return np.zeros(len(cloud.pixels), dtype=bool)
    return np.asarray(result.dynamic, dtype=bool)[cloud.pixels[:, 1], cloud.pixels[:, 0]]


def _subset(cloud: CloudPoints, keep: np.ndarray, xyz: np.ndarray) -> CloudPoints:
    return CloudPoints(xyz=xyz[keep].astype(np.float32), rgb=cloud.rgb[keep], confidence=cloud.confidence[keep],
                       pixels=cloud.pixels[keep])  # fmt: skip


def split_by_motion(output: PipelineOutput) -> MotionSplit:
    """Split the latest frame's published cloud into its static and its moving points (see :class:`MotionSplit`)."""
    r = output.result
    cloud = r.cloud("window")
    to_frame, camera = to_publish_frame(output)
    xyz = to_frame(cloud.xyz)
    moving = cloud_moving(r, cloud)
    return MotionSplit(_subset(cloud, ~moving, xyz), _subset(cloud, moving, xyz), camera)
