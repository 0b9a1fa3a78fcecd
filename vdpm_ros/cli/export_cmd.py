"""``vdpm export --checkpoint PATH --height H --width W --out DIR``: ONNX encoder + decoder + manifest."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a checkpoint to ONNX (encoder and decoder graphs, S dynamic, H x W fixed) with a manifest",
        description="H and W are the NETWORK input size (after preprocessing): e.g. 294 x 518 for a 16:9 camera "
        "with the official model (width = the model's img_size in crop mode).",
    )
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dtype", default="fp32", choices=("fp32", "fp16", "bf16"))
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--allow-vggt", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time

    from ..export.onnx_export import export_onnx
    from ..model.checkpoint import load_model

    model, _ = load_model(args.checkpoint, allow_untrained_decoder=args.allow_vggt)
    start = time.perf_counter()
    manifest = export_onnx(model, args.out, (args.height, args.width), args.checkpoint, args.dtype, args.opset)
    sizes = {name: (args.out / f).stat().st_size / 2**20 for name, f in manifest.files.items()}
    print(f"exported {args.checkpoint} for {args.width}x{args.height} inputs to {args.out} in {time.perf_counter() - start:.1f} s: "
          + ", ".join(f"{n} {mb:.1f} MiB" for n, mb in sizes.items()))  # fmt: skip
    return 0
