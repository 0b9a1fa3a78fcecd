"""Training batches generated on the fly from ``vdpm_ros.synth``, already scale-normalised.

Seeds: training draws scenes from seeds >= ``TRAIN_SEED_OFFSET``; evaluation uses seeds below it
(the documented held-out set is 1000-1999), so the two never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..geometry import cameras_to_pose_encoding
from ..synth import SceneConfig, SyntheticSequence, generate_sequence

TRAIN_SEED_OFFSET = 1_000_000


@dataclass
class TrainingBatch:
    """Attributes (B examples, S frames, H x W network resolution, frame-0 camera frame, unit mean distance):
    images ``[B, S, 3, H, W]`` in [0, 1]; frame_times ``[B, S]`` target time of each frame;
    gt_time_variant ``[B, S, H, W, 3]`` P_i(t_i); gt_dynamic ``[B, S, H, W, 3]`` P_i(t_{frame_times[i]});
    valid ``[B, S, H, W]``; gt_pose_enc ``[B, S, 9]``; scale ``[B]`` metres per unit.
    """

    images: Tensor
    frame_times: Tensor
    gt_time_variant: Tensor
    gt_dynamic: Tensor
    valid: Tensor
    gt_pose_enc: Tensor
    scale: Tensor

    def to(self, device: torch.device | str) -> "TrainingBatch":
        return TrainingBatch(**{k: v.to(device) for k, v in vars(self).items()})


def example_from_sequence(seq: SyntheticSequence, frame_times: np.ndarray) -> dict[str, Tensor]:
    """One training example; the scale is the mean distance of all valid P_i(t_i) to the frame-0 camera."""
    S = seq.num_frames
    idx = np.arange(S)
    tv = seq.pointmaps[idx, idx]  # [S, H, W, 3]
    dyn = seq.pointmaps[frame_times, idx]
    scale = float(np.linalg.norm(tv[seq.valid], axis=-1).mean())
    extrinsics = torch.from_numpy(seq.extrinsics.astype(np.float32)).clone()
    extrinsics[..., 3] /= scale
    pose_enc = cameras_to_pose_encoding(extrinsics[None], torch.from_numpy(seq.intrinsics)[None], seq.images.shape[1:3])[0]
    return {
        "images": torch.from_numpy(seq.images).permute(0, 3, 1, 2).float() / 255.0,
        "frame_times": torch.from_numpy(frame_times.astype(np.int64)),
        "gt_time_variant": torch.from_numpy(tv / scale).float(),
        "gt_dynamic": torch.from_numpy(dyn / scale).float(),
        "valid": torch.from_numpy(seq.valid),
        "gt_pose_enc": pose_enc,
        "scale": torch.tensor(scale),
    }


def make_batch(step: int, batch_size: int, scene: SceneConfig, base_seed: int = TRAIN_SEED_OFFSET) -> TrainingBatch:
    """Deterministic batch number ``step``: scenes ``base_seed + step * batch_size + b``.

    Each frame gets its own random target time ("mixed target times"), as in V-DPM training.
    """
    examples = []
    for b in range(batch_size):
        seed = base_seed + step * batch_size + b
        seq = generate_sequence(seed, scene)
        times = np.random.default_rng(seed).integers(0, scene.frames, size=scene.frames)
        examples.append(example_from_sequence(seq, times))
    return TrainingBatch(**{k: torch.stack([e[k] for e in examples]) for k in examples[0]})
