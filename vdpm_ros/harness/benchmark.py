"""Where the time goes: stage latencies of the streaming path vs an official-style reference, same run.

The reference mirrors the official ``inference()``: the backbone once, then one decoder pass per
target time for ALL S target times, and the DPT head on ALL frames. The streaming path decodes only
the requested target times (batched) and frames. Both start from the same raw camera frames.
"""

from __future__ import annotations

import platform
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..geometry import mean_distance, motion_mask, scene_flow
from ..model import VDPM
from ..output import window_messages
from ..paths import interface_dir
from ..pipeline import Frame, OfflinePipeline
from ..preprocessing import preprocess_images
from ..ros.parameters import NodeParameters
from ..synth import SceneConfig, iter_images

STAGES = ("preprocess", "encode", "decode", "heads", "postprocess", "total")


@dataclass(frozen=True)
class BenchConfig:
    frames: int = 8
    raw_hw: tuple[int, int] = (294, 518)
    target_times: int = 2  # the latest T frames' times
    decoded_frames: int = 1  # the latest F frames
    repeats: int = 10
    warmup: int = 2
    autocast_dtype: str = "none"  # none, bf16, fp16 (CUDA only)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 1 <= self.target_times <= self.frames or not 1 <= self.decoded_frames <= self.frames:
            raise ValueError("target_times and decoded_frames must lie in [1, frames]")
        if self.autocast_dtype not in ("none", "bf16", "fp16"):
            raise ValueError("autocast_dtype must be none, bf16 or fp16")


@dataclass
class StageStats:
    median_ms: float
    p90_ms: float


@dataclass
class BenchResult:
    config: BenchConfig
    model_parameters: int | None  # None for an exported engine
    streaming: dict[str, StageStats]
    reference: dict[str, StageStats]
    streaming_fps: float
    reference_fps: float
    speedup: float
    gflop_streaming: float
    gflop_reference: float
    peak_host_mb: float
    peak_device_mb: float | None
    hardware: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _autocast(cfg: BenchConfig):
    if cfg.autocast_dtype == "none":
        return torch.autocast("cpu", enabled=False)
    dtype = torch.bfloat16 if cfg.autocast_dtype == "bf16" else torch.float16
    return torch.autocast(cfg.device.split(":")[0], dtype=dtype)


def _encode(model: VDPM, frames: list[np.ndarray], cfg: BenchConfig, tick: Callable[[str], None]):
    """The part both paths share: preprocess the raw frames and run the backbone once."""
    images, _ = preprocess_images(frames, target=model.config.img_size)
    images = images.to(cfg.device)
    tick("preprocess")
    with _autocast(cfg):
        state = model.encode(images)
    tick("encode")
    return state


def _streaming(model: VDPM, frames: list[np.ndarray], cfg: BenchConfig, tick: Callable[[str], None]) -> None:
    S = cfg.frames
    state = _encode(model, frames, cfg, tick)
    with _autocast(cfg):
        times = list(range(S - cfg.target_times, S))
        cond = torch.tensor(times, device=cfg.device)[:, None, None].expand(len(times), 1, S)
        decoded = model.decode_tokens(state, cond)
        tick("decode")
        sel = list(range(S - cfg.decoded_frames, S))
        pts, conf = model._points(decoded[:, :, :, sel], state.image_hw)
        pose = model.cameras(state).pose_enc
        tick("heads")
    latest = pts[-1, 0, -1]
    flow = scene_flow(pts[0, 0, -1], latest)
    mask = motion_mask(flow, mean_distance(latest.reshape(-1, 3)))
    _ = (latest.cpu().numpy(), conf.cpu().numpy(), mask.cpu().numpy(), pose.cpu().numpy())
    tick("postprocess")


