"""Moving-object metrics against the synthetic generator's object ids and exact point maps (pure numpy).

Ground truth of one window (frames ``source`` .. ``target`` of a :class:`SyntheticSequence`, the latest
frame ``target``), in the sequence's world frame (the camera of frame 0, metres):

- an object is *moving* when it is visible in the target frame on at least ``min_pixels`` pixels and at
  least half of those pixels move by the pipeline's rule (more than ``motion_threshold`` times the scene
  scale, from the source or the previous frame to the target);
- its velocity is the mean over its visible pixels of ``(P_t(t_target) - P_t(t_source)) / span`` (the
  velocity of the visible points' centroid), and its rotation the least-squares rotation (Umeyama,
  SE(3)) of those pixels' exact points from t_source to t_target. For a deforming object that rotation is
  only a best rigid approximation, so rotation errors are reported over rigid objects only (the generator's
  metadata says which; a sequence read back from a bag has none, and then the exact motion's rigid-fit
  residual decides).

Predictions are matched to ground truth by mask overlap in the target frame: one-to-one (Hungarian, on
IoU), a pair counts when its IoU is at least ``min_iou`` (0.5: then no mask can match two others).
Predicted quantities must be in the ground truth's frame and units (a single window starting at the
sequence's frame 0 with metric scale, or the caller aligns them first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..geometry import DEFAULT_MOTION_THRESHOLD, moving
from ..geometry.alignment import umeyama
from ..objects.detection import ObjectDetections
from ..objects.observation import ObjectObservation
from ..synth import SyntheticSequence

#: Without the generator's metadata, an object whose exact points move with a larger RMS residual about their
#: best rigid motion counts as deforming (rigid objects: float32 rounding, about 1e-6 m).
RIGID_RESIDUAL_M = 1e-3


def _stamp_ns(seconds: float) -> int:
    return int(round(float(seconds) * 1e9))


def _window_frames(seq: SyntheticSequence, source: int, target: int | None) -> tuple[int, int]:
    target = seq.num_frames - 1 if target is None else target
    if not 0 <= source < target < seq.num_frames:
        raise ValueError(f"need 0 <= source < target < {seq.num_frames}, got source={source}, target={target}")
    return source, target


def true_motion_mask(
    seq: SyntheticSequence, source: int = 0, target: int | None = None, motion_threshold: float = DEFAULT_MOTION_THRESHOLD
) -> np.ndarray:
    """``[H, W]`` bool, the pipeline's motion rule on exact maps: the target frame's point moves by more than
    ``motion_threshold`` times the scene scale (mean distance of the target frame's points to the window's
    first camera) from t_source or from t_{target-1} to t_target."""
    source, target = _window_frames(seq, source, target)
    valid = seq.valid[target]
    now = seq.pointmaps[target, target].astype(np.float64)
    centre = seq.camera_to_world()[source, :3, 3]
    scale = float(np.linalg.norm(now[valid] - centre, axis=-1).mean()) if valid.any() else 0.0
    earlier = [seq.pointmaps[source, target], seq.pointmaps[target - 1, target]]
    return moving(now, earlier, scale, motion_threshold) & valid


def observation_from_sequence(
    seq: SyntheticSequence, source: int = 0, target: int | None = None, motion_threshold: float = DEFAULT_MOTION_THRESHOLD
) -> ObjectObservation:
    """The exact :class:`ObjectObservation` of the window ``source..target``: what an oracle model would give.

    Points in the sequence's world frame (metres), confidence 1 everywhere valid, the motion mask by
    :func:`true_motion_mask`, the camera of frame ``target`` as the viewpoint.
    """
    source, target = _window_frames(seq, source, target)
    valid = seq.valid[target]
    nan = np.float32(np.nan)
    return ObjectObservation(
        stamp_ns=_stamp_ns(seq.timestamps[target]),
        source_stamp_ns=_stamp_ns(seq.timestamps[source]),
        points=np.where(valid[..., None], seq.pointmaps[target, target], nan),
        source_points=np.where(valid[..., None], seq.pointmaps[source, target], nan),
        dynamic=true_motion_mask(seq, source, target, motion_threshold),
        confidence=valid.astype(np.float32),
        usable=valid.copy(),
        camera_position=seq.camera_to_world()[target, :3, 3],
        units="m",
    )


@dataclass(frozen=True, eq=False)
class GroundTruthObject:
    """One moving object of the target frame (world frame of the sequence, metres).

    Attributes:
        object_id: the generator's id (``object_ids`` value).
        mask: ``[H, W]`` bool its visible pixels in the target frame.
        centroid: ``[3]`` mean of those pixels' points at t_target.
        velocity: ``[3]`` m/s mean of their displacements from t_source to t_target over the span.
        rotation: ``[3, 3]`` least-squares rotation of their points from t_source to t_target.
        is_deforming: the object deforms (its rotation is a rigid approximation).
    """

    object_id: int
    mask: np.ndarray
    centroid: np.ndarray
    velocity: np.ndarray
    rotation: np.ndarray
    is_deforming: bool


def ground_truth_objects(
    seq: SyntheticSequence,
    source: int = 0,
    target: int | None = None,
    min_pixels: int = 20,
    motion_threshold: float = DEFAULT_MOTION_THRESHOLD,
) -> tuple[GroundTruthObject, ...]:
    """The moving objects of the window ``source..target`` (see the module docstring), by object id."""
    source, target = _window_frames(seq, source, target)
    span = float(seq.timestamps[target] - seq.timestamps[source])
    moving = true_motion_mask(seq, source, target, motion_threshold)
    ids = seq.object_ids[target]
    valid = seq.valid[target]
    deforming = {o.object_id: o.is_deforming for o in seq.objects}
    out = []
    for object_id in sorted(int(k) for k in np.unique(ids[valid]) if k > 0):
        mask = (ids == object_id) & valid
        if mask.sum() < min_pixels or moving[mask].mean() < 0.5:
            continue
        end = seq.pointmaps[target, target][mask].astype(np.float64)
        start = seq.pointmaps[source, target][mask].astype(np.float64)
        fit = umeyama(start, end, with_scale=False)
        is_deforming = deforming.get(object_id)
        if is_deforming is None:  # a sequence read back from a bag has no object metadata: judge by the exact motion
            is_deforming = float(np.sqrt(np.mean(np.sum((fit.apply(start) - end) ** 2, -1)))) > RIGID_RESIDUAL_M
        out.append(GroundTruthObject(object_id, mask, end.mean(0), (end - start).mean(0) / span, fit.rotation, is_deforming))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class ObjectMatches:
    """One-to-one matches of predicted and ground-truth objects.

    Attributes:
        pairs: ``[M, 2]`` int64 (predicted index, ground-truth index).
        iou: ``[M]`` float64 mask IoU of each pair (>= the ``min_iou`` used).
        num_predicted, num_ground_truth: sizes of the two sets.
    """

    pairs: np.ndarray
    iou: np.ndarray
    num_predicted: int
    num_ground_truth: int


def match_objects(predicted_masks: np.ndarray, ground_truth_masks: np.ndarray, min_iou: float = 0.5) -> ObjectMatches:
    """Match ``predicted_masks [P, H, W]`` to ``ground_truth_masks [G, H, W]`` (bool) by IoU, one to one."""
    if not 0.0 < min_iou <= 1.0:
        raise ValueError(f"min_iou must lie in (0, 1], got {min_iou}")
    pred, gt = np.asarray(predicted_masks, dtype=bool), np.asarray(ground_truth_masks, dtype=bool)
    if pred.ndim != 3 or gt.ndim != 3 or (len(pred) and len(gt) and pred.shape[1:] != gt.shape[1:]):
        raise ValueError(f"match_objects needs masks [P, H, W] and [G, H, W] of one image size, got {pred.shape} and {gt.shape}")
    pred = pred.reshape(len(pred), int(np.prod(pred.shape[1:])))
    gt = gt.reshape(len(gt), int(np.prod(gt.shape[1:])))
    empty = ObjectMatches(np.zeros((0, 2), np.int64), np.zeros(0), len(pred), len(gt))
    if len(pred) == 0 or len(gt) == 0:
        return empty
    inter = pred.astype(np.int64) @ gt.T.astype(np.int64)
    union = pred.sum(1)[:, None] + gt.sum(1)[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    rows, cols = linear_sum_assignment(-iou)
    good = iou[rows, cols] >= min_iou
    pairs = np.stack([rows[good], cols[good]], axis=1).astype(np.int64)
    return ObjectMatches(pairs, iou[rows[good], cols[good]], len(pred), len(gt))


def object_recall(matches: ObjectMatches) -> float:
    """Matched ground-truth objects / ground-truth objects (1.0 when there are none to find)."""
    return 1.0 if matches.num_ground_truth == 0 else len(matches.pairs) / matches.num_ground_truth


def object_precision(matches: ObjectMatches) -> float:
    """Matched predictions / predictions (1.0 when nothing was predicted)."""
    return 1.0 if matches.num_predicted == 0 else len(matches.pairs) / matches.num_predicted


def object_velocity_rel_error(matches: ObjectMatches, predicted_velocity: np.ndarray, true_velocity: np.ndarray) -> float:
    """Mean ``|v - v_gt| / |v_gt|`` over matched pairs (``[P, 3]`` and ``[G, 3]``); NaN without a match.

    Pairs whose true speed is zero are left out (the ratio is undefined).
    """
    if len(matches.pairs) == 0:
        return float("nan")
    v = np.asarray(predicted_velocity, dtype=np.float64)[matches.pairs[:, 0]]
    v_gt = np.asarray(true_velocity, dtype=np.float64)[matches.pairs[:, 1]]
    speed = np.linalg.norm(v_gt, axis=-1)
    moving = speed > 0
    if not moving.any():
        return float("nan")
    return float(np.mean(np.linalg.norm(v - v_gt, axis=-1)[moving] / speed[moving]))


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle between rotations ``a [..., 3, 3]`` and ``b [..., 3, 3]``, degrees."""
    rel = np.swapaxes(np.asarray(a, np.float64), -1, -2) @ np.asarray(b, np.float64)
    cos = np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return np.degrees(np.arccos(cos))


