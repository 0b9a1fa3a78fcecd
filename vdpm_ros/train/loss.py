"""The DPM training objective (confidence-calibrated regression with scale normalisation) and VGGT's camera loss."""

from __future__ import annotations

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


@dataclass
class LossTerms:
    total: Tensor
    time_variant: Tensor
    dynamic: Tensor
    camera: Tensor

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
    total = config.time_variant_weight * tv + config.dynamic_weight * dyn + config.camera_weight * cam
    return LossTerms(total=total, time_variant=tv, dynamic=dyn, camera=cam)
