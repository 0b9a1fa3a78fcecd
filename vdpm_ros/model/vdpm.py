"""V-DPM: aggregator once per window, then decode only the target times and frames that are needed."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .aggregator import CAMERA_TOKEN, TIME_TOKEN, Aggregator
from .config import VDPMConfig
from .decoder import Decoder
from .heads import CameraHead, DPTHead
from .outputs import CameraPrediction, DynamicPointMaps, ForwardOutput, PointMaps, WindowState


def _as_window(images: Tensor) -> Tensor:
    if images.ndim == 4:
        images = images.unsqueeze(0)
    if images.ndim != 5 or images.shape[2] != 3:
        raise ValueError(f"images must be [S, 3, H, W] or [B, S, 3, H, W], got {tuple(images.shape)}")
    return images


def _full_precision(device: torch.device):
    """Autocast off for the heads; devices without autocast (meta, used for FLOP counting) need nothing."""
    if device.type in ("cuda", "cpu", "xpu", "mps"):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def frame_indices(frames: Sequence[int] | None, count: int, what: str) -> tuple[int, ...]:
    """A selection of frames (or target times) of a window of ``count``; None = all. Shared by every engine."""
    if frames is None:
        return tuple(range(count))
    out = tuple(int(f) for f in frames)
    if not out:
        raise ValueError(f"{what}: empty selection")
    bad = [f for f in out if not 0 <= f < count]
    if bad:
        raise ValueError(f"{what} {bad} out of range for a window of {count} frames")
    return out


def check_frame_times(frame_times: Tensor, batch: int, frames: int) -> None:
    """``frame_times`` must be ``[batch, frames]`` integer frame indices (per-frame conditioning)."""
    if tuple(frame_times.shape) != (batch, frames):
        raise ValueError(f"frame_times must be [B, S] = [{batch}, {frames}], got {tuple(frame_times.shape)}")
    if frame_times.is_floating_point() or frame_times.min() < 0 or frame_times.max() >= frames:
        raise ValueError(f"frame_times must be integer frame indices in [0, {frames}), got {frame_times.tolist()}")


class VDPM(nn.Module):
    """The official V-DPM architecture with a streaming-friendly API.

    Parameter names and shapes equal the official ``dpm.model.VDPM`` so its ``model.pt`` loads strictly.

    Typical use::

        state = model.encode(images)                      # backbone once
        cams = model.cameras(state)                       # poses + intrinsics
        latest = model.decode(state, [S - 2, S - 1], frames=[S - 1])  # only what is needed
    """

    def __init__(self, config: VDPMConfig | None = None) -> None:
        super().__init__()
        self.config = config or VDPMConfig.official()
        self.aggregator = Aggregator(self.config)
        self.decoder = Decoder(self.config)
        self.point_head = DPTHead(self.config)
        self.camera_head = CameraHead(self.config)
        #: Whether the decoder learned motion, as the checkpoint says (None: unknown, e.g. built in memory).
        #: The pipeline's ``motion_source: auto`` reads it.
        self.motion_trained: bool | None = None

    @property
    def num_special_tokens(self) -> int:
        return self.config.num_special_tokens

    def encode(self, images: Tensor) -> WindowState:
        """Run the aggregator once.

        Args:
            images: ``[S, 3, H, W]`` or ``[B, S, 3, H, W]`` RGB in [0, 1] (see ``vdpm_ros.preprocessing``).
        """
        images = _as_window(images)
        if not images.is_floating_point():
            raise ValueError(f"images must be float RGB in [0, 1], got {images.dtype}; see vdpm_ros.preprocessing")
        images = images.to(self.aggregator.camera_token.dtype)
        layer_ids = self.config.intermediate_layer_idx
        last = self.config.aggregator.depth - 1
        layers = self.aggregator(images, keep_layers=set(layer_ids) | {last})
        # clone(): slices would keep the whole last-layer tensor alive when it is not a DPT layer.
        camera_tokens = layers[last][:, :, CAMERA_TOKEN].clone()
        time_tokens = layers[last][:, :, TIME_TOKEN].clone()
        stacked = torch.stack([layers.pop(i) for i in layer_ids])
        return WindowState(
            layer_tokens=stacked, camera_tokens=camera_tokens, time_tokens=time_tokens, image_hw=(images.shape[-2], images.shape[-1])
        )

    def _grid(self, state: WindowState) -> tuple[int, int]:
        H, W = state.image_hw
        return H // self.config.patch_size, W // self.config.patch_size

    def _points(self, tokens: Tensor, image_hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """DPT on ``tokens [4, ..., F, P, 2C]`` (any leading dims) -> ``[..., F, H, W, 3]``, ``[..., F, H, W]``.

        The head runs in float32 outside any autocast, as the official code runs it: its exp-based
        activations lose too much in bf16. Each group of F frames is chunked on its own, which keeps
        the results identical to the official per-window head calls.
        """
        lead = tokens.shape[1:-2]
        n = self.num_special_tokens
        groups = tokens[..., n:, :].reshape(tokens.shape[0], -1, tokens.shape[-3], tokens.shape[-2] - n, tokens.shape[-1])
        pts, conf = [], []
        with _full_precision(tokens.device):
            for g in range(groups.shape[1]):
                p, c = self.point_head([layer[g].float() for layer in groups], image_hw)
                pts.append(p)
                conf.append(c)
        pts_t, conf_t = torch.stack(pts), torch.stack(conf)
        return pts_t.reshape(*lead, *pts_t.shape[2:]), conf_t.reshape(*lead, *conf_t.shape[2:])

    def time_variant(self, state: WindowState, frames: Sequence[int] | None = None) -> PointMaps:
        """P_i(t_i) for the selected frames: the point head on the aggregator tokens (VGGT-style path)."""
        sel = frame_indices(frames, state.frames, "frames")
        pts, conf = self._points(state.layer_tokens[:, :, list(sel)], state.image_hw)
        times = torch.tensor(sel, device=pts.device).expand(state.batch, -1)
        return PointMaps(pts3d=pts, conf=conf, frames=sel, times=times)

    def decode_tokens(self, state: WindowState, cond_times: Tensor) -> Tensor:
        """Decoder pass for a batch of conditionings.

        Args:
            cond_times: ``[Q, B, S]`` int64: for query q, frame i of item b is moved to time
                ``cond_times[q, b, i]``.

        Returns:
            ``[4, Q, B, S, P, 2C]`` decoded tokens; all queries and layers run in one decoder call.
        """
        L, B, S, P, C = state.layer_tokens.shape
        Q = cond_times.shape[0]
        if cond_times.shape != (Q, B, S):
            raise ValueError(f"cond_times must be [Q, {B}, {S}], got {tuple(cond_times.shape)}")
        index = cond_times.to(device=state.time_tokens.device, dtype=torch.int64)[..., None].expand(Q, B, S, C)
        cond = torch.gather(state.time_tokens.expand(Q, B, S, C), 2, index)
        tokens = state.layer_tokens[:, None].expand(L, Q, B, S, P, C).reshape(L * Q * B, S, P, C)
        cond = cond[None].expand(L, Q, B, S, C).reshape(L * Q * B, S, C)
        return self.decoder(tokens, cond, self._grid(state)).reshape(L, Q, B, S, P, C)

    def decode(
        self, state: WindowState, target_times: Sequence[int] | None = None, frames: Sequence[int] | None = None
    ) -> DynamicPointMaps:
        """P_i(t_j) for every requested target time j and frame i.

        The decoder attends over all S frames (global attention needs them); the point head runs only
        on the requested frames. ``None`` means all target times / all frames.
        """
        times = frame_indices(target_times, state.frames, "target_times")
        sel = frame_indices(frames, state.frames, "frames")
        B, S = state.batch, state.frames
        cond = torch.tensor(times, device=state.time_tokens.device)[:, None, None].expand(len(times), B, S)
        decoded = self.decode_tokens(state, cond)[:, :, :, list(sel)]
        pts, conf = self._points(decoded, state.image_hw)
        return DynamicPointMaps(pts3d=pts.transpose(0, 1), conf=conf.transpose(0, 1), target_times=times, frames=sel)

    def decode_per_frame(self, state: WindowState, frame_times: Tensor) -> PointMaps:
        """P_i(t_{c_i}) with each frame i conditioned on its own target time ``frame_times [B, S]``.

        This is the training-time conditioning; it differs from :meth:`decode` because global
        attention mixes frames that carry different conditions.
        """
        check_frame_times(frame_times, state.batch, state.frames)
        frame_times = frame_times.to(torch.int64)
        decoded = self.decode_tokens(state, frame_times[None])[:, 0]
        pts, conf = self._points(decoded, state.image_hw)
        return PointMaps(pts3d=pts, conf=conf, frames=tuple(range(state.frames)), times=frame_times)

    def cameras(self, state: WindowState) -> CameraPrediction:
        """Pose encodings of all frames (the camera head attends across frames)."""
        with _full_precision(state.camera_tokens.device):
            estimates = self.camera_head(state.camera_tokens.float())
        return CameraPrediction(pose_enc=estimates[-1], pose_enc_iterations=torch.stack(estimates))

    def forward(self, images: Tensor, frame_times: Tensor) -> ForwardOutput:
        """Training forward: ``images [B, S, 3, H, W]``, ``frame_times [B, S]`` target time per frame."""
        state = self.encode(images)
        return ForwardOutput(
            time_variant=self.time_variant(state),
            dynamic=self.decode_per_frame(state, frame_times),
            cameras=self.cameras(state),
            time_tokens=state.time_tokens,
        )

    @torch.no_grad()
    def inference_all(self, images: Tensor) -> tuple[DynamicPointMaps, CameraPrediction]:
        """Every target time for every frame plus cameras: the outputs of the official ``inference()``."""
        state = self.encode(images)
        return self.decode(state), self.cameras(state)
