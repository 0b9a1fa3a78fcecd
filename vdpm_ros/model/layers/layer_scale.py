"""Per-channel learned residual scaling (CaiT-style LayerScale)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


def layer_scale_or_identity(dim: int, init_value: float | None) -> nn.Module:
    """The official blocks drop LayerScale entirely (no parameter) when its init value is falsy."""
    return LayerScale(dim, init_value) if init_value else nn.Identity()
