"""Is a pixel's flow explained by the camera's motion? Multi-view rigidity residuals.

A static point seen at pixel u of the latest frame L lies on the ray ``r = K_L^-1 (u, 1)`` at some
inverse depth rho. In an older frame j, with camera j from camera L ``(R_j, t_j)``, it projects to

    u_j(rho) = pi(K_j (R_j r + rho t_j)),

and the flow must land there for *every* j with the *same* rho. That is the rigidity test:

1. Fit rho per pixel to the flow matches of all frames. Writing ``a = K_j R_j r`` and ``b = K_j t_j``,
   ``u_j(rho) = u'`` is linear in rho: ``(a_1 - u' a_3) + rho (b_1 - u' b_3) = 0`` and the same in v. The
   least-squares rho over all frames is closed form; a weak prior towards the model's inverse depth
   (weight ``prior_weight``, in px^2 per unit of relative inverse depth) fixes rho where the camera only
   rotates (no parallax, rho unobservable).
2. The residual ``|u_j(rho) - u'_j|`` (pixels) of each frame is the flow the camera cannot explain:
   motion across the epipolar lines, or motion that no single depth fits across the window.
3. Motion along the epipolar lines at a constant rate fits a wrong depth perfectly (a point moving with
   the camera looks far away). The fitted depth disagreeing with the model's depth, where the parallax
   is strong enough to measure it, is the second cue.

Nothing here needs the model's depth to be accurate: only the camera poses (estimated from the flow
itself, see :mod:`.ego_motion`) and, weakly, the depth prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RigidityFit:
    """Per-pixel result of the rigidity test over N pixels and the window's J older frames.

    Attributes:
        inverse_depth: ``[N]`` fitted inverse depth along the latest frame's rays (units of the poses).
        residual_px: ``[J, N]`` reprojection residual of each frame's match at that depth (NaN where the
            match is not valid).
        parallax: ``[N]`` fraction of the fit's information that came from the flow (0 = depth from the
            prior alone, 1 = from the matches alone).
        residual_vector: ``[J, N, 2]`` the residual as a vector (observed match minus the rigid one), pixels.
    """

    inverse_depth: np.ndarray
    residual_px: np.ndarray
    parallax: np.ndarray
    residual_vector: np.ndarray

    @property
    def max_residual_px(self) -> np.ndarray:
        """``[N]`` the worst frame's residual (NaN where no frame had a valid match)."""
        out = np.full(self.residual_px.shape[1], np.nan)
        ok = np.isfinite(self.residual_px).any(0)
        out[ok] = np.nanmax(self.residual_px[:, ok], axis=0)
        return out


