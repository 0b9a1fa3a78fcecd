"""The node protocol of ``vdpm eval --synthetic``: the node's pipeline, with its parameters, on generated scenes.

The synthetic protocol (:mod:`.synthetic`) scores the network alone on one window at its own resolution.
This one scores what the node publishes: each sequence is rendered at a camera resolution (default
320x240, above the embedded network's 112x84 input, as real cameras are), the node's pipeline runs over
it with the node's parameters (window size, ``motion_source``, ...), and every window's latest frame is
scored against the exact ground truth read on its output grid: the motion mask (IoU, pooled over the
windows), the scene flow (``scene_flow_epe_dynamic`` against zero flow), the share of pixels flagged as
moving (false alarms on static scenes) and the moving objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..pipeline import Frame, ObjectsConfig, OfflinePipeline, PipelineConfig
from ..pipeline.processor import motion_source_line
from ..synth import SceneConfig, SyntheticSequence, generate_sequence
from ..synth.resample import on_grid
from .objects import ObjectMetrics
from .pipeline_objects import object_summary, window_object_metrics
from .window_truth import window_motion_scores

#: Keys of the node protocol in ``vdpm eval --synthetic`` JSON (their no-motion values under ``no_motion``).
NODE_METRICS = ("node_motion_iou", "scene_flow_epe_dynamic", "node_flagged_fraction")


@dataclass(frozen=True)
class NodeProtocolConfig:
    """Attributes:
    camera_hw: (height, width) the scenes are rendered at.
    frames: frames per generated sequence (the node's windows slide over them one frame at a time).
    static_scenes: scenes in which nothing moves but the camera (every flagged pixel is a false alarm).
    """

    camera_hw: tuple[int, int] = (240, 320)
    frames: int = 10
    static_scenes: bool = False

    def scene(self) -> SceneConfig:
        h, w = self.camera_hw
        if self.static_scenes:
            return SceneConfig(height=h, width=w, frames=self.frames, deforming_objects=0, static_object_prob=1.0, cross_view_prob=0.0)
        return SceneConfig(height=h, width=w, frames=self.frames)


@dataclass
class SequenceScores:
    """What the node protocol found on one sequence."""

    intersection: int = 0
    union: int = 0
    flagged: list[float] | None = None
    epe: list[float] | None = None
    epe_no_motion: list[float] | None = None
    objects: list[ObjectMetrics] | None = None
    motion_source: str = ""


def score_sequence(model: Any, seq: SyntheticSequence, config: PipelineConfig, objects: ObjectsConfig | None = None) -> SequenceScores:
    """Run the node's pipeline over ``seq`` and score every window it publishes."""
    pipe = OfflinePipeline(model, config, objects)
    stamps = [int(round(float(t) * 1e9)) for t in seq.timestamps]
    index = {s: i for i, s in enumerate(stamps)}
    scores = SequenceScores(flagged=[], epe=[], epe_no_motion=[], objects=[])
    scores.motion_source = motion_source_line(config.motion_source, pipe.processor.motion_source)
    truths: dict = {}
    for i, stamp in enumerate(stamps):
        out = pipe.push(Frame(stamp_ns=stamp, rgb=seq.images[i], intrinsics=seq.intrinsics[i]))
        if out is None:
            continue
        grid = out.result.output_grid
        truth = truths.get(grid) or truths.setdefault(grid, on_grid(seq, grid))
        window = [index[s] for s in out.result.stamps_ns]
        m = window_motion_scores(out, truth, window, config.motion_threshold)
        if m is not None:
            scores.intersection += int((m.predicted & m.truth).sum())
            scores.union += int((m.predicted | m.truth).sum())
            scores.flagged.append(m.flagged_fraction)
            scores.epe.append(m.scene_flow_epe)
            scores.epe_no_motion.append(m.scene_flow_epe_no_motion)
        o = window_object_metrics(out, truth, window, config.motion_threshold)
        if o is not None:
            scores.objects.append(o)
    return scores


def _nanmean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def evaluate_node_protocol(model: Any, seeds: Sequence[int], config: PipelineConfig, protocol: NodeProtocolConfig | None = None,
                           objects: ObjectsConfig | None = None, progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """The node protocol over ``seeds``: JSON-ready metrics, their no-motion baselines, and per-seed values.

    ``node_motion_iou`` is the mean over sequences of the IoU pooled over each sequence's windows (a
    sequence where nothing moves and nothing is flagged is left out, not counted as perfect).
    """
    from tqdm import tqdm

    protocol = protocol or NodeProtocolConfig()
    per_seed = {}
    for seed in tqdm(seeds, desc="eval: node protocol", disable=not progress):
        per_seed[int(seed)] = score_sequence(model, generate_sequence(seed, protocol.scene()), config, objects)
    ious = [s.intersection / s.union for s in per_seed.values() if s.union]
    first = next(iter(per_seed.values()))
    out = {
        "node_motion_iou": float(np.mean(ious)) if ious else float("nan"),
        "scene_flow_epe_dynamic": _nanmean([e for s in per_seed.values() for e in s.epe]),
        "node_flagged_fraction": _nanmean([f for s in per_seed.values() for f in s.flagged]),
        "no_motion": {
            "node_motion_iou": 0.0 if ious else float("nan"),
            "scene_flow_epe_dynamic": _nanmean([e for s in per_seed.values() for e in s.epe_no_motion]),
            "node_flagged_fraction": 0.0,
        },
        "node_protocol": {
            "motion_source": first.motion_source, "camera_hw": list(protocol.camera_hw), "frames": protocol.frames,
            "window_size": config.window_size, "static_scenes": protocol.static_scenes,
            "per_seed": {s: {"motion_iou": (v.intersection / v.union) if v.union else None, "scene_flow_epe_dynamic": _nanmean(v.epe),
                             "no_motion_scene_flow_epe_dynamic": _nanmean(v.epe_no_motion), "flagged_fraction": _nanmean(v.flagged)}
                         for s, v in per_seed.items()},
        },
    }  # fmt: skip
    out.update(object_summary([o for s in per_seed.values() for o in s.objects]))
    return out
