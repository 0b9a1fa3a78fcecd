"""Dynamic point maps from optical flow and the model's geometry: the ``flow`` motion source.

:func:`flow_dynamic_maps` returns what the network's decoder returns (:class:`DynamicPointMaps`), so the
pipeline can use it in place of ``model.decode(state, target_times, frames=[last])``. For the latest
frame L and each requested target time t_j it gives P_L(t_j): where the point seen at each pixel of L was
at time t_j, in the window frame and the model's units.

Per window:

1. Optical flow from L to every older frame j (consecutive DIS flows, chained and refined, with
   forward-backward checks; :mod:`.window_flow`), read at L's network pixels.
2. Camera motion L -> j from those matches and the model's depth of L, by PnP inside RANSAC
   (:mod:`.ego_motion`): robust to the moving minority, and independent of the model's (often poor)
   cameras. A second round re-estimates the poses with the depths the flow triangulates.
3. The rigidity test (:mod:`.rigidity`): one depth per pixel must explain its matches in all frames;
   what it cannot explain, converted to a 3D displacement and compared with the pipeline's motion
   threshold, is motion. A fitted depth far from the model's (with enough parallax) is motion too.
4. The mask is cleaned (:mod:`.mask_cleanup`).
5. Static pixels: P_L(t_j) = P_L(t_L), exactly zero scene flow. Dynamic pixels: the match in frame j
   lifted to 3D on j's ray with j's depth (from the model's P_j(t_j), brought to L's scale), expressed
   relative to the pixel's own point and rotated into the window frame.
6. Confidence (>= 1): the model's confidence of P_L(t_L), pulled towards 1 where the flow's
   forward-backward check fails or the match leaves the image (occlusion, disocclusion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
import torch
from torch import Tensor

from ..model.outputs import DynamicPointMaps, PointMaps
from ..preprocessing import ImageTransform
from .config import FlowMotionConfig
from .ego_motion import RelativePose, estimate_essential_pose, estimate_relative_pose, refine_pose_robust, refine_relative_pose
from .lifting import fill_from_nearest, lift_minimal_motion, lift_rigid_objects, lift_with_target_depth
from .grids import inside_image, net_pixels, net_to_working, read_bilinear, read_nearest, working_to_net
from .mask_cleanup import clean_mask, grow_into, hysteresis
from .optical_flow import DisSettings, structure_tensor, working_image, working_size
from .pose_refinement import refine_poses
from .rigidity import RigidityFit, depth_disagreement, fit_rigid_depth, textured_residual
from .window_flow import LinkCache, latest_to_targets


@dataclass
class FlowMotion:
    """Everything :func:`flow_motion` found for one window (network grid of the latest frame, h x w).

    Attributes:
        maps: the result, in the decoder's layout.
        dynamic: ``[h, w]`` bool, the cleaned dynamic mask.
        raw_dynamic: ``[h, w]`` bool, the mask before clean-up.
        valid: ``[h, w]`` bool, pixels with a usable model point (image part, finite, in front).
        residual_px: ``[J, h, w]`` rigidity residual per older frame (NaN: no valid match).
        threshold_px: ``[h, w]`` the residual above which a pixel counts as moving.
        disagreement: ``[h, w]`` |log(flow depth / model depth)|.
        matches: {j: ``[h, w, 2]`` match of each pixel in frame j, network pixels of j}.
        match_valid: {j: ``[h, w]`` bool}.
        poses: {j: camera j from camera L}.
        flow_frames: the older frames J the rigidity test used, in the order of ``residual_px``.
    """

    maps: DynamicPointMaps
    dynamic: np.ndarray
    raw_dynamic: np.ndarray
    valid: np.ndarray
    residual_px: np.ndarray
    threshold_px: np.ndarray
    disagreement: np.ndarray
    matches: dict[int, np.ndarray]
    match_valid: dict[int, np.ndarray]
    poses: dict[int, RelativePose]
    flow_frames: tuple[int, ...]


def required_frames(window_size: int, target_times: Sequence[int], frame: int) -> tuple[int, ...]:
    """The frames whose own-time maps P_i(t_i) (``model.time_variant``) the flow source reads."""
    return tuple(sorted({int(frame), *(int(t) for t in target_times)}))


def _own(own: PointMaps, index: int) -> tuple[np.ndarray, np.ndarray]:
    if index not in own.frames:
        raise ValueError(f"the own-time maps hold frames {own.frames}; frame {index} is needed (see required_frames)")
    k = own.frames.index(index)
    return own.pts3d[0, k].detach().float().cpu().numpy().astype(np.float64), own.conf[0, k].detach().float().cpu().numpy().astype(np.float64)


def _to_camera(points: np.ndarray, extrinsic: np.ndarray) -> np.ndarray:
    return points @ extrinsic[:, :3].T + extrinsic[:, 3]


def _check(images_raw, transforms, own, extrinsics, intrinsics_net, target_times, frame) -> None:
    S = len(images_raw)
    if S < 2:
        raise ValueError(f"the flow source needs a window of at least 2 frames, got {S}")
    if len(transforms) != S or extrinsics.shape[0] != S or intrinsics_net.shape[0] != S:
        raise ValueError(f"need one transform, extrinsic and intrinsic per image ({S}), got {len(transforms)}, {extrinsics.shape[0]}, {intrinsics_net.shape[0]}")
    if frame != S - 1:
        raise ValueError(f"the flow source gives the latest frame's maps (frame {S - 1}), got frame {frame}")
    bad = [t for t in target_times if not 0 <= t < S]
    if not target_times or bad:
        raise ValueError(f"target_times must be a non-empty selection of 0..{S - 1}, got {list(target_times)}")
    if own.pts3d.shape[0] != 1:
        raise ValueError(f"the flow source handles a batch of one window, got {own.pts3d.shape[0]}")
    hw = {tf.net_hw for tf in transforms}
    if len(hw) != 1 or tuple(own.pts3d.shape[2:4]) != next(iter(hw)):
        raise ValueError(f"network sizes differ: transforms {sorted(hw)}, own-time maps {tuple(own.pts3d.shape[2:4])}")


def flow_motion(
    images_raw: Sequence[np.ndarray],
    transforms: Sequence[ImageTransform],
    own: PointMaps,
    extrinsics: Tensor,
    intrinsics_net: Tensor,
    target_times: Sequence[int],
    frame: int,
    config: FlowMotionConfig = FlowMotionConfig(),
    keys: Sequence[Hashable] | None = None,
    cache: LinkCache | None = None,
) -> FlowMotion:
    """The flow source with its intermediate results (see :func:`flow_dynamic_maps` for the arguments)."""
    cfg = config
    S = len(images_raw)
    _check(images_raw, transforms, own, extrinsics, intrinsics_net, target_times, frame)
    last = S - 1
    targets = tuple(int(t) for t in target_times)
    ext = extrinsics.detach().double().cpu().numpy()
    kn = intrinsics_net.detach().double().cpu().numpy()
    tf_last = transforms[last]
    h, w = tf_last.net_hw

    # --- the latest frame's geometry from the model
    pts_last, conf_last = _own(own, last)
    cam_last = _to_camera(pts_last, ext[last])
    depth_last = cam_last[..., 2]
    top, bottom, left, right = tf_last.valid_region
    in_image = np.zeros((h, w), bool)
    in_image[top:bottom, left:right] = True
    valid = in_image & np.isfinite(pts_last).all(-1) & np.isfinite(depth_last) & (depth_last > 0)
    pix = net_pixels((h, w))
    k_inv = np.linalg.inv(kn[last])
    rays = np.concatenate([pix, np.ones((h, w, 1))], -1) @ k_inv.T  # z = 1
    points_l = rays * np.where(valid, depth_last, 1.0)[..., None]  # on each pixel's own ray
    scene_scale = float(np.linalg.norm(pts_last[valid], axis=-1).mean()) if valid.any() else float("nan")

    # --- optical flow from the latest frame, read at its network pixels
    older = tuple(range(last)) if cfg.flow_frames == "window" else tuple(sorted({t for t in targets if t != last}))
    matches, match_valid, fb_error = match_latest(images_raw, transforms, older, cfg, keys, cache)
    for j in older:
        match_valid[j] &= valid

    # --- camera motion from the matches, then the rigidity test
    poses, fit = _poses_and_rigidity(points_l, rays, depth_last, valid, matches, match_valid, kn, ext, last, older, cfg)

    residual = fit.residual_px.reshape(len(older), h, w)
    if cfg.texture_sigma_px > 0:
        work_hw = working_size(tf_last.raw_hw, cfg.flow_width)
        tensor = structure_tensor(working_image(np.asarray(images_raw[last]), work_hw), cfg.texture_sigma_px)
        tensor = read_bilinear(tensor, net_to_working(tf_last, work_hw))
        weighted = textured_residual(fit.residual_vector.reshape(len(older), h, w, 2), tensor[None], cfg.texture_floor)
        residual = np.where(np.isfinite(residual), weighted, residual)
    focal = 0.5 * (kn[last, 0, 0] + kn[last, 1, 1])
    threshold_px = np.maximum(
        cfg.residual_floor_px, cfg.residual_motion_fraction * cfg.motion_threshold * scene_scale * focal / np.maximum(depth_last, 1e-9)
    )
    score = motion_score(residual, threshold_px, cfg.residual_votes)
    moving = hysteresis(score, cfg.score_low, 1.0, valid)
    disagreement = depth_disagreement(fit, 1.0 / np.maximum(depth_last.ravel(), 1e-12)).reshape(h, w)
    if np.isfinite(cfg.depth_disagreement):
        moving |= (disagreement > cfg.depth_disagreement) & (fit.parallax.reshape(h, w) >= cfg.min_parallax)
    raw_dynamic = moving & valid
    # Clean first, so that only regions that survive on their own evidence grow into unknown pixels.
    dynamic = clean_mask(raw_dynamic, valid, cfg.open_px, 0, cfg.min_component_px)
    if cfg.grow_unmatched_px > 0:
        # No trusted match in any frame (just entered the view, or uncovered): unknown. The part of an object
        # that entered the view moves with the rest of it, so a moving region extends into unknown pixels
        # next to it; only a little, because the background an object uncovers is unknown and next to it too.
        unmatched = valid & ~np.any([match_valid[j] for j in older], axis=0)
        dynamic |= grow_into(dynamic, unmatched, cfg.grow_unmatched_px)
    dynamic = clean_mask(dynamic, valid, 0, cfg.close_px, 0)

    maps = _assemble(
        pts_last, conf_last, cam_last, points_l, dynamic, valid, own, ext, kn, transforms, matches, match_valid, fb_error, poses, targets, last, cfg
    )
    return FlowMotion(maps, dynamic, raw_dynamic, valid, residual, threshold_px, disagreement, matches, match_valid, poses, older)


def motion_score(residual: np.ndarray, threshold: np.ndarray, votes: int) -> np.ndarray:
    """``[h, w]``: the ``votes``-th largest of ``residual [J, h, w] / threshold [h, w]`` over the frames with a
    valid match (the smallest of them where fewer have one; 0 where none has). Above 1 means motion.

    Taking the second largest (``votes=2``) ignores one frame whose flow went wrong; a moving point's
    residual grows with the time gap, so it exceeds the threshold in several frames.
    """
    ratio = np.where(np.isnan(residual), -np.inf, residual / threshold[None])
    ordered = -np.sort(-ratio, axis=0)  # descending; frames without a match last
    count = (~np.isnan(residual)).sum(0)
    k = np.clip(np.minimum(votes, count) - 1, 0, residual.shape[0] - 1)
    score = np.take_along_axis(ordered, k[None], axis=0)[0]
    return np.where(count > 0, score, 0.0)


def match_latest(
    images_raw: Sequence[np.ndarray],
    transforms: Sequence[ImageTransform],
    older: Sequence[int],
    cfg: FlowMotionConfig,
    keys: Sequence[Hashable] | None = None,
    cache: LinkCache | None = None,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Where each network pixel of the latest frame lands in each older frame ``j`` by optical flow.

    Returns ({j: match ``[h, w, 2]`` in j's network pixels}, {j: trusted ``[h, w]`` bool},
    {j: forward-backward error ``[h, w]`` in working pixels}).
    """
    last = len(images_raw) - 1
    tf_last = transforms[last]
    work_hw = working_size(tf_last.raw_hw, cfg.flow_width)
    if any(np.asarray(img).shape[:2] != tf_last.raw_hw for img in images_raw):
        raise ValueError("the flow source needs every image of a window at the same size")
    grey = [working_image(np.asarray(img), work_hw) for img in images_raw]
    fields = latest_to_targets(grey, older, DisSettings(cfg.dis_preset, cfg.dis_finest_scale), cfg.fb_absolute_px, cfg.fb_relative, cfg.refine_chained, keys, cache)
    at_work = net_to_working(tf_last, work_hw)
    matches, match_valid, fb_error = {}, {}, {}
    for j in older:
        f = fields[j]
        matches[j] = working_to_net(at_work + read_bilinear(f.flow, at_work), transforms[j], work_hw)
        match_valid[j] = read_nearest(f.valid, at_work) & inside_image(matches[j], transforms[j].net_hw)
        fb_error[j] = read_nearest(f.error, at_work)
    return matches, match_valid, fb_error


