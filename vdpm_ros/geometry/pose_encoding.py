"""The camera head's 9-value "absT_quaR_FoV" encoding and its conversion to camera matrices.

Encoding ``[..., 9]`` = ``[tx, ty, tz, qx, qy, qz, qw, fov_h, fov_w]``: (R, t) is camera-from-world in
OpenCV axes (world = camera of the window's first frame), q is scalar-last, the FoVs are in radians.
Intrinsics are in pixels of the network input, principal point at ``(W/2, H/2)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .rotation import mat_to_quat, quat_to_mat


def pose_encoding_to_cameras(pose_enc: Tensor, image_hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """``pose_enc [..., 9]`` -> extrinsics ``[..., 3, 4]`` (camera-from-world) and intrinsics ``[..., 3, 3]``."""
    H, W = image_hw
    rot = quat_to_mat(pose_enc[..., 3:7])
    extrinsics = torch.cat([rot, pose_enc[..., :3, None]], dim=-1)
    fy = (H / 2.0) / torch.tan(pose_enc[..., 7] / 2.0)
    fx = (W / 2.0) / torch.tan(pose_enc[..., 8] / 2.0)
    zero, one = torch.zeros_like(fx), torch.ones_like(fx)
    intrinsics = torch.stack([fx, zero, zero + W / 2, zero, fy, zero + H / 2, zero, zero, one], dim=-1).reshape(*fx.shape, 3, 3)
    return extrinsics, intrinsics


def cameras_to_pose_encoding(extrinsics: Tensor, intrinsics: Tensor, image_hw: tuple[int, int]) -> Tensor:
    """Inverse of :func:`pose_encoding_to_cameras`; the quaternion comes back unit-norm with ``qw >= 0``.

    Only fx and fy of the intrinsics are used (the encoding assumes a centred principal point).
    """
    H, W = image_hw
    quat = mat_to_quat(extrinsics[..., :3, :3])
    fov_h = 2 * torch.atan((H / 2) / intrinsics[..., 1, 1])
    fov_w = 2 * torch.atan((W / 2) / intrinsics[..., 0, 0])
    return torch.cat([extrinsics[..., :3, 3], quat, fov_h[..., None], fov_w[..., None]], dim=-1).float()
