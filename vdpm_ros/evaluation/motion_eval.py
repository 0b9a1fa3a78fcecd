"""Motion of the latest frame against exact ground truth, for either motion source (model or flow).

The protocol mirrors what the node does: sequences rendered at a camera resolution (default 320x240,
above the embedded network's 112x84 input, as a real camera is), windows of the node's default size
sliding by one frame, and for each window the latest frame's outputs:

- ``motion_iou``: the motion mask by the pipeline's rule (a point moving by more than
  ``motion_threshold`` x the scene scale from the window's first or previous frame to the latest,
  read at the camera's pixels with nearest resampling, as the node publishes it) against the
  ground-truth mask by the same rule; intersections and unions are pooled over a sequence's windows.
- ``scene_flow_epe_dynamic``: mean end-point error of the predicted scene flow P_L(t_j) - P_L(t_L) of the
  latest frame L, for j = the window's first and previous frame, on the ground-truth moving pixels, in
  the protocol's unit-mean scale (prediction and ground truth each divided by the mean distance of
  their P_L(t_L) to the window's first camera), on the network grid; ``no_motion`` is zero flow.
- ``flagged``: fraction of the latest frame's valid pixels the mask flags (on a static scene every
  flagged pixel is a false alarm).

The ground-truth scene scale is the mean distance of the ground-truth P_L(t_L) at the network's
pixels, as the pipeline measures the predicted scale on the network's maps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..geometry import DEFAULT_MOTION_THRESHOLD, mean_distance, motion_mask, pose_encoding_to_cameras
from ..model.outputs import DynamicPointMaps, PointMaps
from ..motion.config import FlowMotionConfig
from ..motion.flow_source import flow_dynamic_maps
from ..motion.window_flow import LinkCache
from ..pipeline.resample import net_valid_mask, raw_sampling, sample_to_raw
from ..preprocessing import ImageTransform, preprocess_images
from ..synth import SceneConfig, SyntheticSequence, generate_sequence


@dataclass(frozen=True)
class MotionEvalConfig:
    """The motion protocol.

    Attributes:
        camera_hw: (height, width) the scenes are rendered at (the camera image).
        frames: frames per generated sequence.
        window_size: frames per window (the node's default is 5); windows slide by one frame.
        motion_threshold: the pipeline's motion threshold (fraction of the scene scale).
        preprocess_mode: the pipeline's preprocessing ("crop" or "pad").
        static_scene: render scenes in which no object moves (camera motion only).
        exact_geometry: replace the model's P_i(t_i), cameras and intrinsics by the ground truth (at the
            network's pixels) before a source sees them: what the flow source would do with perfect depth
            and cameras (the model still runs, for the timings and the ``model`` source's maps).
    """

    camera_hw: tuple[int, int] = (240, 320)
    frames: int = 10
    window_size: int = 5
    motion_threshold: float = DEFAULT_MOTION_THRESHOLD
    preprocess_mode: str = "crop"
    static_scene: bool = False
    exact_geometry: bool = False

    def __post_init__(self) -> None:
        if self.window_size < 2:
            raise ValueError(f"window_size must be at least 2, got {self.window_size}")
        if self.frames < self.window_size:
            raise ValueError(f"frames ({self.frames}) must be at least window_size ({self.window_size})")
        if len(self.camera_hw) != 2 or min(self.camera_hw) < 16:
            raise ValueError(f"camera_hw must be (height, width) of at least 16 px, got {self.camera_hw}")
        if self.preprocess_mode not in ("crop", "pad"):
            raise ValueError(f"preprocess_mode must be 'crop' or 'pad', got {self.preprocess_mode!r}")

    def scene(self) -> SceneConfig:
        h, w = self.camera_hw
        if self.static_scene:
            return SceneConfig(height=h, width=w, frames=self.frames, deforming_objects=0, static_object_prob=1.0, cross_view_prob=0.0)
        return SceneConfig(height=h, width=w, frames=self.frames)


@dataclass
class MotionWindow:
    """One window of a generated sequence with what the model computed on it and the ground truth.

    Attributes:
        seed, start: the sequence and the index of the window's first frame in it.
        images: S camera images ``[H, W, 3]`` uint8, oldest first.
        transforms: the pipeline's preprocessing of each.
        own: P_i(t_i) and confidences of every frame (``model.time_variant``), window frame, model units.
        extrinsics: ``[S, 3, 4]`` predicted camera-from-window.
        intrinsics_net: ``[S, 3, 3]`` predicted K on the network grid, pixel-centre convention.
        decoded: the model's own P_L(t_j) for j in (0, S-2, S-1) (the ``model`` source), if computed.
        gt_raw: ``[T, H, W, 3]`` float32 true P_L(t_j) for j in ``target_times`` (in that order), window frame
            (metres), camera grid.
        gt_valid_raw: ``[H, W]`` bool, the latest camera pixel sees a surface.
        gt_net: ``[S, h, w, 3]`` float32 true P_L(t_j) for every j at the network's pixel centres (nearest camera pixel).
        gt_valid_net: ``[h, w]`` bool.
        encode_s: wall time of ``model.encode`` (the backbone, which both sources need).
        own_s: wall time of ``model.time_variant`` on the latest frame (what the flow source adds).
        decode_s: wall time of ``model.decode`` of the three target times (what the model source adds).
    """

    seed: int
    start: int
    images: list[np.ndarray]
    transforms: list[ImageTransform]
    own: PointMaps
    extrinsics: Tensor
    intrinsics_net: Tensor
    decoded: DynamicPointMaps | None
    gt_raw: np.ndarray
    gt_valid_raw: np.ndarray
    gt_net: np.ndarray
    gt_valid_net: np.ndarray
    encode_s: float = 0.0
    own_s: float = 0.0
    decode_s: float = 0.0

    @property
    def size(self) -> int:
        return len(self.images)

    @property
    def target_times(self) -> tuple[int, ...]:
        """What the node decodes: the first, previous and latest frame's times."""
        S = self.size
        return tuple(sorted({0, S - 2, S - 1}))


@dataclass
class WindowScore:
    """Motion of one window's latest frame against ground truth (see the module docstring)."""

    intersection: int
    union: int
    flagged: float
    epe: float
    epe_no_motion: float
    seconds: float = 0.0
    first: bool = False


def _window_ground_truth(seq: SyntheticSequence, frames: Sequence[int], tf: ImageTransform) -> tuple[np.ndarray, ...]:
    last, first = frames[-1], frames[0]
    rot = seq.extrinsics[first, :, :3].astype(np.float64)
    trans = seq.extrinsics[first, :, 3].astype(np.float64)
    gt_all = np.stack([seq.pointmaps[j, last].astype(np.float64) @ rot.T + trans for j in frames]).astype(np.float32)
    S = len(frames)
    gt_raw = gt_all[sorted({0, S - 2, S - 1})]
    valid_raw = seq.valid[last].copy()
    h, w = tf.net_hw
    H, W = tf.raw_hw
    u = tf.net_to_raw_pixels(np.stack([np.arange(w, dtype=np.float64), np.zeros(w)], -1))[:, 0]
    v = tf.net_to_raw_pixels(np.stack([np.zeros(h), np.arange(h, dtype=np.float64)], -1))[:, 1]
    cols = np.clip(np.rint(u), 0, W - 1).astype(np.int64)
    rows = np.clip(np.rint(v), 0, H - 1).astype(np.int64)
    gt_net = gt_all[:, rows][:, :, cols]
    valid_net = valid_raw[rows][:, cols] & net_valid_mask(tf).numpy()
    return gt_raw, valid_raw, gt_net, valid_net


def _exact_geometry(
    seq: SyntheticSequence, frames: list[int], transforms: list[ImageTransform], own: PointMaps
) -> tuple[PointMaps, Tensor, Tensor]:
    """True P_i(t_i) (window frame, nearest camera pixel of each network pixel), cameras and intrinsics."""
    first = frames[0]
    rot0 = seq.extrinsics[first, :, :3].astype(np.float64)
    t0 = seq.extrinsics[first, :, 3].astype(np.float64)
    pts, ext, k = [], [], []
    for n, i in enumerate(frames):
        tf = transforms[n]
        h, w = tf.net_hw
        H, W = tf.raw_hw
        u = tf.net_to_raw_pixels(np.stack([np.arange(w, dtype=np.float64), np.zeros(w)], -1))[:, 0]
        v = tf.net_to_raw_pixels(np.stack([np.zeros(h), np.arange(h, dtype=np.float64)], -1))[:, 1]
        rows = np.clip(np.rint(v), 0, H - 1).astype(np.int64)
        cols = np.clip(np.rint(u), 0, W - 1).astype(np.int64)
        p = seq.pointmaps[i, i].astype(np.float64) @ rot0.T + t0
        p = p[rows][:, cols]
        p[~seq.valid[i][rows][:, cols]] = np.nan
        pts.append(p)
        rot = seq.extrinsics[i, :, :3].astype(np.float64) @ rot0.T  # camera i from the window's first camera
        ext.append(np.concatenate([rot, (seq.extrinsics[i, :, 3] - rot @ t0)[:, None]], 1))
        k.append(tf.intrinsics_to_net(seq.intrinsics[i].astype(np.float64)))
    maps = PointMaps(torch.from_numpy(np.stack(pts)).float()[None], own.conf, own.frames, own.times)
    return maps, torch.from_numpy(np.stack(ext)), torch.from_numpy(np.stack(k))


def prepare_windows(model, seq: SyntheticSequence, cfg: MotionEvalConfig, decode: bool = True, device: str = "cpu") -> list[MotionWindow]:
    """Run the model on every window of ``seq`` (what both motion sources need) and attach the ground truth."""
    S = cfg.window_size
    out = []
    for start in range(seq.num_frames - S + 1):
        frames = list(range(start, start + S))
        images = [seq.images[i] for i in frames]
        x, transforms = preprocess_images(images, cfg.preprocess_mode, model.config.img_size)
        with torch.inference_mode():
            t0 = time.perf_counter()
            state = model.encode(x.to(device))
            t1 = time.perf_counter()
            pose_enc = model.cameras(state).pose_enc[0].float()
            t2 = time.perf_counter()
            model.time_variant(state, frames=[S - 1])  # timed alone: all the default flow source reads
            t3 = time.perf_counter()
            own = model.time_variant(state)  # every frame, for lift_depth="target"
            t4 = time.perf_counter()
            decoded = model.decode(state, target_times=sorted({0, S - 2, S - 1}), frames=[S - 1]) if decode else None
            t5 = time.perf_counter()
        extrinsics, k_net = pose_encoding_to_cameras(pose_enc, tuple(state.image_hw))
        k_net = k_net.clone()
        k_net[:, :2, 2] -= 0.5  # VGGT's principal point is the image centre with the origin at a corner (see the processor)
        gt = _window_ground_truth(seq, frames, transforms[-1])
        own = PointMaps(own.pts3d.float().cpu(), own.conf.float().cpu(), own.frames, own.times.cpu())
        extrinsics, k_net = extrinsics.cpu(), k_net.cpu()
        if cfg.exact_geometry:
            own, extrinsics, k_net = _exact_geometry(seq, frames, transforms, own)
        if decoded is not None:
            decoded = DynamicPointMaps(decoded.pts3d.float().cpu(), decoded.conf.float().cpu(), decoded.target_times, decoded.frames)
        out.append(
            MotionWindow(
                seq.seed,
                start,
                images,
                transforms,
                own,
                extrinsics,
                k_net,
                decoded,
                *gt,
                encode_s=t1 - t0,
                own_s=t3 - t2,
                decode_s=(t5 - t4) if decode else float("nan"),
            )
        )
    return out


def score_window(window: MotionWindow, maps: DynamicPointMaps, motion_threshold: float = DEFAULT_MOTION_THRESHOLD) -> WindowScore:
    """Score the latest frame's P_L(t_j) (``maps``, network grid, window frame, any scale) of ``window``."""
    S = window.size
    last, prev, first = S - 1, S - 2, 0
    tf = window.transforms[last]
    now = maps.at(last, last)[0][0].float()
    net_valid = net_valid_mask(tf) & torch.isfinite(now).all(-1)
    scene_scale = float(mean_distance(now[net_valid].reshape(-1, 3)))
    moves = [now - maps.at(t, last)[0][0].float() for t in sorted({first, prev})]
    dynamic_net = motion_mask(torch.stack(moves), scene_scale, motion_threshold).any(0) & net_valid
    sampling = raw_sampling(tf, "nearest")
    valid_raw = sampling.valid & sample_to_raw(net_valid, sampling)
    dynamic_raw = (sample_to_raw(dynamic_net, sampling) & valid_raw).numpy()

    # Ground truth by the same rule; its scene scale from the network's pixels, as the pipeline measures its own.
    gt_valid_net = window.gt_valid_net & net_valid.numpy()
    gt_scale = float(np.linalg.norm(window.gt_net[last][gt_valid_net], axis=-1).mean())
    raw = {t: window.gt_raw[k] for k, t in enumerate(window.target_times)}
    gt_step = np.maximum(np.linalg.norm(raw[last] - raw[first], axis=-1), np.linalg.norm(raw[last] - raw[prev], axis=-1))
    scored_raw = window.gt_valid_raw & valid_raw.numpy()
    gt_moving_raw = scored_raw & (gt_step > motion_threshold * gt_scale)
    pred_raw = dynamic_raw & scored_raw
    inter, union = int((pred_raw & gt_moving_raw).sum()), int((pred_raw | gt_moving_raw).sum())

    # Scene flow on the network grid in unit-mean scale.
    gt_n = window.gt_net.astype(np.float64) / gt_scale
    pred_scale = float(np.linalg.norm(now.numpy()[gt_valid_net], axis=-1).mean())
    gt_step_net = np.maximum(np.linalg.norm(gt_n[last] - gt_n[first], axis=-1), np.linalg.norm(gt_n[last] - gt_n[prev], axis=-1))
    moving_net = gt_valid_net & (gt_step_net > motion_threshold)
    epe, base = [], []
    if moving_net.any():
        for t in sorted({first, prev}):
            pred_flow = (maps.at(t, last)[0][0].float().numpy() - now.numpy()) / pred_scale
            gt_flow = gt_n[t] - gt_n[last]
            ok = moving_net & np.isfinite(pred_flow).all(-1)
            epe.append(float(np.linalg.norm(pred_flow[ok] - gt_flow[ok], axis=-1).mean()) if ok.any() else float("nan"))
            base.append(float(np.linalg.norm(gt_flow[moving_net], axis=-1).mean()))
    nan = float("nan")
    return WindowScore(
        intersection=inter,
        union=union,
        flagged=float(pred_raw.sum() / max(1, scored_raw.sum())),
        epe=float(np.mean(epe)) if epe else nan,
        epe_no_motion=float(np.mean(base)) if base else nan,
    )


Source = Callable[[MotionWindow], DynamicPointMaps]


def model_source(window: MotionWindow) -> DynamicPointMaps:
    """The network's own P_L(t_j) (``motion_source=model``)."""
    if window.decoded is None:
        raise ValueError("the window was prepared without decode=True")
    return window.decoded


def flow_source(config: FlowMotionConfig = FlowMotionConfig(), streaming: bool = True) -> Source:
    """The flow motion source on prepared windows.

    With ``streaming`` the consecutive-frame flows are kept between the windows of a sequence (keyed by
    the frame's index in it), as a node whose windows slide by one frame would keep them.
    """
    caches: dict[int, LinkCache] = {}

    def run(window: MotionWindow) -> DynamicPointMaps:
        keys = cache = None
        if streaming:
            cache = caches.setdefault(window.seed, LinkCache(4 * window.size))
            keys = [window.start + i for i in range(window.size)]
        return flow_dynamic_maps(
            window.images, window.transforms, window.own, window.extrinsics, window.intrinsics_net, window.target_times,
            window.size - 1, config, keys, cache,
        )  # fmt: skip

    return run


@dataclass
class MotionEvaluation:
    """Per-sequence and overall motion metrics of one source (see the module docstring)."""

    per_seed: dict[int, dict[str, float]] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)


def _nanmean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def summarise(scores: dict[int, list[WindowScore]]) -> MotionEvaluation:
    """Pool each sequence's windows, then average over sequences."""
    result = MotionEvaluation()
    for seed, items in scores.items():
        inter = sum(s.intersection for s in items)
        union = sum(s.union for s in items)
        result.per_seed[seed] = {
            "motion_iou": inter / union if union else float("nan"),
            "scene_flow_epe_dynamic": _nanmean([s.epe for s in items]),
            "scene_flow_epe_dynamic_no_motion": _nanmean([s.epe_no_motion for s in items]),
            "flagged": _nanmean([s.flagged for s in items]),
            "source_ms": 1000 * _nanmean([s.seconds for s in items]),
        }
    rows = list(result.per_seed.values())
    all_items = [s for items in scores.values() for s in items]
    union = sum(s.union for s in all_items)
    epe = _nanmean([r["scene_flow_epe_dynamic"] for r in rows])
    base = _nanmean([r["scene_flow_epe_dynamic_no_motion"] for r in rows])
    result.summary = {
        "motion_iou": _nanmean([r["motion_iou"] for r in rows]),
        "motion_iou_pooled": sum(s.intersection for s in all_items) / union if union else float("nan"),
        "scene_flow_epe_dynamic": epe,
        "scene_flow_epe_dynamic_no_motion": base,
        "epe_ratio": epe / base if base > 0 else float("nan"),
        "flagged": _nanmean([r["flagged"] for r in rows]),
        "source_ms": _nanmean([r["source_ms"] for r in rows]),
        "source_ms_median": 1000 * float(np.median([s.seconds for s in all_items])),
        "source_ms_first_window": 1000 * float(np.median([s.seconds for s in all_items if s.first] or [np.nan])),
        "sequences": float(len(rows)),
        "windows": float(len(all_items)),
    }
    return result


def evaluate_windows(
    windows: Sequence[MotionWindow], source: Source, motion_threshold: float = DEFAULT_MOTION_THRESHOLD
) -> MotionEvaluation:
    """Score ``source`` on prepared windows (timing each call), in the order given (a streaming source
    relies on each sequence's windows coming in order)."""
    scores: dict[int, list[WindowScore]] = {}
    for w in windows:
        t0 = time.perf_counter()
        maps = source(w)
        seconds = time.perf_counter() - t0
        score = score_window(w, maps, motion_threshold)
        score.seconds = seconds
        score.first = w.start == 0
        scores.setdefault(w.seed, []).append(score)
    return summarise(scores)


def model_timings(windows: Sequence[MotionWindow]) -> dict[str, float]:
    """Median wall times (ms) of the model calls over the windows."""
    return {
        "encode_ms": 1000 * float(np.median([w.encode_s for w in windows])),
        "time_variant_latest_ms": 1000 * float(np.median([w.own_s for w in windows])),
        "decode_3_times_ms": 1000 * float(np.nanmedian([w.decode_s for w in windows])),
    }


def evaluate_motion(
    model,
    seeds: Sequence[int],
    sources: dict[str, Source],
    cfg: MotionEvalConfig = MotionEvalConfig(),
    device: str = "cpu",
    progress: bool = False,
) -> tuple[dict[str, MotionEvaluation], dict[str, float]]:
    """Every source on every window of the generated sequences ``seeds``.

    Returns ({source name: evaluation}, median model timings in ms, see :func:`model_timings`).
    """
    from tqdm import tqdm

    windows: list[MotionWindow] = []
    for seed in tqdm(seeds, desc="sequences", disable=not progress):
        seq = generate_sequence(seed, cfg.scene())
        windows.extend(prepare_windows(model, seq, cfg, decode="model" in sources, device=device))
    results = {name: evaluate_windows(windows, src, cfg.motion_threshold) for name, src in sources.items()}
    return results, model_timings(windows)