def _poses_and_rigidity(points_l, rays, depth_last, valid, matches, match_valid, kn, ext, last, older, cfg) -> tuple[dict[int, RelativePose], RigidityFit]:
    """Poses of the older frames and the rigidity fit, alternated ``cfg.pose_rounds`` times.

    Round 1: PnP-RANSAC with the model's depth (loose threshold: that depth is rough). Later rounds:
    the depths the rigidity fit triangulates (consistent with every frame's flow, unlike the model's)
    are brought to the model's scale (median ratio; the scale is otherwise free) and each pose is
    polished by Levenberg-Marquardt on the pixels the current fit explains well.
    """
    h, w = valid.shape
    sub = np.zeros(valid.shape, bool)
    sub[:: cfg.pose_stride, :: cfg.pose_stride] = True
    poses = {}
    for j in older:
        sel = sub & match_valid[j]
        candidates = [estimate_relative_pose(points_l[sel], matches[j][sel], kn[j], cfg.pose_threshold_px, cfg.pose_iterations, seed=j)]
        if cfg.pose_hypotheses:
            # PnP on a rough depth can trade rotation for translation; the essential matrix cannot (it needs
            # no depth) but degenerates without translation; the model's own cameras are a third guess.
            pix = net_pixels((h, w))
            candidates.append(estimate_essential_pose(pix[sel], matches[j][sel], kn[last], kn[j], depth_last[sel], cfg.essential_threshold_px, seed=j))
            rel = ext[j] @ np.linalg.inv(np.vstack([ext[last], [0, 0, 0, 1]]))
            candidates.append(RelativePose(rel[:3, :3], rel[:3, 3], np.zeros(int(sel.sum()), bool), True))
            candidates = [c for c in candidates if c.ok]
        pose = candidates[0]
        if len(candidates) > 1:
            costs = [_frame_cost(c, rays, depth_last, valid & sub, matches[j], match_valid[j], kn[j], cfg) for c in candidates]
            pose = candidates[int(np.argmin(costs))]
        if not pose.ok:
            # No consensus (too few matches, or no majority): fall back on the model's cameras.
            rel = ext[j] @ np.linalg.inv(np.vstack([ext[last], [0, 0, 0, 1]]))
            pose = RelativePose(rel[:3, :3], rel[:3, 3], pose.inliers, False)
        poses[j] = pose
    if cfg.pose_refine:
        n = valid.size
        pick = (sub & valid).ravel()
        poses = refine_poses(
            rays.reshape(n, 3)[pick], 1.0 / np.maximum(np.where(valid, depth_last, 1.0).ravel()[pick], 1e-9), poses,
            {j: kn[j] for j in older}, {j: matches[j].reshape(n, 2)[pick] for j in older},
            {j: match_valid[j].ravel()[pick] for j in older}, cfg.depth_prior_weight,
        )  # fmt: skip
    fit = _fit(rays, depth_last, valid, matches, match_valid, kn, poses, older, cfg)
    for _ in range(cfg.pose_rounds - 1):
        worst = fit.max_residual_px.reshape(h, w)
        rho = fit.inverse_depth.reshape(h, w)
        measured = valid & (rho > 0) & (fit.parallax.reshape(h, w) > 0.5)
        good = valid & np.isfinite(worst) & (worst <= cfg.refine_inlier_px)
        depth = np.where(measured, 1.0 / np.maximum(rho, 1e-12), depth_last)
        anchor = good & measured
        gauge = float(np.median(depth_last[anchor] / depth[anchor])) if anchor.sum() >= 12 else 1.0
        depth = depth * gauge
        points = rays * np.where(valid, depth, 1.0)[..., None]
        for j in older:
            pose = poses[j]
            scaled = RelativePose(pose.rotation, pose.translation * gauge, pose.inliers, pose.ok)
            if cfg.robust_rounds:
                sel = sub & valid & match_valid[j]
                poses[j] = refine_pose_robust(points[sel], matches[j][sel], kn[j], scaled, cfg.robust_scale_px)
            else:
                sel = sub & good & match_valid[j]
                poses[j] = refine_relative_pose(points[sel], matches[j][sel], kn[j], scaled)
        fit = _fit(rays, depth_last, valid, matches, match_valid, kn, poses, older, cfg)
    return poses, fit


