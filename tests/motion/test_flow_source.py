"""The flow source end to end on generated windows whose model outputs are the exact ground truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vdpm_ros.geometry import mean_distance, motion_mask
from vdpm_ros.model.outputs import DynamicPointMaps, PointMaps
from vdpm_ros.motion.config import FlowMotionConfig
from vdpm_ros.motion.flow_source import flow_dynamic_maps, flow_motion, required_frames
from vdpm_ros.motion.window_flow import LinkCache

TIMES = (0, 3, 4)


def _run(win, config=FlowMotionConfig(), **kw):
    return flow_motion(win.images, win.transforms, win.own, win.extrinsics, win.intrinsics_net, TIMES, 4, config, **kw)


def _pipeline_mask(maps: DynamicPointMaps) -> np.ndarray:
    """The processor's rule on the returned maps (network grid)."""
    now = maps.at(4, 4)[0][0]
    scale = mean_distance(now[torch.isfinite(now).all(-1)].reshape(-1, 3))
    moves = torch.stack([now - maps.at(t, 4)[0][0] for t in (0, 3)])
    return motion_mask(moves, scale).any(0).numpy()


def test_the_decoders_layout(moving_window):
    maps = flow_dynamic_maps(
        moving_window.images, moving_window.transforms, moving_window.own, moving_window.extrinsics, moving_window.intrinsics_net, TIMES, 4
    )
    h, w = moving_window.transforms[-1].net_hw
    assert isinstance(maps, DynamicPointMaps)
    assert maps.pts3d.shape == (1, 3, 1, h, w, 3) and maps.conf.shape == (1, 3, 1, h, w)
    assert maps.pts3d.dtype == torch.float32 and maps.conf.dtype == torch.float32
    assert maps.target_times == TIMES and maps.frames == (4,)
    assert (maps.conf >= 1.0).all()
    now, conf = maps.at(4, 4)
    own = moving_window.own.pts3d[0, 4]
    # P_L(t_L) is the model's own map; elsewhere only moving pixels differ from it.
    assert torch.equal(torch.nan_to_num(now[0], nan=-7.0), torch.nan_to_num(own, nan=-7.0))
    for t in (0, 3):
        pts, _ = maps.at(t, 4)
        changed = ~torch.isclose(torch.nan_to_num(pts[0], nan=-7.0), torch.nan_to_num(now[0], nan=-7.0)).all(-1)
        assert changed.any()


def test_static_scene_with_a_moving_camera_flags_under_two_percent(static_window):
    result = _run(static_window)
    final = _pipeline_mask(result.maps) & static_window.valid_net
    assert final.mean() < 0.02
    # Static pixels are exactly static (zero scene flow), not just below the threshold.
    now = result.maps.at(4, 4)[0][0]
    for t in (0, 3):
        flow = (result.maps.at(t, 4)[0][0] - now)[torch.from_numpy(~result.dynamic)]
        assert torch.nan_to_num(flow).abs().max() == 0.0


def test_moving_objects_are_flagged(moving_window):
    result = _run(moving_window)
    gt = moving_window.gt_moving()
    assert gt.mean() > 0.05
    final = _pipeline_mask(result.maps) & moving_window.valid_net
    iou = (final & gt).sum() / (final | gt).sum()
    assert iou > 0.5, iou


def test_exact_depth_and_cameras_give_the_scene_flow_of_moving_pixels(moving_window):
    win = moving_window
    result = _run(win, FlowMotionConfig(lift_depth="target"))
    gt = win.gt_moving() & result.dynamic
    L = win.size - 1
    errors, baseline = [], []
    for t in (0, 3):
        pred = (result.maps.at(t, L)[0][0] - result.maps.at(L, L)[0][0]).double().numpy()
        true = win.gt_net[t] - win.gt_net[L]
        errors.append(np.linalg.norm(pred[gt] - true[gt], axis=-1).mean())
        baseline.append(np.linalg.norm(true[gt], axis=-1).mean())
    assert np.mean(errors) < 0.3 * np.mean(baseline), (errors, baseline)


