#!/usr/bin/env python3
"""Pictures of the flow motion source on generated windows (docs/images/motion_*.png).

    .venv/bin/python scripts/motion_figure.py --seeds 1600,1601 --out docs/images/motion_flow_source.png

Each row is the latest frame of one window (320x240 camera, the embedded model at 112x84): the camera
image, the ground-truth motion mask and the flow source's (both by the pipeline's rule), the motion
score (rigidity residual over its threshold; above 1 = moving), and the scene-flow length from the
window's first frame to the latest, predicted and true (in units of the scene scale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1600,1601", help="comma-separated held-out seeds, one row each")
    parser.add_argument("--start", type=int, default=5, help="first frame of the window in each 10-frame sequence")
    parser.add_argument("--static", default="", help="comma-separated seeds rendered as static scenes (extra rows)")
    parser.add_argument("--model", default=str(Path(__file__).resolve().parents[1] / "models" / "vdpm_default.safetensors"))
    parser.add_argument("--out", default="motion_flow_source.png")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from vdpm_ros.evaluation.motion_eval import MotionEvalConfig, prepare_windows
    from vdpm_ros.model.checkpoint import load_model
    from vdpm_ros.motion.flow_source import flow_motion
    from vdpm_ros.synth import generate_sequence

    torch.set_num_threads(1)
    model, _ = load_model(args.model)
    rows = [(int(s), False) for s in args.seeds.split(",") if s] + [(int(s), True) for s in args.static.split(",") if s]
    fig, axes = plt.subplots(len(rows), 6, figsize=(15, 2.1 * len(rows)), squeeze=False)
    for r, (seed, static) in enumerate(rows):
        cfg = MotionEvalConfig(static_scene=static)
        windows = prepare_windows(model, generate_sequence(seed, cfg.scene()), cfg, decode=False)
        w = windows[min(args.start, len(windows) - 1)]
        L = w.size - 1
        fm = flow_motion(w.images, w.transforms, w.own, w.extrinsics, w.intrinsics_net, w.target_times, L)
        maps = fm.maps
        now = maps.at(L, L)[0][0].numpy()
        valid = w.gt_valid_net & np.isfinite(now).all(-1)
        scale = np.linalg.norm(now[valid], axis=-1).mean()
        pred_moves = [np.linalg.norm(now - maps.at(t, L)[0][0].numpy(), axis=-1) / scale for t in (0, L - 1)]
        pred_mask = (np.maximum(*pred_moves) > 0.025) & valid
        gt = w.gt_net.astype(np.float64)
        gt_scale = np.linalg.norm(gt[L][valid], axis=-1).mean()
        gt_moves = [np.linalg.norm(gt[L] - gt[t], axis=-1) / gt_scale for t in (0, L - 1)]
        gt_mask = (np.maximum(*gt_moves) > 0.025) & valid
        iou = (pred_mask & gt_mask).sum() / max(1, (pred_mask | gt_mask).sum())
        vmax = max(0.05, float(np.percentile(gt_moves[0][valid], 99)))
        panels = [
            (w.images[-1], None, f"seed {seed}{' (static scene)' if static else ''}, frames {w.start}-{w.start + L}"),
            (gt_mask, "gray", "ground-truth motion mask"),
            (pred_mask, "gray", f"flow source (IoU {iou:.2f}, {pred_mask.mean():.1%} flagged)"),
            (np.clip(fm.segmentation.score, 0, 3), "magma", "motion score (> 1 = moving)"),
            (np.where(valid, pred_moves[0], np.nan), "viridis", "scene flow from t_0, predicted"),
            (np.where(valid, gt_moves[0], np.nan), "viridis", "scene flow from t_0, true"),
        ]
        for c, (img, cmap, title) in enumerate(panels):
            ax = axes[r, c]
            kw = {"vmin": 0, "vmax": vmax} if c >= 4 else ({"vmin": 0, "vmax": 3} if c == 3 else {})
            ax.imshow(img, cmap=cmap, interpolation="nearest", **kw)
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=72)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
