"""Static or dynamic, per pixel of the latest frame: from rigidity residuals to a clean mask.

1. Each frame's residual is weighed by the image texture (:func:`~vdpm_ros.motion.rigidity.textured_residual`)
   and compared with a threshold that turns the pipeline's motion threshold (a fraction of the scene
   scale, in 3D) into pixels at the pixel's depth: ``fraction * motion_threshold * scene_scale * f / z``,
   never below a floor for flow noise.
2. The motion score (:func:`~vdpm_ros.motion.rigidity.motion_score`) asks several frames to agree.
3. Hysteresis, morphology and small-region removal (:mod:`.mask_cleanup`); then regions grow a little
   into pixels that have no trusted match at all (parts of objects that just entered the view).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import FlowMotionConfig
from .mask_cleanup import clean_mask, grow_into, hysteresis
from .rigidity import RigidityFit, depth_disagreement, motion_score, textured_residual


@dataclass(frozen=True)
class Segmentation:
    """The dynamic mask of one window's latest frame and how it came about (network grid, h x w).

    Attributes:
        dynamic: ``[h, w]`` bool, the final mask.
        raw: ``[h, w]`` bool, before clean-up and growth.
        score: ``[h, w]`` motion score (> 1 = moving).
        residual_px: ``[J, h, w]`` texture-weighted residual per older frame (NaN: no trusted match).
        threshold_px: ``[h, w]`` the residual that counts as motion.
    """

    dynamic: np.ndarray
    raw: np.ndarray
    score: np.ndarray
    residual_px: np.ndarray
    threshold_px: np.ndarray


def motion_threshold_px(depth: np.ndarray, focal_px: float, scene_scale: float, cfg: FlowMotionConfig) -> np.ndarray:
    """``[h, w]`` residual (pixels) that stands for ``residual_motion_fraction`` of the pipeline's 3D motion threshold."""
    return np.maximum(
        cfg.residual_floor_px, cfg.residual_motion_fraction * cfg.motion_threshold * scene_scale * focal_px / np.maximum(depth, 1e-9)
    )


def segment(
    fit: RigidityFit,
    texture: np.ndarray | None,
    depth: np.ndarray,
    valid: np.ndarray,
    matched: np.ndarray,
    focal_px: float,
    scene_scale: float,
    cfg: FlowMotionConfig,
) -> Segmentation:
    """The dynamic mask from the rigidity fit.

    Args:
        fit: rigidity fit over J older frames (arrays over the h x w pixels, row-major).
        texture: ``[h, w, 3]`` structure tensor of the latest image at its network pixels, or None.
        depth: ``[h, w]`` the model's depth of the latest frame; valid: ``[h, w]`` bool.
        matched: ``[h, w]`` bool, the pixel has a trusted match in at least one older frame.
        focal_px: focal length of the latest camera (network pixels); scene_scale: the pipeline's scene scale.
        cfg: settings.
    """
    h, w = valid.shape
    J = fit.residual_px.shape[0]
    residual = fit.residual_px.reshape(J, h, w)
    if texture is not None:
        weighted = textured_residual(fit.residual_vector.reshape(J, h, w, 2), texture[None], cfg.texture_floor)
        residual = np.where(np.isfinite(residual), weighted, residual)  # keep NaN (no match) and inf (behind a camera)
    threshold = motion_threshold_px(depth, focal_px, scene_scale, cfg)
    score = motion_score(residual, threshold, cfg.residual_votes)
    moving = hysteresis(score, cfg.score_low, 1.0, valid)
    if np.isfinite(cfg.depth_disagreement):
        far = depth_disagreement(fit, 1.0 / depth.ravel()).reshape(h, w) > cfg.depth_disagreement
        moving |= far & (fit.parallax.reshape(h, w) >= cfg.min_parallax)
    raw = moving & valid
    # Clean first, so that only regions that stand on their own evidence grow into unknown pixels.
    dynamic = clean_mask(raw, valid, cfg.open_px, 0, cfg.min_component_px)
    if cfg.grow_unmatched_px > 0:
        # No trusted match in any frame (just entered the view, or uncovered): unknown. The part of an object
        # that entered the view moves with the rest of it, so a moving region extends into unknown pixels
        # next to it; only a little, because the background an object uncovers is unknown and next to it too.
        dynamic |= grow_into(dynamic, valid & ~matched, cfg.grow_unmatched_px)
    dynamic = clean_mask(dynamic, valid, 0, cfg.close_px, 0)
    return Segmentation(dynamic, raw, score, residual, threshold)
