"""Dense optical flow for the motion source: OpenCV's DIS, forward-backward checks, chaining.

All flows here are on the *working* grid (the camera image downscaled, see :func:`working_image`), in
working pixels, pixel-centre convention: ``flow[v, u] = (du, dv)`` moves pixel (u, v) of the source
image onto its match in the target image.

Why chaining: DIS is a coarse-to-fine patch method. Between frames far apart in a window (large
displacements, strong appearance change) it breaks down, while between consecutive frames it is
accurate. A long-range flow is therefore the composition of consecutive flows, refined by one more
DIS pass between the source image and the target image warped by the chained flow (which removes most
of the drift the composition accumulates). Measured on generated scenes: see docs/motion.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: DIS presets by name (OpenCV's constants).
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class FlowField:
    """A dense flow from a source image to a target image with a per-pixel trust.

    Attributes:
        flow: ``[h, w, 2]`` float32 (du, dv) in working pixels.
        valid: ``[h, w]`` bool: the match lands inside the target image and passed every
            forward-backward check on its way.
        error: ``[h, w]`` float32 worst forward-backward mismatch along the way (working pixels;
            ``inf`` where a link had no match at all).
    """

    flow: np.ndarray
    valid: np.ndarray
    error: np.ndarray


def working_size(raw_hw: tuple[int, int], width: int) -> tuple[int, int]:
    """(h, w) of the working grid: the camera image scaled to ``width`` columns, aspect kept."""
    H, W = raw_hw
    if width <= 0:
        raise ValueError(f"working width must be positive, got {width}")
    w = min(int(width), W)  # never upsample: it adds cost and no information
    return max(8, int(round(H * w / W))), max(8, w)


def working_image(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Camera image ``[H, W, 3]`` (or ``[H, W]``) uint8 -> grey ``[h, w]`` uint8 on the working grid.

    Area averaging is the right filter for downscaling (no aliasing of fine texture into false flow).
    """
    grey = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    h, w = size_hw
    if grey.shape != (h, w):
        grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey)


@dataclass(frozen=True)
class DisSettings:
    """OpenCV DIS settings: a preset and, optionally, the finest pyramid level it refines to.

    The presets stop one or two pyramid levels above the image (``finest_scale`` 1 or 2: the flow is
    computed at 1/2 or 1/4 resolution and upsampled); 0 computes it at the working resolution itself,
    which on a small working grid is both more accurate and cheaper than a larger grid at the preset's level.
    """

    preset: str = "medium"
    finest_scale: int | None = None

    def __post_init__(self) -> None:
        if self.preset not in DIS_PRESETS:
            raise ValueError(f"DIS preset must be one of {sorted(DIS_PRESETS)}, got {self.preset!r}")
        if self.finest_scale is not None and not 0 <= self.finest_scale <= 4:
            raise ValueError(f"DIS finest_scale must lie in 0..4 or be None, got {self.finest_scale}")


def dis_flow(source: np.ndarray, target: np.ndarray, settings: DisSettings = DisSettings()) -> np.ndarray:
    """DIS optical flow ``[h, w, 2]`` float32 from grey ``source`` to grey ``target`` (same size, uint8)."""
    if source.shape != target.shape:
        raise ValueError(f"flow images differ in size: {source.shape} vs {target.shape}")
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[settings.preset])
    if settings.finest_scale is not None:
        dis.setFinestScale(settings.finest_scale)
    return dis.calc(source, target, None)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return u, v


def sample(field: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Bilinear read of ``field [h, w, C]`` (or ``[h, w]``) at every pixel displaced by ``flow [h, w, 2]``."""
    u, v = _grid(*flow.shape[:2])
    return cv2.remap(
        np.ascontiguousarray(field, dtype=np.float32),
        u + flow[..., 0],
        v + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def inside(flow: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """``[h, w]`` bool: the displaced pixel lies inside the image (at least ``margin`` px from its border)."""
    h, w = flow.shape[:2]
    u, v = _grid(h, w)
    x, y = u + flow[..., 0], v + flow[..., 1]
    return (x >= -0.5 + margin) & (x <= w - 0.5 - margin) & (y >= -0.5 + margin) & (y <= h - 0.5 - margin) & np.isfinite(x)


def forward_backward_error(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """``|F(u) + B(u + F(u))|`` ``[h, w]``: how far the round trip source -> target -> source misses."""
    return np.linalg.norm(forward + sample(backward, forward), axis=-1)


def consistent(forward: np.ndarray, backward: np.ndarray, absolute_px: float, relative: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward-backward check: (valid ``[h, w]`` bool, error ``[h, w]`` float32).

    A match is kept when the round trip misses by at most ``absolute_px + relative * (|F| + |B|)``:
    the relative term admits the larger absolute error of larger motions (the usual occlusion test of
    unsupervised flow). Occluded pixels have no true match; their round trip lands elsewhere and fails.
    """
    error = forward_backward_error(forward, backward)
    back = sample(backward, forward)
    bound = absolute_px + relative * (np.linalg.norm(forward, axis=-1) + np.linalg.norm(back, axis=-1))
    return (error <= bound) & inside(forward), error.astype(np.float32)


def compose(first: FlowField, second: FlowField) -> FlowField:
    """Flow a -> c from a -> b (``first``) and b -> c (``second``): ``F(u) = F1(u) + F2(u + F1(u))``."""
    flow = first.flow + sample(second.flow, first.flow)
    # Where b's pixel was not trusted, a's chained match is not either (nearest read of the mask:
    # blending booleans across an occlusion boundary would make them half-true).
    u, v = _grid(*first.flow.shape[:2])
    x = np.clip(np.rint(u + first.flow[..., 0]), 0, first.flow.shape[1] - 1).astype(np.int64)
    y = np.clip(np.rint(v + first.flow[..., 1]), 0, first.flow.shape[0] - 1).astype(np.int64)
    valid = first.valid & second.valid[y, x] & inside(flow)
    error = np.maximum(first.error, second.error[y, x])
    return FlowField(flow.astype(np.float32), valid, error.astype(np.float32))


def refine(source: np.ndarray, target: np.ndarray, initial: FlowField, settings: DisSettings = DisSettings()) -> FlowField:
    """One DIS pass between ``source`` and ``target`` warped by ``initial.flow``; the residual is composed in.

    ``warped(u) = target(u + F0(u))``; a flow r from source to warped gives ``F(u) = r(u) + F0(u + r(u))``.
    The residual is small, where DIS is accurate, so this removes the drift of a chained flow.
    """
    u, v = _grid(*source.shape)
    warped = cv2.remap(target, u + initial.flow[..., 0], v + initial.flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    residual = dis_flow(source, warped, settings)
    flow = residual + sample(initial.flow, residual)
    return FlowField(flow.astype(np.float32), initial.valid & inside(flow), initial.error)


def structure_tensor(grey: np.ndarray, sigma: float) -> np.ndarray:
    """``[h, w, 3]`` float32 (Ixx, Ixy, Iyy) of a grey image (values in [0, 1] units), Gaussian-smoothed.

    Its eigenvalues say how well a patch pins the flow down in each direction (DIS matches patches).
    """
    g = grey.astype(np.float32) / 255.0
    ix = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    iy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    out = np.stack([ix * ix, ix * iy, iy * iy], -1)
    return cv2.GaussianBlur(out, (0, 0), sigma)
