"""Camera motion of a window from the latest frame's flow matches, and the rigidity fit under it.

For each older frame j a first pose comes from three guesses (PnP on the model's depth, the essential
matrix, the model's own cameras); the one under which one depth per pixel explains the frame's matches
best (a robust cost) is kept. Then rounds of (rigid depth per pixel from all frames, see
:func:`~vdpm_ros.motion.rigidity.fit_rigid_depth`; each pose polished against those depths with
Cauchy-weighted Gauss-Newton on all matches) make the poses consistent with the flow and with each other.
The depths the flow triangulates are brought back to the model's scale after each round (the flow alone
does not fix the scale).

Why not PnP alone: on generated static scenes with exact flow, PnP on the embedded model's rough depth
sometimes traded rotation for translation, and a large part of those windows came out "moving"; the
guesses and the robust rounds removed most of it (development measurements, see docs/motion.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import FlowMotionConfig
from .ego_motion import RelativePose, estimate_essential_pose, estimate_relative_pose, refine_pose_robust
from .grids import net_pixels
from .rigidity import RigidityFit, fit_rigid_depth


@dataclass(frozen=True)
class LatestFrame:
    """The latest frame's geometry on the network grid (h x w).

    Attributes:
        rays: ``[h, w, 3]`` each pixel's ray in camera L, ``K^-1 (u, v, 1)`` (z = 1).
        depth: ``[h, w]`` the model's depth in camera L (1 where not valid).
        valid: ``[h, w]`` bool, pixels with a usable model point.
        intrinsics: ``[3, 3]`` K of L.
    """

    rays: np.ndarray
    depth: np.ndarray
    valid: np.ndarray
    intrinsics: np.ndarray

    @property
    def points(self) -> np.ndarray:
        """``[h, w, 3]`` each pixel's point in camera L at the model's depth."""
        return self.rays * self.depth[..., None]


def _grid(shape: tuple[int, int], stride: int) -> np.ndarray:
    out = np.zeros(shape, bool)
    out[::stride, ::stride] = True
    return out


def fit_all(
    latest: LatestFrame, poses: dict[int, RelativePose], intrinsics: dict[int, np.ndarray], matches, match_ok, prior_weight: float
) -> RigidityFit:
    """The rigidity fit of every pixel of L over the frames of ``poses`` (in their sorted order)."""
    frames = sorted(poses)
    n = latest.valid.size
    return fit_rigid_depth(
        latest.rays.reshape(n, 3),
        1.0 / latest.depth.ravel(),
        np.stack([poses[j].rotation for j in frames]),
        np.stack([poses[j].translation for j in frames]),
        np.stack([intrinsics[j] for j in frames]),
        np.stack([matches[j].reshape(n, 2) for j in frames]),
        np.stack([match_ok[j].ravel() for j in frames]),
        prior_weight,
    )


def _cost(pose: RelativePose, latest: LatestFrame, pick: np.ndarray, match: np.ndarray, k: np.ndarray, cfg: FlowMotionConfig) -> float:
    """Robust (Cauchy) cost of one frame's matches ``pick`` under ``pose``, with the best depth per pixel."""
    if not pick.any():
        return np.inf
    fit = fit_rigid_depth(
        latest.rays[pick], 1.0 / latest.depth[pick], pose.rotation[None], pose.translation[None], k[None], match[pick][None],
        np.ones((1, int(pick.sum())), bool), cfg.depth_prior_weight,
    )  # fmt: skip
    r = np.nan_to_num(fit.residual_px[0], nan=1e3, posinf=1e3)
    return float(np.log1p((r / cfg.robust_scale_px) ** 2).mean())


def _model_pose(extrinsics: np.ndarray, j: int, last: int, n: int, ok: bool) -> RelativePose:
    rel = extrinsics[j] @ np.linalg.inv(np.vstack([extrinsics[last], [0.0, 0.0, 0.0, 1.0]]))
    return RelativePose(rel[:3, :3], rel[:3, 3], np.zeros(n, bool), ok)