def object_rotation_error_deg(
    matches: ObjectMatches, predicted_rotation: np.ndarray, true_rotation: np.ndarray, include: np.ndarray | None = None
) -> float:
    """Mean geodesic angle between matched rotations (``[P, 3, 3]``, ``[G, 3, 3]``) in degrees; NaN without a pair.

    Args:
        include: ``[G]`` bool, the ground-truth objects that count (e.g. only rigid ones); all by default.
    """
    pairs = matches.pairs
    if include is not None:
        pairs = pairs[np.asarray(include, dtype=bool)[pairs[:, 1]]] if len(pairs) else pairs
    if len(pairs) == 0:
        return float("nan")
    angles = rotation_angle_deg(np.asarray(predicted_rotation)[pairs[:, 0]], np.asarray(true_rotation)[pairs[:, 1]])
    return float(np.mean(angles))


@dataclass(frozen=True)
class ObjectMetrics:
    """Object metrics of one window (or summed over several: see :func:`combine_object_metrics`).

    Attributes:
        recall, precision: see :func:`object_recall`, :func:`object_precision`.
        velocity_rel_error: mean relative velocity error over matched objects (NaN without one).
        rotation_error_deg: mean rotation error over matched RIGID objects (NaN without one).
        num_ground_truth, num_predicted, num_matched, num_rigid_matched: the counts behind them.
    """

    recall: float
    precision: float
    velocity_rel_error: float
    rotation_error_deg: float
    num_ground_truth: int
    num_predicted: int
    num_matched: int
    num_rigid_matched: int


