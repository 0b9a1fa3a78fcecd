"""Pure geometry functions (torch), shared by the node, the evaluation and training."""

from .motion import DEFAULT_MOTION_THRESHOLD, moving
from .pose_encoding import cameras_to_pose_encoding, pose_encoding_to_cameras
from .rotation import mat_to_quat, quat_to_mat
from .scene_flow import mean_distance, motion_mask, scene_flow

__all__ = [
    "DEFAULT_MOTION_THRESHOLD",
    "cameras_to_pose_encoding",
    "mat_to_quat",
    "mean_distance",
    "moving",
    "motion_mask",
    "pose_encoding_to_cameras",
    "quat_to_mat",
    "scene_flow",
]
