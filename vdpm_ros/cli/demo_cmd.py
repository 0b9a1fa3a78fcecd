"""``vdpm demo``: run V-DPM on a generated window and print what it computed.

This is the main job until the ROS node is in place: it exercises the same core the node uses
(preprocessing, encode once, decode only the latest frame, cameras, scene flow, motion mask).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

log = logging.getLogger("vdpm.demo")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the model on a synthetic window and print poses, flow and motion")
    p.add_argument("--checkpoint", type=Path, default=None, help="model file (default: the embedded model in models/)")
    p.add_argument("--frames", type=int, default=5, help="window size S (default 5)")
    p.add_argument("--seed", type=int, default=1000, help="seed of the synthetic scene (default 1000, a held-out seed)")
    p.add_argument("--raw-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"), help="camera image size")
    p.set_defaults(run=run)


def _load(checkpoint: Path | None):
    from ..model import VDPM
    from ..model.checkpoint import load_model
    from ..model.presets import cpu_small
    from ..paths import default_model_path

    path = checkpoint or default_model_path()
    if path is not None:
        model, _ = load_model(path)
        return model, str(path)
    log.warning("no trained default model found in models/: using RANDOM weights, numbers below are meaningless")
    return VDPM(cpu_small()).eval(), "random weights (untrained)"


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..geometry import mean_distance, motion_mask, pose_encoding_to_cameras, scene_flow
    from ..preprocessing import preprocess_images
    from ..synth import SceneConfig, generate_sequence

    if args.frames < 2:
        raise ValueError("--frames must be at least 2 (scene flow needs two times)")
    model, source = _load(args.checkpoint)
    S = args.frames
    seq = generate_sequence(args.seed, SceneConfig(height=args.raw_size[0], width=args.raw_size[1], frames=S))
    timings = {}

    t0 = time.perf_counter()
    images, transforms = preprocess_images(list(seq.images), mode="crop", target=model.config.img_size)
    timings["preprocess"] = time.perf_counter() - t0
    with torch.inference_mode():
        t0 = time.perf_counter()
        state = model.encode(images)
        timings["encode (backbone, once)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cams = model.cameras(state)
        timings["cameras"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        latest = model.decode(state, target_times=[S - 2, S - 1], frames=[S - 1])
        timings["decode latest frame, 2 times"] = time.perf_counter() - t0

    extrinsics, intrinsics = pose_encoding_to_cameras(cams.pose_enc[0], state.image_hw)
    now, _ = latest.at(S - 1, S - 1)
    before, _ = latest.at(S - 2, S - 1)
    flow = scene_flow(before[0], now[0])  # motion from t_{S-2} to t_{S-1}
    scale = mean_distance(now[0].reshape(-1, 3))
    moving = motion_mask(flow, scale)
    dt = float(seq.timestamps[S - 1] - seq.timestamps[S - 2])

    print(f"model: {source} ({sum(p.numel() for p in model.parameters()):,} parameters)")
    print(f"window: {S} synthetic frames (seed {args.seed}), camera {args.raw_size[1]}x{args.raw_size[0]} "
          f"-> network {state.image_hw[1]}x{state.image_hw[0]}")
    print("camera poses (camera-from-world, world = frame 0), model units:")
    for i in range(S):
        t = extrinsics[i, :, 3].numpy()
        angle = np.degrees(np.arccos(np.clip((np.trace(extrinsics[i, :, :3].numpy()) - 1) / 2, -1, 1)))
        with np.errstate(invalid="ignore", over="ignore"):  # an untrained head can predict a zero FoV
            k_raw = transforms[i].intrinsics_to_raw(intrinsics[i].numpy())
        print(f"  frame {i}: t = [{t[0]:+.3f} {t[1]:+.3f} {t[2]:+.3f}]  rotation {angle:5.2f} deg  "
              f"fx on raw image {k_raw[0, 0]:.1f} px (true {seq.intrinsics[i][0, 0]:.1f})")
    speed = flow.norm(dim=-1) / dt
    print(f"latest frame: scene scale (mean point distance) {scale:.3f}; flow speed median {speed.median():.3f}, "
          f"max {speed.max():.3f} units/s")
    gt = torch.from_numpy(np.ascontiguousarray(seq.motion_mask[S - 1]))
    pred = torch.nn.functional.interpolate(moving[None, None].float(), size=gt.shape, mode="nearest")[0, 0] > 0.5
    iou = (pred & gt).sum().item() / max(1, (pred | gt).sum().item())
    print(f"motion mask: {pred.float().mean():.1%} of pixels moving (ground truth {gt.float().mean():.1%}), IoU {iou:.2f}")
    print("timings on this machine (CPU, one run):")
    for name, seconds in timings.items():
        print(f"  {name:32s} {seconds * 1000:8.1f} ms")
    return 0