def evaluate_objects(
    masks: np.ndarray,
    velocities: np.ndarray,
    rotations: np.ndarray,
    ground_truth: tuple[GroundTruthObject, ...] | list,
    min_iou: float = 0.5,
) -> ObjectMetrics:
    """All four metrics of one window's predicted objects against its ground truth (same frame and units).

    Args:
        masks: ``[P, H, W]`` bool pixels of each predicted object in the target frame.
        velocities: ``[P, 3]`` their velocities; rotations: ``[P, 3, 3]`` their rotations from t_source to t_target.
        ground_truth: :func:`ground_truth_objects` of the same window.
    """
    h, w = np.shape(masks)[1:]
    gt_masks = np.stack([g.mask for g in ground_truth]) if ground_truth else np.zeros((0, h, w), bool)
    matches = match_objects(masks, gt_masks, min_iou)
    pred_v = np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
    pred_r = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    gt_v = np.array([g.velocity for g in ground_truth]).reshape(-1, 3)
    gt_r = np.array([g.rotation for g in ground_truth]).reshape(-1, 3, 3)
    rigid = np.array([not g.is_deforming for g in ground_truth], dtype=bool)
    rigid_matched = int(rigid[matches.pairs[:, 1]].sum()) if len(matches.pairs) else 0
    return ObjectMetrics(
        recall=object_recall(matches),
        precision=object_precision(matches),
        velocity_rel_error=object_velocity_rel_error(matches, pred_v, gt_v),
        rotation_error_deg=object_rotation_error_deg(matches, pred_r, gt_r, rigid),
        num_ground_truth=matches.num_ground_truth,
        num_predicted=matches.num_predicted,
        num_matched=len(matches.pairs),
        num_rigid_matched=rigid_matched,
    )


