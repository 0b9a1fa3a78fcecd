"""Reading network-resolution maps at the raw camera image's pixel centres.

The network sees a resized and cropped or padded copy of the camera image (see
:class:`vdpm_ros.preprocessing.ImageTransform`). Every output the node publishes is indexed by raw
pixels, so each raw pixel centre is mapped into the network input and the map is read there. The
mapping is separable (independent x and y scale and offset), so one index per raw row and one per raw
column suffice: resampling is two gathers, not a 2D interpolation grid.

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
    """Where each raw pixel reads the network-resolution maps.

    Attributes:
        rows0, rows1: ``[H_raw]`` int64 network rows read by each raw row (equal for "nearest").
        cols0, cols1: ``[W_raw]`` int64 network columns read by each raw column.
        wy: ``[H_raw]`` float32 weight of ``rows1`` (0 for "nearest").
        wx: ``[W_raw]`` float32 weight of ``cols1``.
        valid: ``[H_raw, W_raw]`` bool, the raw pixel is inside the image part of the network input.
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


def raw_sampling(transform: ImageTransform, mode: str = "nearest", device: torch.device | str = "cpu") -> RawSampling:
    """Build the raw-pixel reads of one frame's network maps ("nearest" or "bilinear")."""
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"resampling mode must be 'nearest' or 'bilinear', got {mode!r}")
    H, W = transform.raw_hw
    top, bottom, left, right = transform.valid_region
    u = transform.raw_to_net_pixels(np.stack([np.arange(W, dtype=np.float64), np.zeros(W)], axis=-1))[:, 0]
    v = transform.raw_to_net_pixels(np.stack([np.zeros(H), np.arange(H, dtype=np.float64)], axis=-1))[:, 1]
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
    """``maps [h, w, ...]`` on the network grid -> ``[H_raw, W_raw, ...]`` read at raw pixel centres.

    Invalid raw pixels (see ``sampling.valid``) hold the value of the nearest image pixel; mask them.
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
