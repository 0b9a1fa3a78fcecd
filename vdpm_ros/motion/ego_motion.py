"""Relative camera pose from flow correspondences and depth: PnP inside RANSAC (OpenCV).

The latest frame's pixels, lifted to 3D with the model's depth, are matched by optical flow to pixels of
an older frame; the camera motion is the rigid transform that projects the most of those points onto
their matches. RANSAC makes it robust to moving objects and bad matches, as long as the static scene
is the majority (an object that fills the view defeats it). PnP fixes the translation's scale by the
depth, so all older frames get poses in one scale, that of the latest frame's depth; unlike an
essential matrix it does not degenerate when the camera only rotates.
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
    def identity(n: int) -> "RelativePose":
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


def refine_relative_pose(points: np.ndarray, pixels: np.ndarray, intrinsics: np.ndarray, pose: RelativePose, min_points: int = 12) -> RelativePose:
    """Levenberg-Marquardt polish of ``pose`` on 3D-2D matches that are all trusted (no RANSAC).

    Args:
        points: ``[N, 3]`` points in camera L; pixels: ``[N, 2]`` their matches in image j; intrinsics: K of j.
        pose: the starting pose; returned unchanged with fewer than ``min_points`` matches.
    """
    if len(points) < min_points:
        return pose
    obj = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 1, 3)
    img = np.ascontiguousarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
    rvec = cv2.Rodrigues(np.ascontiguousarray(pose.rotation))[0]
    tvec = np.ascontiguousarray(pose.translation, dtype=np.float64).reshape(3, 1)
    try:
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, np.asarray(intrinsics, dtype=np.float64), None, rvec, tvec)
    except cv2.error:
        return pose
    return RelativePose(cv2.Rodrigues(rvec)[0], tvec.ravel(), pose.inliers, pose.ok)

