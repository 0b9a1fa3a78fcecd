"""The DPM training objective (confidence-calibrated regression with scale normalisation), VGGT's camera loss,
and the terms of ours that keep a model from learning to ignore motion.

Why the plain objective suppresses motion, and what each of our changes does about it. ``motion_weight = 0``
(``vdpm train --motion-weight 0``) turns all of them off and gives back the official objective:

1. A norm, not its square. ``|| P_hat - P ||`` is minimised, for a pixel the model cannot yet tell
   moving from static, by the geometric median of the possible targets. While most of the mass is static
   that median is "no motion" exactly, so the uncertain model is pushed to predict none, and no gradient
   ever points towards the moving answer. :func:`scene_flow_regression` scores the displacement
   ``P_i(t) - P_i(t_i)`` with its SQUARED error, whose minimiser is the mean: any probability of motion
   moves the answer towards it. It is divided by the mean squared true motion of the emphasised pixels,
   so 1.0 on those pixels is exactly "predicting no motion" (the yardstick motion is judged by), and the
   term does not vanish for small motions (a squared error of 0.05-unit flows is ~1e-3).
2. Confidence. At its optimum ``C = alpha / e`` the calibrated term ``C e - alpha log C`` is
   ``alpha log e`` up to constants: a pixel with a large error (a moving one predicted static) gets a
   gradient ~1/e, so the model trades its moving pixels for easy static ones by lowering their confidence.
   The motion term carries no confidence at all, and :func:`confidence_regression` with a ``floor_mask``
   keeps the weight of the moving pixels' errors at least at the example's mean confidence (the loss value
   and the confidence's own gradient stay the official ones).
3. The same-position shortcut. Every frame has the same RoPE positions, so the decoder can answer
   "where is frame i's pixel u at time j" by reading frame j at the same pixel u. Where that happens to
   be right (the point seen at u in frame j is this point at time j) the supervision rewards the
   shortcut instead of a correspondence. The motion term's emphasis therefore goes only to moving pixels
   the shortcut gets wrong (:func:`shortcut_met`). (The data side could break the shortcut for good with
   per-frame crop offsets; that is outside the loss.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..model.outputs import ForwardOutput


@dataclass(frozen=True)
class LossConfig:
    #: Weight of the ``-log C`` term: larger keeps confidences closer to 1.
    conf_alpha: float = 0.2
    time_variant_weight: float = 1.0
    dynamic_weight: float = 1.0
    #: VGGT / V-DPM weigh the camera loss by 5.
    camera_weight: float = 5.0
    #: Earlier camera refinement iterations count less: weight ``decay ** (K - 1 - k)``.
    camera_iteration_decay: float = 0.6
    #: Weight of the motion term (ours, not in the official objective). Moving pixels are a few percent
    #: of a scene, so the plain point-map loss barely rewards using the target time: a small model
    #: trained without this term learns to ignore it. 0 gives the official objective.
    motion_weight: float = 1.0
    #: Displacements below this (normalised units) count as static when choosing the moving pixels.
    motion_epsilon: float = 1e-3
    #: "relative_squared" (see the module docstring, point 1) or "l2", the earlier unsquared norm.
    motion_form: str = "relative_squared"
    #: The relative motion error divides by max(mean squared true motion, floor**2): in an example where
    #: nothing moves, a spurious displacement of ``floor`` costs as much as missing all motion elsewhere.
    motion_scale_floor: float = 0.01
    #: Leave moving pixels the same-position shortcut gets right out of the motion term's emphasis (point 3).
    exclude_shortcut: bool = True
    #: How much the moving pixels' error weight in the dynamic regression is raised towards the example's
    #: mean confidence (point 2): 1 floors it there, 0 gives the official weighting. It belongs to the
    #: motion terms: ``motion_weight = 0`` turns it off too, so that weight alone gives the official objective.
    moving_confidence_floor: float = 1.0
    #: Weight of the time-token term (ours, see :func:`time_token_shortfall`). The decoder can only tell
    #: target times apart through these tokens; trained from scratch they start, and stay, almost
    #: identical across frames. 0 gives the official objective.
    time_token_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.motion_form not in ("relative_squared", "l2"):
            raise ValueError(f"motion_form must be relative_squared or l2, got {self.motion_form!r}")
        if self.motion_scale_floor <= 0 or self.motion_epsilon < 0:
            raise ValueError("motion_scale_floor must be > 0 and motion_epsilon >= 0")
        if not 0.0 <= self.moving_confidence_floor <= 1.0:
            raise ValueError(f"moving_confidence_floor must lie in [0, 1], got {self.moving_confidence_floor}")


@dataclass
class LossTerms:
    total: Tensor
    time_variant: Tensor
    dynamic: Tensor
    camera: Tensor
    motion: Tensor
    time_tokens: Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in vars(self).items()}


def confidence_regression(
    pred: Tensor, conf: Tensor, gt: Tensor, valid: Tensor, alpha: float, floor_mask: Tensor | None = None, floor: float = 1.0
) -> Tensor:
    """``C * |P_hat - P| - alpha * log C`` averaged over each example's valid pixels -> ``[B]``.

    Averaging within an example first keeps scenes with many valid pixels from dominating the batch.

    With ``floor_mask`` (the moving pixels), the error of a masked pixel is weighted, in the gradient
    that reaches the points, by ``C + floor * relu(mean C - C)`` (``mean C`` over the example's valid
    pixels, detached) instead of ``C``: the model can no longer make a moving pixel count less than
    an average one by lowering its confidence. The loss VALUE and the gradient reaching ``C`` are the
    official ones, so the confidence stays calibrated the same way.

    Args:
        pred, gt: ``[B, S, H, W, 3]``; conf: ``[B, S, H, W]``; valid, floor_mask: ``[B, S, H, W]`` bool.
    """
    err = (pred - gt).norm(dim=-1)
    per_pixel = conf * err - alpha * conf.log()
    weights = valid.to(per_pixel.dtype)
    if floor_mask is not None and floor > 0:
        c = conf.detach()
        mean_c = (c * weights).flatten(1).sum(1) / weights.flatten(1).sum(1).clamp_min(1.0)
        raised = floor * torch.relu(mean_c.view(-1, *([1] * (c.ndim - 1))) - c) * floor_mask.to(c.dtype)
        # Adds raised * e to the points' gradient and nothing to the value (e - sg(e) == 0).
        per_pixel = per_pixel + raised * (err - err.detach())
    return (per_pixel * weights).flatten(1).sum(1) / weights.flatten(1).sum(1).clamp_min(1.0)


def camera_loss(pose_iterations: Tensor, gt_pose_enc: Tensor, decay: float) -> Tensor:
    """L1 on translation, quaternion and FoV of every refinement iteration ``[K, B, S, 9]`` vs ``[B, S, 9]``."""
    K = pose_iterations.shape[0]
    weights = torch.tensor([decay ** (K - 1 - k) for k in range(K)], device=pose_iterations.device)
    err = (pose_iterations - gt_pose_enc[None]).abs()
    per_iter = err[..., :3].mean((1, 2, 3)) + err[..., 3:7].mean((1, 2, 3)) + err[..., 7:].mean((1, 2, 3))
    return (weights * per_iter).sum() / weights.sum()


def motion_regression(
    pred_dynamic: Tensor, pred_time_variant: Tensor, gt_dynamic: Tensor, gt_time_variant: Tensor, valid: Tensor, epsilon: float
) -> Tensor:
    """Unsquared error of the predicted motion ``P_i(t) - P_i(t_i)``: mean over valid pixels plus mean over moving ones -> ``[B]``.

    The second mean gives moving pixels as much weight as the whole static scene, whatever their share.
    This was our first motion term (``LossConfig.motion_form="l2"``); being a norm, its minimiser for a
    pixel of uncertain motion is the geometric median of the possible flows, which is zero while most of
    them are static (see the module docstring). :func:`scene_flow_regression` replaces it.

    Args:
        pred_*, gt_*: ``[B, S, H, W, 3]``; valid: ``[B, S, H, W]`` bool.
    """
    gt_motion = gt_dynamic - gt_time_variant
    err = ((pred_dynamic - pred_time_variant) - gt_motion).norm(dim=-1)
    moving = valid & (gt_motion.norm(dim=-1) > epsilon)

    def masked_mean(mask: Tensor) -> Tensor:
        w = mask.to(err.dtype)
        return (err * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1.0)

    return masked_mean(valid) + masked_mean(moving)


def shortcut_met(gt_time_variant: Tensor, gt_dynamic: Tensor, frame_times: Tensor, epsilon: float) -> Tensor:
    """Pixels whose target the same-position shortcut meets -> ``[B, S, H, W]`` bool.

    The shortcut answers ``P_i(t_j)(u)`` with frame j's own point at the same pixel, ``P_j(t_j)(u)``;
    it is right where that lies within ``epsilon`` of the truth.

    Args:
        gt_time_variant: ``[B, S, H, W, 3]`` P_i(t_i); gt_dynamic: ``[B, S, H, W, 3]`` P_i(t_{j_i});
        frame_times: ``[B, S]`` int64, the target time j_i of each frame.
    """
    B, S = frame_times.shape
    index = frame_times.to(gt_time_variant.device, torch.int64).view(B, S, 1, 1, 1).expand_as(gt_time_variant)
    answer = torch.gather(gt_time_variant, 1, index)
    return (answer - gt_dynamic).norm(dim=-1) <= epsilon


def scene_flow_regression(
    pred_dynamic: Tensor,
    pred_time_variant: Tensor,
    gt_dynamic: Tensor,
    gt_time_variant: Tensor,
    valid: Tensor,
    epsilon: float,
    emphasis: Tensor | None = None,
    scale_floor: float = 0.01,
) -> Tensor:
    """Relative squared error of the predicted motion ``P_i(t) - P_i(t_i)`` -> ``[B]``.

    ``(mean_valid |d_hat - d|^2 + mean_E |d_hat - d|^2) / max(mean_E |d|^2, scale_floor^2)`` per example,
    E the emphasised pixels (by default the moving ones, ``|d| > epsilon``). Predicting no motion scores
    exactly 1 on E (plus the share of motion among all valid pixels); a perfect prediction scores 0.
    Squared, so its minimiser under uncertainty is the mean flow, never the all-static median; no
    confidence, so the model cannot down-weight it. The denominator depends on the ground truth only.

    Args:
        pred_*, gt_*: ``[B, S, H, W, 3]``; valid, emphasis: ``[B, S, H, W]`` bool (emphasis within valid).
    """
    gt_motion = gt_dynamic - gt_time_variant
    err2 = ((pred_dynamic - pred_time_variant) - gt_motion).pow(2).sum(-1)
    moving = valid & (gt_motion.norm(dim=-1) > epsilon)
    emphasised = moving if emphasis is None else (emphasis & valid)

    def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
        w = mask.to(values.dtype)
        return (values * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1.0)

    scale2 = masked_mean(gt_motion.pow(2).sum(-1), emphasised).clamp_min(scale_floor**2)
    return (masked_mean(err2, valid) + masked_mean(err2, emphasised)) / scale2


def time_token_shortfall(time_tokens: Tensor, target: float = 0.05) -> Tensor:
    """How far the frames' time tokens ``[B, S, C]`` are from being distinguishable: ``relu(log target - log r)``.

    ``r`` is the share of the tokens' energy that differs between frames (``E|t_i - mean|^2 / E|t_i|^2``).
    The log makes the push strong while the tokens are nearly identical and lets it go once ``r`` reaches
    ``target``; a plain cosine term hardly moves them because a large shared part dominates their norm.
    """
    t = time_tokens.float()
    spread = (t - t.mean(dim=1, keepdim=True)).pow(2).sum(-1).mean()
    ratio = spread / t.pow(2).sum(-1).mean().clamp_min(1e-12)
    return torch.relu(math.log(target) - torch.log(ratio.clamp_min(1e-12)))


def dpm_loss(
    out: ForwardOutput,
    gt_time_variant: Tensor,
    gt_dynamic: Tensor,
    valid: Tensor,
    gt_pose_enc: Tensor,
    config: LossConfig = LossConfig(),
) -> LossTerms:
    """Total loss of one batch; the ground truth must already be scale-normalised (see ``train.data``).

    Predictions are not normalised: the network learns to output the normalised scale directly, which
    keeps its point maps and its camera translations in the same units.
    """
    moving = valid & ((gt_dynamic - gt_time_variant).norm(dim=-1) > config.motion_epsilon)
    tv = confidence_regression(out.time_variant.pts3d, out.time_variant.conf, gt_time_variant, valid, config.conf_alpha).mean()
    dyn = confidence_regression(out.dynamic.pts3d, out.dynamic.conf, gt_dynamic, valid, config.conf_alpha,
                                floor_mask=moving, floor=config.moving_confidence_floor if config.motion_weight else 0.0).mean()  # fmt: skip
    cam = camera_loss(out.cameras.pose_enc_iterations, gt_pose_enc, config.camera_iteration_decay)
    if config.motion_form == "l2":
        motion = motion_regression(out.dynamic.pts3d, out.time_variant.pts3d, gt_dynamic, gt_time_variant, valid,
                                   config.motion_epsilon).mean()  # fmt: skip
    else:
        emphasis = moving
        if config.exclude_shortcut:
            emphasis = moving & ~shortcut_met(gt_time_variant, gt_dynamic, out.dynamic.times, config.motion_epsilon)
        motion = scene_flow_regression(out.dynamic.pts3d, out.time_variant.pts3d, gt_dynamic, gt_time_variant, valid,
                                       config.motion_epsilon, emphasis, config.motion_scale_floor).mean()  # fmt: skip
    total = config.time_variant_weight * tv + config.dynamic_weight * dyn + config.camera_weight * cam
    if config.motion_weight:
        total = total + config.motion_weight * motion
    tokens = time_token_shortfall(out.time_tokens) if out.time_tokens is not None else total.new_zeros(())
    if config.time_token_weight:
        total = total + config.time_token_weight * tokens
    return LossTerms(total=total, time_variant=tv, dynamic=dyn, camera=cam, motion=motion, time_tokens=tokens)