def _frame_cost(pose, rays, depth_last, pick, match, match_ok, k, cfg) -> float:
    """Robust (Cauchy) cost of one frame's matches under ``pose`` after the best depth per pixel."""
    sel = (pick & match_ok).ravel()
    if not sel.any():
        return np.inf
    n = pick.size
    fit = fit_rigid_depth(
        rays.reshape(n, 3)[sel], 1.0 / np.maximum(np.where(pick, depth_last, 1.0).ravel()[sel], 1e-9), pose.rotation[None],
        pose.translation[None], k[None], match.reshape(n, 2)[sel][None], np.ones((1, int(sel.sum())), bool), cfg.depth_prior_weight,
    )  # fmt: skip
    r = np.nan_to_num(fit.residual_px[0], nan=1e3, posinf=1e3)
    return float(np.log1p((r / cfg.robust_scale_px) ** 2).mean())


def _fit(rays, depth_last, valid, matches, match_valid, kn, poses, older, cfg) -> RigidityFit:
    n = valid.size
    rot = np.stack([poses[j].rotation for j in older])
    trans = np.stack([poses[j].translation for j in older])
    return fit_rigid_depth(
        rays.reshape(n, 3),
        1.0 / np.maximum(np.where(valid, depth_last, 1.0).ravel(), 1e-9),
        rot,
        trans,
        np.stack([kn[j] for j in older]),
        np.stack([matches[j].reshape(n, 2) for j in older]),
        np.stack([match_valid[j].ravel() for j in older]),
        cfg.depth_prior_weight,
    )


