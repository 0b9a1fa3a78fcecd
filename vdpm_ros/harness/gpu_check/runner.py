"""Runs the steps one process each within the overall budget, rewriting the report after each."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .config import BUDGETS_S, OUT_FILES, STEPS, TOTAL_S, Sizes
from .measure import StepWriter
from .report import write_report

DESCRIPTION = "The prepared GPU run of vdpm_ros (see the vdpm_ros.harness.gpu_check docstring and docs/benchmarks.md)."


def _step_function(name: str):
    # Imported per step: each step runs in its own process and loads only what it uses.
    from .training import step_train
    from .workloads import step_compile, step_env, step_onnxruntime, step_precision, step_w1

    return {"env": step_env, "w1": step_w1, "precision": step_precision, "train": step_train,
            "onnxruntime": step_onnxruntime, "compile": step_compile}[name]  # fmt: skip


def run_all(outdir: Path, dry_run: bool, total_s: float, steps: tuple[str, ...] = STEPS) -> dict:
    """Run ``steps`` one process each, within ``total_s`` overall; the report is rewritten after each."""
    outdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vdpm_gpu_check_"))  # the steps' own JSON; $OUT holds only the report files
    start = time.monotonic()
    report = {"dry_run": dry_run, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "budget_s": total_s, "steps": {}}
    log = (outdir / OUT_FILES["log"]).open("a")
    for name in steps:
        left = total_s - (time.monotonic() - start) - 5.0  # keep a few seconds for the last report
        budget = min(BUDGETS_S["dry_run" if dry_run else "gpu"][name], left)
        if budget < 5:
            report["steps"][name] = {"status": "skipped (no time left)", "budget_s": 0}
            write_report(outdir, report)
            continue
        step_json = work / f"{name}.json"
        step_json.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "vdpm_ros.harness.gpu_check", "--step", name, "--out", str(outdir), "--step-json", str(step_json)]
        if dry_run:
            cmd.append("--dry-run")
        t = time.monotonic()
        log.write(f"=== {name} (budget {budget:.0f} s): {' '.join(cmd)}\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=budget)
            status, error = ("ok", None) if proc.returncode == 0 else (f"failed (exit {proc.returncode})", _tail(outdir))
        except subprocess.TimeoutExpired:
            status, error = f"timed out after {budget:.0f} s (partial results kept)", None
        result = json.loads(step_json.read_text()) if step_json.is_file() else {}
        report["steps"][name] = {"status": status, "seconds": time.monotonic() - t, "budget_s": round(budget), "result": result}
        if error:
            report["steps"][name]["error"] = error
        report["total_s"] = time.monotonic() - start
        report["derived"] = derived(report)
        write_report(outdir, report)
    log.close()
    shutil.rmtree(work, ignore_errors=True)
    return report


def derived(report: dict) -> dict:
    """Numbers that combine steps: W1's rate against the matmul ceiling the env step measured, and the
    datasheet and KINDS.md figures."""
    from .config import BF16_DENSE_PEAK_TFLOPS, BF16_MEASURED_TFLOPS_KINDS_MD

    steps = {name: s.get("result", {}) for name, s in report["steps"].items()}
    out = {"bf16_dense_peak_tflops_datasheet": BF16_DENSE_PEAK_TFLOPS, "bf16_matmul_tflops_kinds_md": BF16_MEASURED_TFLOPS_KINDS_MD}
    ceiling = steps.get("env", {}).get("matmul_bf16", {}).get("tflops")
    for path in ("streaming", "reference"):
        rate = steps.get("w1", {}).get(path, {}).get("tflops")
        if rate is None:
            continue
        out[f"w1_{path}_tflops"] = rate
        out[f"w1_{path}_fraction_of_datasheet_peak"] = rate / BF16_DENSE_PEAK_TFLOPS
        out[f"w1_{path}_fraction_of_kinds_md_matmul"] = rate / BF16_MEASURED_TFLOPS_KINDS_MD
        if ceiling:
            out[f"w1_{path}_fraction_of_measured_matmul"] = rate / ceiling
    return out


def _tail(outdir: Path, chars: int = 3000) -> str:
    text = (outdir / OUT_FILES["log"]).read_text(errors="replace")
    return text[-chars:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vdpm_ros.harness.gpu_check", description=DESCRIPTION)
    parser.add_argument("--out", type=Path, required=True, help="directory for gpu_check.json/.md/.log and the training files")
    parser.add_argument("--dry-run", action="store_true", help="every step on the CPU at tiny sizes")
    parser.add_argument(
        "--total-s",
        type=float,
        default=None,
        help=f"overall time budget (default {TOTAL_S['gpu']:.0f} s, dry run {TOTAL_S['dry_run']:.0f} s)",
    )
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset of " + ",".join(STEPS))
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # internal: run one step in this process
    parser.add_argument("--step-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = Sizes.dry_run() if args.dry_run else Sizes.gpu()
    if args.step:
        import torch

        if not args.dry_run and not torch.cuda.is_available():
            print("gpu_check: no CUDA device; use --dry-run for the CPU version", file=sys.stderr)
            return 3
        _step_function(args.step)(sizes, StepWriter(args.step_json), args.out)
        return 0
    steps = tuple(s for s in args.steps.split(",") if s)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    total = args.total_s if args.total_s is not None else TOTAL_S["dry_run" if args.dry_run else "gpu"]
    report = run_all(args.out, args.dry_run, total, steps)
    bad = [n for n, s in report["steps"].items() if s["status"] != "ok"]
    print(f"gpu_check: wrote {args.out / OUT_FILES['json']} and {args.out / OUT_FILES['markdown']}; "
          + (f"steps not ok: {', '.join(bad)}" if bad else "all steps ok"))  # fmt: skip
    return 1 if bad else 0
