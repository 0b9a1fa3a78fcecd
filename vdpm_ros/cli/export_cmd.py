"""``vdpm export``: ONNX encoder + decoder + manifest, from a checkpoint or a preset with random weights.

    vdpm export --model /data/vdpm/model.pt --height 294 --width 518 --out exports/vdpm_294x518
    vdpm export --preset official --random-weights --seed 0 --height 28 --width 28 --out /tmp/x --check

``--check`` runs the same small window through ONNX Runtime and through PyTorch in float32 and prints, as
its last line, ``parity: max abs diff A, max rel diff R``; the exit status is 1 when any element lies
outside ``atol + rtol * |reference|`` or the graph audit found a problem.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_model_arguments, given_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to ONNX (encoder and decoder graphs, S dynamic, H x W fixed) with a manifest",
        description="H and W are the NETWORK input size (after preprocessing): e.g. 294 x 518 for a 16:9 camera "
        "with the official model (width = the model's img_size in crop mode). Give a checkpoint with --model, "
        "or --preset NAME --random-weights to export an architecture without its weights (to test the path).",
    )
    add_model_arguments(p, engine=False, device=False, help="checkpoint to export (.pt/.pth/.bin/.safetensors)")
    p.add_argument("--preset", default=None, help="architecture preset for --random-weights: official, cpu_small, cpu_tiny")
    p.add_argument("--random-weights", action="store_true", help="build --preset with random weights (no checkpoint needed)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-weights")
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dtype", default="fp32", choices=("fp32", "fp16", "bf16"),
                   help="fp16/bf16: matmul weights and products in that dtype, norms, softmax and heads in fp32")  # fmt: skip
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--allow-vggt", action="store_true")
    p.add_argument("--check", action="store_true", help="compare ONNX Runtime with PyTorch fp32 on a small window")
    p.add_argument("--check-frames", type=int, default=3, help="frames S of the --check window")
    p.add_argument("--atol", type=float, default=None, help="--check tolerance (default 1e-3)")
    p.add_argument("--rtol", type=float, default=None, help="--check tolerance (default 1e-3)")
    p.set_defaults(run=run)


def _model_source(args: argparse.Namespace):
    """-> (model, checkpoint path or None, description of the source), through the one model door."""
    from ..runtime import PRESET_PREFIX, resolve_model

    spec = given_model(args)
    checkpoint = Path(spec) if spec is not None else None
    if checkpoint is not None and (args.random_weights or args.preset):
        raise ValueError("--model exports a checkpoint; --preset/--random-weights build one without weights: give one or the other")
    if checkpoint is None:
        if not args.random_weights:
            raise ValueError("give --model PATH, or --preset NAME --random-weights to export an architecture with random weights")
        if not args.preset:
            raise ValueError("--random-weights needs --preset (official, cpu_small, cpu_tiny)")
        loaded = resolve_model(PRESET_PREFIX + args.preset, "pytorch", "cpu", seed=args.seed)
        return loaded.model, None, f"preset {args.preset}, random weights (seed {args.seed})"
    if checkpoint.is_dir():
        raise ValueError(f"{checkpoint} is a directory: vdpm export takes a checkpoint file (an export is already exported)")
    loaded = resolve_model(checkpoint, "pytorch", "cpu", args.allow_vggt)
    return loaded.model, checkpoint, str(checkpoint)


def _peak_rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def run(args: argparse.Namespace) -> int:
    import gc
    import time

    from ..export.onnx_export import export_onnx
    from ..export.parity import DEFAULT_ATOL, DEFAULT_RTOL, check_window, compare, pytorch_outputs

    start = time.perf_counter()
    model, checkpoint, source = _model_source(args)
    hw = (args.height, args.width)
    reference = window = None
    if args.check:
        # Computed before the export converts the weights (fp16/bf16 in place): the reference is always fp32.
        window = check_window(args.check_frames, hw, seed=args.seed)
        reference = pytorch_outputs(model, hw, window)
    built = time.perf_counter()
    manifest = export_onnx(model, args.out, hw, checkpoint, args.dtype, args.opset, source=source, in_place=True)
    exported = time.perf_counter()
    del model
    gc.collect()
    sizes = {name: (args.out / f).stat().st_size for name, f in manifest.files.items()}
    for name, data in manifest.external_data.items():
        sizes[name] += sum(data.values())
    print(
        f"exported {source} ({args.dtype}) for {args.width}x{args.height} inputs to {args.out} in {exported - built:.1f} s "
        f"(model ready after {built - start:.1f} s): " + ", ".join(f"{n} {b / 2**20:,.1f} MiB" for n, b in sizes.items())
        + f"; peak RSS so far {_peak_rss_gib():.2f} GiB"
    )  # fmt: skip
    problems = {name: check["problems"] for name, check in manifest.graph_checks.items() if check["problems"]}
    for name, check in manifest.graph_checks.items():
        print(f"{name}: opset {check['opset']}, {len(check['op_counts'])} op types ({', '.join(check['op_counts'])}); "
              + ("problems: " + "; ".join(check["problems"]) if check["problems"] else "onnx.checker, shape inference and the TensorRT 10 op audit passed"))  # fmt: skip
    if not args.check:
        return 1 if problems else 0

    from ..runtime import EngineUnavailableError
    from ..runtime.onnxruntime_engine import LOW_MEMORY_SESSION, OnnxRuntimeEngine

    try:
        # The exporter keeps the model's parameters referenced after it returns (torch 2.13), so this
        # process still holds them: the check's sessions must not add a second full copy.
        engine = OnnxRuntimeEngine(args.out, session_config=LOW_MEMORY_SESSION)
    except EngineUnavailableError as exc:  # e.g. bf16 graphs on ONNX Runtime's CPU provider
        print(f"vdpm export: the export was written but cannot be checked here: {exc}")
        return 2
    got = engine.graph_outputs(window.images, window.cond_times, window.frames)
    del engine
    atol = DEFAULT_ATOL if args.atol is None else args.atol
    rtol = DEFAULT_RTOL if args.rtol is None else args.rtol
    report = compare(got, reference, atol, rtol)
    S, Q = window.cond_times.shape[1], window.cond_times.shape[0]
    print(f"check: S={S} frames, {Q} target times for frame {S - 1}, ONNX Runtime ({args.dtype}) vs PyTorch fp32, "
          f"atol {atol:g} + rtol {rtol:g}; total {time.perf_counter() - start:.1f} s, peak RSS {_peak_rss_gib():.2f} GiB")  # fmt: skip
    print("\n".join(report.table()))
    print(report.line())
    return 0 if report.passed and not problems else 1