def first_pose(
    latest: LatestFrame, j: int, match: np.ndarray, match_ok: np.ndarray, k_j: np.ndarray, extrinsics: np.ndarray, cfg: FlowMotionConfig
) -> RelativePose:
    """Frame j's first pose (camera j from camera L): the best of the guesses (see the module docstring)."""
    last = len(extrinsics) - 1
    coarse = _grid(latest.valid.shape, 2 * cfg.pose_stride) & match_ok  # RANSAC needs far fewer matches than the polish
    n = int(coarse.sum())
    guesses = [estimate_relative_pose(latest.points[coarse], match[coarse], k_j, cfg.pose_threshold_px, cfg.pose_iterations, seed=j)]
    if cfg.pose_hypotheses:
        pix = net_pixels(latest.valid.shape)
        guesses.append(
            estimate_essential_pose(
                pix[coarse], match[coarse], latest.intrinsics, k_j, latest.depth[coarse], cfg.essential_threshold_px, seed=j
            )
        )
        guesses.append(_model_pose(extrinsics, j, last, n, True))
    guesses = [g for g in guesses if g.ok]
    if not guesses:
        # No consensus (too few matches, or no majority): the model's cameras, marked as not found.
        return _model_pose(extrinsics, j, last, n, False)
    if len(guesses) == 1:
        return guesses[0]
    pick = _grid(latest.valid.shape, cfg.pose_stride) & match_ok
    return guesses[int(np.argmin([_cost(g, latest, pick, match, k_j, cfg) for g in guesses]))]


def estimate_camera_motion(
    latest: LatestFrame,
    matches: dict[int, np.ndarray],
    match_ok: dict[int, np.ndarray],
    intrinsics: dict[int, np.ndarray],
    extrinsics: np.ndarray,
    cfg: FlowMotionConfig,
) -> tuple[dict[int, RelativePose], RigidityFit]:
    """Poses of the older frames relative to the latest, and the rigidity fit under them.

    Args:
        latest: the latest frame's geometry.
        matches: {j: ``[h, w, 2]`` flow match in frame j (its network pixels)}; match_ok: {j: ``[h, w]`` bool}.
        intrinsics: {j: K of frame j}.
        extrinsics: ``[S, 3, 4]`` the model's camera-from-window (one of the guesses, and the fall-back).
        cfg: settings (pose_* fields, depth_prior_weight, robust_scale_px, refine_inlier_px).

    Returns:
        ({j: camera j from camera L, in the scale of the model's depth of L}, the fit over ``sorted(matches)``).
    """
    poses = {j: first_pose(latest, j, matches[j], match_ok[j], intrinsics[j], extrinsics, cfg) for j in sorted(matches)}
    fit = fit_all(latest, poses, intrinsics, matches, match_ok, cfg.depth_prior_weight)
    sub = _grid(latest.valid.shape, cfg.pose_stride) & latest.valid
    shape = latest.valid.shape
    for _ in range(cfg.pose_rounds - 1):
        rho = fit.inverse_depth.reshape(shape)
        measured = latest.valid & (rho > 0) & (fit.parallax.reshape(shape) > 0.5)
        depth = np.where(measured, 1.0 / np.maximum(rho, 1e-12), latest.depth)
        # Gauge: the flow fixes depths and translations only up to one common scale; keep the model's.
        explained = fit.max_residual_px.reshape(shape) <= cfg.refine_inlier_px
        anchor = measured & explained
        gauge = float(np.median(latest.depth[anchor] / depth[anchor])) if anchor.sum() >= 12 else 1.0
        points = latest.rays * (depth * gauge)[..., None]
        for j in poses:
            start = RelativePose(poses[j].rotation, poses[j].translation * gauge, poses[j].inliers, poses[j].ok)
            sel = sub & match_ok[j]
            poses[j] = refine_pose_robust(points[sel], matches[j][sel], intrinsics[j], start, cfg.robust_scale_px)
        fit = fit_all(latest, poses, intrinsics, matches, match_ok, cfg.depth_prior_weight)
    return poses, fit
