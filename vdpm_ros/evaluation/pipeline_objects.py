"""Moving-object metrics of the node's pipeline on generated sequences: what /vdpm/moving_objects publishes,
against the generator's objects.

Per window, the scene stage's tracked objects (:class:`~vdpm_ros.pipeline.SceneOutputs`) are compared with
:func:`~vdpm_ros.evaluation.objects.ground_truth_objects` of the same frames, over the same span as the
objects' motion (from the window's first frame with the default ``motion_span``). Masks are matched by
IoU in the latest frame, which needs no common frame. Velocities and rotations are first brought into the
ground truth's frame and metres by the Sim(3) that best maps the latest frame's published points onto the
exact ones, on the static background: that takes away the odometry frame's arbitrary scale (model units)
and any stitching drift, so the errors measure the objects' motion itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..geometry import DEFAULT_MOTION_THRESHOLD
from ..geometry.alignment import Sim3, umeyama
from ..pipeline import PipelineOutput
from ..pipeline.object_inputs import to_publish_frame
from ..synth import SyntheticSequence
from .objects import ObjectMetrics, combine_object_metrics, evaluate_objects, ground_truth_objects

#: Keys of the pooled object metrics in ``vdpm eval`` JSON (``--synthetic`` and ``--bag`` on a synthetic bag).
OBJECT_METRICS = ("object_recall", "object_precision", "object_velocity_rel_error", "object_rotation_error_deg")
#: Fewest background pixels for the alignment to ground truth, and the most used (evenly subsampled).
_MIN_ALIGN, _MAX_ALIGN = 100, 20000


def align_to_ground_truth(output: PipelineOutput, seq: SyntheticSequence, target: int) -> Sim3 | None:
    """The Sim(3) from the publish frame onto the sequence's world frame (metres) that best maps the latest
    frame's points onto the exact ones, on pixels of the static room (object id 0); None with too few."""
    r = output.result
    to_frame, _ = to_publish_frame(output)
    pred = to_frame(r.points)
    gt = seq.pointmaps[target, target].astype(np.float64)
    ok = r.valid & seq.valid[target] & (seq.object_ids[target] == 0) & np.isfinite(pred).all(-1)
    idx = np.flatnonzero(ok)
    if idx.size < _MIN_ALIGN:
        return None
    if idx.size > _MAX_ALIGN:
        idx = idx[np.linspace(0, idx.size - 1, _MAX_ALIGN).astype(np.int64)]
    sim = umeyama(pred.reshape(-1, 3)[idx], gt.reshape(-1, 3)[idx], with_scale=True)
    return sim if np.isfinite(sim.scale) and sim.scale > 0 else None


def window_object_metrics(output: PipelineOutput, seq: SyntheticSequence, window: Sequence[int],
                          motion_threshold: float = DEFAULT_MOTION_THRESHOLD, min_iou: float = 0.5,
                          min_pixels: int = 20) -> ObjectMetrics | None:  # fmt: skip
    """The object metrics of one pipeline window, or None when it has no objects stage output.

    Args:
        output: the window's output, with its scene stage's objects.
        seq: the generated sequence the frames come from.
        window: the index in ``seq`` of each of the window's frames.
        motion_threshold: the pipeline's (ground truth counts an object as moving by the same rule).
        min_iou: mask IoU of a match. min_pixels: fewest visible pixels of a ground-truth object.
    """
    scene = output.scene
    if scene is None or scene.detections is None:
        return None
    det, r = scene.detections, output.result
    source, target = window[r.stamps_ns.index(det.source_stamp_ns)], window[-1]
    truth = ground_truth_objects(seq, source, target, min_pixels, motion_threshold)
    velocities = np.array([o.velocity for o in scene.objects], dtype=np.float64).reshape(-1, 3)
    rotations = np.array([o.detection.motion.rotation for o in scene.objects], dtype=np.float64).reshape(-1, 3, 3)
    sim = align_to_ground_truth(output, seq, target)
    if sim is None:  # no common frame: only the masks can be scored
        velocities, rotations = np.full_like(velocities, np.nan), np.full_like(rotations, np.nan)
    else:
        velocities = sim.scale * velocities @ sim.rotation.T
        rotations = sim.rotation @ rotations @ sim.rotation.T
    return evaluate_objects(det.masks(), velocities, rotations, truth, min_iou)


def object_summary(metrics: Sequence[ObjectMetrics]) -> dict[str, Any]:
    """The pooled metrics under :data:`OBJECT_METRICS` and their counts under ``objects`` (NaN without windows)."""
    if not metrics:
        return {**{k: float("nan") for k in OBJECT_METRICS}, "objects": {"windows": 0}}
    c = combine_object_metrics(list(metrics))
    return {
        "object_recall": c.recall, "object_precision": c.precision,
        "object_velocity_rel_error": c.velocity_rel_error, "object_rotation_error_deg": c.rotation_error_deg,
        "objects": {"windows": len(metrics), "ground_truth": c.num_ground_truth, "predicted": c.num_predicted,
                    "matched": c.num_matched, "rigid_matched": c.num_rigid_matched},
    }  # fmt: skip
