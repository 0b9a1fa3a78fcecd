"""scripts/soak.py end to end in a few seconds: the node runs, is sampled, and the CSV, JSON and PNG are written."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_short_soak_run_writes_its_curve(node_env, tmp_path):
    env, model_path = node_env
    out = tmp_path / "soak"
    cmd = [sys.executable, str(REPO / "scripts" / "soak.py"), "--minutes", "0.2", "--out", str(out), "--sample-period", "2",
           "--size", "120", "160", "--model", str(model_path), "--warmup", "0", "--", "-p", "window_size:=3"]  # fmt: skip
    # Paced by events (subscription matched, first window received), with generous limits for a busy machine.
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr + (out / "node.log").read_text(errors="replace")
    rows = list(csv.DictReader((out / "soak.csv").open()))
    assert len(rows) >= 3, rows
    assert all(float(r["rss_mb"]) > 50 for r in rows), "the node's RSS was read"
    assert [int(r["frames_sent"]) for r in rows] == sorted(int(r["frames_sent"]) for r in rows)
    report = json.loads((out / "soak.json").read_text())
    summary = report["summary"]
    assert summary["node_alive_at_end"] and summary["windows_received"] >= 1
    assert summary["frames_sent"] == int(rows[-1]["frames_sent"]) > 0
    assert report["samples"][-1]["diagnostics"], "the node's /diagnostics values are recorded"
    assert (out / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "stopping:" in (out / "node.log").read_text(), "the node was stopped and logged its summary"


def test_the_summary_gives_the_second_halfs_rate_and_new_frames_per_window():
    import importlib.util

    spec = importlib.util.spec_from_file_location("soak_script", REPO / "scripts" / "soak.py")
    soak = importlib.util.module_from_spec(spec)
    sys.modules["soak_script"] = soak  # its dataclasses look their module up
    try:
        spec.loader.exec_module(soak)
    finally:
        del sys.modules["soak_script"]
    # 10 frames/s; windows at 1/s for the first 4 s, then 4/s: the second half is the fast part.
    windows = [0, 1, 2, 3, 4, 8, 12, 16, 20]
    samples = [soak.Sample(t_s=float(t), rss_mb=500.0, frames_sent=10 * t, windows=w, windows_per_s=0.0, latency_mean_s=0.0, load_1min=1.0)
               for t, w in enumerate(windows)]  # fmt: skip
    summary = soak.summarise(samples, windows=20, frames=80, duration_s=8.0, node_rc=None, warmup_s=0.0)
    # with a window: t = 1..8, second half t = 5..8: 12 windows and 30 frames in 3 s
    assert summary["windows_per_s_second_half"] == 4.0
    assert summary["frames_per_window_second_half"] == 2.5
    assert summary["windows_per_s_mean"] == 2.5
