"""Quantities derived from dynamic point maps: scale normalisation, scene flow, motion masks."""

from __future__ import annotations

import torch
from torch import Tensor

from .motion import DEFAULT_MOTION_THRESHOLD


def mean_distance(points: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean Euclidean norm of ``points [..., N, 3]`` over the last point axis (valid ones only) -> ``[...]``.

    This is the scale that V-DPM's evaluation and demo normalise by (unit mean distance to the frame-0 camera).
    """
    norms = points.norm(dim=-1)
    if valid is None:
        return norms.mean(-1)
    valid = valid.to(norms.dtype)
    return (norms * valid).sum(-1) / valid.sum(-1).clamp_min(1.0)


def scene_flow(source: Tensor, target: Tensor) -> Tensor:
    """3D motion of each pixel's point between two times: ``P_i(t_j) - P_i(t_i)``, shapes ``[..., 3]``."""
    return target - source


def motion_mask(flow: Tensor, scale: Tensor | float, threshold: float = DEFAULT_MOTION_THRESHOLD) -> Tensor:
    """Pixels whose point moves by more than ``threshold * scale``: ``flow [..., H, W, 3]`` -> bool ``[..., H, W]``.

    ``scale`` is the scene scale (e.g. :func:`mean_distance`), broadcast against ``flow``'s leading dims.
    """
    scale = torch.as_tensor(scale, dtype=flow.dtype, device=flow.device)
    while scale.ndim and scale.ndim < flow.ndim - 1:
        scale = scale[..., None]
    return flow.norm(dim=-1) > threshold * scale
