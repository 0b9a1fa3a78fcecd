"""Evaluate the node's pipeline on a bag: the same windows, outputs and stitching as ``vdpm node``.

Offline and deterministic: every frame of the bag is processed in order (:class:`OfflinePipeline`), so
nothing is dropped for being late and two runs give the same numbers. What is measured depends on the
ground truth the bag has:

- camera poses (PoseStamped topic, /tf or a TUM file): ATE and RPE of the stitched trajectory after
  Sim(3) alignment (evo's conventions, nearest stamp within ``max_time_diff_s``);
- depth images: Abs Rel and delta < 1.25 of each window's latest depth map (median-scaled per frame);
- a ``vdpm synth`` bag (exact 4D ground truth): also scene-flow end-point error and motion-mask IoU of the
  latest frame against a no-motion baseline, the moving objects the node publishes against the generator's
  (``object_recall``, ``object_precision``, ``object_velocity_rel_error``, ``object_rotation_error_deg``,
  pooled over the windows; see :mod:`.pipeline_objects`), and the synthetic protocol of
  ``vdpm eval --synthetic`` on the bag's first frames (when the bag is at the network resolution).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..bags.camera_bag import BagTopics, PoseTrack, count_images, find_topics, iter_camera, read_pose_track, read_tum_trajectory
from ..bags.synthetic_bag import INFO_TOPIC, START_TIME_NS, read_synthetic_bag
from ..pipeline import Frame, ObjectsConfig, OfflinePipeline, PipelineConfig, PipelineOutput, expected_windows
from ..pipeline.processor import motion_source_line
from ..preprocessing import sample_nearest, scaled_grid
from ..synth.resample import on_grid, to_network_grid
from .metrics import depth_metrics
from .objects import ObjectMetrics
from .pipeline_objects import OBJECT_METRICS, object_summary, window_object_metrics
from .synthetic import SyntheticEvalConfig, evaluate_sequence_data, first_frames
from .trajectory import align_sim3, ate_rmse, rpe_rmse
from .window_truth import window_motion_scores

DEPTH_MATCH_S = 0.02


@dataclass(frozen=True)
class BagEvalOptions:
    """Attributes:
    image_topic / depth_topic: override the automatic choice.
    groundtruth: TUM-format trajectory file used instead of poses in the bag.
    gt_tf: (parent, child) on /tf to use as camera ground truth.
    max_time_diff_s: largest stamp difference when matching a pose to ground truth (evo's default 0.01 s).
    snapshots: windows kept whole for the report's pictures (evenly spread).
    protocol_frames: frames of the synthetic protocol run on a ``vdpm synth`` bag (0 = skip it).
    """

    image_topic: str | None = None
    depth_topic: str | None = None
    groundtruth: Path | None = None
    gt_tf: tuple[str, str] | None = None
    max_time_diff_s: float = 0.01
    snapshots: int = 3
    protocol_frames: int = 10


@dataclass
class WindowRecord:
    """Per published window: stamp, processing latency and the errors of its latest frame (NaN = no ground truth)."""

    stamp_ns: int
    latency_s: float
    depth_abs_rel: float = float("nan")
    depth_delta_1_25: float = float("nan")
    flow_epe_dynamic: float = float("nan")
    flow_epe_dynamic_no_motion: float = float("nan")
    scene_flow_epe_dynamic: float = float("nan")
    scene_flow_epe_dynamic_no_motion: float = float("nan")
    motion_intersection: int = 0
    motion_union: int = 0
    objects: ObjectMetrics | None = None


@dataclass
class Snapshot:
    """One window kept for pictures (latest frame, raw resolution).

    Attributes:
        depth: ``[H, W]`` predicted depth in ``units`` (NaN where none).
        flow_speed: ``[H, W]`` scene-flow speed in ``units`` per second.
        moving_speed: the speed above which a point counts as moving in this window (motion threshold x
            scene scale / frame interval), so pictures can show slower motion as still.
        units: "model" or "m".
    """

    stamp_ns: int
    rgb: np.ndarray
    depth: np.ndarray
    motion_mask: np.ndarray | None
    gt_motion_mask: np.ndarray | None
    flow_speed: np.ndarray | None
    moving_speed: float = float("nan")
    units: str = "model"


@dataclass
class TrajectoryComparison:
    """Estimated poses matched to ground truth, the estimate already Sim(3)-aligned: ``[M, 4, 4]`` each."""

    stamps_ns: np.ndarray
    estimate_aligned: np.ndarray
    groundtruth: np.ndarray
    source: str

    @property
    def position_errors(self) -> np.ndarray:
        return np.linalg.norm(self.estimate_aligned[:, :3, 3] - self.groundtruth[:, :3, 3], axis=-1)


@dataclass
class BagEvaluation:
    bag: str
    topics: BagTopics
    model: str
    frames: int
    windows: int
    bag_duration_s: float
    wall_s: float
    metrics: dict[str, float]
    no_motion: dict[str, float]
    protocol: dict[str, Any] | None
    records: list[WindowRecord]
    trajectory: TrajectoryComparison | None
    snapshots: list[Snapshot]
    notes: list[str] = field(default_factory=list)
    #: "offline" (latency = processing time per window) or "live" (latency = image sent to pose received).
    mode: str = "offline"
    #: Which motion source made the motion (:func:`~vdpm_ros.pipeline.processor.motion_source_line`).
    motion_source: str = ""
    node_log: str = ""
    #: The estimated (stitched) trajectory, with or without ground truth to compare it with.
    estimate: PoseTrack | None = None
    #: Stamp of the bag's first image: the origin of the report's time axes.
    first_stamp_ns: int | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready: everything but the arrays."""
        lat = np.array([r.latency_s for r in self.records]) if self.records else np.full(1, np.nan)
        lat = lat[np.isfinite(lat)] if np.isfinite(lat).any() else np.full(1, np.nan)
        return {
            "bag": self.bag,
            "model": self.model,
            "mode": self.mode,
            "motion_source": self.motion_source,
            "topics": {"image": self.topics.image, "camera_info": self.topics.camera_info, "depth": self.topics.depth,
                       "ground_truth": self.trajectory.source if self.trajectory else None},
            "frames": self.frames,
            "windows": self.windows,
            "metrics": self.metrics,
            "no_motion": self.no_motion,
            "synthetic_protocol": self.protocol,
            "timing": {
                "bag_duration_s": self.bag_duration_s,
                "wall_s": self.wall_s,
                "windows_per_s": self.windows / self.wall_s if self.wall_s > 0 else float("nan"),
                "real_time_factor": self.bag_duration_s / self.wall_s if self.wall_s > 0 else float("nan"),
                "window_latency_mean_s": float(lat.mean()),
                "window_latency_p50_s": float(np.percentile(lat, 50)),
                "window_latency_p95_s": float(np.percentile(lat, 95)),
            },
            "notes": self.notes,
        }  # fmt: skip


def _synthetic(path: Path, topics: BagTopics):
    return read_synthetic_bag(path) if INFO_TOPIC in topics.all_topics else None


class DepthMatcher:
    """Scores each window's depth against the sensor depth nearest in stamp, whether it comes before or after in the bag."""

    def __init__(self, tolerance_s: float = DEPTH_MATCH_S, keep: int = 60) -> None:
        self.tolerance_ns = int(tolerance_s * 1e9)
        self.recent: deque[tuple[int, np.ndarray]] = deque(maxlen=keep)
        self.pending: list[tuple[WindowRecord, np.ndarray, np.ndarray]] = []

    def add_depth(self, stamp_ns: int, depth: np.ndarray) -> None:
        self.recent.append((stamp_ns, depth))
        self._settle(final=False)

    def add_prediction(self, record: WindowRecord, predicted: np.ndarray, covered: np.ndarray) -> None:
        """``covered`` ``[H, W]``: the pixels the network input covers (a crop leaves some out).

        Inside it a pixel without a usable prediction is a failure; outside it there is no prediction to score.
        """
        self.pending.append((record, predicted, covered))
        self._settle(final=False)

    def finish(self) -> None:
        self._settle(final=True)

    def _settle(self, final: bool) -> None:
        newest = self.recent[-1][0] if self.recent else None
        waiting = []
        for rec, pred, covered in self.pending:
            # A closer depth image can still arrive until one later than the tolerance has been seen.
            if not final and (newest is None or newest <= rec.stamp_ns + self.tolerance_ns):
                waiting.append((rec, pred, covered))
                continue
            near = [(abs(t - rec.stamp_ns), d) for t, d in self.recent if abs(t - rec.stamp_ns) <= self.tolerance_ns]
            if near:
                gt = min(near, key=lambda x: x[0])[1]
                if gt.shape != pred.shape:  # the prediction is on the output grid over the sensor's image
                    gt = sample_nearest(gt, scaled_grid(gt.shape[:2], pred.shape[:2]))
                if gt.shape == pred.shape:
                    rec.depth_abs_rel, rec.depth_delta_1_25 = depth_metrics(pred[None], gt[None], ((gt > 0) & covered)[None])
        self.pending = waiting


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def compare_trajectory(estimate: PoseTrack, reference: PoseTrack, max_diff_s: float) -> TrajectoryComparison | None:
    idx, gt = reference.match(estimate.stamps_ns, max_diff_s)
    if len(idx) < 3:
        return None
    est = estimate.poses[idx]
    return TrajectoryComparison(estimate.stamps_ns[idx], align_sim3(est, gt), gt, reference.source)


def evaluate_bag(
    model: Any,
    path: str | Path,
    config: PipelineConfig,
    options: BagEvalOptions = BagEvalOptions(),
    model_name: str = "",
    progress: bool = True,
    on_output: Callable[[PipelineOutput], None] | None = None,
    pipeline: OfflinePipeline | None = None,
    objects: ObjectsConfig | None = None,
) -> BagEvaluation:
    """Run the pipeline over every image of the bag and measure it against the bag's ground truth.

    ``pipeline``: an OfflinePipeline of ``model`` and ``config`` made by the caller (to read its trajectory
    while the bag runs, as the output bag's path does); default: a new one, with ``objects`` (the moving
    objects and static map settings; the node's defaults unless given).
    """
    from tqdm import tqdm

    path = Path(path)
    topics = find_topics(path, options.image_topic, options.depth_topic)
    seq = _synthetic(path, topics)
    gt_track = read_tum_trajectory(options.groundtruth) if options.groundtruth else read_pose_track(path, topics, options.gt_tf)
    notes: list[str] = []
    if gt_track is None:
        notes.append("no camera ground truth (no PoseStamped topic, no /tf, no --groundtruth): ATE/RPE not measured")
    if topics.depth is None and seq is None:
        notes.append("no depth topic: depth metrics not measured")
    synth_stamps = None
    if seq is not None:
        synth_stamps = START_TIME_NS + np.round(seq.timestamps * 1e9).astype(np.int64)

    total_images = count_images(path, topics)
    # Snapshots spread over the windows expected if no frame is rate-limited (widely spaced stamps).
    expected = max(1, expected_windows((i * 10**12 for i in range(total_images)), config))
    keep = set(np.linspace(0, expected - 1, max(1, options.snapshots)).round().astype(int).tolist())
    pipe = pipeline or OfflinePipeline(model, config, objects)
    grid_truth: dict = {}  # output grid -> the sequence read on it
    records: list[WindowRecord] = []
    snapshots: list[Snapshot] = []
    depth_matcher = DepthMatcher()
    stamps: list[int] = []
    start = time.perf_counter()
    bar = tqdm(total=total_images, desc="eval bag", unit="frame", disable=not progress)
    # A synthetic bag's depth topic is ground truth already read with the sequence: do not decode it again.
    camera_topics = replace(topics, depth=None) if seq is not None else topics
    for msg in iter_camera(path, camera_topics):
        if msg.kind == "depth":
            depth_matcher.add_depth(msg.stamp_ns, msg.array)
            continue
        bar.update(1)
        stamps.append(msg.stamp_ns)
        out = pipe.push(Frame(stamp_ns=msg.stamp_ns, rgb=msg.array, intrinsics=msg.intrinsics))
        if out is None:
            continue
        if on_output is not None:
            on_output(out)
        r = out.result
        rec = WindowRecord(stamp_ns=r.latest_stamp_ns, latency_s=r.timings.total_s)
        gt_depth, gt_mask, flow_speed = None, None, None
        window = None
        if synth_stamps is not None:
            hits = [np.nonzero(synth_stamps == s)[0] for s in r.stamps_ns]
            window = [int(h[0]) for h in hits] if all(len(h) for h in hits) else None
        if window is not None:
            # The exact ground truth on the output grid of the results (read once per grid).
            truth = grid_truth.get(r.output_grid) or grid_truth.setdefault(r.output_grid, on_grid(seq, r.output_grid))
            gt_depth = truth.depth[window[-1]]
            scores = window_motion_scores(out, truth, window, config.motion_threshold)
            if scores is not None:
                rec.flow_epe_dynamic, rec.flow_epe_dynamic_no_motion = scores.flow_epe_m, scores.flow_epe_m_no_motion
                rec.scene_flow_epe_dynamic, rec.scene_flow_epe_dynamic_no_motion = scores.scene_flow_epe, scores.scene_flow_epe_no_motion
                gt_mask = scores.truth
                rec.motion_intersection = int((scores.predicted & gt_mask).sum())
                rec.motion_union = int((scores.predicted | gt_mask).sum())
                rec.objects = window_object_metrics(out, truth, window, config.motion_threshold)
        else:
            depth_matcher.add_prediction(rec, r.depth, r.valid)
        if gt_depth is not None:
            scored = (gt_depth > 0) & r.valid  # pixels a crop removed have no prediction to score
            rec.depth_abs_rel, rec.depth_delta_1_25 = depth_metrics(r.depth[None], gt_depth[None], scored[None])
        if len(records) in keep:
            moving_speed = float("nan")
            if r.scene_flow_camera is not None:
                flow_speed = np.linalg.norm(r.scene_flow_camera, axis=-1)
                moving_speed = config.motion_threshold * r.scene_scale / r.flow_dt_s
            snapshots.append(Snapshot(r.latest_stamp_ns, r.rgb.copy(), r.depth.copy(), r.motion_mask, gt_mask, flow_speed,
                                      moving_speed, r.units))  # fmt: skip
        records.append(rec)
    bar.close()
    depth_matcher.finish()
    wall = time.perf_counter() - start

    traj_stamps, traj_poses = pipe.trajectory()
    estimate = PoseTrack(traj_stamps, traj_poses, "estimate")
    metrics, no_motion, comparison = summarise(records, estimate, gt_track, options, notes)
    protocol = None
    if seq is not None and options.protocol_frames:
        protocol = _synthetic_protocol(model, seq, options.protocol_frames, notes)
    duration = (stamps[-1] - stamps[0]) * 1e-9 if len(stamps) > 1 else 0.0
    return BagEvaluation(
        bag=str(path), topics=topics, model=model_name, frames=len(stamps), windows=len(records), bag_duration_s=duration,
        wall_s=wall, metrics=metrics, no_motion=no_motion, protocol=protocol, records=records, trajectory=comparison,
        snapshots=snapshots, notes=notes, estimate=estimate,
        motion_source=motion_source_line(config.motion_source, pipe.processor.motion_source), first_stamp_ns=stamps[0] if stamps else None,
    )  # fmt: skip


def summarise(
    records: list[WindowRecord], estimate: PoseTrack, gt_track: PoseTrack | None, options: BagEvalOptions, notes: list[str]
) -> tuple[dict[str, float], dict[str, float], TrajectoryComparison | None]:
    """Sequence metrics from the per-window records and the estimated trajectory: (metrics, no-motion baseline, trajectory)."""
    comparison = None
    metrics: dict[str, float] = {}
    if gt_track is not None and len(estimate.stamps_ns) >= 3:
        comparison = compare_trajectory(estimate, gt_track, options.max_time_diff_s)
        if comparison is None:
            notes.append(f"fewer than 3 poses matched ground truth within {options.max_time_diff_s} s: ATE/RPE not measured")
        else:
            est_idx, gt = gt_track.match(estimate.stamps_ns, options.max_time_diff_s)
            metrics["ate_m"] = ate_rmse(estimate.poses[est_idx], gt)
            metrics["rpe_trans_m"], metrics["rpe_rot_deg"] = rpe_rmse(estimate.poses[est_idx], gt, delta=1)
            metrics["trajectory_poses_matched"] = float(len(est_idx))
    union = sum(r.motion_union for r in records)
    if union:
        # Pooled over the sequence: windows where nothing moves and nothing is flagged do not count as perfect.
        metrics["motion_iou"] = sum(r.motion_intersection for r in records) / union
    for key in ("depth_abs_rel", "depth_delta_1_25", "flow_epe_dynamic", "scene_flow_epe_dynamic"):
        value = _nanmean([getattr(r, key) for r in records])
        if np.isfinite(value):
            metrics[key] = value
    scored = [r.objects for r in records if r.objects is not None]
    if scored:  # pooled over the windows: recall and precision from the summed counts
        summary = object_summary(scored)
        metrics.update({k: summary[k] for k in OBJECT_METRICS})
        metrics["objects_ground_truth"] = float(summary["objects"]["ground_truth"])
        metrics["objects_matched"] = float(summary["objects"]["matched"])
    no_motion = {}
    if "flow_epe_dynamic" in metrics:
        no_motion = {"flow_epe_dynamic": _nanmean([r.flow_epe_dynamic_no_motion for r in records]), "motion_iou": 0.0,
                     "scene_flow_epe_dynamic": _nanmean([r.scene_flow_epe_dynamic_no_motion for r in records])}  # fmt: skip
    return metrics, no_motion, comparison


def _synthetic_protocol(model: Any, seq, frames: int, notes: list[str]) -> dict[str, Any] | None:
    """``vdpm eval --synthetic``'s metrics on the bag's first ``frames`` frames, on the network's input grid.

    A bag rendered at a camera resolution above the network's input is preprocessed as the pipeline does it,
    and its exact ground truth is read under each network pixel (:func:`~vdpm_ros.synth.resample.to_network_grid`).
    """
    if seq.num_frames < frames:
        notes.append(f"synthetic protocol skipped: the bag has {seq.num_frames} frames, the protocol needs {frames}")
        return None
    h, w = seq.images.shape[1:3]
    window = to_network_grid(first_frames(seq, frames), "crop", model.config.img_size)
    net_h, net_w = window.images.shape[1:3]
    cfg = SyntheticEvalConfig(frames=frames, height=net_h, width=net_w)
    result = evaluate_sequence_data(model, window, cfg)
    return {**result["model"], "no_motion": result["no_motion"], "seed": seq.seed, "frames": frames, "size": [h, w],
            "network_size": [net_h, net_w]}  # fmt: skip
