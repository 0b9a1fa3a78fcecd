"""Relative camera pose from flow correspondences (OpenCV): PnP or essential matrix in RANSAC, robust polish.

The latest frame's pixels are matched by optical flow to pixels of an older frame. RANSAC keeps the
pose that most matches agree with, so moving objects and bad matches do not pull it, as long as the
static scene is the majority (an object that fills the view defeats it).

- :func:`estimate_relative_pose`: PnP on the pixels lifted with the model's depth. The depth fixes the
  translation's scale, and it does not degenerate when the camera only rotates; but a rough depth can
  trade rotation for translation.
- :func:`estimate_essential_pose`: the essential matrix needs no depth (the depth only scales the
  translation afterwards), but degenerates without translation.
- :func:`refine_pose_robust`: Gauss-Newton with Cauchy weights on every match.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class RelativePose:
    """Camera j from camera L: ``x_j = rotation @ x_L + translation``.

    Attributes:
        rotation: ``[3, 3]`` float64.
        translation: ``[3]`` float64, in the units of the depth it was estimated with.
        inliers: ``[N]`` bool over the correspondences it was estimated from.
        ok: False when RANSAC found no pose (then the pose is the identity and no correspondence is an inlier).
    """

    rotation: np.ndarray
    translation: np.ndarray
    inliers: np.ndarray
    ok: bool

    @staticmethod
    def identity(n: int) -> RelativePose:
        return RelativePose(np.eye(3), np.zeros(3), np.zeros(n, dtype=bool), False)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Points ``[..., 3]`` in camera L -> camera j."""
        return points @ self.rotation.T + self.translation

    def invert_apply(self, points: np.ndarray) -> np.ndarray:
        """Points ``[..., 3]`` in camera j -> camera L."""
        return (points - self.translation) @ self.rotation


