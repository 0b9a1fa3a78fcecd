"""Scene flow of moving pixels: their flow matches lifted to 3D.

The latest frame L's pixel u sees a point on L's ray through u; its flow match u'_j in an older frame j
is where that point was at time t_j, seen by camera j, whose pose relative to L is known
(:mod:`.camera_motion`). So at time t_j the point was somewhere on j's ray through u'_j. *Where* on the
two rays is not in the flow: a moving point seen by a moving camera trades distance for speed (a near
slow point and a far fast one make the same flow). Two ways to fix it:

- :func:`lift_least_motion` (default): of all pairs of points on the two rays, the closest, pulled
  towards the model's depth of L. Without the pull, a static point's rays meet, so a pixel taken for
  moving by mistake gets zero motion, and for a moving point the truth is one of the candidates, so the
  chosen motion is never farther from the truth than no motion is; what it misses is the part of the
  motion in the plane of the rays, which the flow cannot see. The pull (on by default: it keeps slow
  objects above the pipeline's motion threshold) gives up a little of both where the model's depth is off.
- :func:`lift_with_target_depth`: the model's depth of frame j read at the match. Exact with exact depths;
  with the embedded model's depth, which misplaces objects (measured in docs/motion.md), it is worse
  than predicting no motion.

Both return scene flow in camera L coordinates (model units), ``[h, w, 3]``, NaN where they have none.
"""

from __future__ import annotations

import cv2
import numpy as np

from .ego_motion import RelativePose
from .grids import read_nearest


