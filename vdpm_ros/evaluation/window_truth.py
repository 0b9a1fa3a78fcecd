"""One published window against the exact ground truth of a generated sequence: the motion metrics.

Shared by the bag evaluation (``vdpm eval --bag`` on a ``vdpm synth`` bag) and the node protocol of
``vdpm eval --synthetic``, so both score the same thing the same way. ``seq`` is always the sequence read
on the window's output grid (:func:`~vdpm_ros.synth.resample.on_grid`), ``window`` the index in ``seq``
of each of the window's frames (skipped frames leave gaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..geometry import moving
from ..pipeline import PipelineOutput
from ..synth import SyntheticSequence
from .metrics import end_point_error


@dataclass(frozen=True)
class MotionScores:
    """The latest frame's motion against ground truth.

    Attributes:
        predicted, truth: ``[H, W]`` bool motion masks (the pipeline's rule: moved by more than the motion
            threshold x the scene scale since the window's first or previous frame), on valid pixels.
        valid: ``[H, W]`` bool, pixels both the prediction and the ground truth have.
        flow_epe_m / flow_epe_m_no_motion: scene-flow end-point error over the last frame step in metres
            (the prediction brought to metres with the median depth ratio), on pixels that moved in that step.
        scene_flow_epe / scene_flow_epe_no_motion: the issue's ``scene_flow_epe_dynamic``: mean end-point error
            of P_L(t_j) - P_L(t_L) for the decoded earlier times t_j (first and previous frame) on the
            ground-truth moving pixels, prediction and ground truth each in unit-mean scale (divided by the
            mean distance of their own P_L(t_L) to the window's first camera); no motion = zero flow.
    """

    predicted: np.ndarray
    truth: np.ndarray
    valid: np.ndarray
    flow_epe_m: float
    flow_epe_m_no_motion: float
    scene_flow_epe: float
    scene_flow_epe_no_motion: float

    @property
    def flagged_fraction(self) -> float:
        """Share of the valid pixels the prediction flags as moving (all false alarms on a static scene)."""
        return float(self.predicted.sum() / max(1, self.valid.sum()))


def window_motion_scores(
    output: PipelineOutput, seq: SyntheticSequence, window: Sequence[int], motion_threshold: float
) -> MotionScores | None:
    """Motion of a window's latest frame against exact ground truth; None when the window has no motion outputs."""
    r = output.result
    if r.scene_flow is None or len(window) < 2:
        return None
    first, prev, last = window[0], window[-2], window[-1]
    now = seq.pointmaps[last, last].astype(np.float64)
    before, at_first = seq.pointmaps[prev, last].astype(np.float64), seq.pointmaps[first, last].astype(np.float64)
    valid = r.valid & seq.valid[last] & np.isfinite(r.depth) & (r.depth > 0)
    nan = float("nan")
    if not valid.any():
        empty = np.zeros(r.valid.shape, bool)
        return MotionScores(empty, empty, valid, nan, nan, nan, nan)
    # The window's frame is its first camera: scales and flows are taken there, for prediction and truth alike.
    ext = seq.extrinsics[first].astype(np.float64)
    rot, trans = ext[:, :3], ext[:, 3]
    gt_scale = float(np.linalg.norm(now[valid] @ rot.T + trans, axis=-1).mean())
    truth = valid & moving(now, [before, at_first], gt_scale, motion_threshold)

    # Metres over the last step, as the node's /vdpm/scene_flow carries it (camera frame of the latest frame).
    depth_ratio = float(np.median(seq.depth[last][valid] / r.depth[valid]))
    rot_last = seq.extrinsics[last, :, :3].astype(np.float64)
    gt_step = (now - before) @ rot_last.T
    pred_step = r.scene_flow_camera.astype(np.float64) * r.flow_dt_s * depth_ratio
    flowing = valid & moving(now, [before], gt_scale, motion_threshold)
    flow_epe = end_point_error(pred_step, gt_step, flowing)
    flow_base = end_point_error(np.zeros_like(gt_step), gt_step, flowing)

    # Unit-mean scale, window frame, every decoded earlier time.
    pred_now = r.points.astype(np.float64)
    pred_scale = float(np.linalg.norm(pred_now[valid], axis=-1).mean())
    earlier = {prev: pred_now - r.scene_flow.astype(np.float64) * r.flow_dt_s}
    if r.points_first is not None and first != prev:
        earlier[first] = r.points_first.astype(np.float64)
    gt_at = {prev: before, first: at_first}
    errors, baselines = [], []
    if truth.any():
        for k, pred_then in earlier.items():
            pred_flow = (pred_then - pred_now) / pred_scale
            gt_flow = (gt_at[k] - now) @ rot.T / gt_scale
            errors.append(end_point_error(pred_flow, gt_flow, truth & np.isfinite(pred_flow).all(-1)))
            baselines.append(end_point_error(np.zeros_like(gt_flow), gt_flow, truth))
    return MotionScores(
        predicted=r.dynamic & valid, truth=truth, valid=valid, flow_epe_m=flow_epe, flow_epe_m_no_motion=flow_base,
        scene_flow_epe=float(np.nanmean(errors)) if errors else nan, scene_flow_epe_no_motion=float(np.mean(baselines)) if baselines else nan,
    )  # fmt: skip
