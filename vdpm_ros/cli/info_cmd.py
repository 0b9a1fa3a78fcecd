"""``vdpm info CHECKPOINT``: what a checkpoint holds and whether it loads."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="load a checkpoint strictly and print its architecture and size")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--allow-vggt", action="store_true", help="accept a plain VGGT checkpoint (decoder left untrained)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..model.checkpoint import load_model

    model, report = load_model(args.checkpoint, allow_untrained_decoder=args.allow_vggt)
    n = sum(p.numel() for p in model.parameters())
    print(f"{args.checkpoint}: {report.loaded} tensors, {n:,} parameters")
    if report.ignored:
        print(f"ignored {len(report.ignored)} VGGT head tensors (depth_head / track_head)")
    if report.untrained:
        print(f"UNTRAINED: {len(report.untrained)} decoder tensors (VGGT checkpoint)")
    print(json.dumps(model.config.to_dict(), indent=2))
    return 0