def _reference(model: VDPM, frames: list[np.ndarray], cfg: BenchConfig, tick: Callable[[str], None]) -> None:
    S = cfg.frames
    state = _encode(model, frames, cfg, tick)
    with _autocast(cfg):
        per_time = [model.decode_tokens(state, torch.full((1, 1, S), j, device=cfg.device)) for j in range(S)]
        tick("decode")
        maps = [model._points(tokens, state.image_hw) for tokens in per_time]
        pose = model.cameras(state).pose_enc
        tick("heads")
    latest = maps[-1][0][0, 0, -1]
    flow = scene_flow(maps[-2][0][0, 0, -1], latest)
    mask = motion_mask(flow, mean_distance(latest.reshape(-1, 3)))
    _ = ([m[0].cpu().numpy() for m in maps], mask.cpu().numpy(), pose.cpu().numpy())
    tick("postprocess")


def _engine_streaming(engine, frames: list[np.ndarray], cfg: BenchConfig, tick: Callable[[str], None]) -> None:
    """The streaming path through the public API only, for engines (e.g. ONNX Runtime) whose decoder graph
    includes the point head: there "decode" is decoder + point head and "heads" is the camera head."""
    S = cfg.frames
    state = _encode(engine, frames, cfg, tick)
    times = list(range(S - cfg.target_times, S))
    maps = engine.decode(state, target_times=times, frames=list(range(S - cfg.decoded_frames, S)))
    tick("decode")
    pose = engine.cameras(state).pose_enc
    tick("heads")
    latest, conf = maps.at(times[-1], S - 1)
    flow = scene_flow(maps.at(times[0], S - 1)[0][0], latest[0])
    mask = motion_mask(flow, mean_distance(latest[0].reshape(-1, 3)))
    _ = (latest.cpu().numpy(), conf.cpu().numpy(), mask.cpu().numpy(), pose.cpu().numpy())
    tick("postprocess")


def _engine_reference(engine, frames: list[np.ndarray], cfg: BenchConfig, tick: Callable[[str], None]) -> None:
    """The official-style reference through the public API: one decode per target time, all frames."""
    S = cfg.frames
    state = _encode(engine, frames, cfg, tick)
    maps = [engine.decode(state, target_times=[j]) for j in range(S)]
    tick("decode")
    pose = engine.cameras(state).pose_enc
    tick("heads")
    latest = maps[-1].at(S - 1, S - 1)[0][0]
    flow = scene_flow(maps[-2].at(S - 2, S - 1)[0][0], latest)
    mask = motion_mask(flow, mean_distance(latest.reshape(-1, 3)))
    _ = ([m.pts3d.cpu().numpy() for m in maps], mask.cpu().numpy(), pose.cpu().numpy())
    tick("postprocess")


def _time(fn, model, frames, cfg, bar=None) -> dict[str, StageStats]:
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for rep in range(cfg.warmup + cfg.repeats):
        if bar is not None:
            bar.update(1)
        marks: list[tuple[str, float]] = []
        _sync(cfg.device)
        start = time.perf_counter()

        def tick(stage: str, marks: list = marks) -> None:  # bound now: one list per repetition
            _sync(cfg.device)
            marks.append((stage, time.perf_counter()))

        with torch.inference_mode():
            fn(model, frames, cfg, tick)
        if rep < cfg.warmup:
            continue
        prev = start
        for stage, t in marks:
            samples[stage].append(t - prev)
            prev = t
        samples["total"].append(prev - start)
    return {s: StageStats(float(np.median(v) * 1e3), float(np.percentile(v, 90) * 1e3)) for s, v in samples.items()}


def _flops(fn, model, frames, cfg) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # The counter's module tracker needs autograd metadata: count under no_grad with frozen
    # parameters instead of inference_mode.
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:
        p.requires_grad_(False)
    try:
        with torch.no_grad(), counter:
            fn(model, frames, cfg, lambda stage: None)
    finally:
        for p in trainable:
            p.requires_grad_(True)
    return counter.get_total_flops() / 1e9


