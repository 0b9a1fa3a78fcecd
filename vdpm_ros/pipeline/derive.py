"""Pure functions that turn point maps and cameras into what the node publishes (torch, any device).

Conventions: cameras are OpenCV camera-from-world ``[R | t]`` with world = the window's frame-0
camera; pixel coordinates use the pixel-centre convention of CameraInfo (integer (u, v) = centre of
column u, row v).
"""

from __future__ import annotations

import torch
from torch import Tensor


def confidence_threshold(conf: Tensor, valid: Tensor, percentile: float) -> float:
    """The ``percentile`` of ``conf`` over the ``valid`` pixels (as the official demo thresholds its cloud).

    Returns ``-inf`` when nothing is valid or ``percentile`` is 0, so that ``conf >= threshold`` keeps everything valid.
    """
    values = conf[valid].float()
    if values.numel() == 0 or percentile <= 0:
        return float("-inf")
    # torch.quantile refuses very large inputs; a strided subset gives the same percentile to sampling accuracy.
    if values.numel() > 4_000_000:
        values = values[:: values.numel() // 4_000_000 + 1]
    return float(torch.quantile(values, percentile / 100.0))


def to_camera(points: Tensor, extrinsic: Tensor) -> Tensor:
    """World points ``[..., 3]`` -> camera frame ``[..., 3]`` with camera-from-world ``extrinsic [3, 4]``."""
    rot, trans = extrinsic[:, :3].to(points.dtype), extrinsic[:, 3].to(points.dtype)
    return points @ rot.T + trans


def rotate(vectors: Tensor, extrinsic: Tensor) -> Tensor:
    """Free vectors ``[..., 3]`` (e.g. scene flow) into the camera frame: rotation only."""
    return vectors @ extrinsic[:, :3].to(vectors.dtype).T


def project(points_cam: Tensor, intrinsics: Tensor) -> tuple[Tensor, Tensor]:
    """Camera-frame points ``[..., 3]`` -> pixel coordinates ``[..., 2]`` and depth z ``[...]`` (pinhole ``K [3, 3]``)."""
    k = intrinsics.to(points_cam.dtype)
    z = points_cam[..., 2]
    x = points_cam[..., 0] / z
    y = points_cam[..., 1] / z
    u = k[0, 0] * x + k[0, 1] * y + k[0, 2]
    v = k[1, 1] * y + k[1, 2]
    return torch.stack([u, v], dim=-1), z


def pixel_grid(height: int, width: int, device: torch.device | str = "cpu") -> Tensor:
    """``[H, W, 2]`` float32 (u, v) pixel-centre coordinates."""
    v, u = torch.meshgrid(
        torch.arange(height, dtype=torch.float32, device=device),
        torch.arange(width, dtype=torch.float32, device=device),
        indexing="ij",
    )
    return torch.stack([u, v], dim=-1)


def optical_flow(points: Tensor, extrinsic: Tensor, intrinsics: Tensor, valid: Tensor) -> Tensor:
    """Dense 2D correspondence from a frame to another camera, in pixels.

    Args:
        points: ``[H, W, 3]`` each pixel's point at the other frame's time (P_i(t_j)), world frame.
        extrinsic: ``[3, 4]`` camera-from-world of the other frame.
        intrinsics: ``[3, 3]`` K of the other frame, on its raw image.
        valid: ``[H, W]`` bool, pixels that have a prediction.

    Returns:
        ``[H, W, 2]`` float32 (du, dv): where the pixel's point lands in the other image minus the pixel's own
        coordinates; NaN where invalid or behind the other camera.
    """
    uv, z = project(to_camera(points.float(), extrinsic.float()), intrinsics.float())
    flow = uv - pixel_grid(points.shape[0], points.shape[1], points.device)
    ok = valid & (z > 0) & torch.isfinite(flow).all(-1)
    return torch.where(ok[..., None], flow, torch.full_like(flow, float("nan")))


def depth_scale(predicted: Tensor, sensor: Tensor, mask: Tensor, min_pixels: int) -> tuple[float | None, int]:
    """Metric scale factor from an aligned depth image: ``median(sensor / predicted)``.

    The median of per-pixel ratios ignores the outliers a depth sensor produces at edges and on dark or
    shiny surfaces, and a few mispredicted pixels.

    Args:
        predicted: ``[H, W]`` predicted depth (model units).
        sensor: ``[H, W]`` measured depth in metres; 0, negative, NaN and inf mean "no measurement".
        mask: ``[H, W]`` bool, pixels allowed to vote (e.g. valid and confident predictions).
        min_pixels: fewest voting pixels for an estimate.

    Returns:
        (factor or None when fewer than ``min_pixels`` pixels vote, number of voting pixels).
    """
    sensor = sensor.to(predicted.dtype)
    vote = mask & torch.isfinite(sensor) & (sensor > 0) & torch.isfinite(predicted) & (predicted > 0)
    count = int(vote.sum())
    if count < min_pixels:
        return None, count
    return float(torch.median(sensor[vote] / predicted[vote])), count
