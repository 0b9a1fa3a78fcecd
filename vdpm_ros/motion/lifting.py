"""Scene flow of moving pixels: their flow matches lifted to 3D.

The latest frame L's pixel u sees a point X (camera L, at the model's depth). Its flow match u' in an
older frame t is where that point was at time t, seen by camera t; the pose of camera t relative to L
is known (:mod:`.ego_motion`). What is missing is *how far along t's ray through u'* the point was.
Two estimates, each with its own failure:

- :func:`lift_rigid_objects`: each connected moving region is one rigid body; PnP on its pixels (the
  model's depth of L, the flow's matches in t) gives its motion, the depth change included (from the
  change of its perspective). Only L's depth is read, so the depth errors of different frames cannot
  add up. Fails for small regions (too few matches to fix six degrees of freedom) and strongly
  deforming ones.
- :func:`lift_with_target_depth`: the model's depth of frame t read at the match. Per pixel, so any
  region size, but the model's depth errors of L and t enter the difference independently (measured:
  with the embedded model this error is larger than the motion itself; see docs/motion.md), and a
  match near an object's edge can read the background's depth. "Checked" reads that jump far from the
  depth the point would have had without moving are replaced by that depth (motion across the ray
  only).

Both return scene flow in camera L coordinates, model units, ``[h, w, 3]``, NaN where they have none.
"""

from __future__ import annotations

import cv2
import numpy as np

from .ego_motion import RelativePose, estimate_relative_pose
from .grids import read_nearest