def fit_rigid_depth(
    rays: np.ndarray,
    prior_inverse_depth: np.ndarray,
    rotations: np.ndarray,
    translations: np.ndarray,
    intrinsics: np.ndarray,
    matches: np.ndarray,
    valid: np.ndarray,
    prior_weight: float,
) -> RigidityFit:
    """Fit one inverse depth per pixel to its matches in J frames and measure what is left.

    Args:
        rays: ``[N, 3]`` rays of the latest frame's pixels, ``K_L^-1 (u, v, 1)`` (z = 1).
        prior_inverse_depth: ``[N]`` the model's inverse depth (> 0).
        rotations: ``[J, 3, 3]``, translations ``[J, 3]``: camera j from camera L.
        intrinsics: ``[J, 3, 3]`` K of each frame j.
        matches: ``[J, N, 2]`` where the flow puts each pixel in frame j (pixels of K_j).
        valid: ``[J, N]`` bool, the match is trusted.
        prior_weight: weight of the prior, px^2 per unit of (rho / rho_prior - 1)^2.
    """
    J, N = valid.shape
    a = rays[None] @ np.swapaxes(intrinsics @ rotations, 1, 2)  # [J, N, 3]: K_j R_j r
    b = (intrinsics @ translations[..., None])[..., 0][:, None, :]  # [J, 1, 3]: K_j t_j
    u, v = matches[..., 0], matches[..., 1]
    alpha = np.stack([a[..., 0] - u * a[..., 2], a[..., 1] - v * a[..., 2]], -1)  # [J, N, 2]
    beta = np.stack([b[..., 0] - u * b[..., 2], b[..., 1] - v * b[..., 2]], -1)
    w = valid[..., None].astype(np.float64)
    alpha0 = np.where(valid[..., None], alpha, 0.0)
    beta0 = np.where(valid[..., None], beta, 0.0)
    rho0 = np.maximum(prior_inverse_depth, 1e-9)
    # Prior in relative inverse depth: lam * ((rho - rho0) / rho0)^2 = (lam / rho0^2) (rho - rho0)^2.
    lam = prior_weight / rho0**2
    info = (w * beta0**2).sum((0, 2))
    rho = (-(w * alpha0 * beta0).sum((0, 2)) + lam * rho0) / (info + lam)
    rho = np.maximum(rho, 0.0)  # a point behind the camera is no explanation; at infinity is the limit
    x = a + rho[None, :, None] * b  # [J, N, 3] the point in camera j, times rho
    with np.errstate(divide="ignore", invalid="ignore"):
        proj = x[..., :2] / x[..., 2:3]
        vector = matches - proj
        residual = np.linalg.norm(vector, axis=-1)
    residual = np.where(valid & (x[..., 2] > 0), residual, np.where(valid, np.inf, np.nan))
    return RigidityFit(rho, residual, info / (info + lam), vector)


def depth_disagreement(fit: RigidityFit, prior_inverse_depth: np.ndarray) -> np.ndarray:
    """``[N]`` |log(fitted depth / model depth)|: how far the flow's depth is from the model's."""
    with np.errstate(divide="ignore"):
        return np.abs(np.log(np.maximum(fit.inverse_depth, 1e-12) / np.maximum(prior_inverse_depth, 1e-12)))


def textured_residual(vector: np.ndarray, tensor: np.ndarray, floor: float) -> np.ndarray:
    """Residual length ``[...]`` counting only what the image texture lets the flow measure.

    Where the image varies in one direction only (an edge, stripes) the flow along the edge is a guess
    (the aperture problem); in flat regions it is a guess in every direction. With the local structure
    tensor ``T`` (``tensor [..., 3]`` = (Ixx, Ixy, Iyy), smoothed) normalised by its larger eigenvalue plus
    ``floor``, the residual r counts as ``sqrt(r^T T_hat r)``: in full along well-textured directions, less
    along weakly textured ones.

    Args:
        vector: ``[..., 2]`` residual vectors (pixels).
        tensor: ``[..., 3]`` structure tensor entries, broadcast against ``vector``.
        floor: added to the larger eigenvalue (same units as the tensor); sets what "weak texture" is.
    """
    a, b, c = tensor[..., 0], tensor[..., 1], tensor[..., 2]
    lam_max = 0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b**2)
    norm = lam_max + floor
    x, y = vector[..., 0], vector[..., 1]
    q = (a * x * x + 2 * b * x * y + c * y * y) / norm
    return np.sqrt(np.maximum(q, 0.0))


def motion_score(residual: np.ndarray, threshold: np.ndarray, votes: int) -> np.ndarray:
    """How strongly each pixel moves: ``[...]``, above 1 = moving.

    The ``votes``-th largest of ``residual [J, ...] / threshold [...]`` over the frames with a valid match
    (NaN = none); the smallest of them where fewer frames have one; 0 where none has. With ``votes=2`` one
    frame whose flow went wrong cannot flag a pixel alone, while a moving point's residual grows with the
    time gap, so it exceeds the threshold in several frames.
    """
    ratio = np.where(np.isnan(residual), -np.inf, residual / threshold[None])
    ordered = -np.sort(-ratio, axis=0)  # descending; frames without a match last
    count = (~np.isnan(residual)).sum(0)
    k = np.clip(np.minimum(votes, count) - 1, 0, residual.shape[0] - 1)
    score = np.take_along_axis(ordered, k[None], axis=0)[0]
    return np.where(count > 0, score, 0.0)
