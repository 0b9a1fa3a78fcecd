"""The report: JSON as measured, and the same numbers as Markdown."""

from __future__ import annotations

import json
from pathlib import Path

from .config import OUT_FILES, STEPS


def _fmt(v, digits: int = 3) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown(report: dict) -> str:
    """The report as Markdown: one section per step, every number from the JSON."""
    lines = ["# vdpm_ros GPU check", "", f"Mode: {'dry run (CPU, tiny sizes)' if report.get('dry_run') else 'GPU'}; "
             f"started {report.get('started')}; total {_fmt(report.get('total_s', 0.0), 4)} s.", ""]  # fmt: skip
    if report.get("derived"):
        lines += ["## derived", ""] + [f"- {k}: {_fmt(v)}" for k, v in report["derived"].items()] + [""]
    for name in STEPS:
        step = report["steps"].get(name, {"status": "not run"})
        lines += [f"## {name}", "", f"status: {step.get('status')} ({_fmt(step.get('seconds', 0.0), 3)} s of {step.get('budget_s')} s)"]
        data = step.get("result", {})
        if step.get("error"):
            lines += ["", "```", step["error"][-1500:], "```"]
        if name == "w1" and "streaming" in data:
            lines += ["", "| path | median ms | GFLOP | TFLOP/s | fraction of bf16 dense peak |", "| --- | --- | --- | --- | --- |"]
            for path in ("streaming", "reference"):
                r = data.get(path, {})
                lines.append(
                    f"| {path} | {_fmt(r.get('median_ms'), 4)} | {_fmt(r.get('gflop'), 5)} | {_fmt(r.get('tflops'))} | {_fmt(r.get('fraction_of_bf16_dense_peak'))} |"
                )
            lines.append("")
        if name == "precision":
            for variant, table in data.items():
                if isinstance(table, dict) and table and all(isinstance(v, dict) for v in table.values()):
                    lines += [
                        "",
                        f"{variant} vs fp32:",
                        "",
                        "| output | max abs | mean abs | mean rel | non-finite |",
                        "| --- | --- | --- | --- | --- |",
                    ]
                    for out_name, e in table.items():
                        lines.append(
                            f"| {out_name} | {_fmt(e.get('max_abs'))} | {_fmt(e.get('mean_abs'))} | {_fmt(e.get('mean_rel'))} | {e.get('non_finite')} |"
                        )
        if name == "train" and "eval" in data:
            ev = data["eval"]
            lines += ["", "| metric | model | no motion |", "| --- | --- | --- |"]
            for k, v in ev.items():
                if isinstance(v, float):
                    lines.append(f"| {k} | {_fmt(v, 4)} | {_fmt(ev.get('no_motion', {}).get(k), 4)} |")
        scalars = {k: v for k, v in data.items() if not isinstance(v, (dict, list)) or k in ("network_hw", "size", "providers")}
        if scalars:
            lines += [""] + [f"- {k}: {_fmt(v)}" for k, v in scalars.items()]
        nested = {
            k: v
            for k, v in data.items()
            if isinstance(v, dict) and k not in ("streaming", "reference", "eval", "loss") and name != "precision"
        }
        for k, v in nested.items():
            lines.append(f"- {k}: " + ", ".join(f"{kk} {_fmt(vv)}" for kk, vv in v.items() if not isinstance(vv, (dict, list))))
        lines.append("")
    return "\n".join(lines)


def write_report(outdir: Path, report: dict) -> None:
    """Rewrite gpu_check.json and gpu_check.md atomically (a kill mid-write keeps the previous ones)."""
    for key in ("json", "markdown"):
        tmp = outdir / (OUT_FILES[key] + ".tmp")
        tmp.write_text(json.dumps(report, indent=2, default=str) if key == "json" else markdown(report))
        tmp.replace(outdir / OUT_FILES[key])