def _rays(pixels: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    return np.concatenate([pixels, np.ones(pixels.shape[:-1] + (1,))], -1) @ np.linalg.inv(intrinsics).T


def lift_with_target_depth(
    points_l: np.ndarray,
    target_depth: np.ndarray,
    match: np.ndarray,
    match_ok: np.ndarray,
    intrinsics_t: np.ndarray,
    pose: RelativePose,
    static: np.ndarray,
    mode: str = "checked",
    tolerance: float = 0.3,
) -> np.ndarray:
    """Scene flow from each pixel's match at the target frame's depth.

    Args:
        points_l: ``[h, w, 3]`` each pixel's point in camera L.
        target_depth: ``[h, w]`` the target frame's depth map (its own camera, model units), network grid.
        match: ``[h, w, 2]`` each pixel's match in the target frame (its network pixels).
        match_ok: ``[h, w]`` bool, trusted matches.
        intrinsics_t: ``[3, 3]`` K of the target frame.
        pose: camera t from camera L.
        static: ``[h, w]`` bool, pixels known static: their depths fix the scale between the two frames'
            depth maps (frames of one window can leave the point head at slightly different scales).
        mode: "target", "rigid" or "checked" (see :class:`~vdpm_ros.motion.config.FlowMotionConfig`).
        tolerance: |log| depth jump above which "checked" falls back to "rigid".
    """
    depth_t = read_nearest(target_depth, match)  # nearest: never blend an object's depth with the background's
    rigid_depth = pose.apply(points_l)[..., 2]  # the depth in camera t had the point not moved
    ok = match_ok & np.isfinite(depth_t) & (depth_t > 0)
    anchor = ok & static & (rigid_depth > 0)
    ratio = rigid_depth[anchor] / depth_t[anchor]
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    depth_t = depth_t * (float(np.median(ratio)) if ratio.size else 1.0)
    if mode == "rigid":
        depth_t = rigid_depth
    elif mode == "checked":
        # A read that lands on another surface (the match slipped off an object's edge) changes the depth
        # far more than an object moves between frames; such a read is replaced by the depth the point would
        # have without moving, which keeps the motion across the ray (what the flow measured) right.
        with np.errstate(divide="ignore", invalid="ignore"):
            jump = np.abs(np.log(depth_t / rigid_depth))
        depth_t = np.where(np.isfinite(jump) & (jump <= tolerance), depth_t, rigid_depth)
    ok &= np.isfinite(depth_t) & (depth_t > 0)
    x_t = _rays(match, intrinsics_t) * depth_t[..., None]  # camera t
    flow = pose.invert_apply(x_t) - points_l
    return np.where(ok[..., None], flow, np.nan)


def lift_rigid_objects(
    points_l: np.ndarray,
    dynamic: np.ndarray,
    matches: dict[int, np.ndarray],
    match_ok: dict[int, np.ndarray],
    intrinsics: dict[int, np.ndarray],
    poses: dict[int, RelativePose],
    prior_weight: float = 0.0,
    min_pixels: int = 30,
    threshold_px: float = 1.5,
    min_inlier_fraction: float = 0.5,
) -> dict[int, np.ndarray]:
    """Scene flow of each connected dynamic region as one rigid body, at its least-motion distance.

    Each 8-connected region of ``dynamic`` is taken as a rigid body. PnP on its pixels (at the model's
    depth) and their matches in frame j gives the body's pose in camera j. Scaling the body's distance
    by lambda scales that pose's translation by lambda and explains the same flow, so the flow fixes the
    body's motion only up to lambda: its displacement is ``lambda a_ij - b_j`` (``a_ij`` from the fitted
    pose, ``b_j`` camera j's displacement). lambda is chosen, for all frames at once, to give the least
    motion (plus ``prior_weight`` times the squared deviation from the model's depth, lambda = 1, in the
    same units). The truth is one of the candidates, so the chosen motion is never farther from the truth
    than no motion is.

    Args:
        points_l: ``[h, w, 3]`` each pixel's point in camera L at the model's depth.
        dynamic: ``[h, w]`` bool.
        matches, match_ok, intrinsics, poses: per older frame j (see :func:`lift_minimal_motion`).
        prior_weight: trust in the model's depth of the body (0 = none).
        min_pixels: fewest trusted matches for a body's pose in a frame.
        threshold_px: RANSAC inlier threshold (network pixels).
        min_inlier_fraction: a pose explaining fewer of the body's matches is rejected (not one body).

    Returns:
        {j: ``[h, w, 3]`` scene flow in camera L}, finite on every pixel of a body whose pose was found in
        frame j (matched or not: the body's motion covers its occluded pixels too); NaN elsewhere.
    """
    out = {j: np.full(points_l.shape, np.nan) for j in matches}
    if not dynamic.any():
        return out
    count, labels = cv2.connectedComponents(dynamic.astype(np.uint8), connectivity=8)
    for label in range(1, count):
        region = labels == label
        pts = points_l[region]
        terms = {}
        for j in matches:
            sel = match_ok[j][region]
            if sel.sum() < min_pixels:
                continue
            body = estimate_relative_pose(pts[sel], matches[j][region][sel], intrinsics[j], threshold_px, seed=label)
            if not body.ok or body.inliers.mean() < min_inlier_fraction:
                continue
            cam = poses[j]
            a = (body.apply(pts)) @ cam.rotation - pts  # R_c^T (R_a X + t_a) - X
            b = cam.translation @ cam.rotation  # R_c^T t_c
            terms[j] = (a, b)
        if not terms:
            continue
        aa = sum(float((a * a).sum()) for a, _ in terms.values())
        ab = sum(float((a @ b).sum()) for a, b in terms.values())
        lam = max((ab + prior_weight * aa) / ((1.0 + prior_weight) * aa), 1e-3) if aa > 0 else 1.0
        for j, (a, b) in terms.items():
            out[j][region] = lam * a - b
    return out


def lift_minimal_motion(
    rays_l: np.ndarray,
    depth_l: np.ndarray,
    matches: dict[int, np.ndarray],
    match_ok: dict[int, np.ndarray],
    intrinsics: dict[int, np.ndarray],
    poses: dict[int, RelativePose],
    prior_weight: float = 0.0,
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Per-pixel scene flow with the least motion that explains the flow in every older frame.

    A moving point's distance is not determined by its flow: seen at pixel u of L and at u'_j of frame j,
    it was somewhere on L's ray through u at time L and somewhere on j's ray through u'_j at time j. Of
    all those pairs this takes the closest ones: one distance s along L's ray shared by all frames (the
    point has one position at time L), and per frame the foot of the perpendicular from it onto j's
    ray. For a static point the rays meet and the motion is zero whatever the depth; for a moving one
    the error is never larger than that of predicting no motion (the truth is one of the candidates,
    and the closest candidate is no farther from it than the origin is... the no-motion candidate).
    ``prior_weight`` pulls s towards the model's depth (in units of the summed squared motion per
    squared depth error): 0 ignores the model's depth, large values trust it.

    Args:
        rays_l: ``[h, w, 3]`` rays of L's pixels in camera L (z = 1).
        depth_l: ``[h, w]`` the model's depth of L (the prior; > 0 where valid).
        matches, match_ok, intrinsics, poses: per older frame j (camera j from camera L).

    Returns:
        ({j: scene flow ``[h, w, 3]`` in camera L, NaN where frame j had no trusted match}, the chosen
        depth ``[h, w]`` along L's rays, NaN where no frame had a match).
    """
    frames = sorted(matches)
    num = np.zeros(depth_l.shape)
    den = np.zeros(depth_l.shape)
    parts = {}
    for j in frames:
        pose = poses[j]
        origin = -pose.rotation.T @ pose.translation  # camera j's centre in camera L
        direction = _rays(matches[j], intrinsics[j]) @ pose.rotation  # R^T d for row vectors: j's ray in camera L
        unit = direction / np.linalg.norm(direction, axis=-1, keepdims=True)

        def perp(v: np.ndarray) -> np.ndarray:
            return v - (v * unit).sum(-1, keepdims=True) * unit

        pr, po = perp(rays_l), perp(np.broadcast_to(origin, rays_l.shape))
        ok = match_ok[j]
        # d_j(s) = P(origin - s r): minimise sum_j |P po - s P pr|^2 over s.
        num += np.where(ok, (pr * po).sum(-1), 0.0)
        den += np.where(ok, (pr * pr).sum(-1), 0.0)
        parts[j] = (origin, unit, ok)
    seen = den > 0
    lam = prior_weight * (rays_l * rays_l).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (num + lam * depth_l) / (den + lam)
    s = np.where(seen & np.isfinite(s), np.maximum(s, 1e-6), np.nan)
    flows = {}
    for j in frames:
        origin, unit, ok = parts[j]
        x_l = rays_l * s[..., None]
        # Foot of the perpendicular from x_l onto j's ray (not behind camera j).
        along = np.maximum(((x_l - origin) * unit).sum(-1, keepdims=True), 0.0)
        flows[j] = np.where(ok[..., None], origin + along * unit - x_l, np.nan)
    return flows, s


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
    # Label k (1-based) is the k-th pixel of `have` in the row-major scan, i.e. in np.nonzero order.
    source = np.zeros(labels.max() + 1, dtype=np.int64)
    order = labels[ys, xs]
    source[order] = np.arange(len(ys))
    idx = source[labels[need]]
    out = values.copy()
    out[need] = values[ys[idx], xs[idx]]
    return out
