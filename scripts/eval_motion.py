#!/usr/bin/env python3
"""Motion of the latest frame on held-out generated sequences, for both motion sources (model, flow).

    .venv/bin/python scripts/eval_motion.py --seeds 1000-1019 --json motion.json
    .venv/bin/python scripts/eval_motion.py --seeds 1000-1019 --static --json motion_static.json

Prints per-sequence and mean motion-mask IoU, scene_flow_epe_dynamic and its no-motion baseline, the
fraction of pixels flagged, and the cost per window of each source next to the model's encode (see
vdpm_ros/evaluation/motion_eval.py for the protocol). Single-threaded torch and OpenCV unless
--threads says otherwise, so that the numbers compare across machines.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1000-1019", help="held-out seeds, e.g. 1000-1019 (training seeds are refused)")
    parser.add_argument("--model", default=str(Path(__file__).resolve().parents[1] / "models" / "vdpm_default.safetensors"))
    parser.add_argument("--camera-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"), help="rendered camera image size")
    parser.add_argument("--frames", type=int, default=10, help="frames per sequence")
    parser.add_argument("--window-size", type=int, default=5)
    parser.add_argument("--static", action="store_true", help="scenes where nothing but the camera moves")
    parser.add_argument("--exact-geometry", action="store_true", help="give the sources the true depth, cameras and intrinsics")
    parser.add_argument("--lift-depth", default=None, help="flow source: least_motion (default) or target")
    parser.add_argument("--sources", default="model,flow", help="comma-separated: model, flow")
    parser.add_argument("--no-streaming", action="store_true", help="flow source: recompute every consecutive flow in every window")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    import cv2
    import torch

    from vdpm_ros.evaluation.motion_eval import MotionEvalConfig, evaluate_motion, flow_source, model_source
    from vdpm_ros.evaluation.synthetic import parse_seeds
    from vdpm_ros.model.checkpoint import load_model
    from vdpm_ros.motion.config import FlowMotionConfig

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    seeds = parse_seeds(args.seeds)
    cfg = MotionEvalConfig(
        camera_hw=tuple(args.camera_size), frames=args.frames, window_size=args.window_size, static_scene=args.static,
        exact_geometry=args.exact_geometry,
    )  # fmt: skip
    flow_cfg = FlowMotionConfig() if args.lift_depth is None else FlowMotionConfig(lift_depth=args.lift_depth)
    available = {"model": model_source, "flow": flow_source(flow_cfg, streaming=not args.no_streaming)}
    sources = {name: available[name] for name in args.sources.split(",")}
    model, _ = load_model(args.model)
    results, timings = evaluate_motion(model, seeds, sources, cfg, progress=True)

    keys = ("motion_iou", "scene_flow_epe_dynamic", "scene_flow_epe_dynamic_no_motion", "flagged", "source_ms")
    short = ("iou", "epe_dyn", "epe_dyn_no_motion", "flagged", "source_ms")
    for name, res in results.items():
        print(f"\n== source: {name}")
        print("seed   " + "  ".join(f"{k:>17}" for k in short))
        for seed, row in res.per_seed.items():
            print(f"{seed:<6} " + "  ".join(f"{row[k]:>17.4f}" for k in keys))
        print("summary: " + ", ".join(f"{k} {v:.4f}" for k, v in res.summary.items()))
    print("\nmodel timings (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    if args.json:
        out = {
            "protocol": dataclasses.asdict(cfg),
            "seeds": seeds,
            "model": args.model,
            "flow_config": dataclasses.asdict(flow_cfg),
            "streaming": not args.no_streaming,
            "threads": args.threads,
            "model_timings_ms": timings,
            "sources": {
                name: {"summary": r.summary, "per_seed": {str(k): v for k, v in r.per_seed.items()}} for name, r in results.items()
            },
        }
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
