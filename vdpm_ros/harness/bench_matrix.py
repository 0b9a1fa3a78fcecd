"""Per-window cost of the node's work across camera resolutions and motion sources, side by side in one run.

    python -m vdpm_ros.harness.bench_matrix --out bench_matrix/ [--sizes 84x112 480x640 720x1280 1080x1920]
        [--sources model flow] [--passes 2] [--repeats 10] [--models PATH [PATH ...]]

``--models`` with a checkpoint and its ``vdpm export`` directory compares the engines (PyTorch, ONNX Runtime).
Each (model, camera, source) cell is one ``vdpm bench --pipeline`` in its own process, so each has its own peak RSS.
The cells run in turns, pass after pass, the order reversed on every other pass, so a machine whose speed
drifts during the run (a shared CPU varies by 2x) weighs on every cell alike; a cell's number is the median
over its passes' medians. Writes ``matrix.json`` (every run) and ``matrix.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

from .benchmark import hardware_description

DEFAULT_SIZES = ("84x112", "480x640", "720x1280", "1080x1920")


def parse_size(text: str) -> tuple[int, int]:
    """ "HxW" -> (H, W)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"camera size {text!r}: give HxW, e.g. 480x640") from None
    if h < 14 or w < 14:
        raise argparse.ArgumentTypeError(f"camera size {text!r}: at least 14x14")
    return h, w


def bench_command(model: str | None, hw: tuple[int, int], source: str, repeats: int, warmup: int, frames: int, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "vdpm_ros.cli.main", "bench", "--pipeline", "--frames", str(frames), "--raw-size", str(hw[0]),
           str(hw[1]), "--repeats", str(repeats), "--warmup", str(warmup), "--motion-source", source, "--json", str(out)]  # fmt: skip
    return cmd + (["--model", model] if model else [])


def summarise(runs: list[dict]) -> dict:
    """One cell from its passes: medians of the per-pass medians (ms), the largest peak RSS."""
    stages = runs[0]["stage_median_ms"].keys()
    median = statistics.median(r["median_ms"] for r in runs)
    return {
        "median_ms": median,
        "windows_per_s": statistics.median(r["windows_per_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "stage_median_ms": {k: statistics.median(r["stage_median_ms"][k] for r in runs) for k in stages},
        "pass_medians_ms": [r["median_ms"] for r in runs],
        "output_hw": runs[0]["output_hw"],
        "net_hw": runs[0]["net_hw"],
    }


def cell_key(model: str, hw: tuple[int, int], source: str) -> str:
    return f"{model}/{hw[0]}x{hw[1]}/{source}"


def render_table(cells: dict[str, dict], models: list[str], sizes: list[tuple[int, int]], sources: list[str]) -> str:
    lines = [
        "| model | camera | motion source | per window (median) | windows/s | vs first camera | peak RSS | passes (ms) | largest stages (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in models:
        for h, w in sizes:
            for s in sources:
                c, base = cells[cell_key(m, (h, w), s)], cells[cell_key(m, sizes[0], s)]
                top = sorted(((v, k) for k, v in c["stage_median_ms"].items() if k != "total"), reverse=True)[:4]
                lines.append(f"| {m} | {w}x{h} | {s} | {c['median_ms']:.0f} ms | {c['windows_per_s']:.2f} | {c['median_ms'] / base['median_ms']:.2f}x | "
                             f"{c['peak_rss_mb']:.0f} MiB | {', '.join(f'{v:.0f}' for v in c['pass_medians_ms'])} | "
                             f"{', '.join(f'{k} {v:.0f}' for v, k in top)} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="directory for matrix.json and matrix.md")
    p.add_argument("--models", nargs="+", default=[""], metavar="MODEL",
                   help="checkpoints or export directories, each a row group (default: the embedded default model)")  # fmt: skip
    p.add_argument("--sizes", type=parse_size, nargs="+", default=[parse_size(s) for s in DEFAULT_SIZES], metavar="HxW")
    p.add_argument("--sources", nargs="+", default=["model", "flow"], choices=("model", "flow"))
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10, help="timed windows per run")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--frames", type=int, default=5, help="window size")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [Path(m).name if m else "embedded" for m in args.models]
    if len(set(names)) != len(names):
        p.error(f"--models: give models whose file or directory names differ (got {names})")
    order = [(m, name, hw, s) for m, name in zip(args.models, names) for hw in args.sizes for s in args.sources]
    runs: dict[str, list[dict]] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=args.passes * len(order), desc="bench matrix", unit="run") as bar:
        for i in range(args.passes):
            for model, name, hw, source in order if i % 2 == 0 else order[::-1]:
                key = cell_key(name, hw, source)
                bar.set_postfix_str(key)
                out = Path(tmp) / "run.json"
                done = subprocess.run(bench_command(model or None, hw, source, args.repeats, args.warmup, args.frames, out),
                                      capture_output=True, text=True)  # fmt: skip
                if done.returncode != 0:
                    print(done.stdout + done.stderr, file=sys.stderr)
                    raise SystemExit(f"vdpm bench failed for {key} (exit {done.returncode})")
                runs.setdefault(key, []).append(json.loads(out.read_text()))
                bar.update(1)
    cells = {key: summarise(r) for key, r in runs.items()}
    models = {name: runs[cell_key(name, args.sizes[0], args.sources[0])][0]["model"] for name in names}
    hw = hardware_description("cpu")
    load = [load_before, os.getloadavg()[0]]
    (args.out / "matrix.json").write_text(json.dumps({"models": models, "hardware": hw, "frames": args.frames,
                                                      "load_average_1min": load, "cells": cells, "runs": runs}, indent=1))  # fmt: skip
    table = render_table(cells, names, args.sizes, args.sources)
    head = (f"models: {'; '.join(f'{k}: {v}' for k, v in models.items())}; {args.frames}-frame windows; {hw['cpu']}, {hw['threads']} threads, torch {hw['torch']}, "
            f"Python {hw['python']}; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end")  # fmt: skip
    (args.out / "matrix.md").write_text(f"{head}\n\n{table}\n")
    print(head)
    print(table)
    print(f"wrote {args.out / 'matrix.json'} and {args.out / 'matrix.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
