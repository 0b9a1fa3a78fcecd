"""Pre-norm transformer block: ``x + ls1(attn(norm1(x)))`` then ``x + ls2(mlp(norm2(x)))``."""

from __future__ import annotations

from torch import Tensor, nn

from .attention import Attention
from .layer_scale import layer_scale_or_identity
from .mlp import Mlp
from .rope import RotaryEmbedding2D, TokenPositions


class Block(nn.Module):
    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        init_values: float | None = None,
        qk_norm: bool = False,
        rope: RotaryEmbedding2D | None = None,
        norm_eps: float = 1e-5,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=bias, proj_bias=bias, qk_norm=qk_norm, rope=rope)
        self.ls1 = layer_scale_or_identity(dim, init_values)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), bias=bias)
        self.ls2 = layer_scale_or_identity(dim, init_values)

    def forward(self, x: Tensor, positions: TokenPositions | None = None) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x), positions))
        return x + self.ls2(self.mlp(self.norm2(x)))
