"""Dynamic point maps from optical flow and the model's geometry: the ``flow`` motion source.

:func:`flow_dynamic_maps` returns what the network's decoder returns (:class:`DynamicPointMaps`), so the
pipeline can use it in place of ``model.decode(state, target_times, frames=[last])``. For the latest
frame L and each requested target time t_j it gives P_L(t_j): where the point seen at each pixel of L was
at time t_j, in the window frame and the model's units.

Per window (the maths is in docs/motion.md):

1. Optical flow from L to every older frame j (consecutive DIS flows, chained and refined, with
   forward-backward checks; :mod:`.window_flow`), read at L's network pixels (:func:`match_latest`).
2. Camera motion L -> j from those matches (:mod:`.camera_motion`), robust to the moving minority and
   independent of the model's (often poor) cameras.
3. The rigidity test (:mod:`.rigidity`): one depth per pixel must explain its matches in all frames;
   what it cannot explain, weighed by the image texture and compared with the pipeline's motion
   threshold at the pixel's depth, is motion; the mask is cleaned (:mod:`.segmentation`).
4. Static pixels: P_L(t_j) = P_L(t_L), exactly zero scene flow. Dynamic pixels: P_L(t_L) plus the
   motion the flow shows, lifted to 3D (:mod:`.lifting`), rotated into the window frame.
5. Confidence (>= 1): the model's confidence of P_L(t_L), pulled towards 1 where the match of t_j failed
   its forward-backward check or left the image (occlusion, disocclusion, large displacement).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..model.outputs import DynamicPointMaps, PointMaps
from ..preprocessing import ImageTransform
from .camera_motion import LatestFrame, estimate_camera_motion
from .config import FlowMotionConfig
from .ego_motion import RelativePose
from .grids import inside_image, net_pixels, net_to_working, read_bilinear, read_nearest, working_to_net
from .lifting import extrapolate_in_time, fill_from_nearest, lift_least_motion, lift_with_target_depth
from .optical_flow import DisSettings, structure_tensor, working_image, working_size
from .segmentation import Segmentation, segment
from .window_flow import LinkCache, latest_to_targets, prefetch_links


@dataclass
class FlowMotion:
    """Everything :func:`flow_motion` found for one window (network grid of the latest frame, h x w).

    Attributes:
        maps: the result, in the decoder's layout.
        segmentation: the dynamic mask and its ingredients.
        valid: ``[h, w]`` bool, pixels with a usable model point (image part, finite, in front).
        matches: {j: ``[h, w, 2]`` match of each pixel in older frame j, network pixels of j}.
        match_valid: {j: ``[h, w]`` bool, the match is trusted}.
        poses: {j: camera j from camera L}.
        flow_frames: the older frames the rigidity test used, in the order of ``segmentation.residual_px``.
    """

    maps: DynamicPointMaps
    segmentation: Segmentation
    valid: np.ndarray
    matches: dict[int, np.ndarray]
    match_valid: dict[int, np.ndarray]
    poses: dict[int, RelativePose]
    flow_frames: tuple[int, ...]

    @property
    def dynamic(self) -> np.ndarray:
        """``[h, w]`` bool, the dynamic mask."""
        return self.segmentation.dynamic


def required_frames(target_times: Sequence[int], frame: int, config: FlowMotionConfig = FlowMotionConfig()) -> tuple[int, ...]:
    """The frames whose own-time maps P_i(t_i) (``model.time_variant``) the flow source reads.

    The default lifting reads only the latest frame's; ``lift_depth="target"`` also the target times'.
    """
    if config.lift_depth == "least_motion":
        return (int(frame),)
    return tuple(sorted({int(frame), *(int(t) for t in target_times)}))


#: Horizontal field of view assumed where the model's intrinsics are unusable (an untrained camera head).
FALLBACK_FOV_DEG = 60.0


def usable_intrinsics(intrinsics: np.ndarray, net_hw: tuple[int, int]) -> np.ndarray:
    """``[S, 3, 3]`` with every unusable K (not finite, focal length <= 0) replaced.

    An untrained camera head can predict a zero field of view, i.e. infinite focal lengths. The
    replacement is the median of the usable ones, or a pinhole of :data:`FALLBACK_FOV_DEG` centred on the
    network grid where none is usable: the flow still needs some camera to separate rotation from
    translation, and a wrong focal length bends the rigidity test less than no test at all.
    """
    k = np.array(intrinsics, dtype=np.float64)
    ok = np.isfinite(k).all((1, 2)) & (k[:, 0, 0] > 0) & (k[:, 1, 1] > 0)
    if ok.all():
        return k
    if ok.any():
        fallback = np.median(k[ok], axis=0)
    else:
        h, w = net_hw
        f = (w / 2.0) / np.tan(np.radians(FALLBACK_FOV_DEG) / 2.0)
        fallback = np.array([[f, 0.0, (w - 1) / 2.0], [0.0, f, (h - 1) / 2.0], [0.0, 0.0, 1.0]])
    k[~ok] = fallback
    return k


def _own(own: PointMaps, index: int) -> tuple[np.ndarray, np.ndarray]:
    if index not in own.frames:
        raise ValueError(f"the own-time maps hold frames {own.frames}; frame {index} is needed (see required_frames)")
    k = own.frames.index(index)
    return own.pts3d[0, k].detach().double().cpu().numpy(), own.conf[0, k].detach().double().cpu().numpy()


def _to_camera(points: np.ndarray, extrinsic: np.ndarray) -> np.ndarray:
    return points @ extrinsic[:, :3].T + extrinsic[:, 3]


def _check(images_raw, transforms, own, extrinsics, intrinsics_net, target_times, frame) -> None:
    S = len(images_raw)
    if S < 2:
        raise ValueError(f"the flow source needs a window of at least 2 frames, got {S}")
    if len(transforms) != S or extrinsics.shape[0] != S or intrinsics_net.shape[0] != S:
        raise ValueError(
            f"need one transform, extrinsic and intrinsic per image ({S}), got {len(transforms)}, {extrinsics.shape[0]}, {intrinsics_net.shape[0]}"
        )
    if frame != S - 1:
        raise ValueError(f"the flow source gives the latest frame's maps (frame {S - 1}), got frame {frame}")
    if not len(target_times) or any(not 0 <= t < S for t in target_times) or len(set(target_times)) != len(target_times):
        raise ValueError(f"target_times must be distinct times in 0..{S - 1}, got {list(target_times)}")
    if own.pts3d.shape[0] != 1:
        raise ValueError(f"the flow source handles a batch of one window, got {own.pts3d.shape[0]}")
    hw = {tf.net_hw for tf in transforms}
    if len(hw) != 1 or tuple(own.pts3d.shape[2:4]) != next(iter(hw)):
        raise ValueError(f"network sizes differ: transforms {sorted(hw)}, own-time maps {tuple(own.pts3d.shape[2:4])}")
    if not _one_image_size(images_raw):
        raise ValueError("the flow source needs every image of a window at the same size")


def _one_image_size(images_raw: Sequence[np.ndarray]) -> bool:
    return len({np.asarray(img).shape[:2] for img in images_raw}) == 1


def flow_grid(raw_hw: tuple[int, int], cfg: FlowMotionConfig) -> tuple[tuple[int, int], DisSettings]:
    """The working grid ``(h, w)`` the optical flow runs on for camera images of ``raw_hw``, and its DIS settings."""
    return working_size(tuple(raw_hw), cfg.flow_width), DisSettings(cfg.dis_preset, cfg.dis_finest_scale)


def prefetch_window_links(
    images_raw: Sequence[np.ndarray], keys: Sequence[Hashable], cache: LinkCache, config: FlowMotionConfig = FlowMotionConfig()
) -> int:
    """Fill ``cache`` with the window's optical-flow links, as :func:`flow_motion` will ask for them.

    Needs only the camera images, not the model: the node runs it on another thread while the model
    works on an earlier window. Returns how many flows it computed; a window of mixed image sizes is
    left alone (the flow source refuses it).
    """
    if not _one_image_size(images_raw):
        return 0
    work_hw, dis = flow_grid(np.asarray(images_raw[-1]).shape[:2], config)
    return prefetch_links(images_raw, keys, work_hw, dis, cache)


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
    work_hw, dis = flow_grid(tf_last.raw_hw, cfg)
    grey = [working_image(np.asarray(img), work_hw) for img in images_raw]
    fields = latest_to_targets(grey, older, dis, cfg.fb_absolute_px, cfg.fb_relative, cfg.refine_chained, keys, cache)
    at_work = net_to_working(tf_last, work_hw)
    matches, match_valid, fb_error = {}, {}, {}
    for j in older:
        f = fields[j]
        matches[j] = working_to_net(at_work + read_bilinear(f.flow, at_work), transforms[j], work_hw)
        match_valid[j] = read_nearest(f.valid, at_work) & inside_image(matches[j], transforms[j].net_hw)
        fb_error[j] = read_nearest(f.error, at_work)
    return matches, match_valid, fb_error


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
    _check(images_raw, transforms, own, extrinsics, intrinsics_net, target_times, frame)
    last = len(images_raw) - 1
    targets = tuple(int(t) for t in target_times)
    ext = extrinsics.detach().double().cpu().numpy()
    tf_last = transforms[last]
    h, w = tf_last.net_hw
    kn = usable_intrinsics(intrinsics_net.detach().double().cpu().numpy(), (h, w))

    # The latest frame's geometry from the model: its points, their depth along its own camera's rays.
    pts_last, conf_last = _own(own, last)
    depth = _to_camera(pts_last, ext[last])[..., 2]
    top, bottom, left, right = tf_last.valid_region
    valid = np.zeros((h, w), bool)
    valid[top:bottom, left:right] = True
    valid &= np.isfinite(pts_last).all(-1) & np.isfinite(depth) & (depth > 0)
    rays = np.concatenate([net_pixels((h, w)), np.ones((h, w, 1))], -1) @ np.linalg.inv(kn[last]).T
    latest = LatestFrame(rays, np.where(valid, depth, 1.0), valid, kn[last])
    scene_scale = float(np.linalg.norm(pts_last[valid], axis=-1).mean()) if valid.any() else float("nan")

    older = tuple(range(last)) if cfg.flow_frames == "window" else tuple(sorted({t for t in targets if t != last}))
    matches, match_valid, fb_error = match_latest(images_raw, transforms, older, cfg, keys, cache)
    for j in older:
        match_valid[j] &= valid
    intrinsics = {j: kn[j] for j in older}
    poses, fit = estimate_camera_motion(latest, matches, match_valid, intrinsics, ext, cfg)

    texture = None
    if cfg.texture_sigma_px > 0:
        work_hw = working_size(tf_last.raw_hw, cfg.flow_width)
        tensor = structure_tensor(working_image(np.asarray(images_raw[last]), work_hw), cfg.texture_sigma_px)
        texture = read_bilinear(tensor, net_to_working(tf_last, work_hw))
    matched = np.any([match_valid[j] for j in older], axis=0) if older else np.zeros((h, w), bool)
    focal = 0.5 * (kn[last, 0, 0] + kn[last, 1, 1])
    seg = segment(fit, texture, latest.depth, valid, matched, focal, scene_scale, cfg)

    flows = _lift(latest, own, ext, kn, seg.dynamic, matches, match_valid, poses, targets, last, cfg)
    maps = _assemble(pts_last, conf_last, valid, seg.dynamic, flows, fb_error, match_valid, ext[last], targets, last, cfg)
    return FlowMotion(maps, seg, valid, matches, match_valid, poses, older)


def _lift(latest, own, ext, kn, dynamic, matches, match_valid, poses, targets, last, cfg) -> dict[int, np.ndarray]:
    """{t: ``[h, w, 3]`` scene flow in camera L from t_L to t_t (NaN where none)} for the target times."""
    wanted = [t for t in targets if t != last and t in matches]
    if not wanted:
        return {}
    if cfg.lift_depth == "least_motion":
        flows = lift_least_motion(
            latest.rays, latest.depth, matches, match_valid, {j: kn[j] for j in matches}, poses, cfg.lift_prior_weight
        )
        return {t: flows[t] for t in wanted}
    static = latest.valid & ~dynamic
    out = {}
    for t in wanted:
        depth_t = _to_camera(_own(own, t)[0], ext[t])[..., 2]
        out[t] = lift_with_target_depth(
            latest.points, depth_t, matches[t], match_valid[t], kn[t], poses[t], static, cfg.lift_depth_tolerance
        )
    return out


def _assemble(pts_last, conf_last, valid, dynamic, flows, fb_error, match_valid, ext_last, targets, last, cfg) -> DynamicPointMaps:
    moving = dynamic & valid
    conf_last = np.maximum(np.nan_to_num(conf_last, nan=1.0), 1.0)
    out_pts, out_conf = [], []
    for t in targets:
        if t == last:
            out_pts.append(pts_last)
            out_conf.append(conf_last)
            continue
        flow = flows.get(t, np.full(pts_last.shape, np.nan))
        # Moving pixels without a match at t: the same pixel's motion at another target time (constant
        # velocity), else the nearest moving pixel's (most often on the same object), else none.
        if len(flows) > 1:
            flow = np.where(np.isfinite(flow).all(-1, keepdims=True), flow, extrapolate_in_time(flows, t, last))
        flow = fill_from_nearest(flow, moving & np.isfinite(flow).all(-1), moving)
        flow = np.where(moving[..., None] & np.isfinite(flow), flow, 0.0)
        out_pts.append(pts_last + flow @ ext_last[:, :3])  # camera L -> window frame: R_L^T v for row vectors v
        if t in fb_error:
            quality = np.exp(-((np.nan_to_num(fb_error[t], nan=np.inf) / cfg.confidence_fb_px) ** 2)) * match_valid[t]
        else:
            quality = np.zeros(valid.shape)
        out_conf.append(np.where(valid, 1.0 + (conf_last - 1.0) * quality, 1.0))
    pts3d = torch.from_numpy(np.stack(out_pts).astype(np.float32))[None, :, None]
    conf3d = torch.from_numpy(np.stack(out_conf).astype(np.float32))[None, :, None]
    return DynamicPointMaps(pts3d=pts3d, conf=conf3d, target_times=targets, frames=(last,))


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
    device: torch.device | str = "cpu",
) -> DynamicPointMaps:
    """P_L(t_j) of the latest frame L for each target time, from optical flow and the model's geometry.

    Args:
        images_raw: the window's S camera images ``[H, W, 3]`` uint8 RGB, oldest first, one size.
        transforms: the pipeline's preprocessing of each (``preprocess_images``); all to one network size.
        own: the model's own-time maps P_i(t_i) with confidences (``model.time_variant(state, frames=...)``),
            window frame, model units, network grid ``[1, F, h, w, 3]``; must hold
            :func:`required_frames` (by default only the latest frame).
        extrinsics: ``[S, 3, 4]`` predicted camera-from-window: the latest camera gives the depth of its
            points and the rotation into the window frame; all are one guess of the camera motion and
            the fall-back where the flow finds none.
        intrinsics_net: ``[S, 3, 3]`` predicted K on the network grid, pixel-centre convention (VGGT's
            principal point minus 0.5, as the processor computes it).
        target_times: the target times to return, e.g. (0, S-2, S-1).
        frame: the frame whose maps are returned; must be the latest, S-1.
        config: settings.
        keys: one hashable per frame (e.g. stamps); with ``cache``, consecutive flows are reused across
            windows that share frames.
        cache: a :class:`~vdpm_ros.motion.window_flow.LinkCache` kept by the caller between windows.
        device: where the returned tensors go (the computation itself runs on the CPU, in numpy/OpenCV).

    Returns:
        :class:`DynamicPointMaps` with ``pts3d [1, T, 1, h, w, 3]`` and ``conf [1, T, 1, h, w]`` (>= 1),
        float32 on ``device``, ``target_times`` as given, ``frames = (S-1,)``. P_L(t_L) is the model's own
        map; static pixels have P_L(t_j) = P_L(t_L) exactly, as have invalid pixels (padding, no finite
        model point; their confidence is 1).
    """
    maps = flow_motion(images_raw, transforms, own, extrinsics, intrinsics_net, target_times, frame, config, keys, cache).maps
    return DynamicPointMaps(maps.pts3d.to(device), maps.conf.to(device), maps.target_times, maps.frames)
