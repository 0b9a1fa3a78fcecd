"""The motion protocol's scoring, checked with sources whose answer is known (ground truth, no motion)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vdpm_ros.evaluation.motion_eval import MotionEvalConfig, evaluate_windows, flow_source, model_source, prepare_windows
from vdpm_ros.model import VDPM
from vdpm_ros.model.outputs import DynamicPointMaps
from vdpm_ros.synth import generate_sequence


@pytest.fixture(scope="module")
def windows(micro_config):
    torch.manual_seed(0)
    model = VDPM(micro_config).eval()
    cfg = MotionEvalConfig(camera_hw=(84, 112), frames=6, window_size=5)
    return prepare_windows(model, generate_sequence(1001, cfg.scene()), cfg)


def _ground_truth(window) -> DynamicPointMaps:
    pts = torch.from_numpy(np.stack([window.gt_net[t] for t in window.target_times])).float()[None, :, None]
    return DynamicPointMaps(pts, torch.ones(pts.shape[:-1]), window.target_times, (window.size - 1,))


def _no_motion(window) -> DynamicPointMaps:
    now = torch.from_numpy(window.gt_net[window.size - 1]).float()
    pts = now.expand(len(window.target_times), *now.shape)[None, :, None].clone()
    return DynamicPointMaps(pts, torch.ones(pts.shape[:-1]), window.target_times, (window.size - 1,))


def test_windows_hold_what_both_sources_need(windows):
    assert len(windows) == 2 and [w.start for w in windows] == [0, 1]
    w = windows[0]
    h, wd = w.transforms[-1].net_hw
    assert w.own.pts3d.shape == (1, 5, h, wd, 3) and w.extrinsics.shape == (5, 3, 4)
    assert w.decoded.target_times == (0, 3, 4) and w.gt_raw.shape == (3, 84, 112, 3)
    assert w.encode_s > 0 and w.own_s > 0 and w.decode_s > 0


def test_ground_truth_scores_perfectly_and_no_motion_scores_its_baseline(windows):
    truth = evaluate_windows(windows, _ground_truth).summary
    still = evaluate_windows(windows, _no_motion).summary
    assert truth["motion_iou"] > 0.9  # not 1: the network grid is coarser than the camera's
    assert truth["scene_flow_epe_dynamic"] < 1e-6
    assert still["motion_iou_pooled"] == 0.0 and still["flagged"] == 0.0
    assert still["scene_flow_epe_dynamic"] == pytest.approx(still["scene_flow_epe_dynamic_no_motion"])
    assert still["scene_flow_epe_dynamic_no_motion"] > 0.01


def test_both_sources_run_on_prepared_windows(windows):
    for source in (model_source, flow_source()):
        summary = evaluate_windows(windows, source).summary
        assert summary["windows"] == 2 and np.isfinite(summary["scene_flow_epe_dynamic"])


def test_protocol_validation():
    with pytest.raises(ValueError):
        MotionEvalConfig(window_size=1)
    with pytest.raises(ValueError):
        MotionEvalConfig(frames=3, window_size=5)
    scene = MotionEvalConfig(static_scene=True).scene()
    assert scene.deforming_objects == 0 and scene.static_object_prob == 1.0 and scene.cross_view_prob == 0.0


def test_exact_geometry_hands_the_sources_the_ground_truth(micro_config):
    torch.manual_seed(0)
    model = VDPM(micro_config).eval()
    cfg = MotionEvalConfig(camera_hw=(84, 112), frames=5, window_size=5, exact_geometry=True)
    (w,) = prepare_windows(model, generate_sequence(1001, cfg.scene()), cfg, decode=False)
    L = w.size - 1
    np.testing.assert_allclose(np.nan_to_num(w.own.pts3d[0, L].numpy()), np.nan_to_num(w.gt_net[L]), atol=1e-5)
    np.testing.assert_allclose(w.extrinsics[0].numpy(), np.eye(4)[:3], atol=1e-6)
    assert np.isfinite(w.intrinsics_net.numpy()).all()
