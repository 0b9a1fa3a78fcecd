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
