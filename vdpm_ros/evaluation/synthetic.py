"""Evaluation on held-out generated sequences with exact 4D ground truth (the paper's protocols).

Held-out seeds are below ``TRAIN_SEED_OFFSET`` (documented set: 1000-1999); training never uses them.

Besides the paper's protocols on the raw model, :func:`evaluate_synthetic` runs the node protocol
(:mod:`.node_protocol`): the node's pipeline with the node's parameters on the same seeds rendered at a camera
resolution, scoring its motion masks, its scene flow (``scene_flow_epe_dynamic``) and its moving objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import DEFAULT_MOTION_THRESHOLD, moving, pose_encoding_to_cameras
from ..model import VDPM
from ..pipeline import ObjectsConfig, PipelineConfig
from ..preprocessing import resized_size
from ..synth import SceneConfig, SyntheticSequence, generate_sequence
from .metrics import absolute_trajectory_error, depth_metrics, end_point_error, mask_iou, normalise_unit_mean
from .node_protocol import NodeProtocolConfig, evaluate_node_protocol

METRICS = (
    "epe_margin2",
    "epe_margin8",
    "tracking_epe",
    "tracking_epe_dynamic",
    "depth_abs_rel",
    "depth_delta_1_25",
    "ate",
    "motion_mask_iou",
)


@dataclass(frozen=True)
class SyntheticEvalConfig:
    """Attributes:
    frames, height, width: the generated sequences (one window of ``frames`` for the paper's protocols).
    margins: frame gaps of the 2-view EPE.
    motion_threshold: of the motion-mask protocol.
    node: also run the node protocol (the node's pipeline and its published motion and objects).
    """

    frames: int = 10
    height: int = 168
    width: int = 224
    margins: tuple[int, ...] = (2, 8)
    motion_threshold: float = DEFAULT_MOTION_THRESHOLD
    node: bool = True

    def __post_init__(self) -> None:
        if max(self.margins) >= self.frames:
            raise ValueError(f"margins {self.margins} need more than {self.frames} frames")


def two_view_epe(pred: np.ndarray, seq: SyntheticSequence, frames: list[int]) -> tuple[float, float]:
    """Mean EPE over P0(t0), P0(t1), P1(t0), P1(t1) of a 2-frame window; and the no-motion baseline's.

    Args:
        pred: ``[2, 2, H, W, 3]`` = P_f(t_t) indexed [t, f], predicted from the window ``frames``.
    """
    gt = seq.pointmaps[np.ix_(frames, frames)]
    valid = np.broadcast_to(seq.valid[frames][None], gt.shape[:-1])
    pred_n, _ = normalise_unit_mean(pred, valid)
    gt_n, _ = normalise_unit_mean(gt, valid)
    errs, base = [], []
    for t in range(2):
        for f in range(2):
            errs.append(end_point_error(pred_n[t, f], gt_n[t, f], valid[t, f]))
            base.append(end_point_error(pred_n[f, f], gt_n[t, f], valid[t, f]))
    return float(np.mean(errs)), float(np.mean(base))


def sequence_metrics(
    pred: np.ndarray, pred_extrinsics: np.ndarray, seq: SyntheticSequence, motion_threshold: float = DEFAULT_MOTION_THRESHOLD
) -> dict[str, dict[str, float]]:
    """Window metrics for a prediction and for the no-motion baseline derived from it.

    Args:
        pred: ``[S, S, H, W, 3]`` predicted P_i(t_t) indexed [t, i] (any scale).
        pred_extrinsics: ``[S, 3, 4]`` predicted camera-from-world, same units as ``pred``.
    """
    S = seq.num_frames
    idx = np.arange(S)
    valid = seq.valid
    _, pred_scale = normalise_unit_mean(pred[idx, idx], valid)
    _, gt_scale = normalise_unit_mean(seq.pointmaps[idx, idx], valid)
    pred_all, gt_all = pred / pred_scale, seq.pointmaps / gt_scale
    no_motion_all = np.broadcast_to(pred_all[idx, idx][None], pred_all.shape)

    def tracking(p: np.ndarray, mask: np.ndarray) -> float:
        if not mask.any():
            return float("nan")
        return float(np.mean([end_point_error(p[t, 0], gt_all[t, 0], mask) for t in range(S)]))

    def moves(p: np.ndarray) -> np.ndarray:
        # Unit-mean normalised points: the scene scale is 1. Every frame's time of the window counts.
        return moving(p[idx, idx], p, 1.0, motion_threshold)

    # Ground-truth motion uses the same normalised threshold as the prediction, so IoU compares like with like.
    gt_moving = moves(gt_all) & valid
    dyn_mask = gt_moving[0]
    rot, trans = pred_extrinsics[:, :, :3], pred_extrinsics[:, :, 3]
    depth = np.einsum("sij,shwj->shwi", rot, pred[idx, idx])[..., 2] + trans[:, None, None, 2]
    abs_rel, delta = depth_metrics(depth, seq.depth, valid)
    shared = {
        "depth_abs_rel": abs_rel,
        "depth_delta_1_25": delta,
        "ate": absolute_trajectory_error(pred_extrinsics, seq.extrinsics.astype(np.float64)),
    }
    model_metrics = {
        "tracking_epe": tracking(pred_all, valid[0]),
        "tracking_epe_dynamic": tracking(pred_all, dyn_mask),
        "motion_mask_iou": mask_iou(moves(pred_all) & valid, gt_moving),
        **shared,
    }
    base_metrics = {
        "tracking_epe": tracking(no_motion_all, valid[0]),
        "tracking_epe_dynamic": tracking(no_motion_all, dyn_mask),
        "motion_mask_iou": mask_iou(np.zeros_like(gt_moving), gt_moving),
        **shared,
    }
    return {"model": model_metrics, "no_motion": base_metrics}


def _run(model: VDPM, images: np.ndarray, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Model maps ``[S, S, H, W, 3]`` ([t, i]) and extrinsics ``[S, 3, 4]`` for uint8 frames ``[S, H, W, 3]``."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).to(device)
    with torch.inference_mode():
        state = model.encode(x)
        maps = model.decode(state)
        pose_enc = model.cameras(state).pose_enc
    if maps.pts3d.shape[3:5] != images.shape[1:3]:
        raise ValueError(f"model output {tuple(maps.pts3d.shape[3:5])} differs from the sequence size; evaluate at the network size")
    extrinsics, _ = pose_encoding_to_cameras(pose_enc[0].float().cpu(), state.image_hw)
    return maps.pts3d[0].float().cpu().numpy().astype(np.float64), extrinsics.numpy().astype(np.float64)


def network_size(model: VDPM, raw_hw: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of the network input for a ``raw_hw`` camera in "crop" mode (the pipeline's default)."""
    h, w = resized_size(raw_hw, "crop", model.config.img_size)
    return min(h, model.config.img_size), w


def first_frames(seq: SyntheticSequence, n: int) -> SyntheticSequence:
    """The first ``n`` frames of a sequence (the world frame, frame 0's camera, is unchanged)."""
    return dataclasses.replace(
        seq, images=seq.images[:n], pointmaps=seq.pointmaps[:n, :n], valid=seq.valid[:n], depth=seq.depth[:n],
        intrinsics=seq.intrinsics[:n], extrinsics=seq.extrinsics[:n], object_ids=seq.object_ids[:n],
        motion_mask=seq.motion_mask[:n], timestamps=seq.timestamps[:n],
    )  # fmt: skip


def evaluate_sequence(model: VDPM, seed: int, cfg: SyntheticEvalConfig, device: str = "cpu") -> dict[str, dict[str, float]]:
    """All metrics of one generated sequence, for the model and for the no-motion baseline."""
    seq = generate_sequence(seed, SceneConfig(height=cfg.height, width=cfg.width, frames=cfg.frames))
    return evaluate_sequence_data(model, seq, cfg, device)


def evaluate_sequence_data(
    model: VDPM, seq: SyntheticSequence, cfg: SyntheticEvalConfig, device: str = "cpu"
) -> dict[str, dict[str, float]]:
    """:func:`evaluate_sequence` on a given sequence (e.g. read back from a ``vdpm synth`` bag)."""
    pred, extrinsics = _run(model, seq.images, device)
    result = sequence_metrics(pred, extrinsics, seq, cfg.motion_threshold)
    for m in cfg.margins:
        pair, _ = _run(model, seq.images[[0, m]], device)
        result["model"][f"epe_margin{m}"], result["no_motion"][f"epe_margin{m}"] = two_view_epe(pair, seq, [0, m])
    return result


def evaluate_synthetic(
    model: VDPM,
    seeds: list[int],
    cfg: SyntheticEvalConfig,
    device: str = "cpu",
    progress: bool = True,
    pipeline: PipelineConfig | None = None,
    node: NodeProtocolConfig | None = None,
    objects: ObjectsConfig | None = None,
) -> dict:
    """Mean of every metric over the sequences (NaN-safe), in the JSON layout of ``vdpm eval``.

    ``pipeline`` and ``objects``: the node's parameters for the node protocol (its defaults unless given).
    """
    from tqdm import tqdm

    per_seq = []
    for seed in tqdm(seeds, desc="eval", disable=not progress):
        seq = generate_sequence(seed, SceneConfig(height=cfg.height, width=cfg.width, frames=cfg.frames))
        per_seq.append(evaluate_sequence_data(model, seq, cfg, device))

    def mean(kind: str) -> dict[str, float]:
        # A sequence without moving pixels has no dynamic tracking error (NaN): it is skipped, not counted as 0.
        out = {}
        for key in per_seq[0][kind]:
            values = [r[kind][key] for r in per_seq if np.isfinite(r[kind][key])]
            out[key] = float(np.mean(values)) if values else float("nan")
        return out

    result = {**mean("model"), "no_motion": mean("no_motion"), "seeds": seeds, "frames": cfg.frames, "size": [cfg.height, cfg.width]}
    if cfg.node:
        nodes = evaluate_node_protocol(model, seeds, pipeline or PipelineConfig(), node or NodeProtocolConfig(), objects, progress)
        result["no_motion"].update(nodes.pop("no_motion"))
        result.update(nodes)
    return result
