"""Run the node's pipeline over a real video file and draw what it publishes as motion: a manual check.

    .venv/bin/python scripts/real_video_check.py VIDEO.mp4 --out docs/images/motion_real_video.png [--fps 10] \\
        [--motion-source auto] [--frames 30] [--model PATH]

Any public clip will do; keep the clip itself out of the repository. The picture shows, for a few windows,
the input frame with the published motion mask over it, and the scene-flow speed; the printed summary
gives the share of pixels flagged per window. There is no ground truth: this is for looking at.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def read_frames(path: Path, fps: float, limit: int) -> tuple[list[np.ndarray], float]:
    """RGB frames of the video, subsampled to about ``fps`` frames per second; (frames, the rate kept)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"cannot open {path}")
    native = cap.get(cv2.CAP_PROP_FPS) or fps
    step = max(1, round(native / fps))
    frames, i = [], 0
    while len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(np.ascontiguousarray(bgr[..., ::-1]))
        i += 1
    return frames, native / step


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from vdpm_ros.pipeline import Frame, OfflinePipeline
    from vdpm_ros.ros.parameters import NodeParameters
    from vdpm_ros.runtime import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--motion-source", default="auto")
    parser.add_argument("--model", default=None)
    parser.add_argument("--rows", type=int, default=3)
    args = parser.parse_args()

    frames, rate = read_frames(args.video, args.fps, args.frames)
    loaded = resolve_model(args.model, device="cpu")
    params = NodeParameters().replace(motion_source=args.motion_source)
    pipe = OfflinePipeline(loaded.model, params.pipeline, params.objects)
    outputs = []
    for k, rgb in enumerate(frames):
        out = pipe.push(Frame(stamp_ns=int(round(k / rate * 1e9)), rgb=rgb))
        if out is not None:
            outputs.append(out)
    flagged = [float(o.result.dynamic[o.result.valid].mean()) for o in outputs]
    keep = np.linspace(0, len(outputs) - 1, min(args.rows, len(outputs))).round().astype(int)
    vmax = max(float(np.nanpercentile(np.linalg.norm(outputs[i].result.scene_flow_camera, axis=-1), 99)) for i in keep) or 1.0
    fig, axs = plt.subplots(len(keep), 2, figsize=(9, 2.8 * len(keep)), squeeze=False)
    for row, i in zip(axs, keep):
        r = outputs[i].result
        row[0].imshow(r.rgb)
        row[0].imshow(np.ma.masked_where(~r.dynamic, r.dynamic.astype(float)), cmap=ListedColormap(["red"]), alpha=0.55)
        row[0].set_title(f"window {i}: motion mask (red), {flagged[i]:.1%} of pixels", fontsize=8)
        im = row[1].imshow(np.linalg.norm(r.scene_flow_camera, axis=-1), cmap="magma", vmin=0, vmax=vmax)
        fig.colorbar(im, ax=row[1], fraction=0.046).set_label(f"{r.units} units/s", fontsize=7)
        row[1].set_title("scene-flow speed", fontsize=8)
        for ax in row:
            ax.axis("off")
    source = outputs[0].result.motion_source if outputs else "?"
    fig.suptitle(f"{args.video.name}: {len(frames)} frames at {rate:.1f} Hz, motion source {source}", fontsize=9)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    h, w = frames[0].shape[:2]
    print(json.dumps({"video": args.video.name, "camera": [w, h], "frames": len(frames), "rate_hz": rate, "windows": len(outputs),
                      "motion_source": source, "model": loaded.description, "flagged_per_window": [round(f, 4) for f in flagged],
                      "picture": str(args.out)}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
