"""The objective no longer suppresses motion: each test fails on the earlier objective (shown in the test)."""

from __future__ import annotations

import pytest
import torch

from vdpm_ros.model import VDPM
from vdpm_ros.synth import SceneConfig
from vdpm_ros.train.data import make_batch
from vdpm_ros.train.loss import (
    LossConfig,
    confidence_regression,
    dpm_loss,
    motion_regression,
    scene_flow_regression,
    shortcut_met,
)


def _diverging_target(n: int = 200, moving: int = 20, m: float = 0.2):
    """``[1, 1, 1, n, 3]`` maps: ``n - moving`` static pixels, the moving ones split between two directions
    60 degrees either side of x (an object that stretches, or two objects): the mean flow is 0.5 m along x,
    the geometric median of the flows is 0."""
    gt_tv = torch.zeros(1, 1, 1, n, 3)
    gt_dyn = gt_tv.clone()
    c, s = 0.5, 3**0.5 / 2
    gt_dyn[0, 0, 0, : moving // 2] = torch.tensor([m * c, m * s, 0.0])
    gt_dyn[0, 0, 0, moving // 2 : moving] = torch.tensor([m * c, -m * s, 0.0])
    return gt_tv, gt_dyn, torch.ones(1, 1, 1, n, dtype=torch.bool)


def _best_constant(term, gt_tv, gt_dyn, valid) -> torch.Tensor:
    """The one displacement ``c`` that, predicted for every pixel, minimises ``term``."""
    c = torch.full((3,), 0.01, requires_grad=True)
    opt = torch.optim.Adam([c], lr=3e-3)
    for _ in range(3000):
        loss = term(gt_tv + c, gt_tv, gt_dyn, gt_tv, valid, 1e-3)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return c.detach()


def test_the_motion_minimiser_under_uncertainty_is_the_mean_flow_not_zero():
    gt_tv, gt_dyn, valid = _diverging_target()
    earlier = _best_constant(motion_regression, gt_tv, gt_dyn, valid)
    assert earlier.norm() < 0.01  # the unsquared norm: geometric median, no motion at all
    ours = _best_constant(scene_flow_regression, gt_tv, gt_dyn, valid)
    # weighted mean: static 180 x 1/200, moving 20 x (1/200 + 1/20); their mean flow is 0.1 along x
    expected = (20 * (1 / 200 + 1 / 20)) * 0.1 / (180 / 200 + 20 * (1 / 200 + 1 / 20))
    torch.testing.assert_close(ours, torch.tensor([expected, 0.0, 0.0]), atol=2e-3, rtol=0)


def test_predicting_no_motion_scores_one_on_the_moving_pixels_and_perfect_motion_zero():
    gt_tv, gt_dyn, valid = _diverging_target()
    share = 20 * 0.2**2 / 200 / 0.2**2  # mean squared motion over all valid pixels, relative
    none = scene_flow_regression(gt_tv, gt_tv, gt_dyn, gt_tv, valid, 1e-3)[0]
    torch.testing.assert_close(none, torch.tensor(1.0 + share))
    assert scene_flow_regression(gt_dyn + 3.0, gt_tv + 3.0, gt_dyn, gt_tv, valid, 1e-3)[0] < 1e-6
    # small motions are not drowned: the same scene with flows 100x smaller scores the same
    small = scene_flow_regression(gt_tv, gt_tv, gt_tv + (gt_dyn - gt_tv) / 100, gt_tv, valid, 1e-4, scale_floor=1e-4)[0]
    torch.testing.assert_close(small, none)


def test_lowering_a_moving_pixels_confidence_no_longer_lowers_its_weight():
    pred = torch.zeros(1, 1, 1, 5, 3, requires_grad=True)
    gt = torch.zeros(1, 1, 1, 5, 3)
    gt[0, 0, 0, 0, 0] = 1.0  # pixel 0 moved and is predicted static: error 1
    conf = torch.tensor([1.0, 9.0, 9.0, 9.0, 9.0]).view(1, 1, 1, 5).requires_grad_()
    valid = torch.ones(1, 1, 1, 5, dtype=torch.bool)
    moving = torch.zeros_like(valid)
    moving[0, 0, 0, 0] = True

    def grads(floor: float):
        loss = confidence_regression(pred, conf, gt, valid, 0.2, floor_mask=moving, floor=floor)[0]
        g_pred, g_conf = torch.autograd.grad(loss, (pred, conf))
        return loss.detach(), g_pred[0, 0, 0, 0].norm(), g_conf

    official_loss, official_weight, official_conf_grad = grads(0.0)
    ours_loss, ours_weight, ours_conf_grad = grads(1.0)
    torch.testing.assert_close(official_weight, torch.tensor(1.0 / 5))  # weight C = 1: traded away
    torch.testing.assert_close(ours_weight, torch.tensor((1.0 + 4 * 9.0) / 5 / 5))  # the mean confidence
    torch.testing.assert_close(ours_loss, official_loss)  # same value ...
    torch.testing.assert_close(ours_conf_grad, official_conf_grad)  # ... and the same confidence calibration


def test_moving_pixels_the_same_position_shortcut_meets_leave_the_emphasis():
    # S = 2, frame 0 is asked for time 1. Pixel 0 moves along its ray: frame 1 sees that very point at
    # pixel 0, so the shortcut (copy frame 1's own point at the same pixel) is right. Pixel 1 moves
    # sideways and frame 1 shows the background at pixel 1: the shortcut answers "no motion" there.
    gt_tv = torch.zeros(1, 2, 1, 2, 3)
    gt_tv[:, :, 0, :, 2] = 1.0
    gt_dyn = gt_tv.clone()
    gt_dyn[0, 0, 0, 0] = torch.tensor([0.0, 0.0, 1.2])  # pixel 0 of frame 0 at time 1
    gt_tv[0, 1, 0, 0] = gt_dyn[0, 0, 0, 0]  # ... is what frame 1 sees there
    gt_dyn[0, 1] = gt_tv[0, 1]  # frame 1 at its own time
    gt_dyn[0, 0, 0, 1] = torch.tensor([0.3, 0.0, 1.0])  # pixel 1 slides sideways
    times = torch.tensor([[1, 1]])
    valid = torch.ones(1, 2, 1, 2, dtype=torch.bool)
    met = shortcut_met(gt_tv, gt_dyn, times, 1e-3)
    assert met[0, 0, 0].tolist() == [True, False]
    moving = valid & ((gt_dyn - gt_tv).norm(dim=-1) > 1e-3)
    copy = torch.gather(gt_tv, 1, times.view(1, 2, 1, 1, 1).expand_as(gt_tv))  # the shortcut's prediction

    def score_on(pixels, pred_dyn):  # the motion term restricted to ``pixels``
        return scene_flow_regression(pred_dyn, gt_tv, gt_dyn, gt_tv, pixels, 1e-3)[0]

    ours = moving & ~met
    assert ours.sum() == 1
    torch.testing.assert_close(score_on(ours, copy), score_on(ours, gt_tv))  # copying earns nothing there
    assert score_on(moving, copy) < 0.9 * score_on(moving, gt_tv)  # over all moving pixels it paid


def test_weights_zero_give_the_official_objective(micro_config):
    torch.manual_seed(0)
    model = VDPM(micro_config)
    batch = make_batch(0, 1, SceneConfig(height=28, width=42, frames=3))
    out = model(batch.images, batch.frame_times)
    args = (out, batch.gt_time_variant, batch.gt_dynamic, batch.valid, batch.gt_pose_enc)
    official = dpm_loss(*args, LossConfig(motion_weight=0.0))
    torch.testing.assert_close(official.total, official.time_variant + official.dynamic + 5.0 * official.camera)
    ours = dpm_loss(*args, LossConfig())
    torch.testing.assert_close(ours.dynamic, official.dynamic)  # the floor changes gradients, not values
    assert ours.total > official.total  # the motion term is on

    def dynamic_gradient(config):
        out = model(batch.images, batch.frame_times)
        loss = dpm_loss(out, *args[1:], config).dynamic
        return torch.autograd.grad(loss, out.dynamic.pts3d)[0]

    torch.manual_seed(0)  # same forward twice: the gradients differ only through the confidence floor
    plain = dynamic_gradient(LossConfig(motion_weight=0.0, moving_confidence_floor=1.0))
    torch.testing.assert_close(plain, dynamic_gradient(LossConfig(motion_weight=0.0, moving_confidence_floor=0.0)))


def test_bad_loss_config():
    with pytest.raises(ValueError, match="motion_form"):
        LossConfig(motion_form="l1")
    with pytest.raises(ValueError, match="moving_confidence_floor"):
        LossConfig(moving_confidence_floor=2.0)
