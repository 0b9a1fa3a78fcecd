"""Pure maths: raw <-> network resampling and the derived quantities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vdpm_ros.geometry.poses import world_from_camera
from vdpm_ros.pipeline.derive import confidence_threshold, depth_scale, optical_flow, pixel_grid
from vdpm_ros.pipeline.resample import net_valid_mask, raw_sampling, sample_to_raw
from vdpm_ros.preprocessing import preprocess_frame


def _coords_map(tf) -> torch.Tensor:
    """[h, w, 2] map whose value at each network pixel is that pixel's raw-image coordinates."""
    h, w = tf.net_hw
    v, u = np.mgrid[0:h, 0:w]
    return torch.from_numpy(tf.net_to_raw_pixels(np.stack([u, v], -1).astype(np.float64)))


@pytest.mark.parametrize(
    "raw_hw, mode", [((140, 112), "crop"), ((84, 112), "pad"), ((112, 84), "pad"), ((90, 200), "crop"), ((400, 300), "crop")]
)
def test_nearest_reads_the_pixel_that_covers_each_raw_centre(raw_hw, mode):
    _, tf = preprocess_frame(np.zeros((*raw_hw, 3), np.uint8), mode, target=112)
    s = raw_sampling(tf, "nearest")
    out = sample_to_raw(_coords_map(tf), s)
    grid = pixel_grid(*raw_hw).double()
    sx, sy = tf.scale_xy
    err = (out - grid).abs()[s.valid]
    # The network pixel read covers the raw centre: its own centre is at most half a network pixel away.
    assert (err[:, 0] <= 0.5 / sx + 1e-9).all() and (err[:, 1] <= 0.5 / sy + 1e-9).all()
    top, bottom, left, right = tf.valid_region
    net_pts = torch.from_numpy(tf.raw_to_net_pixels(grid.numpy()))
    inside = (
        (net_pts[..., 1] >= top - 0.5)
        & (net_pts[..., 1] <= bottom - 0.5)
        & (net_pts[..., 0] >= left - 0.5)
        & (net_pts[..., 0] <= right - 0.5)
    )
    assert torch.equal(s.valid, inside)


def test_crop_marks_cropped_rows_invalid_and_pad_never_reads_padding():
    _, tf = preprocess_frame(np.zeros((140, 112, 3), np.uint8), "crop", target=112)
    valid = raw_sampling(tf).valid
    assert not valid[:14].any() and not valid[126:].any() and valid[14:126].all()
    _, tf = preprocess_frame(np.zeros((84, 112, 3), np.uint8), "pad", target=112)
    maps = torch.full((112, 112, 3), float("nan"))
    maps[14:98] = 1.0  # padding holds NaN: any read of it would show
    for mode in ("nearest", "bilinear"):
        s = raw_sampling(tf, mode)
        assert s.valid.all() and torch.isfinite(sample_to_raw(maps, s)).all()
    assert net_valid_mask(tf).sum() == 84 * 112 and not net_valid_mask(tf)[:14].any()


def test_bilinear_is_exact_on_affine_maps():
    _, tf = preprocess_frame(np.zeros((120, 160, 3), np.uint8), "crop", target=112)  # scale 0.7
    s = raw_sampling(tf, "bilinear")
    out = sample_to_raw(_coords_map(tf), s)
    grid = pixel_grid(120, 160).double()
    # Inside the border (no clamping) bilinear reproduces the affine raw-coordinate map exactly.
    np.testing.assert_allclose(out[2:-2, 2:-2].numpy(), grid[2:-2, 2:-2].numpy(), atol=1e-9)


def test_confidence_threshold_is_the_numpy_percentile(rng):
    conf = torch.from_numpy(rng.uniform(1, 5, size=(30, 40)).astype(np.float32))
    valid = torch.from_numpy(rng.uniform(size=(30, 40)) > 0.3)
    assert confidence_threshold(conf, valid, 50) == pytest.approx(np.percentile(conf.numpy()[valid.numpy()], 50), rel=1e-6)
    assert confidence_threshold(conf, valid, 0) == float("-inf")
    assert confidence_threshold(conf, torch.zeros_like(valid), 50) == float("-inf")


def test_depth_scale_is_a_robust_median():
    pred = torch.full((10, 10), 2.0)
    sensor = torch.full((10, 10), 5.0)
    sensor[0, :] = 1000.0  # a row of sensor outliers
    sensor[1, :] = float("nan")
    sensor[2, :] = 0.0
    mask = torch.ones(10, 10, dtype=torch.bool)
    factor, n = depth_scale(pred, sensor, mask, min_pixels=10)
    assert factor == pytest.approx(2.5) and n == 80
    assert depth_scale(pred, sensor, mask, min_pixels=81) == (None, 80)


def test_optical_flow_of_a_translating_camera():
    # Points at depth 2 in front of an identity camera; the other camera moved 0.1 along x (t = -C).
    H, W = 6, 8
    k = torch.tensor([[10.0, 0, 4], [0, 10.0, 3], [0, 0, 1]])
    grid = pixel_grid(H, W)
    rays = torch.stack([(grid[..., 0] - 4) / 10, (grid[..., 1] - 3) / 10, torch.ones(H, W)], -1)
    pts = 2.0 * rays
    ext = torch.tensor([[1.0, 0, 0, -0.1], [0, 1, 0, 0], [0, 0, 1, 0]])
    valid = torch.ones(H, W, dtype=torch.bool)
    valid[0, 0] = False
    flow = optical_flow(pts, ext, k, valid)
    assert torch.isnan(flow[0, 0]).all()
    np.testing.assert_allclose(flow[valid].numpy(), np.tile([-0.5, 0.0], (H * W - 1, 1)), atol=1e-5)  # 10 px * 0.1 / 2


def test_world_from_camera_inverts_extrinsics(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    ext = np.hstack([q, rng.normal(size=(3, 1))])
    pose = world_from_camera(ext)
    full = np.vstack([ext, [0, 0, 0, 1]])
    np.testing.assert_allclose(pose @ full, np.eye(4), atol=1e-12)