def test_matches_that_fail_the_forward_backward_check_lose_confidence(moving_window):
    win = moving_window
    # The oldest frame replaced by an unrelated image: no pixel of the latest frame has a true match there.
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, win.images[0].shape, dtype=np.uint8)] + win.images[1:]
    maps = flow_dynamic_maps(images, win.transforms, win.own, win.extrinsics, win.intrinsics_net, TIMES, 4)
    conf_now = maps.at(4, 4)[1][0]
    conf_first = maps.at(0, 4)[1][0]
    conf_prev = maps.at(3, 4)[1][0]
    valid = torch.from_numpy(win.valid_net)
    # Confidence above the floor of 1: nearly gone at t_0, kept where the previous frame still matches.
    assert (conf_first[valid] - 1.0).mean() < 0.2 * (conf_prev[valid] - 1.0).mean()
    assert (conf_prev[valid] - 1.0).mean() > 0.25 * (conf_now[valid] - 1.0).mean()


def test_streaming_with_a_link_cache_gives_the_same_result(moving_window):
    cache = LinkCache(16)
    plain = _run(moving_window).maps
    cached = _run(moving_window, keys=list(range(5)), cache=cache).maps
    again = _run(moving_window, keys=list(range(5)), cache=cache).maps
    assert len(cache) == 8
    assert torch.equal(torch.nan_to_num(plain.pts3d), torch.nan_to_num(cached.pts3d))
    assert torch.equal(torch.nan_to_num(cached.pts3d), torch.nan_to_num(again.pts3d))


def test_only_the_frames_it_needs_are_read(moving_window):
    win = moving_window
    assert required_frames(TIMES, 4) == (4,)
    assert required_frames(TIMES, 4, FlowMotionConfig(lift_depth="target")) == (0, 3, 4)
    latest_only = PointMaps(win.own.pts3d[:, 4:], win.own.conf[:, 4:], (4,), win.own.times[:, 4:])
    full = flow_dynamic_maps(win.images, win.transforms, win.own, win.extrinsics, win.intrinsics_net, TIMES, 4)
    part = flow_dynamic_maps(win.images, win.transforms, latest_only, win.extrinsics, win.intrinsics_net, TIMES, 4)
    assert torch.equal(torch.nan_to_num(full.pts3d), torch.nan_to_num(part.pts3d))
    with pytest.raises(ValueError, match="required_frames"):
        flow_dynamic_maps(
            win.images, win.transforms, latest_only, win.extrinsics, win.intrinsics_net, TIMES, 4, FlowMotionConfig(lift_depth="target")
        )


def test_bad_calls_are_refused(moving_window):
    win = moving_window
    args = (win.images, win.transforms, win.own, win.extrinsics, win.intrinsics_net)
    with pytest.raises(ValueError, match="latest"):
        flow_dynamic_maps(*args, TIMES, 3)
    with pytest.raises(ValueError, match="target_times"):
        flow_dynamic_maps(*args, (0, 7), 4)
    with pytest.raises(ValueError, match="one transform"):
        flow_dynamic_maps(win.images[1:], *args[1:], TIMES, 4)


def test_config_validation():
    with pytest.raises(ValueError, match="flow_width"):
        FlowMotionConfig(flow_width=8)
    with pytest.raises(ValueError, match="dis_preset"):
        FlowMotionConfig(dis_preset="slow")
    with pytest.raises(ValueError, match="lift_depth"):
        FlowMotionConfig(lift_depth="guess")
    with pytest.raises(ValueError, match="residual_votes"):
        FlowMotionConfig(residual_votes=0)
    with pytest.raises(ValueError, match="score_low"):
        FlowMotionConfig(score_low=1.5)
    with pytest.raises(ValueError, match="must be an int"):
        FlowMotionConfig(pose_rounds=True)
    assert dataclasses.replace(FlowMotionConfig(), motion_threshold=0.05).motion_threshold == 0.05


def test_unusable_intrinsics_are_replaced(moving_window):
    from vdpm_ros.motion.flow_source import usable_intrinsics

    k = moving_window.intrinsics_net.numpy().copy()
    k[1, 0, 0] = np.inf
    fixed = usable_intrinsics(k, (84, 112))
    assert np.isfinite(fixed).all() and np.allclose(fixed[1], np.median(k[[0, 2, 3, 4]], axis=0))
    nominal = usable_intrinsics(np.full((2, 3, 3), np.inf), (84, 112))
    assert np.allclose(nominal[0, 0, 0], 56.0 / np.tan(np.radians(30.0))) and nominal[0, 0, 2] == 55.5
    win = moving_window
    maps = flow_dynamic_maps(win.images, win.transforms, win.own, win.extrinsics, torch.full((5, 3, 3), float("inf")), TIMES, 4)
    assert torch.isfinite(maps.pts3d[torch.isfinite(win.own.pts3d[0, 4]).all(-1).expand(1, 3, 1, 84, 112)]).all()
