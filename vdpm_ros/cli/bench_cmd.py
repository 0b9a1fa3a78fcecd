"""``vdpm bench``: stage latencies of the streaming path vs the official-style reference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_model_arguments, add_node_parameter_arguments, given_model, node_parameters, open_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time preprocess/encode/decode/heads/postprocess against the official-style reference")
    add_model_arguments(
        p,
        device_default="cpu",
        help="a checkpoint, a `vdpm export` directory, or a preset with random weights: cpu_small (the default), cpu_tiny, official",
    )
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--raw-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    p.add_argument("--target-times", type=int, default=2)
    p.add_argument("--decoded-frames", type=int, default=1)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--autocast", default="none", choices=("none", "bf16", "fp16"))
    p.add_argument(
        "--pipeline",
        action="store_true",
        help="time everything the node does per window instead: processor, stitching, scene stage and messages",
    )
    add_node_parameter_arguments(p)
    p.add_argument(
        "--output-resolution", default=None, help="--pipeline: override the parameter output_resolution (network, camera, or a width)"
    )
    p.add_argument(
        "--stride",
        type=int,
        default=None,
        help="--pipeline: override the parameter stride (new frames per window; a node that drops windows runs at a larger one)",
    )
    p.add_argument("--json", type=Path, default=None, help="write the result as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..harness.benchmark import BenchConfig, format_table, run_benchmark, run_pipeline_benchmark

    if given_model(args) is None:
        args.model = "preset:cpu_small"  # the benchmark's default: the embedded architecture, random weights
    loaded = open_model(args)
    model, source = loaded.model, loaded.description
    if args.pipeline:
        params = node_parameters(args)
        if args.output_resolution is not None:
            params = params.replace(output_resolution=args.output_resolution)
        if args.stride is not None:
            params = params.replace(stride=args.stride)
        stats = run_pipeline_benchmark(model, args.frames, tuple(args.raw_size), args.repeats, args.warmup, params=params, progress=True)
        (h, w), (oh, ow) = args.raw_size, stats["output_hw"]
        print(f"model: {source}; the node's work per window, {args.frames} frames {w}x{h} (outputs {ow}x{oh}, "
              f"output_resolution {stats['output_resolution']}), motion source {stats['motion_source']}, stride {stats['stride']}, {args.repeats} windows")  # fmt: skip
        print(f"median {stats['median_ms']:.1f} ms, mean {stats['mean_ms']:.1f} ms, p90 {stats['p90_ms']:.1f} ms, "
              f"{stats['windows_per_s']:.2f} windows/s, "
              f"peak RSS {stats['peak_rss_mb']:.0f} MiB")  # fmt: skip
        print("stages (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in stats["stage_median_ms"].items())
              + f" (messages built with {stats['messages_built_with']})")  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps({"model": source, **stats}, indent=2))
        return 0
    cfg = BenchConfig(
        frames=args.frames, raw_hw=tuple(args.raw_size), target_times=args.target_times, decoded_frames=args.decoded_frames,
        repeats=args.repeats, warmup=args.warmup, autocast_dtype=args.autocast, device=args.device,
    )  # fmt: skip
    result = run_benchmark(model, cfg, progress=True)
    print(f"model: {source}")
    print(format_table(result))
    if args.json:
        data = result.to_dict()
        data["model"] = source
        args.json.write_text(json.dumps(data, indent=2))
        print(f"wrote {args.json}")
    return 0
