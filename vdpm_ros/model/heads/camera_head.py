"""Camera head: iteratively refines a 9-value pose encoding per frame from the camera tokens."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..config import VDPMConfig
from ..layers import Block, Mlp
from .activations import activate

POSE_ENCODING_DIM = 9  # tx ty tz qx qy qz qw fov_h fov_w


class CameraHead(nn.Module):
    """``camera tokens [B, S, 2C]`` -> list of ``num_iterations`` pose encodings ``[B, S, 9]``.

    Every iteration embeds the previous estimate (a learned empty token at first), uses it to
    modulate the normalised camera tokens (adaLN), runs the trunk (attention across the S frames)
    and adds a predicted delta. The last entry is the final estimate.
    """

    def __init__(self, config: VDPMConfig) -> None:
        super().__init__()
        cfg = config.camera_head
        dim = 2 * config.embed_dim
        self.cfg = cfg
        self.trunk = nn.Sequential(*(Block(dim, cfg.num_heads, cfg.mlp_ratio, cfg.init_values) for _ in range(cfg.trunk_depth)))
        self.token_norm = nn.LayerNorm(dim)
        self.trunk_norm = nn.LayerNorm(dim)
        self.empty_pose_tokens = nn.Parameter(torch.zeros(1, 1, POSE_ENCODING_DIM))
        self.embed_pose = nn.Linear(POSE_ENCODING_DIM, dim)
        self.poseLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 3 * dim))
        self.adaln_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.pose_branch = Mlp(dim, dim // 2, POSE_ENCODING_DIM)

    def _activate(self, raw: Tensor) -> Tensor:
        return torch.cat(
            [
                activate(raw[..., :3], self.cfg.trans_act),
                activate(raw[..., 3:7], self.cfg.quat_act),
                activate(raw[..., 7:], self.cfg.fov_act),
            ],
            dim=-1,
        )

    def forward(self, camera_tokens: Tensor) -> list[Tensor]:
        tokens = self.token_norm(camera_tokens)
        B, S, _ = tokens.shape
        raw: Tensor | None = None
        estimates = []
        for _ in range(self.cfg.num_iterations):
            previous = self.empty_pose_tokens.expand(B, S, -1) if raw is None else raw.detach()
            shift, scale, gate = self.poseLN_modulation(self.embed_pose(previous)).chunk(3, dim=-1)
            x = gate * (self.adaln_norm(tokens) * (1 + scale) + shift) + tokens
            delta = self.pose_branch(self.trunk_norm(self.trunk(x)))
            raw = delta if raw is None else raw + delta
            estimates.append(self._activate(raw))
        return estimates
