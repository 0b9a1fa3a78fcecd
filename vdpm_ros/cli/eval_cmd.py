"""``vdpm eval --synthetic SEEDS --model PATH --json OUT``: metrics on held-out generated sequences."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model on held-out synthetic sequences with exact ground truth")
    p.add_argument("--synthetic", required=True, metavar="SEEDS", help="held-out seeds, e.g. 1000-1019 (training seeds are refused)")
    p.add_argument("--model", type=Path, default=None, help="checkpoint (default: the embedded model)")
    p.add_argument("--json", type=Path, required=True, help="output JSON")
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.synthetic import METRICS, SyntheticEvalConfig, evaluate_synthetic, parse_seeds
    from ..model.checkpoint import load_model
    from ..paths import default_model_path

    seeds = parse_seeds(args.synthetic)
    path = args.model or default_model_path()
    if path is None:
        raise FileNotFoundError("no --model given and no embedded default model in models/")
    model, _ = load_model(path, device=args.device)
    width = model.config.img_size
    height = round(width * 0.75 / 14) * 14  # a 4:3 camera at the model's native width: no resampling
    result = evaluate_synthetic(model, seeds, SyntheticEvalConfig(frames=args.frames, height=height, width=width), args.device)
    result["model_path"] = str(path)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"{'metric':22s} {'model':>10s} {'no-motion':>10s}")
    for key in METRICS:
        print(f"{key:22s} {result[key]:10.4f} {result['no_motion'][key]:10.4f}")
    print(f"wrote {args.json}")
    return 0
