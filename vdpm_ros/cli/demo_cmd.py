"""``vdpm demo``: the out-of-the-box job. Generate a synthetic sequence with exact 4D ground truth, run the
node's pipeline over it with the embedded model, and write the report, the pictures and the output bag.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from .common import add_model_arguments, open_model

MARKER = ".vdpm_demo"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="synthetic sequence -> pipeline -> report, pictures and an MCAP bag of the outputs")
    add_model_arguments(p)
    p.add_argument(
        "--out", type=Path, default=Path("vdpm_demo"), help="output directory (default ./vdpm_demo; a previous demo there is replaced)"
    )
    p.add_argument("--frames", type=int, default=30, help="frames of the sequence (default 30)")
    p.add_argument("--window-size", type=int, default=5, help="window size S (default 5, the node's default)")
    p.add_argument("--seed", type=int, default=1000, help="seed of the synthetic scene (default 1000, a held-out seed)")
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=None,
        metavar=("H", "W"),
        help="camera image size (default: the model's network size, so the synthetic protocol runs too)",
    )
    p.set_defaults(run=run)


def _fresh_output_dir(out: Path) -> None:
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} exists and is not a previous demo output; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by vdpm demo; the next demo run replaces this directory\n")


def run(args: argparse.Namespace) -> int:
    from ..bags.synthetic_bag import write_synthetic_bag
    from ..evaluation.bag_eval import BagEvalOptions
    from ..ros.parameters import NodeParameters
    from ..synth import SceneConfig, generate_sequence
    from .eval_cmd import evaluate_and_report, print_summary

    if args.window_size < 2:
        raise ValueError("--window-size must be at least 2 (scene flow needs two times)")
    if args.frames < args.window_size:
        raise ValueError(f"--frames ({args.frames}) must be at least --window-size ({args.window_size})")
    loaded = open_model(args, fallback="preset:cpu_small")
    model, source = loaded.model, loaded.description
    if args.size is None:
        width = model.config.img_size
        height = round(width * 0.75 / 14) * 14  # 4:3 at the network width: the network sees the camera image unchanged
    else:
        height, width = args.size
    _fresh_output_dir(args.out)
    scene = SceneConfig(height=height, width=width, frames=args.frames)
    seq = generate_sequence(args.seed, scene)
    bag = write_synthetic_bag(seq, args.out / "input_bag", scene)
    print(f"input: {bag} ({args.frames} synthetic frames {width}x{height}, seed {args.seed}, with exact 4D ground truth)")
    protocol = 10 if args.frames >= 10 else 0
    ev = evaluate_and_report(
        model, source, bag, NodeParameters().replace(window_size=args.window_size), BagEvalOptions(protocol_frames=protocol),
        args.out / "report.json", args.out, args.out / "output_bag",
    )  # fmt: skip
    print_summary(ev)
    print(f"open {args.out / 'report.md'} (pictures: {args.out}/*.png); outputs: {args.out / 'output_bag'}")
    return 0
