"""Pixel bookkeeping between the network grid and the optical-flow working grid.

Three grids show the same camera image: the raw camera image (H x W), the network input (h x w, a
resized and cropped or padded copy, described by :class:`~vdpm_ros.preprocessing.ImageTransform`) and
the working grid the flow is computed on (the raw image area-downscaled to h_f x w_f). All use the
pixel-centre convention (integer (u, v) = centre of column u, row v). Every map is indexed by the
network grid; flows are read there and their matches converted back to network pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..preprocessing import ImageTransform


def net_pixels(net_hw: tuple[int, int]) -> np.ndarray:
    """``[h, w, 2]`` float64 (u, v) pixel centres of the network grid."""
    h, w = net_hw
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([u, v], axis=-1)


def raw_to_working(uv: np.ndarray, raw_hw: tuple[int, int], work_hw: tuple[int, int]) -> np.ndarray:
    """Raw pixel coordinates ``[..., 2]`` -> working-grid coordinates (area resize: centres scale about -0.5)."""
    sx, sy = work_hw[1] / raw_hw[1], work_hw[0] / raw_hw[0]
    return (np.asarray(uv, dtype=np.float64) + 0.5) * np.array([sx, sy]) - 0.5


def working_to_raw(uv: np.ndarray, raw_hw: tuple[int, int], work_hw: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`raw_to_working`."""
    sx, sy = work_hw[1] / raw_hw[1], work_hw[0] / raw_hw[0]
    return (np.asarray(uv, dtype=np.float64) + 0.5) / np.array([sx, sy]) - 0.5


def net_to_working(transform: ImageTransform, work_hw: tuple[int, int]) -> np.ndarray:
    """``[h, w, 2]`` float32: where each network pixel centre of a frame lies on its working grid."""
    raw = transform.net_to_raw_pixels(net_pixels(transform.net_hw))
    return raw_to_working(raw, transform.raw_hw, work_hw).astype(np.float32)


def working_to_net(uv: np.ndarray, transform: ImageTransform, work_hw: tuple[int, int]) -> np.ndarray:
    """Working-grid coordinates ``[..., 2]`` of a frame -> its network-grid coordinates."""
    return transform.raw_to_net_pixels(working_to_raw(uv, transform.raw_hw, work_hw))


def read_bilinear(field: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``field [H, W, C]`` or ``[H, W]`` read at float positions ``uv [h, w, 2]`` (edges replicated)."""
    uv = np.asarray(uv, dtype=np.float32)
    return cv2.remap(
        np.ascontiguousarray(field, dtype=np.float32), uv[..., 0], uv[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def read_nearest(field: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``field [H, W, ...]`` (any dtype) read at the pixel nearest to each of ``uv [h, w, 2]`` (clamped)."""
    H, W = field.shape[:2]
    x = np.clip(np.rint(uv[..., 0]), 0, W - 1).astype(np.int64)
    y = np.clip(np.rint(uv[..., 1]), 0, H - 1).astype(np.int64)
    return field[y, x]


def inside_image(uv: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """``[...]`` bool: ``uv [..., 2]`` lies inside an image of size ``hw`` (its pixels' outer edges)."""
    h, w = hw
    return (uv[..., 0] >= -0.5) & (uv[..., 0] <= w - 0.5) & (uv[..., 1] >= -0.5) & (uv[..., 1] <= h - 0.5)
