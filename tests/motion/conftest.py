"""Fixtures of the motion-source tests: generated windows with the model's outputs replaced by exact ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from vdpm_ros.model.outputs import PointMaps
from vdpm_ros.preprocessing import ImageTransform, preprocess_images
from vdpm_ros.synth import SceneConfig, SyntheticSequence, generate_sequence

# 320 x 240 camera, 112 x 84 network (as in the motion protocol): a non-integer camera -> network map.
CAMERA_HW = (240, 320)
NET_WIDTH = 112


@dataclass
class ExactWindow:
    """A window whose "model outputs" are the ground truth, on the network grid (window frame = frame 0's camera)."""

    seq: SyntheticSequence
    images: list[np.ndarray]
    transforms: list[ImageTransform]
    own: PointMaps
    extrinsics: torch.Tensor
    intrinsics_net: torch.Tensor
    gt_net: np.ndarray  # [S, h, w, 3] P_L(t_j) for every j at the latest frame's network pixels
    valid_net: np.ndarray  # [h, w]

    @property
    def size(self) -> int:
        return len(self.images)

    def gt_moving(self, threshold: float = 0.025) -> np.ndarray:
        """The pipeline's rule on the ground truth: [h, w] bool."""
        L = self.size - 1
        scale = np.linalg.norm(self.gt_net[L][self.valid_net], axis=-1).mean()
        step = np.maximum(
            np.linalg.norm(self.gt_net[L] - self.gt_net[0], axis=-1), np.linalg.norm(self.gt_net[L] - self.gt_net[L - 1], axis=-1)
        )
        return self.valid_net & (step > threshold * scale)


def _net_index(tf: ImageTransform) -> tuple[np.ndarray, np.ndarray]:
    h, w = tf.net_hw
    H, W = tf.raw_hw
    u = tf.net_to_raw_pixels(np.stack([np.arange(w, dtype=np.float64), np.zeros(w)], -1))[:, 0]
    v = tf.net_to_raw_pixels(np.stack([np.zeros(h), np.arange(h, dtype=np.float64)], -1))[:, 1]
    return np.clip(np.rint(v), 0, H - 1).astype(np.int64), np.clip(np.rint(u), 0, W - 1).astype(np.int64)


def exact_window(seq: SyntheticSequence) -> ExactWindow:
    S = seq.num_frames
    images = [seq.images[i] for i in range(S)]
    _, transforms = preprocess_images(images, "crop", NET_WIDTH)
    rows, cols = _net_index(transforms[-1])
    own = np.stack([seq.pointmaps[i, i][rows][:, cols] for i in range(S)]).astype(np.float32)
    own[~np.stack([seq.valid[i][rows][:, cols] for i in range(S)])] = np.nan
    conf = np.full(own.shape[:-1], 3.0, np.float32)
    k_net = np.stack([transforms[i].intrinsics_to_net(seq.intrinsics[i].astype(np.float64)) for i in range(S)])
    L = S - 1
    gt_net = np.stack([seq.pointmaps[j, L][rows][:, cols] for j in range(S)]).astype(np.float64)
    return ExactWindow(
        seq=seq,
        images=images,
        transforms=transforms,
        own=PointMaps(torch.from_numpy(own)[None], torch.from_numpy(conf)[None], tuple(range(S)), torch.arange(S)[None]),
        extrinsics=torch.from_numpy(seq.extrinsics.astype(np.float64)),
        intrinsics_net=torch.from_numpy(k_net),
        gt_net=gt_net,
        valid_net=seq.valid[L][rows][:, cols],
    )


@pytest.fixture(scope="session")
def static_window() -> ExactWindow:
    """A moving camera in a scene where nothing else moves."""
    h, w = CAMERA_HW
    cfg = SceneConfig(height=h, width=w, frames=5, deforming_objects=0, static_object_prob=1.0, cross_view_prob=0.0)
    return exact_window(generate_sequence(6, cfg))


@pytest.fixture(scope="session")
def moving_window() -> ExactWindow:
    """A moving camera and moving objects."""
    h, w = CAMERA_HW
    return exact_window(generate_sequence(6, SceneConfig(height=h, width=w, frames=5)))
