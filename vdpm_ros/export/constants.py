"""Shape-only computations of the model, turned into constants while a graph is traced for export.

Three parts of the model compute tensors from the image size alone. Eagerly that is harmless; in an
exported graph each becomes a problem for some runtime:

- DINOv2 resamples its learned square position grid with an antialiased bicubic ``interpolate``. In
  ONNX that is a ``Resize`` with ``mode=cubic`` and ``antialias=1``, which TensorRT 10's ONNX parser does
  not support (it takes nearest/linear and no antialiasing).
- The DPT head's sin-cos position embedding is computed in float64 (the trained weights saw its float64
  values rounded once). The exporter's constant folding gives up on the full-resolution one (it is large),
  so float64 ``Mul``/``Sin``/``Cos`` stay in the graph (TensorRT casts DOUBLE down, VGGT's float64
  ``Einsum`` variant does not load in ONNX Runtime at all).
- RoPE's cos/sin tables are computed from ``arange`` in the activations' dtype; in fp16 that rounds the
  angles themselves, the drift reported for VGGT's fp16 exports.

H and W are fixed per export, so every one of these is a constant of the export. Inside
:func:`frozen_graph_constants` the three modules return precomputed tensors instead, computed exactly as
the eager code computes them (float64 where it uses float64), so the fp32 graphs compute the same numbers
as PyTorch. The large DPT embedding is stored separably (the first half of its channels depends on the
column only, the second half on the row only) and broadcast in the graph: the same values, a few KB of
constants instead of ``C x H x W``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from ..model import VDPM
from ..model.heads.dpt_head import sincos_embedding, uv_grid


def _dpt_shapes(model: VDPM, image_hw: tuple[int, int]) -> list[tuple[int, int, int]]:
    """(channels, h, w) of every tensor the DPT head adds its position embedding to."""
    H, W = image_hw
    p = model.config.patch_size
    gh, gw = H // p, W // p
    shapes = [(c, gh, gw) for c in model.config.point_head.out_channels]
    shapes.append((model.config.point_head.features // 2, H, W))
    return shapes


def _separable_sincos(channels: int, h: int, w: int, aspect: float) -> tuple[Tensor, Tensor]:
    """The DPT embedding ``[channels, h, w]`` as ``u_part [channels/2, 1, w]`` and ``v_part [channels/2, h, 1]``."""
    full = sincos_embedding(uv_grid(h, w, aspect, torch.float32, torch.device("cpu")), channels).float()
    half = channels // 2
    u_part, v_part = full[:half, :1, :].clone(), full[half:, :, :1].clone()
    rebuilt = torch.cat([u_part.expand(-1, h, -1), v_part.expand(-1, -1, w)], dim=0)
    if not torch.equal(rebuilt, full):  # guards the separability the graph relies on
        raise AssertionError(f"DPT position embedding {channels}x{h}x{w} is not separable")
    return u_part, v_part


@contextlib.contextmanager
def frozen_graph_constants(model: VDPM, image_hw: tuple[int, int]) -> Iterator[None]:
    """While active, ``model`` computes its image-size-only tensors as constants for ``image_hw``.

    The overrides are instance attributes that shadow three methods (``DinoV2._position_embedding``,
    ``RotaryEmbedding2D._table`` and ``DPTHead._add_pos_embed``); they are removed on exit, so the model
    is unchanged afterwards. Calling the model at another size inside the block is an error.
    """
    H, W = image_hw
    p = model.config.patch_size
    grid = (H // p, W // p)
    dino = model.aggregator.patch_embed
    head = model.point_head
    ropes = [model.aggregator.rope, model.decoder.rope]
    aspect = W / H

    with torch.no_grad():
        pos_embed = dino._position_embedding(*grid).detach().clone()
    sincos = {shape: _separable_sincos(*shape, aspect) for shape in _dpt_shapes(model, image_hw)} if head.pos_embed else {}

    def position_embedding(grid_h: int, grid_w: int) -> Tensor:
        if (grid_h, grid_w) != grid:
            raise ValueError(f"export for a {grid[0]}x{grid[1]} patch grid was asked for {grid_h}x{grid_w}")
        return pos_embed

    def add_pos_embed(x: Tensor, _aspect: float) -> Tensor:
        key = (x.shape[1], x.shape[-2], x.shape[-1])
        u_part, v_part = sincos[key]
        h, w = key[1], key[2]
        emb = torch.cat([u_part.expand(-1, h, -1), v_part.expand(-1, -1, w)], dim=0).to(x.dtype)
        return x + 0.1 * emb[None]

    def rope_table(rope):
        tables: dict[tuple, tuple[Tensor, Tensor]] = {}

        def table(dim: int, length: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
            # Angles, cos and sin in float32 whatever the activations' dtype; cast once at the end.
            key = (dim, length, dtype)
            if key not in tables:
                cos, sin = rope._compute_table(dim, length, torch.device("cpu"), torch.float32)
                tables[key] = (cos.to(dtype), sin.to(dtype))
            cos, sin = tables[key]
            return cos.to(device), sin.to(device)

        return table

    dino._position_embedding = position_embedding
    if head.pos_embed:
        head._add_pos_embed = add_pos_embed
    for rope in ropes:
        rope._table = rope_table(rope)
    try:
        yield
    finally:
        del dino._position_embedding
        if head.pos_embed:
            del head._add_pos_embed
        for rope in ropes:
            del rope._table