def _assemble(pts_last, conf_last, cam_last, points_l, dynamic, valid, own, ext, kn, transforms, matches, match_valid, fb_error, poses, targets, last, cfg) -> DynamicPointMaps:
    h, w = dynamic.shape
    rot_l = ext[last, :, :3]
    conf_floor = np.maximum(np.nan_to_num(conf_last, nan=1.0), 1.0)
    out_pts, out_conf = [], []
    lifted: dict[int, np.ndarray] = {}
    quality: dict[int, np.ndarray] = {}
    minimal = None
    if cfg.lift_depth == "minimal":
        minimal, _ = lift_minimal_motion(
            points_l / np.where(valid, points_l[..., 2], 1.0)[..., None], np.where(valid, points_l[..., 2], 1.0),
            matches, match_valid, {j: kn[j] for j in matches}, poses, cfg.lift_prior_weight,
        )  # fmt: skip
    bodies = None
    if cfg.lift_objects:
        bodies = lift_rigid_objects(
            points_l, dynamic & valid, matches, match_valid, {j: kn[j] for j in matches}, poses,
            cfg.lift_prior_weight, cfg.object_min_px, cfg.object_threshold_px,
        )  # fmt: skip
    for t in targets:
        if t == last:
            continue
        if t in matches:
            q = np.exp(-((fb_error[t] / cfg.confidence_fb_px) ** 2)) * match_valid[t]
            quality[t] = np.nan_to_num(q, nan=0.0)
            if minimal is not None:
                lifted[t] = minimal[t]
            else:
                depth_t = _to_camera(_own(own, t)[0], ext[t])[..., 2]
                lifted[t] = lift_with_target_depth(
                    points_l, depth_t, matches[t], match_valid[t], kn[t], poses[t], valid & ~dynamic, cfg.lift_depth, cfg.lift_depth_tolerance
                )
            if bodies is not None:
                lifted[t] = np.where(np.isfinite(bodies[t]).all(-1, keepdims=True), bodies[t], lifted[t])
        else:  # not matched (flow_frames="targets" always matches the targets; kept for safety)
            quality[t] = np.zeros((h, w))
            lifted[t] = np.full((h, w, 3), np.nan)
    for t in targets:
        if t == last:
            out_pts.append(pts_last)
            out_conf.append(conf_floor)
            continue
        flow_cam = lifted[t]  # [h, w, 3] scene flow in camera L (NaN: no usable match)
        missing = ~np.isfinite(flow_cam).all(-1)
        if missing.any():
            flow_cam = np.where(missing[..., None], _extrapolate(lifted, t, last), flow_cam)
        moving = dynamic & valid
        flow_cam = fill_from_nearest(flow_cam, moving & np.isfinite(flow_cam).all(-1), moving)
        flow_cam = np.where(np.isfinite(flow_cam), flow_cam, 0.0)
        flow_window = flow_cam @ rot_l  # camera L -> window frame: R_L^T v for row vectors v
        pts = np.where((dynamic & valid)[..., None], pts_last + flow_window, pts_last)
        conf = 1.0 + (conf_floor - 1.0) * quality[t]
        out_pts.append(pts)
        out_conf.append(np.where(valid, conf, 1.0))
    pts3d = torch.from_numpy(np.stack(out_pts).astype(np.float32))[None, :, None]
    conf3d = torch.from_numpy(np.stack(out_conf).astype(np.float32))[None, :, None]
    return DynamicPointMaps(pts3d=pts3d, conf=conf3d, target_times=tuple(targets), frames=(last,))


