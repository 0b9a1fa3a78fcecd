"""The multi-view rigidity fit, texture weighting and the motion score."""

from __future__ import annotations

import cv2
import numpy as np

from vdpm_ros.motion.ego_motion import RelativePose, project
from vdpm_ros.motion.rigidity import fit_rigid_depth, motion_score, textured_residual

K = np.array([[100.0, 0.0, 55.5], [0.0, 100.0, 41.5], [0.0, 0.0, 1.0]])


def _poses(J: int = 3) -> list[RelativePose]:
    return [
        RelativePose(
            cv2.Rodrigues(np.array([0.0, 0.02 * (j + 1), 0.0]))[0], np.array([0.1 * (j + 1), 0.0, 0.02 * (j + 1)]), np.ones(1, bool), True
        )
        for j in range(J)
    ]


def _setup(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    pix = rng.uniform([0, 0], [112, 84], (n, 2))
    rays = np.concatenate([pix, np.ones((n, 1))], 1) @ np.linalg.inv(K).T
    depth = rng.uniform(2.0, 5.0, n)
    return rays, depth


def test_static_points_fit_with_zero_residual_and_their_true_depth():
    rays, depth = _setup()
    poses = _poses()
    points = rays * depth[:, None]
    matches = np.stack([project(p.apply(points), K)[0] for p in poses])
    # The prior (the "model's depth") is wrong by 40 %: the flow alone must fix the depth.
    fit = fit_rigid_depth(rays, 1.0 / (1.4 * depth), np.stack([p.rotation for p in poses]), np.stack([p.translation for p in poses]),
                          np.stack([K] * 3), matches, np.ones((3, len(depth)), bool), prior_weight=1e-6)  # fmt: skip
    assert np.nanmax(fit.residual_px) < 1e-3
    np.testing.assert_allclose(1.0 / fit.inverse_depth, depth, rtol=1e-3)
    assert fit.parallax.min() > 0.99


def test_a_moving_point_is_left_with_a_residual_and_invalid_matches_with_nan():
    rays, depth = _setup(n=50, seed=1)
    poses = _poses()
    points = rays * depth[:, None]
    matches = []
    for j, p in enumerate(poses):
        moved = points.copy()
        moved[:10] += np.array([0.0, 0.05, 0.0]) * (j + 1)  # these points moved down (across the epipolar lines)
        matches.append(project(p.apply(moved), K)[0])
    valid = np.ones((3, 50), bool)
    valid[1, 20] = False
    fit = fit_rigid_depth(rays, 1.0 / depth, np.stack([p.rotation for p in poses]), np.stack([p.translation for p in poses]),
                          np.stack([K] * 3), np.stack(matches), valid, prior_weight=1.0)  # fmt: skip
    worst = fit.max_residual_px
    assert worst[:10].min() > 1.0 and worst[10:].max() < 1e-3
    assert np.isnan(fit.residual_px[1, 20]) and np.isfinite(fit.residual_px[0, 20])


def test_pure_rotation_is_decided_by_the_prior_depth_and_still_tested():
    rays, depth = _setup(n=30, seed=2)
    rot = cv2.Rodrigues(np.array([0.0, 0.05, 0.0]))[0]
    matches, _ = project((rays * depth[:, None]) @ rot.T, K)
    fit = fit_rigid_depth(rays, 1.0 / depth, rot[None], np.zeros((1, 3)), K[None], matches[None], np.ones((1, 30), bool), 1.0)
    assert np.nanmax(fit.residual_px) < 1e-6
    np.testing.assert_allclose(fit.inverse_depth, 1.0 / depth, rtol=1e-9)  # no parallax: the prior's depth
    assert fit.parallax.max() < 1e-9


def test_texture_weighting_discounts_residuals_along_an_edge():
    tensor = np.array([1.0, 0.0, 0.0])  # the image varies along x only (a vertical edge)
    across = textured_residual(np.array([2.0, 0.0]), tensor, floor=0.0)
    along = textured_residual(np.array([0.0, 2.0]), tensor, floor=0.0)
    assert np.isclose(across, 2.0) and np.isclose(along, 0.0)
    corner = np.array([1.0, 0.0, 1.0])
    assert np.isclose(textured_residual(np.array([0.0, 2.0]), corner, floor=0.0), 2.0)
    assert textured_residual(np.array([2.0, 0.0]), tensor, floor=1.0) < 2.0  # weak texture counts less


def test_motion_score_needs_votes_from_several_frames():
    residual = np.array([[5.0, 5.0, np.nan], [0.1, 5.0, np.nan], [0.1, 5.0, 3.0]])[..., None]  # [J=3, N=3, 1]
    threshold = np.ones((3, 1))
    one = motion_score(residual, threshold, votes=1)[:, 0]
    two = motion_score(residual, threshold, votes=2)[:, 0]
    np.testing.assert_allclose(one, [5.0, 5.0, 3.0])
    # Pixel 0 exceeds in one frame only; pixel 2 has one valid frame, which then decides alone.
    np.testing.assert_allclose(two, [0.1, 5.0, 3.0])
    assert motion_score(np.full((2, 1), np.nan), np.ones(1), 2)[0] == 0.0
