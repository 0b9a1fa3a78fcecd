"""scripts/gpu_check.sh --dry-run: every step of the prepared GPU run, on the CPU at tiny sizes."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vdpm_ros.harness.gpu_check import OUT_FILES, STEPS

REPO = Path(__file__).resolve().parents[1]


def _run(out: Path, *args: str, timeout: float = 2700) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    return subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check") / "out"
    proc = _run(out, "--dry-run")
    return out, proc


def test_dry_run_writes_every_step_with_real_numbers(dry_run):
    out, proc = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / OUT_FILES["json"]).read_text())
    assert report["dry_run"] is True and list(report["steps"]) == list(STEPS)
    steps = {name: s["result"] for name, s in report["steps"].items()}
    assert all(s["status"] == "ok" for s in report["steps"].values()), {n: s["status"] for n, s in report["steps"].items()}

    env = steps["env"]
    assert env["packages"]["numpy"] and _finite(env["matmul_bf16"]["tflops"])

    w1 = steps["w1"]
    for path in ("streaming", "reference"):
        assert w1[path]["median_ms"] > 0 and w1[path]["gflop"] > 0 and w1[path]["fraction_of_bf16_dense_peak"] > 0
    assert w1["reference"]["gflop"] > w1["streaming"]["gflop"]  # all S target times and frames vs three for one frame
    assert w1["target_times"] == [0, w1["frames"] - 2, w1["frames"] - 1] and w1["speedup"] > 0
    derived = report["derived"]  # W1's rate against the matmul ceiling measured in the same run
    assert derived["w1_streaming_fraction_of_measured_matmul"] > 0
    assert derived["w1_streaming_fraction_of_datasheet_peak"] == pytest.approx(w1["streaming"]["fraction_of_bf16_dense_peak"])

    precision = steps["precision"]
    for variant in ("autocast_bf16", "autocast_fp16", "export_policy_bf16", "export_policy_fp16"):
        table = precision[variant]
        assert "error" not in table, table
        assert {"pose_enc", "time_variant_pts3d", "conf_t0"} <= set(table)
        assert all(_finite(e["max_abs"]) and _finite(e["mean_abs"]) and e["non_finite"] == 0 for e in table.values())
        assert max(e["max_abs"] for e in table.values()) > 0  # really reduced precision

    train = steps["train"]
    assert train["steps_done"] == 2 and train["eval_returncode"] == 0
    assert all(_finite(train["eval"][k]) for k in ("epe_margin2", "depth_abs_rel", "ate"))
    flow = train["scene_flow_moving"]
    assert _finite(flow["epe"]) and _finite(flow["no_motion"]) and flow["no_motion"] > 0

    ort = steps["onnxruntime"]
    assert ort["cuda_provider"] is False and ort["parity"]["passed"] and ort["encoder_plus_decoder_median_ms"] > 0

    assert steps["compile"]["speedup"] > 0 and steps["compile"]["compile_s"] > 0


def test_dry_run_markdown_and_files_fit_what_comes_back(dry_run):
    out, _ = dry_run
    md = (out / OUT_FILES["markdown"]).read_text()
    for name in STEPS:
        assert f"## {name}\n\nstatus: ok" in md
    assert re.search(r"\| streaming \| [0-9.e+-]+ \| [0-9.e+-]+ \|", md) and "export_policy_fp16 vs fp32" in md
    assert "| depth_abs_rel |" in md
    files = [p for p in out.rglob("*") if p.is_file()]
    # The device returns at most 8 files of 16 MiB, named in letters, digits, '.', '_' and '-'.
    assert len(files) <= 8 and all(p.stat().st_size < 16 * 2**20 and re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in files)
    assert (out / "train_model.safetensors").is_file() and (out / "train_eval.json").is_file()


def test_a_step_without_time_is_skipped_and_still_reported(tmp_path):
    out = tmp_path / "out"
    proc = _run(out, "--dry-run", "--steps", "env", "--total-s", "3", timeout=120)
    assert proc.returncode == 1  # a step that did not run is not ok
    report = json.loads((out / OUT_FILES["json"]).read_text())
    assert report["steps"]["env"]["status"].startswith("skipped")
    assert "## env\n\nstatus: skipped" in (out / OUT_FILES["markdown"]).read_text()
