"""Small rotation / rigid-transform helpers (numpy, float64)."""

from __future__ import annotations

import numpy as np


def axis_angle_to_matrix(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rodrigues' formula for rotations about one fixed axis.

    Args:
        axis: [3] rotation axis (any non-zero length; normalised here).
        angles: [T] angles in radians.

    Returns:
        [T, 3, 3] rotation matrices.
    """
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    kx, ky, kz = axis
    skew = np.array([[0.0, -kz, ky], [kz, 0.0, -kx], [-ky, kx, 0.0]])
    sin = np.sin(angles)[:, None, None]
    cos = np.cos(angles)[:, None, None]
    return np.eye(3) + sin * skew + (1.0 - cos) * (skew @ skew)


def euler_small_to_matrix(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Rotation in OpenCV camera axes from yaw (about y), pitch (about x), roll (about z).

    Args:
        yaw, pitch, roll: [T] angles in radians.

    Returns:
        [T, 3, 3] rotation matrices ``R_yaw @ R_pitch @ R_roll``.
    """
    return (
        axis_angle_to_matrix(np.array([0.0, 1.0, 0.0]), yaw)
        @ axis_angle_to_matrix(np.array([1.0, 0.0, 0.0]), pitch)
        @ axis_angle_to_matrix(np.array([0.0, 0.0, 1.0]), roll)
    )


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed rotation matrix [3, 3] (from a random unit quaternion)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_unit_vector(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed unit vector [3]."""
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def look_at(positions: np.ndarray, targets: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World-from-camera rotations of OpenCV cameras (x right, y down, z forward).

    Args:
        positions: [T, 3] camera centres in world coordinates.
        targets: [T, 3] points the optical axes pass through.
        up: [3] world up direction; must not be parallel to any viewing direction.

    Returns:
        [T, 3, 3] rotations whose columns are the camera x, y, z axes in world coordinates.
    """
    forward = targets - positions
    forward = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, up)
    right = right / np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=-1)
