"""Typed results of the model's streaming API.

Conventions for every array: S frames in the window, H x W the network input resolution, points in
the camera frame of the window's first frame (OpenCV axes: x right, y down, z forward), in the
model's normalised units (scale is arbitrary; see the README on metric scale).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class WindowState:
    """Everything the decoding steps need from one aggregator pass, and nothing more.

    Attributes:
        layer_tokens: ``[4, B, S, P, 2C]`` aggregator tokens of the four DPT/decoder layers.
        camera_tokens: ``[B, S, 2C]`` last-layer camera tokens (input of the camera head).
        time_tokens: ``[B, S, 2C]`` last-layer time-conditioning tokens; row j conditions target time t_j.
        image_hw: (H, W) of the network input.
    """

    layer_tokens: Tensor
    camera_tokens: Tensor
    time_tokens: Tensor
    image_hw: tuple[int, int]

    @property
    def batch(self) -> int:
        return self.layer_tokens.shape[1]

    @property
    def frames(self) -> int:
        return self.layer_tokens.shape[2]


@dataclass
class PointMaps:
    """One point map per frame, each frame at its own time index.

    Attributes:
        pts3d: ``[B, F, H, W, 3]``: ``pts3d[b, f]`` = P_{frames[f]}(t_{times[b, f]}).
        conf: ``[B, F, H, W]`` confidence >= 1.
        frames: the F frame indices, in order.
        times: ``[B, F]`` int64 target-time index of each map.
    """

    pts3d: Tensor
    conf: Tensor
    frames: tuple[int, ...]
    times: Tensor


@dataclass
class DynamicPointMaps:
    """Point maps of the requested frames moved to each requested target time.

    Attributes:
        pts3d: ``[B, T, F, H, W, 3]``: ``pts3d[b, k, f]`` = P_{frames[f]}(t_{target_times[k]}).
        conf: ``[B, T, F, H, W]`` confidence >= 1.
        target_times: the T target-time (frame) indices, in order.
        frames: the F frame indices, in order.
    """

    pts3d: Tensor
    conf: Tensor
    target_times: tuple[int, ...]
    frames: tuple[int, ...]

    def at(self, target_time: int, frame: int) -> tuple[Tensor, Tensor]:
        """P_frame(t_target) ``[B, H, W, 3]`` and its confidence ``[B, H, W]``."""
        k = self.target_times.index(target_time)
        f = self.frames.index(frame)
        return self.pts3d[:, k, f], self.conf[:, k, f]


@dataclass
class CameraPrediction:
    """Camera head output in the "absT_quaR_FoV" encoding (see ``vdpm_ros.geometry.pose_encoding``).

    Attributes:
        pose_enc: ``[B, S, 9]`` final estimate.
        pose_enc_iterations: ``[K, B, S, 9]`` the estimate after each of the K refinement steps.
    """

    pose_enc: Tensor
    pose_enc_iterations: Tensor


@dataclass
class ForwardOutput:
    """What one training step needs (mirrors the official ``VDPM.forward``).

    Attributes:
        time_variant: P_i(t_i) from the point head on the aggregator tokens.
        dynamic: P_i(t_{c_i}) with each frame conditioned on its own target time c_i.
        cameras: camera head output.
        time_tokens: ``[B, S, 2C]`` the per-frame time-conditioning tokens the decoder is conditioned on.
    """

    time_variant: PointMaps
    dynamic: PointMaps
    cameras: CameraPrediction
    time_tokens: Tensor | None = None
