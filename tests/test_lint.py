"""ruff's lint and format checks (ruff.toml) run in the suite, so a style regression fails here, not in review."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["vdpm_ros", "tests", "launch", "scripts"]


def _ruff() -> str:
    exe = shutil.which("ruff") or str(Path(__import__("sys").executable).parent / "ruff")
    if not Path(exe).exists():
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    return exe


def test_ruff_check_is_clean():
    run = subprocess.run([_ruff(), "check", *TARGETS], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    run = subprocess.run([_ruff(), "format", "--check", *TARGETS], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, "run `ruff format vdpm_ros tests launch scripts`:\n" + run.stdout + run.stderr
