"""Relative pose from 3D-2D and 2D-2D matches with outliers (synthetic cameras with known poses)."""

from __future__ import annotations

import cv2
import numpy as np

from vdpm_ros.motion.ego_motion import RelativePose, estimate_essential_pose, estimate_relative_pose, project, refine_pose_robust

K = np.array([[100.0, 0.0, 55.5], [0.0, 100.0, 41.5], [0.0, 0.0, 1.0]])


def _scene(seed: int = 0, n: int = 600, outliers: float = 0.3):
    rng = np.random.default_rng(seed)
    pix = rng.uniform([0, 0], [112, 84], (n, 2))
    depth = rng.uniform(2.0, 6.0, n)
    rays = np.concatenate([pix, np.ones((n, 1))], 1) @ np.linalg.inv(K).T
    points = rays * depth[:, None]
    rot = cv2.Rodrigues(np.array([0.02, -0.05, 0.01]))[0]
    trans = np.array([0.3, -0.05, 0.1])
    truth = RelativePose(rot, trans, np.ones(n, bool), True)
    matches, _ = project(truth.apply(points), K)
    bad = rng.random(n) < outliers  # moving points: matches displaced by several pixels
    matches[bad] += rng.uniform(-15, 15, (int(bad.sum()), 2))
    return pix, depth, points, matches, truth, bad


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(a @ b.T) - 1) / 2, -1, 1))))


def test_pnp_ransac_recovers_the_pose_despite_outliers():
    pix, depth, points, matches, truth, bad = _scene()
    pose = estimate_relative_pose(points, matches, K, threshold_px=1.0)
    assert pose.ok
    assert _angle(pose.rotation, truth.rotation) < 0.05
    np.testing.assert_allclose(pose.translation, truth.translation, atol=5e-3)
    assert pose.inliers[~bad].mean() > 0.95 and pose.inliers[bad].mean() < 0.1


def test_essential_matrix_recovers_rotation_and_direction_and_takes_the_scale_from_depth():
    pix, depth, points, matches, truth, bad = _scene(seed=1)
    pose = estimate_essential_pose(pix, matches, K, K, depth * 2.0, threshold_px=0.5)  # depth twice the truth
    assert pose.ok
    assert _angle(pose.rotation, truth.rotation) < 0.1
    direction = pose.translation / np.linalg.norm(pose.translation)
    assert np.dot(direction, truth.translation / np.linalg.norm(truth.translation)) > 0.999
    np.testing.assert_allclose(np.linalg.norm(pose.translation), 2.0 * np.linalg.norm(truth.translation), rtol=0.02)


def test_robust_polish_recovers_from_a_perturbed_pose_with_outliers():
    pix, depth, points, matches, truth, bad = _scene(seed=2)
    start = RelativePose(
        cv2.Rodrigues(np.array([0.04, -0.02, 0.0]))[0] @ truth.rotation, truth.translation + [0.05, 0.02, -0.03], truth.inliers, True
    )
    pose = refine_pose_robust(points, matches, K, start, scale_px=1.0, iterations=10)
    assert _angle(pose.rotation, truth.rotation) < 0.05
    np.testing.assert_allclose(pose.translation, truth.translation, atol=5e-3)


def test_too_few_matches_give_no_pose():
    pose = estimate_relative_pose(np.ones((5, 3)), np.ones((5, 2)), K, 1.0)
    assert not pose.ok and np.allclose(pose.rotation, np.eye(3))
    assert not estimate_essential_pose(np.ones((5, 2)), np.ones((5, 2)), K, K, np.ones(5), 0.5).ok


def test_apply_and_invert_apply_are_inverse():
    _, _, points, _, truth, _ = _scene(seed=3, n=10)
    np.testing.assert_allclose(truth.invert_apply(truth.apply(points)), points, atol=1e-12)