def _rays(pixels: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    return np.concatenate([pixels, np.ones(pixels.shape[:-1] + (1,))], -1) @ np.linalg.inv(intrinsics).T


def lift_least_motion(
    rays_l: np.ndarray,
    depth_l: np.ndarray,
    matches: dict[int, np.ndarray],
    match_ok: dict[int, np.ndarray],
    intrinsics: dict[int, np.ndarray],
    poses: dict[int, RelativePose],
    prior_weight: float = 0.1,
) -> dict[int, np.ndarray]:
    """Per-pixel scene flow with the least motion that explains the flow in every older frame.

    The point's distance s along L's ray is shared by all frames (it has one position at time t_L); for
    each frame j its position at t_j is the foot of the perpendicular from ``s r`` onto j's ray. s minimises
    ``sum_j |d_j(s)|^2 + prior_weight |r|^2 (s - depth_l)^2`` (closed form): with ``prior_weight`` 0 the
    least motion, large values the model's depth.

    Args:
        rays_l: ``[h, w, 3]`` rays of L's pixels in camera L (z = 1).
        depth_l: ``[h, w]`` the model's depth of L (> 0 where valid).
        matches: {j: ``[h, w, 2]`` match in frame j's pixels}; match_ok: {j: ``[h, w]`` bool}.
        intrinsics: {j: K of frame j}; poses: {j: camera j from camera L}.
        prior_weight: pull towards the model's depth (dimensionless: 1 weighs a depth error like a
            motion of the same length; the rays of two frames are nearly parallel, so even 0.1 dominates
            where the motion is ambiguous).

    Returns:
        {j: ``[h, w, 3]`` scene flow in camera L from t_L to t_j, NaN where frame j has no trusted match}.
    """
    num = np.zeros(depth_l.shape)
    den = np.zeros(depth_l.shape)
    parts = {}
    for j in matches:
        pose = poses[j]
        origin = -pose.rotation.T @ pose.translation  # camera j's centre in camera L
        direction = _rays(matches[j], intrinsics[j]) @ pose.rotation  # R^T d (row vectors): j's ray in camera L
        unit = direction / np.linalg.norm(direction, axis=-1, keepdims=True)

        def perp(v: np.ndarray, unit: np.ndarray = unit) -> np.ndarray:
            return v - (v * unit).sum(-1, keepdims=True) * unit

        pr, po = perp(rays_l), perp(np.broadcast_to(origin, rays_l.shape))
        ok = match_ok[j]
        # d_j(s) = perp(origin - s r): the quadratic's coefficients, summed over the frames with a match.
        num += np.where(ok, (pr * po).sum(-1), 0.0)
        den += np.where(ok, (pr * pr).sum(-1), 0.0)
        parts[j] = (origin, unit, ok)
    lam = prior_weight * (rays_l * rays_l).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (num + lam * depth_l) / (den + lam)
    s = np.where((den > 0) & np.isfinite(s), np.maximum(s, 1e-6), np.nan)
    flows = {}
    x_l = rays_l * s[..., None]
    for j, (origin, unit, ok) in parts.items():
        along = np.maximum(((x_l - origin) * unit).sum(-1, keepdims=True), 0.0)  # not behind camera j
        flows[j] = np.where(ok[..., None], origin + along * unit - x_l, np.nan)
    return flows


def lift_with_target_depth(
    points_l: np.ndarray,
    target_depth: np.ndarray,
    match: np.ndarray,
    match_ok: np.ndarray,
    intrinsics_t: np.ndarray,
    pose: RelativePose,
    static: np.ndarray,
    tolerance: float = 0.3,
) -> np.ndarray:
    """Scene flow from each pixel's match at the target frame's depth.

    A read whose depth jumps by more than ``tolerance`` (in |log|) from the depth the point would have had
    without moving means the match slipped onto another surface (an object's edge); there the latter is
    used, which keeps the motion across the ray (what the flow measured).

    Args:
        points_l: ``[h, w, 3]`` each pixel's point in camera L.
        target_depth: ``[h, w]`` the target frame's depth map (its own camera, model units), network grid.
        match: ``[h, w, 2]`` each pixel's match in the target frame (its network pixels).
        match_ok: ``[h, w]`` bool, trusted matches.
        intrinsics_t: ``[3, 3]`` K of the target frame.
        pose: camera t from camera L.
        static: ``[h, w]`` bool, pixels known static: their depths fix the scale between the two frames'
            depth maps (frames of one window can leave the point head at slightly different scales).
        tolerance: see above; ``inf`` always reads the target depth.
    """
    depth_t = read_nearest(target_depth, match)  # nearest: never blend an object's depth with the background's
    rigid_depth = pose.apply(points_l)[..., 2]  # the depth in camera t had the point not moved
    ok = match_ok & np.isfinite(depth_t) & (depth_t > 0)
    anchor = ok & static & (rigid_depth > 0)
    ratio = rigid_depth[anchor] / depth_t[anchor]
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    depth_t = depth_t * (float(np.median(ratio)) if ratio.size else 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.abs(np.log(depth_t / rigid_depth))
    depth_t = np.where(np.isfinite(jump) & (jump <= tolerance), depth_t, rigid_depth)
    ok &= np.isfinite(depth_t) & (depth_t > 0)
    x_t = _rays(match, intrinsics_t) * depth_t[..., None]  # camera t
    flow = pose.invert_apply(x_t) - points_l
    return np.where(ok[..., None], flow, np.nan)


def fill_from_nearest(values: np.ndarray, have: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``values [h, w, C]`` with each pixel of ``where`` that lacks a value (``~have``) given the value of the
    nearest pixel that has one (Euclidean distance); other pixels unchanged.

    Moving pixels without a match (occluded in the older frame, or just entered the view) take the motion
    of the nearest matched moving pixel, most often on the same object.
    """
    need = where & ~have
    if not need.any() or not have.any():
        return values
    _, labels = cv2.distanceTransformWithLabels((~have).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(have)
    source = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    source[labels[ys, xs]] = np.arange(len(ys))  # label of each source pixel -> its index
    idx = source[labels[need]]
    out = values.copy()
    out[need] = values[ys[idx], xs[idx]]
    return out


def extrapolate_in_time(flows: dict[int, np.ndarray], t: int, last: int) -> np.ndarray:
    """``[h, w, 3]`` scene flow to time t from the nearest other time with one, at constant velocity (NaN: none)."""
    out = np.full(next(iter(flows.values())).shape, np.nan)
    for other in sorted(flows, key=lambda o: abs(o - t)):
        if other != t:
            scaled = flows[other] * ((last - t) / (last - other))
            out = np.where(np.isfinite(out).all(-1, keepdims=True), out, scaled)
    return out
