"""The two exported computations, as modules with tensor-only inputs and outputs (batch of one window).

Encoder: ``images [S, 3, H, W]`` -> everything decoding needs plus the time-variant maps and cameras.
Decoder: encoder state + ``cond_times [Q, S]`` + ``frames [F]`` -> P_f(t_{cond[q, f]}) for every query.
A row of ``cond_times`` filled with j asks for target time j for every frame (``VDPM.decode``); a row
with one time per frame is the training-style conditioning (``VDPM.decode_per_frame``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..model import VDPM

ENCODER_INPUTS = ("images",)
ENCODER_OUTPUTS = ("layer_tokens", "camera_tokens", "time_tokens", "pose_enc_iterations", "time_variant_pts3d", "time_variant_conf")
DECODER_INPUTS = ("layer_tokens", "time_tokens", "cond_times", "frames")
DECODER_OUTPUTS = ("pts3d", "conf")


class EncoderGraph(nn.Module):
    def __init__(self, model: VDPM) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        """``images [S, 3, H, W]`` in [0, 1] -> layer_tokens ``[4, S, P, 2C]``, camera/time tokens ``[S, 2C]``,
        pose encodings of every refinement step ``[K, S, 9]``, time-variant points ``[S, H, W, 3]`` and confidence ``[S, H, W]``."""
        m = self.model
        state = m.encode(images[None])
        pose = torch.stack(m.camera_head(state.camera_tokens))[:, 0]
        n = m.num_special_tokens
        layers = [t[0, :, n:] for t in state.layer_tokens]
        pts, conf = m.point_head.predict(layers, state.image_hw)
        return state.layer_tokens[:, 0], state.camera_tokens[0], state.time_tokens[0], pose, pts, conf


class DecoderGraph(nn.Module):
    def __init__(self, model: VDPM, image_hw: tuple[int, int]) -> None:
        super().__init__()
        self.model = model
        self.image_hw = image_hw

    def forward(self, layer_tokens: Tensor, time_tokens: Tensor, cond_times: Tensor, frames: Tensor) -> tuple[Tensor, Tensor]:
        """-> pts3d ``[Q, F, H, W, 3]`` and conf ``[Q, F, H, W]``; all queries in one decoder batch."""
        m = self.model
        L, S, P, C = layer_tokens.shape
        Q = cond_times.shape[0]
        cond = time_tokens[cond_times.reshape(-1)].reshape(Q, S, C)
        tokens = layer_tokens[:, None].expand(L, Q, S, P, C).reshape(L * Q, S, P, C)
        cond = cond[None].expand(L, Q, S, C).reshape(L * Q, S, C)
        grid = (self.image_hw[0] // m.config.patch_size, self.image_hw[1] // m.config.patch_size)
        decoded = m.decoder(tokens, cond, grid).reshape(L, Q, S, P, C)
        selected = torch.index_select(decoded, 2, frames)[..., m.num_special_tokens :, :]
        F = frames.shape[0]
        layers = [selected[i].reshape(Q * F, P - m.num_special_tokens, C) for i in range(L)]
        pts, conf = m.point_head.predict(layers, self.image_hw)
        H, W = self.image_hw
        return pts.reshape(Q, F, H, W, 3), conf.reshape(Q, F, H, W)
