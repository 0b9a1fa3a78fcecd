"""Rotation conversions. Quaternions are scalar-last ``(x, y, z, w)`` throughout the package.

Each function takes a torch tensor or a numpy array and returns the same kind, so the model (torch), the
message builders and the bag readers (numpy) share one conversion and one sign convention.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

A = TypeVar("A", Tensor, np.ndarray)


def _numpy_or_torch(fn: Callable[[Tensor], Tensor]) -> Callable:
    @functools.wraps(fn)
    def wrapper(x):
        if isinstance(x, Tensor):
            return fn(x)
        return fn(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))).numpy()

    return wrapper


@_numpy_or_torch
def quat_to_mat(quat: Tensor) -> Tensor:
    """``[..., 4]`` (x, y, z, w) -> rotation matrices ``[..., 3, 3]``.

    Uses ``2 / |q|^2`` instead of 2, so a non-unit quaternion (as the camera head predicts) still
    gives a proper rotation: the one of ``q / |q|``.
    """
    x, y, z, w = quat.unbind(-1)
    s = 2.0 / (quat * quat).sum(-1)
    rows = (
        1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w),
        s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w),
        s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y),
    )  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(*quat.shape[:-1], 3, 3)


@_numpy_or_torch
def mat_to_quat(rot: Tensor) -> Tensor:
    """Rotation matrices ``[..., 3, 3]`` -> unit quaternions ``[..., 4]`` (x, y, z, w) with ``w >= 0``.

    Each of the four components can be recovered from the diagonal; dividing by the largest one keeps
    the conversion well conditioned for every rotation (no branch on the trace).
    """
    if rot.shape[-2:] != (3, 3):
        raise ValueError(f"expected rotation matrices [..., 3, 3], got {tuple(rot.shape)}")
    m = rot.reshape(*rot.shape[:-2], 9).unbind(-1)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m
    # 4 * component^2 for (w, x, y, z)
    four_sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1)
    mag = torch.sqrt(four_sq.clamp_min(0.0))  # 2 * |component|
    # Row k: 4 * component_k * (w, x, y, z), each from off-diagonal sums/differences.
    candidates = torch.stack(
        [
            torch.stack([mag[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, mag[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, mag[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, mag[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )
    best = mag.argmax(dim=-1)
    chosen = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    denom = torch.gather(mag, -1, best[..., None]).clamp_min(0.1)
    wxyz = chosen / (2.0 * denom)
    quat = torch.cat([wxyz[..., 1:], wxyz[..., :1]], dim=-1)
    return torch.where(quat[..., 3:] < 0, -quat, quat)
