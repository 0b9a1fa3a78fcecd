"""``vdpm info MODEL``: what a checkpoint or an export holds and whether it loads."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import open_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="load a checkpoint or an export strictly and print its architecture and size")
    p.add_argument("model", nargs="?", default=None, help="a checkpoint file or a `vdpm export` directory (default: the embedded model)")
    p.add_argument("--model", dest="model_flag", default=None, help=argparse.SUPPRESS)
    p.add_argument("--allow-vggt", action="store_true", help="accept a plain VGGT checkpoint (decoder left untrained)")
    p.set_defaults(run=run, engine="auto", device="cpu")


def run(args: argparse.Namespace) -> int:
    args.model = args.model_flag or args.model
    loaded = open_model(args, allow_vggt=args.allow_vggt)
    if loaded.kind == "onnxruntime":
        manifest = loaded.model.manifest
        print(f"ONNX export for {manifest.image_hw[1]}x{manifest.image_hw[0]} network inputs, {manifest.dtype}, opset {manifest.opset}")
        print(f"exported from {manifest.source_checkpoint} (sha256 {manifest.source_sha256 or 'unknown'})")
        for name, file in manifest.files.items():
            size = (Path(loaded.source) / file).stat().st_size
            print(f"  {name}: {file} ({size / 2**20:.1f} MiB)")
    else:
        n = sum(p.numel() for p in loaded.model.parameters())
        print(f"{loaded.source}: {n:,} parameters")
        if loaded.decoder_untrained:
            print("UNTRAINED decoder (VGGT checkpoint)")
        if loaded.source.endswith(".safetensors"):
            from safetensors import safe_open

            with safe_open(loaded.source, framework="pt") as f:  # the header only, not the tensors
                extra = {k: v for k, v in (f.metadata() or {}).items() if k != "vdpm_config"}
            if extra:
                print("metadata: " + json.dumps(extra))
    print(json.dumps(loaded.model.config.to_dict(), indent=2))
    return 0
