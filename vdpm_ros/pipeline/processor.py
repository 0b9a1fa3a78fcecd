"""One window of frames -> one :class:`WindowResult`: the only place the pipeline calls the model.

Per window the model does exactly this (the streaming API of :class:`vdpm_ros.model.VDPM`):

1. ``encode`` once (the backbone; its cost dominates);
2. ``cameras`` (poses and intrinsics of all frames);
3. ``decode(target_times=[S-2, S-1], frames=[S-1])``: only the latest frame's maps, at the previous and
   the current time; the point head runs on one frame, twice;
4. ``time_variant(frames=[k])`` only when the stitcher asks for an own-time map of an older frame k.

Everything else is pure maths on those maps (``derive.py``, ``resample.py``).

Metric scale (``scale_mode``): "none" leaves model units; "fixed" multiplies by ``fixed_scale``; "depth"
multiplies by ``median(sensor_depth / predicted_depth)`` over the latest frame's pixels that are valid,
confident (the cloud mask) and measured by the sensor (finite, > 0). With too few such pixels the
previous window's factor is reused (``scale_source="depth-previous"``); with none ever, the window
fails with :class:`MetricScaleError` rather than publish lengths in unknown units.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..geometry import mean_distance, moving, pose_encoding_to_cameras
from ..motion import FlowMotionConfig
from ..motion.flow_source import flow_dynamic_maps, prefetch_window_links, required_frames
from ..motion.window_flow import LinkCache
from ..preprocessing import ImageTransform, output_grid, preprocess_frame, preprocess_images, sample_nearest
from .config import PipelineConfig
from .derive import confidence_threshold, depth_scale, optical_flow, rotate, to_camera
from .frames import Frame
from .resample import RawSampling, net_valid_mask, raw_sampling, sample_to_raw
from .results import AnchorMap, StageTimings, WindowResult

_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def choose_motion_source(requested: str, model: Any) -> str:
    """``motion_source`` as run: "auto" is "model" when the model's decoder learned motion, else "flow".

    A loaded checkpoint or export says whether its decoder learned motion (``motion_trained``: the official
    weights did, and our checkpoints whose metadata says so; random weights did not). A model that does not
    say (None, e.g. one built in memory) is taken at its word: its decoder.
    """
    if requested != "auto":
        return requested
    return "flow" if getattr(model, "motion_trained", None) is False else "model"


def motion_source_line(requested: str, running: str) -> str:
    """One line for logs and reports: which motion source runs, and why."""
    what = {"model": "the network's decoder", "flow": "optical flow with the model's depth and cameras"}[running]
    if requested == "auto":
        why = "its decoder learned motion" if running == "model" else "this model's decoder did not learn motion (see its card)"
        return f"{running} ({what}; auto: {why})"
    return f"{running} ({what})"


class MetricScaleError(RuntimeError):
    """``scale_mode="depth"`` but no depth image has yet given enough valid pixels for a scale."""


def _model_device(model: Any) -> torch.device:
    try:
        return next(iter(model.parameters())).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


class WindowProcessor:
    """Runs V-DPM on a window and derives the latest frame's outputs at the raw camera resolution.

    Not thread-safe: use it from one thread (the inference worker); only :meth:`prefetch_flow_links` may be
    called from another. It keeps small pieces of state:
    a cache of preprocessed frames (with stride 1 each frame is in S windows; resizing it once saves
    S-1 Pillow resizes), the raw-pixel sampling of the current image size, and the last depth-derived
    metric scale.

    Args:
        model: a :class:`~vdpm_ros.model.VDPM` (or any object with the same ``config.img_size``, ``encode``,
            ``cameras``, ``decode`` and ``time_variant``), already on its device and in eval mode.
        config: pipeline configuration.
    """

    def __init__(self, model: Any, config: PipelineConfig | None = None) -> None:
        self.model = model
        self.config = config or PipelineConfig()
        self.device = _model_device(model)
        # stamp -> (weak reference to the camera image, network tensor, transform). Weak: the cache must not keep
        # camera images alive after the window buffer lets them go (a 12 MP frame is 36 MB).
        self._cache: OrderedDict[int, tuple[weakref.ref, Tensor, ImageTransform]] = OrderedDict()
        self._cache_size = 2 * self.config.window_size + 2
        self._last_depth_scale: float | None = None
        self._sampling: dict[tuple[ImageTransform, str], tuple[ImageTransform, RawSampling]] = {}
        #: "model" (the network's decoder) or "flow" (optical flow with the model's geometry), see :func:`choose_motion_source`.
        self.motion_source = choose_motion_source(self.config.motion_source, model)
        self._flow_config = FlowMotionConfig(motion_threshold=self.config.motion_threshold)
        # Consecutive optical flows, reused by the windows that share frames. Room for two windows' links (2 flows
        # each): the one being processed and the next one, prefetched (with fewer, a long window evicts its own).
        self._flow_links = LinkCache(max(32, 4 * self.config.window_size))

    # ------------------------------------------------------------------ flow links
    @property
    def runs_flow_source(self) -> bool:
        """Whether windows take their motion from the flow source (whose links :meth:`prefetch_flow_links` computes ahead)."""
        return self.motion_source == "flow" and self.config.decode_previous_time

    def prefetch_flow_links(self, frames: Sequence[Frame]) -> int:
        """Compute the optical-flow links of a window that waits for the model (thread-safe, unlike :meth:`process`).

        It reads only the frames' images and writes only the link cache, which is thread-safe: the streaming
        pipeline runs it on a thread of its own, so that the flow of a queued window is ready when the worker
        takes it. The window's results are the same either way. Returns how many flows it computed.
        """
        if not self.runs_flow_source:
            return 0
        return prefetch_window_links([f.rgb for f in frames], tuple(f.stamp_ns for f in frames), self._flow_links, self._flow_config)

    # ------------------------------------------------------------------ model
    def _sync(self) -> None:
        # CUDA kernels run asynchronously: without a sync a stage's time would be billed to the next one.
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = _DTYPES[self.config.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _preprocess(self, frames: Sequence[Frame]) -> tuple[Tensor, list[ImageTransform]]:
        mode, target = self.config.preprocess_mode, self.model.config.img_size
        tensors, transforms = [], []
        for frame in frames:
            entry = self._cache.get(frame.stamp_ns)
            if entry is None or entry[0]() is not frame.rgb:
                tensor, tf = preprocess_frame(frame.rgb, mode, target)
                entry = (weakref.ref(frame.rgb), tensor, tf)
                self._cache[frame.stamp_ns] = entry
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            tensors.append(entry[1])
            transforms.append(entry[2])
        if len({t.shape for t in tensors}) > 1:
            # Mixed sizes need the official white padding to a common size; rare, so not cached.
            return preprocess_images([f.rgb for f in frames], mode, target)
        return torch.stack(tensors), transforms

    def process(self, frames: Sequence[Frame], anchor_stamps_ns: Iterable[int] = ()) -> WindowResult:
        """Run the model on ``frames`` (oldest first) and derive the latest frame's outputs.

        Args:
            frames: the window, stamps strictly increasing.
            anchor_stamps_ns: stamps of older frames of this window whose own-time maps the stitcher
                needs (stamps not in the window, and the latest one, are ignored).

        Raises:
            ValueError: an empty window, too few frames or stamps not increasing.
            MetricScaleError: see the module docstring.
            torch.cuda.OutOfMemoryError: re-raised after freeing the allocator's cache.
        """
        frames = list(frames)
        self._check(frames)
        try:
            return self._process(frames, anchor_stamps_ns)
        except torch.cuda.OutOfMemoryError:
            # Free what the failed window held so the next (perhaps smaller) one has a chance.
            torch.cuda.empty_cache()
            raise

    def _check(self, frames: list[Frame]) -> None:
        need = 2 if self.config.decode_previous_time else 1
        if len(frames) < need:
            raise ValueError(f"a window needs at least {need} frames, got {len(frames)}")
        stamps = [f.stamp_ns for f in frames]
        if any(b <= a for a, b in zip(stamps, stamps[1:])):
            raise ValueError(f"window stamps must increase strictly, got {stamps}")

    def _process(self, frames: list[Frame], anchor_stamps_ns: Iterable[int]) -> WindowResult:
        cfg = self.config
        start = time.perf_counter()
        S = len(frames)
        last, prev = S - 1, S - 2
        stamps = tuple(f.stamp_ns for f in frames)
        index = {s: i for i, s in enumerate(stamps)}
        anchor_idx = sorted({index[s] for s in anchor_stamps_ns if s in index and index[s] != last})

        images, transforms = self._preprocess(frames)
        images = images.to(self.device)
        self._sync()
        t_pre = time.perf_counter()
        with torch.inference_mode():
            with self._autocast():
                state = self.model.encode(images)
            self._sync()
            t_enc = time.perf_counter()
            cams = self.model.cameras(state)
            self._sync()
            t_cam = time.perf_counter()
            # t_0 only serves the motion mask (displacement over the window); for S = 2 it is t_prev.
            first = 0 if cfg.motion_span == "window" else prev
            times = sorted({first, prev, last}) if cfg.decode_previous_time else [last]
            net_hw = tuple(state.image_hw)
            extrinsics, k_net = self._cameras(cams.pose_enc[0], net_hw)
            flow = self.runs_flow_source
            with self._autocast():
                if flow:
                    # The flow source replaces the decoder: it reads own-time maps (the latest frame's, by default).
                    need = sorted(set(required_frames(times, last, self._flow_config)) | set(anchor_idx))
                    own = self.model.time_variant(state, frames=need)
                else:
                    dyn = self.model.decode(state, target_times=times, frames=[last])
                    own = self.model.time_variant(state, frames=anchor_idx) if anchor_idx else None
            self._sync()
            t_dec = time.perf_counter()
            if flow:
                dyn = flow_dynamic_maps([f.rgb for f in frames], transforms, own, extrinsics, torch.from_numpy(k_net), times, last,
                                        self._flow_config, keys=stamps, cache=self._flow_links, device=self.device)  # fmt: skip
            t_motion = time.perf_counter() if flow else t_dec
            result = self._derive(frames, transforms, net_hw, extrinsics, k_net, dyn, own, anchor_idx)
        end = time.perf_counter()
        result.timings = StageTimings(
            preprocess_s=t_pre - start,
            encode_s=t_enc - t_pre,
            cameras_s=t_cam - t_enc,
            decode_s=t_dec - t_cam,
            postprocess_s=end - t_motion,
            total_s=end - start,
            motion_s=t_motion - t_dec,
        )
        return result

    def _cameras(self, pose_enc: Tensor, net_hw: tuple[int, int]) -> tuple[Tensor, np.ndarray]:
        """Camera-from-window extrinsics ``[S, 3, 4]`` and K on the network grid ``[S, 3, 3]`` (pixel centres at integers)."""
        extrinsics, k_net = pose_encoding_to_cameras(pose_enc.float(), net_hw)
        k_net_np = k_net.double().cpu().numpy()
        # VGGT puts the principal point at (W/2, H/2): the image centre with the origin at the image's
        # corner. Our pixel coordinates (and OpenCV's, and the synthetic ground truth's) put pixel
        # centres at integers, where the image centre is ((W-1)/2, (H-1)/2).
        k_net_np[:, :2, 2] -= 0.5
        return extrinsics, k_net_np

    # ------------------------------------------------------------- derivation
    def _metric_scale(self, frame: Frame, depth_model: Tensor, mask: Tensor, grid: ImageTransform) -> tuple[float, str]:
        cfg = self.config
        if cfg.scale_mode == "none":
            return 1.0, "none"
        if cfg.scale_mode == "fixed":
            return cfg.fixed_scale, "fixed"
        factor, count = None, 0
        if frame.depth is not None:
            sensor = torch.from_numpy(np.ascontiguousarray(sample_nearest(frame.depth, grid))).to(depth_model.device)
            factor, count = depth_scale(depth_model, sensor, mask, cfg.depth_scale_min_pixels)
        if factor is not None:
            self._last_depth_scale = factor
            return factor, "depth"
        if self._last_depth_scale is not None:
            return self._last_depth_scale, "depth-previous"
        what = "no depth image" if frame.depth is None else f"only {count} valid depth pixels (need {cfg.depth_scale_min_pixels})"
        raise MetricScaleError(f"scale_mode 'depth': {what} for frame {frame.stamp_ns} and no earlier scale to reuse")

    def _derive(
        self,
        frames: list[Frame],
        transforms: list[ImageTransform],
        net_hw: tuple[int, int],
        extrinsics: Tensor,
        k_net_np: np.ndarray,
        dyn: Any,
        own: Any,
        anchor_idx: list[int],
    ) -> WindowResult:
        cfg = self.config
        S = len(frames)
        last, prev = S - 1, S - 2
        dev = self.device
        tf = transforms[last]
        nan = float("nan")

        with np.errstate(invalid="ignore", over="ignore"):
            # A degenerate predicted FoV (an untrained head) gives inf focal lengths; they come out as inf/NaN, not a warning per window.
            k_raw = np.stack([transforms[i].intrinsics_to_raw(k_net_np[i]) for i in range(S)])

        now_net, conf_net = (x[0].float() for x in dyn.at(last, last))
        net_valid = net_valid_mask(tf, dev) & torch.isfinite(now_net).all(-1)
        threshold = confidence_threshold(conf_net, net_valid, cfg.confidence_percentile)
        # The motion threshold is relative to the scene: mean distance of the latest frame's points (image part only).
        scene_scale = float(mean_distance(now_net[net_valid].reshape(-1, 3))) if bool(net_valid.any()) else nan

        cached = self._sampling.get((tf, cfg.resample))
        if cached is None:
            if len(self._sampling) > 8:  # a camera that keeps changing size must not grow this without bound
                self._sampling.clear()
            grid = output_grid(tf, cfg.output_resolution)
            cached = self._sampling[(tf, cfg.resample)] = (grid, raw_sampling(tf, cfg.resample, dev, grid))
        grid, sampling = cached
        with np.errstate(invalid="ignore", over="ignore"):  # inf focal lengths of an untrained head, as above
            k_out = grid.intrinsics_to_net(k_raw[last])
            k_prev_grid = grid.intrinsics_to_net(k_raw[prev]) if S > 1 else None
        points = sample_to_raw(now_net, sampling)
        conf = sample_to_raw(conf_net, sampling)
        valid = sampling.valid & torch.isfinite(points).all(-1)
        points_cam = to_camera(points, extrinsics[last])
        depth = points_cam[..., 2]
        cloud_mask = valid & (conf >= threshold)
        scale, scale_source = self._metric_scale(frames[last], depth, cloud_mask, grid)

        flow = flow_cam = flow_conf = dynamic = oflow = first_raw = None
        dt = first_stamp = None
        dynamic_net = torch.zeros_like(net_valid)
        if cfg.decode_previous_time:
            before_net, conf_before_net = (x[0].float() for x in dyn.at(prev, last))
            before = sample_to_raw(before_net, sampling)
            displacement = points - before
            earlier_net, earlier = [before_net], [before]
            first = dyn.target_times[0]  # t_0 with motion_span "window"; t_prev already counted otherwise
            if first != prev:
                first_net = dyn.at(first, last)[0][0].float()
                earlier_net.append(first_net)
                earlier.append(sample_to_raw(first_net, sampling))
            if cfg.motion_span == "window":  # t_0: the longest span the window has (the object stage's motion)
                first_raw, first_stamp = earlier[-1], frames[first].stamp_ns
            dynamic_net = moving(now_net, earlier_net, scene_scale, cfg.motion_threshold) & net_valid
            dynamic = moving(points, earlier, scene_scale, cfg.motion_threshold) & valid
            dt = (frames[last].stamp_ns - frames[prev].stamp_ns) * 1e-9
            flow = displacement * (scale / dt)
            flow_cam = rotate(flow, extrinsics[last])
            flow_conf = torch.minimum(conf, sample_to_raw(conf_before_net, sampling))
            # The point at the previous time, seen by the previous camera: where this pixel was in that image.
            # The previous camera on the output grid: the flow is in the published images' pixels.
            oflow = optical_flow(before, extrinsics[prev], torch.from_numpy(k_prev_grid).to(dev), valid)

        def out(x: Tensor, fill: float = nan, factor: float = 1.0) -> np.ndarray:
            mask = valid if x.ndim == 2 else valid[..., None]
            return torch.where(mask, x * factor, torch.full_like(x, fill)).cpu().numpy().astype(np.float32, copy=False)

        depth_out = out(depth, factor=scale)
        depth_out[~(depth_out > 0)] = nan  # REP 118: NaN = no valid depth (also behind the camera)

        ext_np = extrinsics.double().cpu().numpy()
        ext_np[:, :, 3] *= scale
        anchors = [
            AnchorMap(
                stamp_ns=frames[last].stamp_ns,
                points=(now_net * scale).cpu().numpy(),
                confident=(net_valid & (conf_net >= threshold)).cpu().numpy(),
                static=(~dynamic_net).cpu().numpy(),
            )
        ]
        for i in anchor_idx:
            k = own.frames.index(i)  # own holds the anchors (and, with the flow source, the frames it read)
            pts, c = own.pts3d[0, k].float(), own.conf[0, k].float()
            ok = net_valid_mask(transforms[i], dev) & torch.isfinite(pts).all(-1)
            thr = confidence_threshold(c, ok, cfg.confidence_percentile)
            anchors.append(
                AnchorMap(
                    stamp_ns=frames[i].stamp_ns,
                    points=(pts * scale).cpu().numpy(),
                    confident=(ok & (c >= thr)).cpu().numpy(),
                    static=np.ones(ok.shape, dtype=bool),  # no motion decoded for this frame: the other window's mask decides
                )
            )

        dynamic_np = None if dynamic is None else dynamic.cpu().numpy()
        return WindowResult(
            stamps_ns=tuple(f.stamp_ns for f in frames),
            raw_hw=tf.raw_hw,
            net_hw=net_hw,
            output_grid=grid,
            output_intrinsics=k_out,
            units=cfg.units,
            scale=float(scale),
            scale_source=scale_source,
            rgb=sample_nearest(frames[last].rgb, grid),
            valid=valid.cpu().numpy(),
            points=out(points, factor=scale),
            points_camera=out(points_cam, factor=scale),
            confidence=out(conf, fill=0.0),
            confidence_threshold=threshold,
            cloud_mask=cloud_mask.cpu().numpy(),
            depth=depth_out,
            scene_scale=scene_scale * scale,
            flow_dt_s=dt,
            scene_flow=None if flow is None else out(flow),
            scene_flow_camera=None if flow_cam is None else out(flow_cam),
            flow_confidence=None if flow_conf is None else out(flow_conf, fill=0.0),
            dynamic=dynamic_np,
            motion_mask=None if dynamic_np is None else (dynamic_np.astype(np.uint8) * 255),
            optical_flow=None if oflow is None else oflow.cpu().numpy().astype(np.float32, copy=False),
            extrinsics=ext_np,
            intrinsics=k_raw,
            anchors=tuple(anchors),
            timings=StageTimings(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            motion_source=self.motion_source,
            points_first=None if first_raw is None else out(first_raw, factor=scale),
            first_stamp_ns=first_stamp,
        )
