#!/usr/bin/env python3
"""What one window costs at a camera's resolution: JPEG decode, the pipeline, the node's messages (time and memory).

For one raw size per run (peak RSS is per process), on a synthetic smooth-plus-noise JPEG stream:

- decode: ``CameraIntake.compressed_image`` of a JPEG of that size (what the node's callback does);
- window: ``process_window`` (model, derived maps at camera resolution, stitching) for ``--windows`` windows
  sliding by one frame, with the per-stage timings the pipeline reports;
- messages: ``window_messages`` for every output (rclpy message classes, as the node publishes them), and
  their total size.

Prints one JSON object: times (median, ms), sizes (MiB) and the process's peak RSS after each step.

    .venv/bin/python scripts/large_frames.py --raw-size 3000 4000            # a 12 MP camera
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vdpm_ros.output import OutputConfig, RclpyTypes, window_messages  # noqa: E402
from vdpm_ros.pipeline import PipelineConfig  # noqa: E402
from vdpm_ros.pipeline.processor import WindowProcessor  # noqa: E402
from vdpm_ros.pipeline.stitching import WindowStitcher  # noqa: E402
from vdpm_ros.pipeline.stream import process_window  # noqa: E402
from vdpm_ros.ros.intake import CameraIntake, IntakeLimits  # noqa: E402
from vdpm_ros.runtime import ModelSettings  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def jpeg_of(h: int, w: int, seed: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.linspace(0, 255, w, dtype=np.float32), np.linspace(0, 255, h, dtype=np.float32))
    rgb = np.stack([u, v, 255 - u], -1) + rng.normal(0, 12, (h, w, 3)).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def message_bytes(msg) -> int:
    """Payload bytes of a message: its data arrays (points, images), approximately what goes on the wire."""
    total = 0
    for name in ("data", "points", "confidences"):
        value = getattr(msg, name, None)
        if value is not None and hasattr(value, "__len__"):
            total += len(value) * (4 if name != "data" else 1)
    cloud = getattr(msg, "cloud", None)
    return total + (message_bytes(cloud) if cloud is not None else 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--raw-size", type=int, nargs=2, required=True, metavar=("H", "W"))
    p.add_argument("--model", default="", help="model_path (default: the embedded model)")
    p.add_argument("--window-size", type=int, default=5)
    p.add_argument("--windows", type=int, default=3, help="windows timed (after one warm-up window)")
    args = p.parse_args(argv)
    h, w = args.raw_size
    out: dict = {"raw_hw": [h, w], "megapixels": h * w / 1e6, "window_size": args.window_size}
    out["peak_rss_start_mib"] = peak_rss_mib()

    frames_needed = args.window_size + args.windows
    jpegs = [jpeg_of(h, w, s) for s in range(2)]  # two distinct images alternate: content does not matter here
    out["jpeg_mib"] = len(jpegs[0]) / 2**20
    intake = CameraIntake(IntakeLimits())
    frames, decode_s = [], []
    for i in range(frames_needed):
        t = time.perf_counter()
        frame = intake.compressed_image((i + 1) * 10**8, "jpeg", jpegs[i % 2])
        decode_s.append(time.perf_counter() - t)
        assert frame is not None
        frames.append(frame)
    out["decode_ms"] = float(np.median(decode_s) * 1e3)
    out["peak_rss_after_decode_mib"] = peak_rss_mib()

    model = ModelSettings(model_path=args.model, device="cpu").resolve().model
    config = PipelineConfig(window_size=args.window_size)
    processor = WindowProcessor(model, config)
    stitcher = WindowStitcher.from_config(config)
    types, outputs = RclpyTypes(), OutputConfig(publish_window=True)
    window_s, message_s, stages, sizes = [], [], [], []
    for i in range(args.windows + 1):
        t = time.perf_counter()
        result = process_window(processor, stitcher, frames[i : i + args.window_size])
        elapsed = time.perf_counter() - t
        t = time.perf_counter()
        messages = window_messages(
            result, types, outputs, "camera", lambda: (stitcher.trajectory.stamps_ns, stitcher.trajectory.poses), lambda key: True
        )
        built = time.perf_counter() - t
        if i == 0:
            out["peak_rss_after_first_window_mib"] = peak_rss_mib()
            continue  # warm-up
        window_s.append(elapsed)
        message_s.append(built)
        stages.append(result.result.timings)
        sizes.append(sum(message_bytes(m.message) for m in messages))
        del messages, result
    out["window_ms"] = float(np.median(window_s) * 1e3)
    out["stage_ms"] = {k: float(np.median([getattr(s, k) for s in stages]) * 1e3) for k in vars(stages[0]) if k.endswith("_s")}
    out["messages_ms"] = float(np.median(message_s) * 1e3)
    out["messages_mib"] = float(np.median(sizes) / 2**20)
    out["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
