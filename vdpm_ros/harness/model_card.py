"""Write a model card from what was measured: the checkpoint, its training run, ``vdpm eval`` and ``vdpm bench`` JSON.

    python -m vdpm_ros.harness.model_card --model models/vdpm_default.safetensors --run runs/cpu_tiny \\
        --eval eval.json --bench bench.json --out models/vdpm_default.md [--notes notes.md]

Nothing in the card is typed by hand except ``--notes``: numbers come from the files, so the card and
the measurements cannot drift apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from ..evaluation.synthetic import METRICS
from ..runtime import resolve_model

#: The bar of the project's default model (issue "Synthetic 4D scenes", done-when).
BAR = {"tracking_epe_dynamic_ratio": 0.5, "motion_mask_iou": 0.5}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def meets_bar(result: dict) -> tuple[bool, float]:
    """(whether ``vdpm eval`` JSON meets the bar, tracking_epe_dynamic as a fraction of the no-motion baseline's)."""
    ratio = result["tracking_epe_dynamic"] / result["no_motion"]["tracking_epe_dynamic"]
    return ratio <= BAR["tracking_epe_dynamic_ratio"] and result["motion_mask_iou"] >= BAR["motion_mask_iou"], ratio


def render(model: Path, run: Path, eval_json: Path, bench_json: Path | None, notes: str = "") -> str:
    net = resolve_model(model, "pytorch", "cpu").model
    params = sum(p.numel() for p in net.parameters())
    train_cfg = json.loads((run / "train_config.json").read_text())
    history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
    result = json.loads(eval_json.read_text())
    ok, ratio = meets_bar(result)
    t = train_cfg["train"]
    lines = [
        f"# Model card: `{model.name}`",
        "",
        f"- file: `{model.name}`, {model.stat().st_size / 1e6:.1f} MB, sha256 `{sha256(model)}`",
        f"- architecture: V-DPM (official parameter names and layout), {params:,} parameters, native input width "
        f"{net.config.img_size} px; config below",
        f"- trained by vdpm_ros with `vdpm train` on generated scenes (`vdpm_ros.synth`, seeds from {t['seed_offset']:,}; "
        "held-out evaluation seeds are 1000-1999)",
        f"- training: {history[-1]['step'] if history else t['steps']} steps of batch {t['batch_size']}, "
        f"{t['scene']['frames']}-frame windows at {t['scene']['width']}x{t['scene']['height']}, AdamW lr {t['lr']} "
        f"(cosine to {t['min_lr']}), loss weights {json.dumps(t['loss'])}",
        "",
        f"## Held-out synthetic evaluation ({len(result['seeds'])} sequences, seeds {result['seeds'][0]}-{result['seeds'][-1]}, "
        f"{result['frames']} frames, {result['size'][1]}x{result['size'][0]})",
        "",
        f"Reproduce: `vdpm eval --synthetic {result['seeds'][0]}-{result['seeds'][-1]} --model models/{model.name} --json eval.json`",
        "",
        "| metric | model | no-motion baseline |",
        "|---|---|---|",
        *[f"| {k} | {result[k]:.4f} | {result['no_motion'][k]:.4f} |" for k in METRICS],
        "",
        f"tracking_epe_dynamic is {ratio:.2f} of the baseline's (bar: at most {BAR['tracking_epe_dynamic_ratio']}); "
        f"motion_mask_iou {result['motion_mask_iou']:.2f} (bar: at least {BAR['motion_mask_iou']}). "
        + ("**The model meets the bar.**" if ok else "**The model does NOT meet the bar** (see the notes)."),
    ]
    if bench_json is not None:
        b = json.loads(bench_json.read_text())
        h, w = b["raw_hw"]
        lines += [
            "", "## Speed", "",
            f"Everything the node computes per window (`vdpm bench --model models/{model.name} --pipeline --frames {b['frames']} "
            f"--raw-size {h} {w} --json bench.json`): {b['frames']}-frame windows of {w}x{h} camera images, latest-frame "
            f"outputs with scene flow: median {b['median_ms']:.0f} ms, p90 {b['p90_ms']:.0f} ms, "
            f"**{b['windows_per_s']:.1f} windows/s** on {b['hardware']['cpu']} with {b['hardware']['threads']} threads "
            f"(torch {b['hardware']['torch']}).",
            "", "Stages (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in b["stage_median_ms"].items()),
        ]  # fmt: skip
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    lines += ["", "## Architecture config", "", "```json", json.dumps(train_cfg["model"], indent=1), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run", type=Path, required=True, help="training run directory (train_config.json, history.json)")
    p.add_argument("--eval", type=Path, required=True, help="vdpm eval --synthetic JSON")
    p.add_argument("--bench", type=Path, default=None, help="vdpm bench --pipeline JSON")
    p.add_argument("--notes", type=Path, default=None, help="Markdown appended as the card's notes")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    notes = args.notes.read_text() if args.notes else ""
    args.out.write_text(render(args.model, args.run, args.eval, args.bench, notes))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
