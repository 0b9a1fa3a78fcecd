"""The DPM training objective (confidence-calibrated regression with scale normalisation) and VGGT's camera loss."""

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
    #: Weight of the time-token term (ours, see :func:`time_token_shortfall`). The decoder can only tell
    #: target times apart through these tokens; trained from scratch they start, and stay, almost
    #: identical across frames. 0 gives the official objective.
    time_token_weight: float = 0.0


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


def confidence_regression(pred: Tensor, conf: Tensor, gt: Tensor, valid: Tensor, alpha: float) -> Tensor:
    """``C * |P_hat - P| - alpha * log C`` averaged over each example's valid pixels -> ``[B]``.

    Averaging within an example first keeps scenes with many valid pixels from dominating the batch.

    Args:
        pred, gt: ``[B, S, H, W, 3]``; conf: ``[B, S, H, W]``; valid: ``[B, S, H, W]`` bool.
    """
    per_pixel = conf * (pred - gt).norm(dim=-1) - alpha * conf.log()
    weights = valid.to(per_pixel.dtype)
    return (per_pixel * weights).flatten(1).sum(1) / weights.flatten(1).sum(1).clamp_min(1.0)


def camera_loss(pose_iterations: Tensor, gt_pose_enc: Tensor, decay: float) -> Tensor:
    """L1 on translation, quaternion and FoV of every refinement iteration ``[K, B, S, 9]`` vs ``[B, S, 9]``."""
    K = pose_iterations.shape[0]
    weights = torch.tensor([decay ** (K - 1 - k) for k in range(K)], device=pose_iterations.device)
    err = (pose_iterations - gt_pose_enc[None]).abs()
    per_iter = err[..., :3].mean((1, 2, 3)) + err[..., 3:7].mean((1, 2, 3)) + err[..., 7:].mean((1, 2, 3))
    return (weights * per_iter).sum() / weights.sum()


def motion_regression(pred_dynamic: Tensor, pred_time_variant: Tensor, gt_dynamic: Tensor, gt_time_variant: Tensor,
                      valid: Tensor, epsilon: float) -> Tensor:
    """Error of the predicted motion ``P_i(t) - P_i(t_i)``: mean over valid pixels plus mean over moving ones -> ``[B]``.

    The second mean gives moving pixels as much weight as the whole static scene, whatever their share.

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
    tv = confidence_regression(out.time_variant.pts3d, out.time_variant.conf, gt_time_variant, valid, config.conf_alpha).mean()
    dyn = confidence_regression(out.dynamic.pts3d, out.dynamic.conf, gt_dynamic, valid, config.conf_alpha).mean()
    cam = camera_loss(out.cameras.pose_enc_iterations, gt_pose_enc, config.camera_iteration_decay)
    motion = motion_regression(out.dynamic.pts3d, out.time_variant.pts3d, gt_dynamic, gt_time_variant, valid,
                               config.motion_epsilon).mean()  # fmt: skip
    total = config.time_variant_weight * tv + config.dynamic_weight * dyn + config.camera_weight * cam
    if config.motion_weight:
        total = total + config.motion_weight * motion
    tokens = time_token_shortfall(out.time_tokens) if out.time_tokens is not None else total.new_zeros(())
    if config.time_token_weight:
        total = total + config.time_token_weight * tokens
    return LossTerms(total=total, time_variant=tv, dynamic=dyn, camera=cam, motion=motion, time_tokens=tokens)
