"""2D rotary position embedding (RoPE) over the patch grid, as used by VGGT's attention blocks."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn


class TokenPositions(NamedTuple):
    """RoPE positions of a token sequence.

    Attributes:
        index: ``[B, N, 2]`` int64 (row, col) of every token.
        length: one more than the largest row or column, known from the patch grid. Carrying it
            avoids reading ``index.max()`` back from the device (a sync per attention call, and a
            value an exported graph could not keep dynamic).
    """

    index: Tensor
    length: int

    def reshape(self, *shape: int) -> TokenPositions:
        return TokenPositions(self.index.reshape(*shape), self.length)


def token_positions(batch: int, grid_hw: tuple[int, int], num_special: int, device: torch.device | str) -> TokenPositions:
    """(row, col) RoPE position of every token of a frame.

    Special tokens (camera, time, registers) all sit at (0, 0); patch (r, c) sits at (r + 1, c + 1),
    so no patch shares a position with them.

    Returns:
        positions with ``index [batch, num_special + gh * gw, 2]``.
    """
    gh, gw = grid_hw
    rows = torch.arange(gh, device=device).repeat_interleave(gw)
    cols = torch.arange(gw, device=device).repeat(gh)
    patches = torch.stack([rows, cols], dim=-1) + 1
    special = torch.zeros(num_special, 2, dtype=patches.dtype, device=device)
    index = torch.cat([special, patches], dim=0).unsqueeze(0).expand(batch, -1, -1)
    return TokenPositions(index, max(gh, gw) + 1)


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

    def _compute_table(self, dim: int, length: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        inv_freq = 1.0 / (self.base ** (torch.arange(0, dim, 2, device=device).float() / dim))
        angles = torch.arange(length, device=device, dtype=inv_freq.dtype)[:, None] * inv_freq[None, :]
        angles = angles.to(dtype)
        angles = torch.cat([angles, angles], dim=-1)
        return angles.cos(), angles.sin()

    def _table(self, dim: int, length: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if torch.compiler.is_compiling() or torch.jit.is_tracing():
            return self._compute_table(dim, length, device, dtype)  # no cached tensors inside a graph
        key = (dim, length, device, dtype)
        if key not in self._tables:
            self._tables[key] = self._compute_table(dim, length, device, dtype)
        return self._tables[key]

    def forward(self, x: Tensor, positions: TokenPositions) -> Tensor:
        """Args:
        x: ``[B, heads, N, D]`` queries or keys, D divisible by 4.
        positions: (row, col) of every token, ``index [B, N, 2]``.
        """
        half = x.shape[-1] // 2
        cos, sin = self._table(half, positions.length, x.device, x.dtype)
        out = []
        for axis, part in enumerate(x.split(half, dim=-1)):
            pos = positions.index[..., axis]
            c = cos[pos][:, None]
            s = sin[pos][:, None]
            out.append(part * c + _rotate_half(part) * s)
        return torch.cat(out, dim=-1)
