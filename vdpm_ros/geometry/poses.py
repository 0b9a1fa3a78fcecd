"""Pose conversions on numpy arrays."""

from __future__ import annotations

import numpy as np


def world_from_camera(extrinsics: np.ndarray) -> np.ndarray:
    """Camera-from-world ``[..., 3, 4]`` -> world-from-camera ``[..., 4, 4]`` float64 (the pose of each camera)."""
    extrinsics = np.asarray(extrinsics, dtype=np.float64)
    rot_t = np.swapaxes(extrinsics[..., :3, :3], -1, -2)
    out = np.zeros(extrinsics.shape[:-2] + (4, 4))
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rot_t, extrinsics[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def body_twist(pose_before: np.ndarray, pose_after: np.ndarray, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Constant velocity that moves a body from ``pose_before`` to ``pose_after`` (world-from-body ``[4, 4]``) in ``dt_s``.

    Returns ``(linear [3], angular [3])`` expressed in the later body frame, as nav_msgs/Odometry wants
    its twist (in ``child_frame_id``): world displacement rotated into the body, and the rotation vector
    of the relative rotation, each divided by ``dt_s``.
    """
    if not dt_s > 0:
        raise ValueError(f"dt_s must be positive, got {dt_s}")
    r_after = pose_after[:3, :3]
    linear = r_after.T @ (pose_after[:3, 3] - pose_before[:3, 3]) / dt_s
    # after = before @ delta: delta is the rotation over dt seen from the earlier body; its axis is the
    # same seen from the later body, because delta maps its own axis to itself.
    from scipy.spatial.transform import Rotation

    angular = Rotation.from_matrix(pose_before[:3, :3].T @ r_after).as_rotvec() / dt_s
    return linear, angular
