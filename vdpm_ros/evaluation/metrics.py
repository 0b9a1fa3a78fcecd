"""Evaluation metrics of the V-DPM paper protocol, as pure numpy functions.

Shapes: S frames, H x W pixels. Point maps are in the frame-0 camera frame.
"""

from __future__ import annotations

import numpy as np

from ..geometry.poses import world_from_camera
from .trajectory import ate_rmse


def normalise_unit_mean(points: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, float]:
    """Scale ``points [..., 3]`` so that the valid ones have unit mean distance to the origin.

    Returns the scaled points and the scale that was divided out.
    """
    norms = np.linalg.norm(points[valid], axis=-1)
    scale = float(norms.mean()) if norms.size else 1.0
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    return points / scale, scale


def end_point_error(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> float:
    """Mean Euclidean distance between ``pred`` and ``gt`` ``[..., 3]`` over ``valid [...]`` pixels."""
    if not valid.any():
        return float("nan")
    return float(np.linalg.norm(pred[valid] - gt[valid], axis=-1).mean())


def depth_metrics(pred_depth: np.ndarray, gt_depth: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """Abs Rel and delta < 1.25 after median scaling (monocular depth has no scale).

    A pixel with ground truth but no usable prediction (not finite, or not in front of the camera)
    counts as a failure (Abs Rel about 1, outside delta) instead of leaving the average.

    Args:
        pred_depth, gt_depth: ``[S, H, W]``; valid: ``[S, H, W]`` bool (gt > 0 enforced here).
    Returns:
        (abs_rel, delta_1_25)
    """
    mask = valid & (gt_depth > 0) & np.isfinite(gt_depth)
    if not mask.any():
        return float("nan"), float("nan")
    p, g = pred_depth[mask].astype(np.float64), gt_depth[mask].astype(np.float64)
    usable = np.isfinite(p) & (p > 0)
    if not usable.any():
        return 1.0, 0.0
    p = np.where(usable, p * (np.median(g[usable]) / np.median(p[usable])), 1e-6 * np.median(g))
    abs_rel = float(np.mean(np.abs(p - g) / g))
    delta = float(np.mean(np.maximum(p / g, g / p) < 1.25))
    return abs_rel, delta


def absolute_trajectory_error(pred_extrinsics: np.ndarray, gt_extrinsics: np.ndarray) -> float:
    """RMSE of camera centres after Sim(3) alignment; inputs are camera-from-world ``[S, 3, 4]``."""
    if len(pred_extrinsics) < 3:
        raise ValueError("ATE needs at least 3 poses")
    return ate_rmse(world_from_camera(pred_extrinsics), world_from_camera(gt_extrinsics))


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty (nothing to find, nothing found)."""
    union = np.logical_or(pred, gt).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, gt).sum() / union)