def evaluate_object_detections(
    detections: ObjectDetections, ground_truth: tuple[GroundTruthObject, ...] | list, min_iou: float = 0.5
) -> ObjectMetrics:
    """All four metrics of one window's detections against its ground truth (same frame and units)."""
    objs = detections.objects
    return evaluate_objects(
        detections.masks(),
        np.array([o.velocity for o in objs]).reshape(-1, 3),
        np.array([o.motion.rotation for o in objs]).reshape(-1, 3, 3),
        ground_truth,
        min_iou,
    )


def combine_object_metrics(metrics: list[ObjectMetrics] | tuple[ObjectMetrics, ...]) -> ObjectMetrics:
    """Pool several windows: recall and precision from the summed counts, errors weighted by their pair counts."""
    if not metrics:
        raise ValueError("combine_object_metrics needs at least one ObjectMetrics")
    n_gt = sum(m.num_ground_truth for m in metrics)
    n_pred = sum(m.num_predicted for m in metrics)
    n_match = sum(m.num_matched for m in metrics)
    n_rigid = sum(m.num_rigid_matched for m in metrics)

    def weighted(value: str, weight: str) -> float:
        pairs = [(getattr(m, value), getattr(m, weight)) for m in metrics if getattr(m, weight) > 0 and np.isfinite(getattr(m, value))]
        total = sum(wt for _, wt in pairs)
        return float(sum(v * wt for v, wt in pairs) / total) if total else float("nan")

    return ObjectMetrics(
        recall=1.0 if n_gt == 0 else n_match / n_gt,
        precision=1.0 if n_pred == 0 else n_match / n_pred,
        velocity_rel_error=weighted("velocity_rel_error", "num_matched"),
        rotation_error_deg=weighted("rotation_error_deg", "num_rigid_matched"),
        num_ground_truth=n_gt,
        num_predicted=n_pred,
        num_matched=n_match,
        num_rigid_matched=n_rigid,
    )
