"""2D rotary position embedding (RoPE) over the patch grid, as used by VGGT's attention blocks."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def token_positions(batch: int, grid_hw: tuple[int, int], num_special: int, device: torch.device | str) -> Tensor:
    """(row, col) RoPE position of every token of a frame.

    Special tokens (camera, time, registers) all sit at (0, 0); patch (r, c) sits at (r + 1, c + 1),
    so no patch shares a position with them.

    Returns:
        positions ``[batch, num_special + gh * gw, 2]`` int64.
    """
    gh, gw = grid_hw
    rows = torch.arange(gh, device=device).repeat_interleave(gw)
    cols = torch.arange(gw, device=device).repeat(gh)
    patches = torch.stack([rows, cols], dim=-1) + 1
    special = torch.zeros(num_special, 2, dtype=patches.dtype, device=device)
    return torch.cat([special, patches], dim=0).unsqueeze(0).expand(batch, -1, -1)


def _rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class RotaryEmbedding2D(nn.Module):
    """Rotates the first half of each head's channels by the row position and the second by the column.

    Within each half the usual 1D RoPE applies: channel pairs (c, c + d/2) rotate by
    ``pos / base ** (2k / d)``. Has no parameters.
    """

    def __init__(self, base: float = 100.0) -> None:
        super().__init__()
        self.base = float(base)
        self._tables: dict[tuple, tuple[Tensor, Tensor]] = {}

    def _table(self, dim: int, length: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        key = (dim, length, device, dtype)
        if key not in self._tables:
            inv_freq = 1.0 / (self.base ** (torch.arange(0, dim, 2, device=device).float() / dim))
            angles = torch.arange(length, device=device, dtype=inv_freq.dtype)[:, None] * inv_freq[None, :]
            angles = angles.to(dtype)
            angles = torch.cat([angles, angles], dim=-1)
            self._tables[key] = (angles.cos(), angles.sin())
        return self._tables[key]

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        """Args:
            x: ``[B, heads, N, D]`` queries or keys, D divisible by 4.
            positions: ``[B, N, 2]`` int64 (row, col) per token.
        """
        half = x.shape[-1] // 2
        # Tracing for export must not bake a data-dependent length; the grid bound is static there.
        length = int(positions.max()) + 1
        cos, sin = self._table(half, length, x.device, x.dtype)
        out = []
        for axis, part in enumerate(x.split(half, dim=-1)):
            pos = positions[..., axis]
            c = cos[pos][:, None]
            s = sin[pos][:, None]
            out.append(part * c + _rotate_half(part) * s)
        return torch.cat(out, dim=-1)