def hardware_description(device: str) -> dict[str, str]:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "threads": str(torch.get_num_threads())}  # fmt: skip
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def run_benchmark(model: VDPM, cfg: BenchConfig, seed: int = 0, progress: bool = False) -> BenchResult:
    """Time both paths on the same random camera frames (uint8, ``raw_hw``); ``progress`` shows a bar per path."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (*cfg.raw_hw, 3), dtype=np.uint8) for _ in range(cfg.frames)]
    is_torch = isinstance(model, VDPM)
    if is_torch:
        model = model.to(cfg.device).eval()
        streaming_fn, reference_fn = _streaming, _reference
    else:  # an engine from vdpm_ros.runtime: timed through the streaming API, FLOPs not countable
        streaming_fn, reference_fn = _engine_streaming, _engine_reference
    if cfg.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    runs = cfg.warmup + cfg.repeats
    with tqdm(total=runs, desc="bench: streaming", unit="window", disable=not progress) as bar:
        streaming = _time(streaming_fn, model, frames, cfg, bar)
    with tqdm(total=runs, desc="bench: official-style reference", unit="window", disable=not progress) as bar:
        reference = _time(reference_fn, model, frames, cfg, bar)
    if progress and is_torch:
        print("bench: counting FLOPs ...", flush=True)
    peak_device = torch.cuda.max_memory_allocated() / 2**20 if cfg.device.startswith("cuda") else None
    return BenchResult(
        config=cfg,
        model_parameters=sum(p.numel() for p in model.parameters()) if is_torch else None,
        streaming=streaming,
        reference=reference,
        streaming_fps=1e3 / streaming["total"].median_ms,
        reference_fps=1e3 / reference["total"].median_ms,
        speedup=reference["total"].median_ms / streaming["total"].median_ms,
        gflop_streaming=_flops(_streaming, model, frames, cfg) if is_torch else float("nan"),
        gflop_reference=_flops(_reference, model, frames, cfg) if is_torch else float("nan"),
        peak_host_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        peak_device_mb=peak_device,
        hardware=hardware_description(cfg.device),
    )


def format_table(result: BenchResult) -> str:
    c = result.config
    lines = [
        f"V-DPM benchmark: {f'{result.model_parameters:,} parameters' if result.model_parameters else 'exported engine'}, S={c.frames}, raw {c.raw_hw[1]}x{c.raw_hw[0]}, "
        f"{c.target_times} target time(s) x {c.decoded_frames} frame(s), {c.device}, autocast {c.autocast_dtype}, {c.repeats} runs",
        f"{'stage':12s} {'streaming median':>17s} {'p90':>9s} {'reference median':>17s} {'p90':>9s}",
    ]
    for s in STAGES:
        a, b = result.streaming[s], result.reference[s]
        lines.append(f"{s:12s} {a.median_ms:14.1f} ms {a.p90_ms:6.1f} ms {b.median_ms:14.1f} ms {b.p90_ms:6.1f} ms")
    lines.append(f"windows/s: streaming {result.streaming_fps:.2f}, reference {result.reference_fps:.2f}; speed-up {result.speedup:.2f}x")
    if np.isfinite(result.gflop_streaming):
        lines.append(f"work: streaming {result.gflop_streaming:.1f} GFLOP, reference {result.gflop_reference:.1f} GFLOP per window")
    else:  # an export: FLOPs are counted by tracing the PyTorch model
        lines.append("work: not counted for an exported engine (count it on the checkpoint: vdpm bench --model CHECKPOINT)")
    dev = f", device peak {result.peak_device_mb:.0f} MiB" if result.peak_device_mb is not None else ""
    lines.append(f"memory: host peak RSS {result.peak_host_mb:.0f} MiB{dev}")
    return "\n".join(lines)


def _message_types():
    """rclpy's message classes when they are importable (what the node publishes), else a rosbags typestore."""
    try:
        from rclpy.serialization import serialize_message

        from ..output import RclpyTypes

        types = RclpyTypes()
        types.message_class("sensor_msgs/msg/Image")
        return types, lambda msg, msgtype: serialize_message(msg), "rclpy"
    except ImportError:
        from ..output import RosbagsTypes

        types = RosbagsTypes(interface_dir())
        return types, types.serialize, "rosbags (rclpy not installed)"


