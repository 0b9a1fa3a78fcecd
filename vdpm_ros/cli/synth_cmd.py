"""``vdpm synth --seed N --frames S --out PATH``: write a generated sequence as a rosbag2 (MCAP)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="generate a dynamic scene with exact 4D ground truth and write it as a rosbag2 (MCAP)",
        description="Topics: /camera/image_raw, /camera/camera_info, /ground_truth/{camera_pose,depth,dynamic_pointmap,info}; "
        "see docs/synthetic-data.md. Seeds 1000-1999 are the held-out evaluation set; training uses seeds >= 1000000.",
    )
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"), help="image size (default 240 320)")
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--out", type=Path, required=True, help="bag directory to create")
    p.add_argument(
        "--preview", type=Path, default=None, help="also write a PNG of a few frames with their depth, object ids, motion mask and travel"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time

    from ..bags.synthetic_bag import write_synthetic_bag
    from ..synth import SceneConfig, generate_sequence

    config = SceneConfig(height=args.size[0], width=args.size[1], frames=args.frames, fps=args.fps)
    start = time.perf_counter()
    seq = generate_sequence(args.seed, config)
    gen = time.perf_counter() - start
    write_synthetic_bag(seq, args.out, config)
    moving = seq.motion_mask.mean()
    print(
        f"wrote {args.out}: {args.frames} frames {args.size[1]}x{args.size[0]} at {args.fps:g} Hz, seed {args.seed}, "
        f"{len(seq.objects)} objects, {moving:.1%} moving pixels (generated in {gen:.2f} s)"
    )
    if args.preview is not None:
        from ..synth.preview import write_preview

        print(f"wrote {write_preview(seq, args.preview)}")
    return 0
