"""Time-conditioned decoder: moves every frame's tokens to a requested target time."""

from __future__ import annotations

from torch import Tensor, nn

from .config import VDPMConfig
from .layers import ConditionalBlock, RotaryEmbedding2D, token_positions


class Decoder(nn.Module):
    """Alternating frame/global :class:`ConditionalBlock` s at width ``2 * embed_dim``.

    Each sequence in the batch is one (DPT layer, target-time query, batch item) combination;
    the same weights serve all of them, which is why they can be stacked along the batch.
    """

    def __init__(self, config: VDPMConfig) -> None:
        super().__init__()
        cfg = config.decoder
        dim = 2 * config.embed_dim
        self.patch_size = config.patch_size
        self.num_special = config.num_special_tokens
        self.rope = RotaryEmbedding2D(cfg.rope_freq)

        def blocks() -> nn.ModuleList:
            return nn.ModuleList(
                ConditionalBlock(dim, cfg.num_heads, cfg.mlp_ratio, cfg.init_values, cfg.qk_norm, self.rope) for _ in range(cfg.depth)
            )

        # The extra ModuleList level reproduces the official parameter names (decoder.frame_blocks.0.<i>).
        self.frame_blocks = nn.ModuleList([blocks()])
        self.global_blocks = nn.ModuleList([blocks()])

    def forward(self, tokens: Tensor, cond: Tensor, grid_hw: tuple[int, int]) -> Tensor:
        """Args:
            tokens: ``[N, S, P, 2C]`` aggregator tokens of one DPT layer per sequence.
            cond: ``[N, S, 2C]`` condition of every frame (the target time's time-conditioning token).
            grid_hw: patch grid of the frames.

        Returns:
            ``[N, S, P, 2C]`` decoded tokens.
        """
        N, S, P, C = tokens.shape
        frame_pos = token_positions(N * S, grid_hw, self.num_special, tokens.device)
        global_pos = frame_pos.reshape(N, S * P, 2)
        cond = cond.reshape(N * S, C)
        x = tokens.reshape(N * S, P, C)
        for frame_block, global_block in zip(self.frame_blocks[0], self.global_blocks[0]):
            x = frame_block(x.reshape(N * S, P, C), cond, frame_pos)
            x = global_block(x.reshape(N, S * P, C), cond, global_pos)
        return x.reshape(N, S, P, C)