def camera_stream(seed: int, raw_hw: tuple[int, int], count: int, render_width: int = 320) -> Iterator[Frame]:
    """Camera frames of a generated scene at ``raw_hw``, made one at a time.

    The scene is rendered at most ``render_width`` wide (its exact 4D ground truth is not needed here and
    would take gigabytes at 12 MP), a few frames at a time, and each frame is resized to the camera's size
    when it is taken, so the benchmark's peak memory is the pipeline's, as with a real camera.
    """
    from PIL import Image

    h, w = raw_hw
    scale = min(1.0, render_width / w)
    small = (max(14, round(h * scale)), max(14, round(w * scale)))
    for img, t in iter_images(seed, SceneConfig(height=small[0], width=small[1], frames=count)):
        rgb = img if small == raw_hw else np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
        yield Frame(stamp_ns=int(round(t * 1e9)), rgb=rgb)


def run_pipeline_benchmark(
    model,
    frames: int,
    raw_hw: tuple[int, int],
    repeats: int,
    warmup: int,
    seed: int = 1000,
    params: NodeParameters | None = None,
    progress: bool = False,
) -> dict:
    """Time everything the node does per window, stage by stage, on a generated camera sequence.

    The stages are the processor's (preprocess, encode, cameras, decode: the decoder or, with the flow source, the own-time
    maps it reads; motion: the flow source itself; postprocess), stitching, the scene
    stage (moving objects, static map), and building and serialising every output message (``messages``:
    what ``rclpy`` does inside ``publish`` before the transport). ``other`` is what is left of the wall time
    (buffering, Python overhead): a large one would mean a stage is missing. Windows slide by the parameters'
    ``stride`` (1 by default, as in the node), so frame preprocessing is reused. ``params``: the node's parameters (its
    defaults unless given; ``window_size`` is ``frames``).
    """
    from tqdm import tqdm

    params = (params or NodeParameters()).replace(window_size=frames)
    # A window every ``stride`` frames once the first is full: enough frames for warmup + repeats windows.
    stride = params.pipeline.stride
    stream = camera_stream(seed, raw_hw, frames + (warmup + repeats - 1) * stride)
    pipe = OfflinePipeline(model, params.pipeline, params.objects)
    types, serialize, library = _message_types()
    channels = {c.key: c.msgtype for c in params.outputs.channels() if not c.custom or library == "rclpy"}
    walls, rows, last = [], [], None
    done = 0  # counted here: a disabled tqdm bar does not count
    bar = tqdm(total=warmup + repeats, desc="bench --pipeline", unit="window", disable=not progress)
    for frame in stream:
        start = time.perf_counter()
        output = pipe.push(frame)
        if output is None:
            continue
        built, last = time.perf_counter(), output
        for m in window_messages(output, types, params.outputs, "camera_optical_frame", pipe.trajectory, channels.__contains__):
            serialize(m.message, channels[m.key])
        end = time.perf_counter()
        done += 1
        bar.update(1)
        if done > warmup:
            t = output.result.timings
            stages = {**t.stages_s(), "messages": end - built}
            stages["other"] = (end - start) - sum(stages.values())
            stages["total"] = end - start
            walls.append(end - start)
            rows.append(stages)
        if done >= warmup + repeats:
            break
    bar.close()
    if not walls:
        raise ValueError(f"no window was timed: {frames + (warmup + repeats - 1) * stride} frames gave {done} windows (window of {frames})")
    r = last.result
    return {
        "frames": frames,
        "raw_hw": list(raw_hw),
        "output_hw": list(r.output_hw),
        "net_hw": list(r.net_hw),
        "output_resolution": params.pipeline.output_resolution,
        "stride": stride,
        "motion_source": r.motion_source,
        "messages_built_with": library,
        "hardware": hardware_description("cpu"),
        "median_ms": float(np.median(walls) * 1e3),
        "p90_ms": float(np.percentile(walls, 90) * 1e3),
        "windows_timed": len(walls),
        "mean_ms": float(np.mean(walls) * 1e3),
        # Throughput as the node's /diagnostics count it (windows per second of wall time), not 1 / median:
        # a slow window costs the stream its full length.
        "windows_per_s": float(len(walls) / np.sum(walls)),
        "stage_median_ms": {k: float(np.median([row[k] for row in rows]) * 1e3) for k in rows[0]},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
