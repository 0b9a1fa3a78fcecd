"""The training step: a short GPU run of the embedded preset, its checkpoint, its evaluation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .config import Sizes
from .measure import StepWriter


def scene_flow_on_moving_pixels(model, seeds: list[int], frames: int, hw: tuple[int, int], device: str) -> dict:
    """Scene-flow end-point error on the pixels that really move, against predicting no motion.

    For each held-out sequence: all P_i(t_j) of one window, both prediction and truth scaled to unit mean
    distance of their own P_i(t_i); flow_{ij} = P_i(t_j) - P_i(t_i); EPE over (i, j, pixel) with true
    motion above the evaluation's threshold. ``no_motion`` is the same with a zero prediction (the mean
    true flow length). A model that predicts motion has ``ratio`` = epe / no_motion below 1.
    """
    import numpy as np
    import torch

    from ...evaluation.metrics import normalise_unit_mean
    from ...evaluation.synthetic import DEFAULT_MOTION_THRESHOLD
    from ...synth import SceneConfig, generate_sequence

    errs, base = [], []
    for seed in seeds:
        seq = generate_sequence(seed, SceneConfig(height=hw[0], width=hw[1], frames=frames))
        x = torch.from_numpy(seq.images).permute(0, 3, 1, 2).float().div(255.0).to(device)
        with torch.inference_mode():
            pred = model.decode(model.encode(x)).pts3d[0].float().cpu().numpy().astype(np.float64)  # [t, i, H, W, 3]
        idx = np.arange(frames)
        _, ps = normalise_unit_mean(pred[idx, idx], seq.valid)
        _, gs = normalise_unit_mean(seq.pointmaps[idx, idx], seq.valid)
        pf = pred / ps - (pred[idx, idx] / ps)[None]
        gf = seq.pointmaps / gs - (seq.pointmaps[idx, idx] / gs)[None]
        moving = (np.linalg.norm(gf, axis=-1) > DEFAULT_MOTION_THRESHOLD) & seq.valid[None]
        if moving.any():
            errs.append(float(np.linalg.norm(pf - gf, axis=-1)[moving].mean()))
            base.append(float(np.linalg.norm(gf, axis=-1)[moving].mean()))
    if not errs:
        return {"seeds": seeds, "epe": float("nan"), "no_motion": float("nan"), "ratio": float("nan")}
    epe, none = float(np.mean(errs)), float(np.mean(base))
    return {"seeds": seeds, "sequences_with_motion": len(errs), "epe": epe, "no_motion": none, "ratio": epe / none}


def step_train(sizes: Sizes, out: StepWriter, outdir: Path) -> None:
    import torch

    from ...model import VDPM, VDPMConfig
    from ...model.checkpoint import save_checkpoint
    from ...model.presets import preset
    from ...synth import SceneConfig
    from ...synth.seeds import parse_seeds
    from ...train.loss import LossConfig
    from ...train.trainer import STATE_FILE, TrainConfig, train

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = max(0, cores - 2) if sizes.device.startswith("cuda") else 0
    # Workers hand batches over through /dev/shm, two in flight each: never more than it holds.
    H, W = sizes.train_size
    batch_bytes = sizes.train_batch * 5 * H * W * (3 * 4 + 2 * 3 * 4 + 1)
    if workers and Path("/dev/shm").exists():
        workers = min(workers, int(shutil.disk_usage("/dev/shm").free // (3 * batch_bytes)))
    import tempfile

    run_dir = Path(tempfile.mkdtemp(prefix="vdpm_gpu_check_train_"))  # last.pt etc. stay out of $OUT (8 files come back)
    cfg = TrainConfig(steps=sizes.train_steps, batch_size=sizes.train_batch, checkpoint_every=10**9, workers=workers,
                      scene=SceneConfig(height=sizes.train_size[0], width=sizes.train_size[1], frames=5),
                      loss=LossConfig(time_token_weight=0.1))  # fmt: skip
    out.put(preset="cpu_tiny", size=list(sizes.train_size), batch_size=cfg.batch_size, workers=workers, minutes=sizes.train_minutes,
            loss=dict(vars(cfg.loss)), command_equivalent=(
                f"vdpm train --preset cpu_tiny --size {sizes.train_size[0]} {sizes.train_size[1]} --batch-size {cfg.batch_size} "
                f"--steps {cfg.steps} --time-token-weight 0.1 --workers {workers} --minutes {sizes.train_minutes}"))  # fmt: skip
    result = train(preset("cpu_tiny"), cfg, run_dir, device=sizes.device, max_minutes=sizes.train_minutes, progress=False)
    history = json.loads((run_dir / "history.json").read_text())
    out.put(steps_done=result.step, seconds=result.seconds, steps_per_s=result.step / max(result.seconds, 1e-9),
            first_loss=history[0] if history else None, last_loss=result.last_loss)  # fmt: skip
    model_path = outdir / "train_model.safetensors"
    if result.final_model is not None:
        shutil.copyfile(result.final_model, model_path)
    else:  # stopped by the time budget: the weights of the last step, in the same format
        state = torch.load(run_dir / STATE_FILE, map_location="cpu", weights_only=True)  # written at every stop
        model = VDPM(VDPMConfig.from_dict(json.loads(state["model_config"])))
        model.load_state_dict(state["model"])
        save_checkpoint(model.eval(), model_path, {"train_steps": str(result.step)})
    # Every 10th step of the loss history comes back (the full one can pass 16 MiB on a long run).
    (outdir / "train_history.json").write_text(json.dumps(history[::10] + history[-1:]))
    out.put(checkpoint=model_path.name, history="train_history.json (every 10th step)")
    eval_json = outdir / "train_eval.json"
    cmd = [sys.executable, "-m", "vdpm_ros.cli.main", "eval", "--synthetic", sizes.eval_seeds, "--model", str(model_path),
           "--json", str(eval_json), "--frames", str(sizes.eval_frames), "--device", sizes.device]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out.put(eval_command="vdpm eval " + " ".join(cmd[4:]), eval_seconds=time.perf_counter() - t, eval_returncode=proc.returncode)
    if proc.returncode == 0:
        out.put(eval=json.loads(eval_json.read_text()))
    else:
        out.put(eval_error=(proc.stderr or proc.stdout)[-2000:])
    from ...model.checkpoint import load_model

    model, _ = load_model(model_path, device=sizes.device)
    width = model.config.img_size
    hw = (round(width * 0.75 / 14) * 14, width)
    out.put(scene_flow_moving=scene_flow_on_moving_pixels(model, parse_seeds(sizes.eval_seeds), sizes.flow_frames, hw, sizes.device))
    shutil.rmtree(run_dir, ignore_errors=True)
