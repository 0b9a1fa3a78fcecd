"""The main job (``vdpm demo``) and ``vdpm info`` run end to end and fail cleanly on bad input."""

from __future__ import annotations

import torch

from vdpm_ros.cli.main import main
from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import save_checkpoint


def test_demo_runs_on_a_given_checkpoint(tmp_path, micro_config, capsys):
    torch.manual_seed(0)
    path = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), path)
    assert main(["demo", "--checkpoint", str(path), "--frames", "3", "--raw-size", "30", "42"]) == 0
    out = capsys.readouterr().out
    assert f"model: {path}" in out
    assert out.count("  frame ") == 3 and "motion mask:" in out and "encode (backbone, once)" in out


def test_demo_without_a_default_model_says_weights_are_random(monkeypatch, capsys, caplog):
    monkeypatch.setattr("vdpm_ros.paths.default_model_path", lambda: None)
    assert main(["demo", "--frames", "2", "--raw-size", "60", "80"]) == 0
    assert "random weights (untrained)" in capsys.readouterr().out
    assert "RANDOM weights" in caplog.text


def test_demo_rejects_a_one_frame_window(capsys):
    assert main(["demo", "--frames", "1"]) == 2
    assert "--frames must be at least 2" in capsys.readouterr().err


def test_info_prints_architecture_and_size(tmp_path, micro_config, capsys):
    path = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    n = sum(p.numel() for p in VDPM(micro_config).parameters())
    assert f"{n:,} parameters" in out and '"embed_dim": 16' in out


def test_info_on_a_corrupt_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "model.pt" in err and "Traceback" not in err


def test_default_model_lookup_survives_an_unsourced_ament_index(monkeypatch, tmp_path):
    """In a venv with the ROS wheels but no sourced workspace, ament_index raises; the lookup must not."""
    from vdpm_ros.paths import default_model_path

    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.delenv("VDPM_MODEL", raising=False)
    assert default_model_path() is None or default_model_path().is_file()
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    monkeypatch.setenv("VDPM_MODEL", str(model))
    assert default_model_path() == model
