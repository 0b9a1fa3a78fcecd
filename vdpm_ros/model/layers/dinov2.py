"""DINOv2 ViT with registers: the per-frame patch embedding at the bottom of the aggregator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import PatchEmbedConfig
from .block import Block


class PatchProjection(nn.Module):
    """Non-overlapping ``patch x patch`` convolution: ``[N, 3, H, W] -> [N, (H/p)(W/p), C]``."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoV2(nn.Module):
    """Returns the final-norm patch tokens (class and register tokens are dropped after the blocks)."""

    def __init__(self, img_size: int, patch_size: int, embed_dim: int, config: PatchEmbedConfig) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.config = config
        self.grid = img_size // patch_size
        self.patch_embed = PatchProjection(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid**2, embed_dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, config.num_register_tokens, embed_dim)) if config.num_register_tokens else None
        # Unused at inference; kept because the official state dict has it.
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        self.blocks = nn.ModuleList(
            Block(embed_dim, config.num_heads, config.mlp_ratio, init_values=config.init_values, norm_eps=1e-6) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def _position_embedding(self, grid_h: int, grid_w: int) -> Tensor:
        """Learned square position grid resampled bicubically to the frame's patch grid."""
        if grid_h == grid_w == self.grid:
            return self.pos_embed
        dtype = self.pos_embed.dtype
        pos = self.pos_embed.float()
        dim = pos.shape[-1]
        side = int(math.sqrt(pos.shape[1] - 1))
        square = pos[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
        offset = self.config.interpolate_offset
        if offset:
            resize = {"scale_factor": ((grid_h + offset) / side, (grid_w + offset) / side)}
        else:
            resize = {"size": (grid_h, grid_w)}
        square = F.interpolate(square, mode="bicubic", antialias=self.config.interpolate_antialias, **resize)
        patches = square.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat([pos[:, :1], patches], dim=1).to(dtype)

    def forward(self, images: Tensor) -> Tensor:
        """``images [N, 3, H, W]`` (normalised) -> patch tokens ``[N, (H/p)(W/p), C]``."""
        n, _, h, w = images.shape
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(n, -1, -1), x], dim=1)
        x = x + self._position_embedding(h // self.patch_size, w // self.patch_size)
        if self.register_tokens is not None:
            x = torch.cat([x[:, :1], self.register_tokens.expand(n, -1, -1), x[:, 1:]], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 1 + self.config.num_register_tokens :]
