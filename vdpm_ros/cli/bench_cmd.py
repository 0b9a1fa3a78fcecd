"""``vdpm bench``: stage latencies of the streaming path vs the official-style reference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time preprocess/encode/decode/heads/postprocess against the official-style reference")
    p.add_argument("--model", default="cpu_small", help="a checkpoint, an ONNX export directory (vdpm export), or a preset with random weights: cpu_small, cpu_tiny, official")
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--raw-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    p.add_argument("--target-times", type=int, default=2)
    p.add_argument("--decoded-frames", type=int, default=1)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--autocast", default="none", choices=("none", "bf16", "fp16"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--pipeline", action="store_true", help="time the node's whole per-window computation (WindowProcessor) instead")
    p.add_argument("--json", type=Path, default=None, help="write the result as JSON")
    p.set_defaults(run=run)


def _model(spec: str, device: str):
    import torch

    from ..model import VDPM
    from ..model.presets import PRESETS, preset
    from ..runtime import load_engine

    if spec in PRESETS:
        torch.manual_seed(0)
        return VDPM(preset(spec)), f"preset {spec} (random weights)"
    loaded = load_engine(spec, "auto", device=device)  # ONNX Runtime for an export directory, PyTorch for a checkpoint
    return loaded.model, loaded.description


def run(args: argparse.Namespace) -> int:
    from ..benchmark import BenchConfig, format_table, run_benchmark, run_pipeline_benchmark

    model, source = _model(args.model, args.device)
    if args.pipeline:
        stats = run_pipeline_benchmark(model, args.frames, tuple(args.raw_size), args.repeats, args.warmup)
        print(f"model: {source}; WindowProcessor.process, {args.frames} frames {args.raw_size[1]}x{args.raw_size[0]}, stride 1, {args.repeats} runs")
        print(f"median {stats['median_ms']:.1f} ms, p90 {stats['p90_ms']:.1f} ms, {stats['windows_per_s']:.2f} windows/s")
        print("stages (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in stats["stage_median_ms"].items()))
        if args.json:
            args.json.write_text(json.dumps({"model": source, **stats}, indent=2))
        return 0
    cfg = BenchConfig(
        frames=args.frames, raw_hw=tuple(args.raw_size), target_times=args.target_times, decoded_frames=args.decoded_frames,
        repeats=args.repeats, warmup=args.warmup, autocast_dtype=args.autocast, device=args.device,
    )  # fmt: skip
    result = run_benchmark(model, cfg)
    print(f"model: {source}")
    print(format_table(result))
    if args.json:
        data = result.to_dict()
        data["model"] = source
        args.json.write_text(json.dumps(data, indent=2))
        print(f"wrote {args.json}")
    return 0
