"""Reading network-resolution maps at the pixel centres of the output grid.

The network sees a resized and cropped or padded copy of the camera image (see
:class:`vdpm_ros.preprocessing.ImageTransform`). The node publishes its outputs on an output grid over
the camera image (:func:`vdpm_ros.preprocessing.output_grid`: the camera's own pixels, the network's
scale, or a largest width), so each grid pixel centre is mapped to the camera image, then into the
network input, and the map is read there. Both mappings are separable (independent x and y scale and
offset), so one index per grid row and one per grid column suffice: resampling is two gathers, not a 2D
interpolation grid, and its cost grows with the output grid, not with the camera.

Raw pixels that fall outside the part of the network input that shows the image (cropped away in
"crop" mode) get no prediction and are marked invalid. Reads are clamped to that part, so padding
(whose predictions are meaningless) never leaks into a raw pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..preprocessing import ImageTransform


@dataclass(frozen=True)
class RawSampling:
    """Where each output-grid pixel reads the network-resolution maps (the grid is ``h x w``).

    Attributes:
        rows0, rows1: ``[h]`` int64 network rows read by each grid row (equal for "nearest").
        cols0, cols1: ``[w]`` int64 network columns read by each grid column.
        wy: ``[h]`` float32 weight of ``rows1`` (0 for "nearest").
        wx: ``[w]`` float32 weight of ``cols1``.
        valid: ``[h, w]`` bool, the grid pixel's centre is inside the image part of the network input.
    """

    rows0: Tensor
    rows1: Tensor
    cols0: Tensor
    cols1: Tensor
    wy: Tensor
    wx: Tensor
    valid: Tensor


def _axis(coords: np.ndarray, lo: int, hi: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices, weights and validity along one axis; the image content spans network pixels [lo, hi)."""
    # Pixel k covers [k - 0.5, k + 0.5]; a raw centre outside [lo - 0.5, hi - 0.5] was cropped away.
    valid = (coords >= lo - 0.5) & (coords <= hi - 0.5)
    c = np.clip(coords, lo, hi - 1)
    if mode == "nearest":
        i0 = np.clip(np.floor(c + 0.5), lo, hi - 1).astype(np.int64)
        return i0, i0, np.zeros(len(c), np.float32), valid
    i0 = np.floor(c).astype(np.int64)
    i1 = np.minimum(i0 + 1, hi - 1)
    return i0, i1, (c - i0).astype(np.float32), valid


def raw_sampling(
    transform: ImageTransform, mode: str = "nearest", device: torch.device | str = "cpu", grid: ImageTransform | None = None
) -> RawSampling:
    """Build the reads of one frame's network maps at the pixels of ``grid`` ("nearest" or "bilinear").

    ``grid`` maps camera pixels to output-grid pixels (:func:`~vdpm_ros.preprocessing.output_grid`); None =
    the camera's own pixels.
    """
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"resampling mode must be 'nearest' or 'bilinear', got {mode!r}")
    h, w = grid.net_hw if grid is not None else transform.raw_hw
    top, bottom, left, right = transform.valid_region
    # Grid pixel centres -> camera pixels -> network pixels; both maps are separable.
    gu, gv = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    if grid is not None:
        gu = grid.net_to_raw_pixels(np.stack([gu, np.zeros(w)], axis=-1))[:, 0]
        gv = grid.net_to_raw_pixels(np.stack([np.zeros(h), gv], axis=-1))[:, 1]
    u = transform.raw_to_net_pixels(np.stack([gu, np.zeros(w)], axis=-1))[:, 0]
    v = transform.raw_to_net_pixels(np.stack([np.zeros(h), gv], axis=-1))[:, 1]
    r0, r1, wy, vy = _axis(v, top, bottom, mode)
    c0, c1, wx, vx = _axis(u, left, right, mode)

    def t(a: np.ndarray) -> Tensor:
        return torch.from_numpy(a).to(device)

    return RawSampling(t(r0), t(r1), t(c0), t(c1), t(wy), t(wx), t(vy[:, None] & vx[None, :]))


def net_valid_mask(transform: ImageTransform, device: torch.device | str = "cpu") -> Tensor:
    """``[h, w]`` bool: network pixels that show the camera image (False on padding)."""
    h, w = transform.net_hw
    top, bottom, left, right = transform.valid_region
    mask = torch.zeros(h, w, dtype=torch.bool, device=device)
    mask[top:bottom, left:right] = True
    return mask


def sample_to_raw(maps: Tensor, sampling: RawSampling) -> Tensor:
    """``maps [h_net, w_net, ...]`` on the network grid -> ``[h, w, ...]`` read at the output grid's pixel centres.

    Invalid grid pixels (see ``sampling.valid``) hold the value of the nearest image pixel; mask them.
    Bilinear weights are applied in the maps' dtype (boolean maps must use "nearest").
    """
    rows = maps.index_select(0, sampling.rows0)
    if torch.equal(sampling.rows0, sampling.rows1) and torch.equal(sampling.cols0, sampling.cols1):
        return rows.index_select(1, sampling.cols0)
    extra = (1,) * (maps.ndim - 2)
    wy = sampling.wy.to(maps.dtype).reshape(-1, 1, *extra)
    wx = sampling.wx.to(maps.dtype).reshape(1, -1, *extra)
    rows = rows + wy * (maps.index_select(0, sampling.rows1) - rows)
    left = rows.index_select(1, sampling.cols0)
    return left + wx * (rows.index_select(1, sampling.cols1) - left)
