"""Mask clean-up and the lifting of moving pixels to scene flow."""

from __future__ import annotations

import cv2
import numpy as np

from vdpm_ros.motion.ego_motion import RelativePose, project
from vdpm_ros.motion.lifting import extrapolate_in_time, fill_from_nearest, lift_least_motion, lift_with_target_depth
from vdpm_ros.motion.mask_cleanup import clean_mask, grow_into, hysteresis

K = np.array([[100.0, 0.0, 31.5], [0.0, 100.0, 23.5], [0.0, 0.0, 1.0]])


def test_clean_mask_drops_specks_and_fills_holes():
    mask = np.zeros((40, 40), bool)
    mask[5:25, 5:25] = True
    mask[12, 12] = False  # a pin hole
    mask[35, 35] = True  # a speck
    valid = np.ones_like(mask)
    out = clean_mask(mask, valid, open_px=0, close_px=1, min_component_px=10)
    assert out[12, 12] and not out[35, 35] and out[5:25, 5:25].all()
    assert not clean_mask(mask, np.zeros_like(mask)).any()  # never outside the valid pixels


def test_hysteresis_keeps_weak_pixels_connected_to_strong_ones():
    score = np.zeros((10, 10))
    score[2, 2:8] = [0.8, 0.8, 1.5, 0.8, 0.8, 0.8]
    score[7, 2:5] = 0.8  # weak and alone
    out = hysteresis(score, 0.5, 1.0, np.ones((10, 10), bool))
    assert out[2, 2:8].all() and not out[7].any()
    assert (hysteresis(score, 1.0, 1.0, np.ones((10, 10), bool)) == (score > 1.0)).all()


def test_growth_into_unknown_pixels_is_geodesic_and_limited():
    mask = np.zeros((1, 12), bool)
    mask[0, 0] = True
    allowed = np.ones((1, 12), bool)
    allowed[0, 6] = False
    grown = grow_into(mask, allowed, radius=3)
    assert grown[0, 1:4].all() and not grown[0, 4:].any() and not grown[0, 0]
    assert not grow_into(mask, allowed, radius=20)[0, 7:].any()  # cannot pass a pixel that is not allowed


def _two_views():
    h, w = 48, 64
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
    depth = np.full((h, w), 4.0)
    pose = RelativePose(cv2.Rodrigues(np.array([0.0, 0.03, 0.0]))[0], np.array([0.4, 0.0, 0.05]), np.ones(1, bool), True)
    return rays, depth, pose


def test_least_motion_gives_static_points_zero_motion():
    rays, depth, pose = _two_views()
    points = rays * depth[..., None]
    match, _ = project(pose.apply(points), K)
    ok = np.ones(depth.shape, bool)
    # Without the prior, a static point's rays meet, so the least motion is none whatever the model's depth.
    flows = lift_least_motion(rays, 1.5 * depth, {0: match}, {0: ok}, {0: K}, {0: pose}, prior_weight=0.0)
    assert np.abs(flows[0]).max() < 1e-6
    # With the prior, that holds where the model's depth is right.
    flows = lift_least_motion(rays, depth, {0: match}, {0: ok}, {0: K}, {0: pose}, prior_weight=0.1)
    assert np.abs(flows[0]).max() < 1e-6


def test_least_motion_is_never_worse_than_no_motion():
    rays, depth, pose = _two_views()
    rng = np.random.default_rng(0)
    points = rays * depth[..., None]
    motion = rng.normal(0.0, 0.1, points.shape)  # each point moved: at time t_0 it was at points + motion
    match, _ = project(pose.apply(points + motion), K)
    ok = np.ones(depth.shape, bool)
    flows = lift_least_motion(rays, depth, {0: match}, {0: ok}, {0: K}, {0: pose}, prior_weight=0.0)
    err = np.linalg.norm(flows[0] - motion, axis=-1)
    assert (err <= np.linalg.norm(motion, axis=-1) + 1e-9).all()
    assert err.mean() < 0.9 * np.linalg.norm(motion, axis=-1).mean()


def test_target_depth_lifting_is_exact_with_exact_depths():
    rays, depth, pose = _two_views()
    points = rays * depth[..., None]
    moving = np.zeros(depth.shape, bool)
    moving[10:30, 20:40] = True
    motion = np.where(moving[..., None], np.array([0.05, 0.1, -0.2]), 0.0)
    x_t = pose.apply(points + motion)  # where each point was at t, in camera t
    match, z_t = project(x_t, K)
    # The target frame's depth map, indexed by ITS pixels, nearest surface wins (a z-buffer).
    depth_t = np.full(depth.shape, np.inf)
    cols, rows = np.rint(match[..., 0]).astype(int), np.rint(match[..., 1]).astype(int)
    inside = (cols >= 0) & (cols < depth.shape[1]) & (rows >= 0) & (rows < depth.shape[0])
    np.minimum.at(depth_t, (rows[inside], cols[inside]), z_t[inside])
    flow = lift_with_target_depth(points, depth_t, match, inside, K, pose, ~moving, tolerance=0.3)
    # Where the read depth is this point's own (not an occluder's), the lifted flow is exact up to the
    # rounding of the match to a pixel when the depth is read.
    own = inside & np.isclose(depth_t[rows.clip(0, depth.shape[0] - 1), cols.clip(0, depth.shape[1] - 1)], z_t)
    sel = moving & own
    assert sel.sum() > 300
    assert np.linalg.norm(flow[sel] - motion[sel], axis=-1).max() < 1e-6
    # Static pixels (anchors of the depth scale) come out static.
    assert np.linalg.norm(flow[~moving & own], axis=-1).max() < 1e-6


def test_fill_from_nearest_and_extrapolation_in_time():
    values = np.zeros((5, 5, 3))
    values[0, 0] = 1.0
    have = np.zeros((5, 5), bool)
    have[0, 0] = True
    where = np.zeros((5, 5), bool)
    where[:2, :2] = True
    out = fill_from_nearest(values, have, where)
    assert (out[1, 1] == 1.0).all() and (out[4, 4] == 0.0).all()
    flows = {3: np.ones((2, 2, 3)), 0: np.full((2, 2, 3), np.nan)}
    np.testing.assert_allclose(extrapolate_in_time(flows, 0, 4), 4.0)  # 4 frames back at the speed of 1 per frame
