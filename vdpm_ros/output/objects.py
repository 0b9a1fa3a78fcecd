"""Moving objects, their markers and the static map -> ROS messages, for any :class:`~vdpm_ros.output.types.MessageTypes`.

The values come from the pipeline's scene stage (:class:`~vdpm_ros.pipeline.SceneOutputs`); these functions
only convert. Field meanings are documented in msg/MovingObject.msg and msg/MovingObjectArray.msg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..geometry.rotation import mat_to_quat
from ..objects import ObjectMarkerSet, StaticMapCloud, TrackedObject
from ..objects.markers import NS_BOX, NS_LABEL, NS_VELOCITY
from . import builders as b
from .types import MessageTypes

#: visualization_msgs/Marker type and action constants.
ARROW, CUBE, TEXT_VIEW_FACING = 0, 1, 9
ADD, DELETEALL = 0, 3
#: RViz refuses a marker with a zero scale; a flat object (one visible face) still gets a drawable box.
_MIN_SCALE = 1e-3
#: The first covariance element -1 says "unknown", as in sensor_msgs.
_UNKNOWN_COVARIANCE = np.array([-1.0] + [0.0] * 8)


def point(T: MessageTypes, v: Sequence[float]) -> Any:
    x, y, z = (float(c) for c in v)
    return T.make("geometry_msgs/msg/Point", x=x, y=y, z=z)


def _covariance(c: np.ndarray | None) -> np.ndarray:
    return _UNKNOWN_COVARIANCE if c is None else np.asarray(c, dtype=np.float64).reshape(9)


def _identity_pose(T: MessageTypes, position: Sequence[float]) -> Any:
    return T.make("geometry_msgs/msg/Pose", position=point(T, position), orientation=T.make("geometry_msgs/msg/Quaternion", w=1.0))


def moving_object(T: MessageTypes, obj: TrackedObject, source_stamp_ns: int) -> Any:
    """vdpm_ros/MovingObject of one tracked object (its motion measured from ``source_stamp_ns``)."""
    det, motion = obj.detection, obj.detection.motion
    q = mat_to_quat(motion.rotation)
    transform = T.make("geometry_msgs/msg/Transform", translation=b.vector3(T, motion.translation),
                       rotation=T.make("geometry_msgs/msg/Quaternion", x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))  # fmt: skip
    return T.make(
        "vdpm_ros/msg/MovingObject", id=int(obj.track_id), observations=int(obj.observations), first_seen=b.stamp(T, obj.first_stamp_ns),
        centroid=point(T, det.centroid), centroid_covariance=_covariance(det.centroid_covariance),
        velocity=b.vector3(T, obj.velocity), velocity_covariance=_covariance(det.velocity_covariance),
        motion_source_stamp=b.stamp(T, source_stamp_ns), motion=transform, motion_residual=float(motion.rms_residual),
        box_center=_identity_pose(T, det.box_center), box_size=b.vector3(T, det.box_size),
        point_count=int(det.point_count), confidence=float(det.confidence),
    )  # fmt: skip


def moving_object_array(T: MessageTypes, objects: Sequence[TrackedObject], source_stamp_ns: int, metric: bool, hdr: Any) -> Any:
    """vdpm_ros/MovingObjectArray of one window (an empty list says that nothing moves)."""
    return T.make("vdpm_ros/msg/MovingObjectArray", header=hdr, metric=bool(metric),
                  objects=[moving_object(T, o, source_stamp_ns) for o in objects])  # fmt: skip


def _color(T: MessageTypes, rgb: tuple[float, float, float], alpha: float) -> Any:
    return T.make("std_msgs/msg/ColorRGBA", r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=float(alpha))


def object_marker_array(T: MessageTypes, markers: ObjectMarkerSet, hdr: Any) -> Any:
    """visualization_msgs/MarkerArray: DELETEALL, then per object a box, a velocity arrow (if it moves) and a label."""
    cfg = markers.config
    out = []
    if markers.delete_all_first:
        out.append(T.make("visualization_msgs/msg/Marker", header=hdr, action=DELETEALL))
    for m in markers.markers:
        size = np.maximum(np.abs(np.asarray(m.box_size, dtype=np.float64)), _MIN_SCALE)
        out.append(T.make("visualization_msgs/msg/Marker", header=hdr, ns=NS_BOX, id=m.track_id, type=CUBE, action=ADD,
                          pose=_identity_pose(T, m.box_center), scale=b.vector3(T, size), color=_color(T, m.color, cfg.box_alpha)))  # fmt: skip
        if m.arrow_start is not None and m.arrow_end is not None:
            shaft = cfg.arrow_shaft_diameter
            out.append(T.make("visualization_msgs/msg/Marker", header=hdr, ns=NS_VELOCITY, id=m.track_id, type=ARROW, action=ADD,
                              pose=_identity_pose(T, (0.0, 0.0, 0.0)), scale=b.vector3(T, (shaft, 2 * shaft, 0.0)),
                              color=_color(T, m.color, 1.0), points=[point(T, m.arrow_start), point(T, m.arrow_end)]))  # fmt: skip
        out.append(T.make("visualization_msgs/msg/Marker", header=hdr, ns=NS_LABEL, id=m.track_id, type=TEXT_VIEW_FACING, action=ADD,
                          pose=_identity_pose(T, m.text_position), scale=b.vector3(T, (0.0, 0.0, cfg.text_height)),
                          color=_color(T, m.color, 1.0), text=m.text))  # fmt: skip
    return T.make("visualization_msgs/msg/MarkerArray", markers=out)


def static_map_cloud(T: MessageTypes, cloud: StaticMapCloud, hdr: Any) -> Any:
    """PointCloud2 ``x y z rgb`` of the static map, one point per voxel (all finite: dense)."""
    xyz = cloud.xyz.astype(np.float32)
    columns = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "rgb": cloud.rgb_packed.view(np.float32)}
    return b.cloud(T, columns, hdr, is_dense=True)
