"""Joint, robust refinement of the older frames' poses against the flow (depth eliminated per pixel).

PnP on the model's depth gives a first pose per frame, bent by the depth's errors. The rigidity test
needs poses under which static pixels are explained by *some* depth in all frames at once. So the
poses are refined to minimise, over a subsample of pixels, the robust (soft-L1) reprojection residual
left after the best inverse depth per pixel (closed form, :func:`~vdpm_ros.motion.rigidity.fit_rigid_depth`):
a structure-less bundle adjustment (variable projection). Moving pixels keep large residuals under
every pose; the robust loss keeps them from pulling. The overall scale is free in this cost (depths
and translations scale together); the weak depth prior of the fit keeps it near the model's.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.optimize import least_squares

from .ego_motion import RelativePose
from .rigidity import fit_rigid_depth


def refine_poses(
    rays: np.ndarray,
    prior_inverse_depth: np.ndarray,
    poses: dict[int, RelativePose],
    intrinsics: dict[int, np.ndarray],
    matches: dict[int, np.ndarray],
    valid: dict[int, np.ndarray],
    prior_weight: float,
    loss_scale_px: float = 0.5,
    max_evaluations: int = 400,
) -> dict[int, RelativePose]:
    """Refined poses of the frames in ``poses`` (camera j from camera L).

    Args:
        rays: ``[N, 3]`` rays of the latest frame's pixels (z = 1), already subsampled.
        prior_inverse_depth: ``[N]`` the model's inverse depth.
        poses: {j: starting pose}.
        intrinsics: {j: K}; matches: {j: ``[N, 2]``}; valid: {j: ``[N]`` bool}.
        prior_weight: the depth prior of the fit (px^2 per unit of relative inverse-depth error).
        loss_scale_px: residual (pixels) where the soft-L1 loss turns from quadratic to linear.
        max_evaluations: cap on cost evaluations (the Jacobian is numeric).
    """
    frames = sorted(poses)
    rot = np.stack([poses[j].rotation for j in frames])
    k = np.stack([intrinsics[j] for j in frames])
    m = np.stack([matches[j] for j in frames])
    ok = np.stack([valid[j] for j in frames])
    if ok.sum() < 30:
        return poses
    x0 = np.concatenate([np.concatenate([cv2.Rodrigues(r)[0].ravel(), poses[j].translation]) for r, j in zip(rot, frames)])
    scale0 = float(np.linalg.norm(x0.reshape(-1, 6)[:, 3:])) or 1.0

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = x.reshape(-1, 6)
        return np.stack([cv2.Rodrigues(v)[0] for v in p[:, :3]]), p[:, 3:]

    def residuals(x: np.ndarray) -> np.ndarray:
        r, t = unpack(x)
        fit = fit_rigid_depth(rays, prior_inverse_depth, r, t, k, m, ok, prior_weight)
        res = np.where(ok, fit.residual_px, 0.0)
        return np.nan_to_num(res, nan=0.0, posinf=50.0).ravel()

    try:
        sol = least_squares(residuals, x0, loss="soft_l1", f_scale=loss_scale_px, max_nfev=max_evaluations, x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return poses
    r, t = unpack(sol.x)
    # The cost does not fix the scale (only the weak prior does): keep the starting poses' length scale.
    t = t * (scale0 / (float(np.linalg.norm(t)) or 1.0))
    return {j: RelativePose(r[i], t[i], poses[j].inliers, poses[j].ok) for i, j in enumerate(frames)}
