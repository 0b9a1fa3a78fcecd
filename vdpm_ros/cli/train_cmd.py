"""``vdpm train``: train V-DPM on generated scenes, resumable in pieces."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train on procedurally generated 4D scenes (resumes from OUT/last.pt)",
        description="Trains from scratch on scenes generated on the fly (seeds >= 1,000,000; evaluation uses 1000-1999). "
        "Run it again with the same --out to resume; --minutes stops cleanly so a long run can be cut into pieces.",
    )
    p.add_argument("--out", type=Path, required=True, help="run directory (last.pt, history.json, model.safetensors)")
    # Named here rather than imported: the presets module imports torch, and `vdpm --help` must stay fast.
    p.add_argument(
        "--preset", default="cpu_small", help="model architecture: cpu_tiny (the embedded default model's), cpu_small, official (full size)"
    )
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--frames", type=int, default=5, help="window size S of the training scenes")
    p.add_argument("--size", type=int, nargs=2, default=(168, 224), metavar=("H", "W"), help="training resolution (multiples of 14)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--minutes", type=float, default=None, help="stop (and save) after this much wall time")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes generating scenes ahead of the step (default: none with 4 or fewer cores, "
        "else cores - 2, at most 12); the batches do not depend on it",
    )
    p.add_argument(
        "--motion-weight",
        type=float,
        default=1.0,
        help="weight of the motion term that makes a small model use the target time (0 = official objective)",
    )
    p.add_argument(
        "--time-token-weight",
        type=float,
        default=0.0,
        help="weight of the term that keeps the frames' time tokens apart (0 = official objective)",
    )
    p.set_defaults(run=run)


def default_workers(cores: int) -> int:
    """On a small CPU the generator would only take cores from the training step itself."""
    return 0 if cores <= 4 else min(12, cores - 2)


def run(args: argparse.Namespace) -> int:
    from ..model.presets import preset
    from ..synth import SceneConfig
    from ..train.loss import LossConfig
    from ..train.trainer import TrainConfig, train

    scene = SceneConfig(height=args.size[0], width=args.size[1], frames=args.frames)
    # The cores this process may use (a container's CPU set), not the host's count.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = default_workers(cores) if args.workers is None else args.workers
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        checkpoint_every=args.checkpoint_every,
        scene=scene,
        workers=workers,
        loss=LossConfig(motion_weight=args.motion_weight, time_token_weight=args.time_token_weight),
    )
    result = train(preset(args.preset), cfg, args.out, device=args.device, max_minutes=args.minutes)
    print(json.dumps({"step": result.step, "finished": result.finished, "seconds": round(result.seconds, 1), "loss": result.last_loss}))
    if result.final_model:
        print(f"final model: {result.final_model}")
    else:
        print(f"stopped at step {result.step}/{args.steps}; run the same command again to resume")
    return 0