def project(points: np.ndarray, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera points ``[..., 3]`` -> pixels ``[..., 2]`` and depth ``[...]`` (pinhole ``K [3, 3]``, zero skew)."""
    z = points[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = intrinsics[0, 0] * points[..., 0] / z + intrinsics[0, 2]
        v = intrinsics[1, 1] * points[..., 1] / z + intrinsics[1, 2]
    return np.stack([u, v], axis=-1), z


def estimate_relative_pose(
    points: np.ndarray,
    pixels: np.ndarray,
    intrinsics: np.ndarray,
    threshold_px: float,
    iterations: int = 200,
    min_inliers: int = 12,
    seed: int = 0,
) -> RelativePose:
    """Pose of camera j relative to camera L from 3D-2D matches.

    Args:
        points: ``[N, 3]`` points in camera L (the latest frame's pixels at the model's depth).
        pixels: ``[N, 2]`` their matches in image j (pixels of j's intrinsics).
        intrinsics: ``[3, 3]`` K of camera j.
        threshold_px: RANSAC inlier threshold (reprojection error, pixels).
        iterations: RANSAC iterations.
        min_inliers: fewest inliers for a pose to count as found.
        seed: OpenCV's RNG seed, so that a window always gives the same pose.
    """
    n = len(points)
    if n < max(6, min_inliers):
        return RelativePose.identity(n)
    obj = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 1, 3)
    img = np.ascontiguousarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
    k = np.asarray(intrinsics, dtype=np.float64)
    cv2.setRNGSeed(seed)
    try:
        found, rvec, tvec, idx = cv2.solvePnPRansac(
            obj, img, k, None, iterationsCount=iterations, reprojectionError=float(threshold_px), confidence=0.999, flags=cv2.SOLVEPNP_EPNP
        )
    except cv2.error:
        return RelativePose.identity(n)
    if not found or idx is None or len(idx) < min_inliers:
        return RelativePose.identity(n)
    inl = np.zeros(n, dtype=bool)
    inl[idx.ravel()] = True
    # Polish on the inliers (Levenberg-Marquardt on the reprojection error), then take the inliers again.
    rvec, tvec = cv2.solvePnPRefineLM(obj[inl], img[inl], k, None, rvec, tvec)
    rot = cv2.Rodrigues(rvec)[0]
    pose = RelativePose(rot, tvec.ravel(), inl, True)
    uv, z = project(pose.apply(points), k)
    err = np.linalg.norm(uv - pixels, axis=-1)
    inl = (z > 0) & (err <= threshold_px)
    if inl.sum() < min_inliers:
        return RelativePose.identity(n)
    return RelativePose(rot, tvec.ravel(), inl, True)


def _hat(v: np.ndarray) -> np.ndarray:
    """``[N, 3]`` -> ``[N, 3, 3]`` cross-product matrices."""
    z = np.zeros(len(v))
    return np.stack([np.stack([z, -v[:, 2], v[:, 1]], -1), np.stack([v[:, 2], z, -v[:, 0]], -1), np.stack([-v[:, 1], v[:, 0], z], -1)], 1)


def refine_pose_robust(
    points: np.ndarray,
    pixels: np.ndarray,
    intrinsics: np.ndarray,
    pose: RelativePose,
    scale_px: float = 1.0,
    iterations: int = 5,
    min_points: int = 12,
) -> RelativePose:
    """Gauss-Newton on the reprojection error with Cauchy weights (iteratively reweighted least squares).

    Unlike a plain least-squares polish on pre-selected inliers, every match takes part with a weight
    ``1 / (1 + (r / scale_px)^2)`` that falls with its current residual r, so regions the starting pose
    explains badly are pulled in as the pose improves, while moving objects (large residuals under
    every good pose) keep small weights.

    Args:
        points: ``[N, 3]`` points in camera L; pixels: ``[N, 2]`` matches in j; intrinsics: K of j.
        pose: the starting pose (camera j from camera L).
        scale_px: the Cauchy scale (pixels).
        iterations: Gauss-Newton steps.
    """
    ok = np.isfinite(points).all(1) & np.isfinite(pixels).all(1)
    points, pixels = points[ok], pixels[ok]
    if len(points) < min_points:
        return pose
    fx, fy = intrinsics[0, 0], intrinsics[1, 1]
    rot, trans = pose.rotation.copy(), pose.translation.copy()
    for _ in range(iterations):
        y = points @ rot.T + trans
        z = y[:, 2]
        front = z > 1e-9
        if front.sum() < min_points:
            return pose
        uv, _ = project(y, intrinsics)
        r = np.where(front[:, None], uv - pixels, 0.0)
        w = np.where(front, 1.0 / (1.0 + (np.linalg.norm(r, axis=1) / scale_px) ** 2), 0.0)
        zs = np.where(front, z, 1.0)
        du_dy = np.zeros((len(y), 2, 3))
        du_dy[:, 0, 0] = fx / zs
        du_dy[:, 0, 2] = -fx * y[:, 0] / zs**2
        du_dy[:, 1, 1] = fy / zs
        du_dy[:, 1, 2] = -fy * y[:, 1] / zs**2
        jac = np.concatenate([np.matmul(du_dy, -_hat(y)), du_dy], axis=2)  # [N, 2, 6]: (omega, tau) of Y' = exp(omega) Y + tau
        jw = (jac * w[:, None, None]).reshape(-1, 6)
        h = jw.T @ jac.reshape(-1, 6)
        g = jw.T @ r.reshape(-1)
        try:
            step = -np.linalg.solve(h + 1e-6 * np.trace(h) / 6 * np.eye(6), g)
        except np.linalg.LinAlgError:
            return pose
        d_rot = cv2.Rodrigues(step[:3])[0]
        rot = d_rot @ rot
        trans = d_rot @ trans + step[3:]
    return RelativePose(rot, trans, pose.inliers, pose.ok)


def estimate_essential_pose(
    pixels_l: np.ndarray,
    pixels_j: np.ndarray,
    intrinsics_l: np.ndarray,
    intrinsics_j: np.ndarray,
    depth_l: np.ndarray,
    threshold_px: float,
    min_inliers: int = 12,
    seed: int = 0,
) -> RelativePose:
    """Pose of camera j relative to camera L from 2D-2D matches (essential matrix in RANSAC), scaled by depth.

    The essential matrix needs no depth, so the model's depth errors cannot trade the rotation against
    the translation (which PnP on a rough depth can); the depth only sets the translation's length
    (median ratio of the model's depth to the depth the pose triangulates). It degenerates when the
    camera barely translates, where PnP (:func:`estimate_relative_pose`) is the one to use.

    Args:
        pixels_l: ``[N, 2]`` pixels of L; pixels_j: ``[N, 2]`` their matches in j.
        intrinsics_l, intrinsics_j: ``[3, 3]`` K of each camera.
        depth_l: ``[N]`` the model's depth of the L pixels (sets the scale).
        threshold_px: RANSAC threshold (pixels of j).
    """
    n = len(pixels_l)
    if n < max(8, min_inliers):
        return RelativePose.identity(n)

    def normalised(px: np.ndarray, k: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((np.concatenate([px, np.ones((len(px), 1))], 1) @ np.linalg.inv(k).T)[:, :2], dtype=np.float64)

    a, b = normalised(pixels_l, intrinsics_l), normalised(pixels_j, intrinsics_j)
    focal = 0.5 * (intrinsics_j[0, 0] + intrinsics_j[1, 1])
    cv2.setRNGSeed(seed)
    try:
        e, mask = cv2.findEssentialMat(a, b, np.eye(3), method=cv2.RANSAC, prob=0.999, threshold=threshold_px / focal)
        if e is None or e.shape != (3, 3):
            return RelativePose.identity(n)
        count, rot, t, mask = cv2.recoverPose(e, a, b, np.eye(3), mask=mask)
    except cv2.error:
        return RelativePose.identity(n)
    inl = mask.ravel() > 0
    if count < min_inliers:
        return RelativePose.identity(n)
    t = t.ravel()
    # Inverse depth of each inlier along L's ray for a unit translation (the linear form of rigidity.py).
    rr = np.concatenate([a, np.ones((n, 1))], 1) @ rot.T
    alpha = np.stack([rr[:, 0] - b[:, 0] * rr[:, 2], rr[:, 1] - b[:, 1] * rr[:, 2]], 1)
    beta = np.stack([t[0] - b[:, 0] * t[2], t[1] - b[:, 1] * t[2]], 1)
    rho = -(alpha * beta).sum(1) / np.maximum((beta * beta).sum(1), 1e-12)
    use = inl & (rho > 1e-9) & np.isfinite(depth_l) & (depth_l > 0)
    if use.sum() < min_inliers:
        return RelativePose.identity(n)
    return RelativePose(rot, t * float(np.median(depth_l[use] * rho[use])), inl, True)