def _extrapolate(lifted: dict[int, np.ndarray], t: int, last: int) -> np.ndarray:
    """Scene flow to time t from the nearest other target with a match, at constant velocity."""
    h, w = next(iter(lifted.values())).shape[:2]
    out = np.full((h, w, 3), np.nan)
    for other in sorted(lifted, key=lambda o: abs(o - t)):
        if other == t:
            continue
        scaled = lifted[other] * ((last - t) / (last - other))
        out = np.where(np.isfinite(out).all(-1, keepdims=True), out, scaled)
    return out


def flow_dynamic_maps(
    images_raw: Sequence[np.ndarray],
    transforms: Sequence[ImageTransform],
    own: PointMaps,
    extrinsics: Tensor,
    intrinsics_net: Tensor,
    target_times: Sequence[int],
    frame: int,
    config: FlowMotionConfig = FlowMotionConfig(),
    keys: Sequence[Hashable] | None = None,
    cache: LinkCache | None = None,
) -> DynamicPointMaps:
    """P_L(t_j) of the latest frame L for each target time, from optical flow and the model's geometry.

    Args:
        images_raw: the window's S camera images ``[H, W, 3]`` uint8 RGB, oldest first, one size.
        transforms: the pipeline's preprocessing of each (``preprocess_images``); all to one network size.
        own: the model's own-time maps P_i(t_i) with confidences (``model.time_variant(state, frames=...)``),
            window frame, model units, network grid ``[1, F, h, w, 3]``; must hold
            :func:`required_frames` (the latest frame and every target time).
        extrinsics: ``[S, 3, 4]`` predicted camera-from-window (used for depths, the window-frame
            rotation of the latest camera, and as a fall-back pose).
        intrinsics_net: ``[S, 3, 3]`` predicted K on the network grid, pixel-centre convention (VGGT's
            principal point minus 0.5, as the processor computes it).
        target_times: the target times to return, e.g. (0, S-2, S-1).
        frame: the frame whose maps are returned; must be the latest, S-1.
        config: settings.
        keys: one hashable per frame (e.g. stamps); with ``cache``, consecutive flows are reused across
            windows that share frames.
        cache: a :class:`LinkCache` kept by the caller between windows.

    Returns:
        :class:`DynamicPointMaps` with ``pts3d [1, T, 1, h, w, 3]`` and ``conf [1, T, 1, h, w]`` (>= 1),
        float32 on the CPU, ``target_times`` as given, ``frames = (S-1,)``. Static pixels have
        P_L(t_j) = P_L(t_L) exactly, as have invalid pixels (padding, no finite model point; confidence 1).
    """
    return flow_motion(images_raw, transforms, own, extrinsics, intrinsics_net, target_times, frame, config, keys, cache).maps
