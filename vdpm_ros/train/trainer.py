"""Resumable training loop: survives being cut into pieces (time budget per run, resume from last.pt)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ..model import VDPM, VDPMConfig
from ..model.checkpoint import save_checkpoint
from ..synth import SceneConfig
from ..synth.seeds import TRAIN_SEED_OFFSET
from .data import batch_stream
from .loss import LossConfig, dpm_loss

log = logging.getLogger(__name__)
STATE_FILE = "last.pt"
FINAL_FILE = "model.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """Attributes:
    steps: total optimisation steps of the whole (possibly resumed) run.
    batch_size: windows per step.
    lr / min_lr / warmup_steps: AdamW with linear warm-up then cosine decay.
    checkpoint_every: steps between resume checkpoints (also written when the time budget ends).
    seed_offset: first training scene seed (evaluation seeds lie below it).
    freeze_patch_embed: keep the DINOv2 patch embedding fixed, as the official fine-tuning does
        (right when starting from pretrained weights, wrong when training from scratch).
    workers: processes that generate scenes ahead of the training step (0 = in the training process).
        The batches are the same for any number; only the speed changes.
    """

    steps: int = 1000
    batch_size: int = 4
    lr: float = 3e-4
    min_lr: float = 1e-5
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    checkpoint_every: int = 100
    seed_offset: int = TRAIN_SEED_OFFSET
    freeze_patch_embed: bool = False
    workers: int = 0
    scene: SceneConfig = field(default_factory=SceneConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.scene.height % 14 or self.scene.width % 14:
            raise ValueError(f"scene size {self.scene.height}x{self.scene.width} must be a multiple of the patch size 14")


def learning_rate(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainResult:
    step: int
    finished: bool
    last_loss: dict[str, float]
    seconds: float
    final_model: Path | None


def _save_state(path: Path, model: VDPM, optimiser: torch.optim.Optimizer, step: int, history: list) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "step": step,
            "model_config": model.config.to_json(),
            "history": json.dumps(history),
        },
        tmp,
    )
    tmp.replace(path)  # atomic: a run killed mid-write keeps the previous checkpoint


def train(
    model_config: VDPMConfig,
    cfg: TrainConfig,
    out_dir: str | Path,
    device: str = "auto",
    max_minutes: float | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or resume) into ``out_dir``; stops at ``cfg.steps`` or after ``max_minutes`` of wall time.

    ``out_dir/last.pt`` holds everything needed to resume; ``out_dir/model.safetensors`` is written at
    the end of the schedule. ``out_dir/history.json`` logs the loss terms every step.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = VDPM(model_config).to(device)
    if cfg.freeze_patch_embed:
        model.aggregator.patch_embed.requires_grad_(False)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or name.endswith("token") or "token" in name.split(".")[-1] else decay).append(p)
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    step, history = 0, []
    state_path = out_dir / STATE_FILE
    if state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        if VDPMConfig.from_dict(json.loads(state["model_config"])) != model_config:
            raise ValueError(f"{state_path} was trained with another model config; use a new --out directory")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, history = int(state["step"]), json.loads(state["history"])
        log.info("resumed from %s at step %d", state_path, step)
    (out_dir / "train_config.json").write_text(json.dumps({"model": model_config.to_dict(), "train": dataclasses.asdict(cfg)}, indent=2))

    use_amp = device.startswith("cuda")
    start = time.monotonic()
    last: dict[str, float] = {}
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="train", unit="step", dynamic_ncols=True)
    batches = iter(
        batch_stream(step, cfg.steps, cfg.batch_size, cfg.scene, cfg.seed_offset, cfg.workers, pin_memory=device.startswith("cuda"))
    )
    try:
        while step < cfg.steps:
            if max_minutes is not None and time.monotonic() - start > 60 * max_minutes:
                break
            batch = next(batches).to(device)
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(step, cfg)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                out = model(batch.images, batch.frame_times)
            terms = dpm_loss(out, batch.gt_time_variant, batch.gt_dynamic, batch.valid, batch.gt_pose_enc, cfg.loss)
            if not torch.isfinite(terms.total):
                raise FloatingPointError(f"non-finite loss at step {step}: {terms.as_floats()}")
            optimiser.zero_grad(set_to_none=True)
            terms.total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimiser.step()
            step += 1
            last = terms.as_floats()
            history.append({"step": step, **last})
            bar.update(1)
            bar.set_postfix(loss=f"{last['total']:.3f}", dyn=f"{last['dynamic']:.3f}", cam=f"{last['camera']:.3f}",
                            motion=f"{last['motion']:.3f}", tt=f"{last['time_tokens']:.3f}")  # fmt: skip
            if step % cfg.checkpoint_every == 0:
                _save_state(state_path, model, optimiser, step, history)
    finally:
        bar.close()
        del batches  # stops the generator processes before the final save
    _save_state(state_path, model, optimiser, step, history)
    (out_dir / "history.json").write_text(json.dumps(history))
    final = None
    if step >= cfg.steps:
        final = out_dir / FINAL_FILE
        save_checkpoint(model.eval(), final, {"train_steps": str(step)})
    return TrainResult(step=step, finished=step >= cfg.steps, last_loss=last, seconds=time.monotonic() - start, final_model=final)
