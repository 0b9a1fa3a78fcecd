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
    """The constant body twist that moves a body from ``pose_before`` to ``pose_after`` (world-from-body ``[4, 4]``) in ``dt_s``.

    Returns ``(linear [3], angular [3])``: the SE(3) logarithm of ``before^-1 @ after`` divided by ``dt_s``.
    A constant body twist is the same seen from the body at any time, so this is also the velocity in the
    later body frame, which is where nav_msgs/Odometry wants its twist (``child_frame_id``).
    """
    if not dt_s > 0:
        raise ValueError(f"dt_s must be positive, got {dt_s}")
    from scipy.spatial.transform import Rotation

    r0 = pose_before[:3, :3]
    omega = Rotation.from_matrix(r0.T @ pose_after[:3, :3]).as_rotvec()
    step = r0.T @ (pose_after[:3, 3] - pose_before[:3, 3])
    theta = float(np.linalg.norm(omega))
    k = np.array([[0.0, -omega[2], omega[1]], [omega[2], 0.0, -omega[0]], [-omega[1], omega[0], 0.0]])
    if theta < 1e-8:
        v_matrix = np.eye(3) + 0.5 * k
    else:
        v_matrix = np.eye(3) + (1 - np.cos(theta)) / theta**2 * k + (theta - np.sin(theta)) / theta**3 * (k @ k)
    return np.linalg.solve(v_matrix, step) / dt_s, omega / dt_s
