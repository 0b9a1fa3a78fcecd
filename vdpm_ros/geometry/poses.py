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
