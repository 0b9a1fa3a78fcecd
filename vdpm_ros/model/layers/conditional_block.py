"""Transformer block whose attention branch is modulated by a per-frame condition (DiT-style adaLN).

The decoder uses it to tell every frame which target time its points must be moved to.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import Attention
from .layer_scale import layer_scale_or_identity
from .mlp import Mlp
from .rope import RotaryEmbedding2D, TokenPositions


class Modulation(nn.Module):
    """Condition ``[M, C]`` -> shift, scale, gate, each ``[M, 1, C]``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(dim, 3 * dim)

    def forward(self, cond: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        shift, scale, gate = self.lin(F.silu(cond))[:, None, :].chunk(3, dim=-1)
        return shift, scale, gate


class ConditionalBlock(nn.Module):
    """Attention branch: ``gate * attn(norm1(x) * (1 + scale) + shift)``; MLP branch as in :class:`Block`.

    There is no ``ls1``: the gate plays that role (the official weights have none).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        init_values: float | None = None,
        qk_norm: bool = False,
        rope: RotaryEmbedding2D | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.modulation = Modulation(dim)
        self.attn = Attention(dim, num_heads, qk_norm=qk_norm, rope=rope)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = layer_scale_or_identity(dim, init_values)

    def forward(self, x: Tensor, cond: Tensor, positions: TokenPositions | None) -> Tensor:
        """Args:
        x: ``[N * S, P, C]`` (frame attention) or ``[N, S * P, C]`` (global attention); either way
            the tokens of one frame are contiguous, which is how each frame finds its condition.
        cond: ``[N * S, C]``, one condition per frame.
        positions: RoPE positions matching ``x``'s token layout.
        """
        shift, scale, gate = self.modulation(cond)
        per_frame = x.reshape(cond.shape[0], -1, x.shape[-1])
        h = (self.norm1(per_frame) * (1 + scale) + shift).reshape(x.shape)
        h = self.attn(h, positions).reshape(per_frame.shape) * gate
        x = x + h.reshape(x.shape)
        return x + self.ls2(self.mlp(self.norm2(x)))
