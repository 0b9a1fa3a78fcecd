"""The main job (``vdpm demo``) and ``vdpm info`` run end to end and fail cleanly on bad input."""

from __future__ import annotations

import torch

from vdpm_ros.cli.main import main
from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import save_checkpoint


def test_demo_writes_report_pictures_and_output_bag(tmp_path, micro_config, capsys):
    torch.manual_seed(0)
    path = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), path)
    out = tmp_path / "demo"
    assert main(["demo", "--checkpoint", str(path), "--frames", "4", "--window-size", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"model: {path}" in text and "2 windows" in text and "report.md" in text
    # a checkpoint that does not say its decoder learned motion: auto takes the flow source, and says so
    assert "motion source flow" in text and "motion source: flow" in (out / "report.md").read_text()
    for name in ("report.md", "report.json", "trajectory.png", "errors_over_time.png", "frames.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "output_bag").is_dir() and (out / "input_bag").is_dir()
    # a second run replaces its own previous output
    assert main(["demo", "--checkpoint", str(path), "--frames", "3", "--window-size", "3", "--out", str(out)]) == 0


def test_demo_refuses_to_overwrite_a_foreign_directory(tmp_path, micro_config, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    path = tmp_path / "m.safetensors"
    save_checkpoint(VDPM(micro_config), path)
    assert main(["demo", "--checkpoint", str(path), "--out", str(tmp_path)]) == 2
    assert "is not a previous demo output" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").exists()


def test_demo_without_a_default_model_says_weights_are_random(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setattr("vdpm_ros.paths.default_model_path", lambda: None)
    assert main(["demo", "--frames", "3", "--window-size", "2", "--size", "42", "56", "--out", str(tmp_path / "d")]) == 0
    assert "random weights (untrained)" in capsys.readouterr().out
    assert "RANDOM weights" in caplog.text


def test_demo_rejects_a_one_frame_window(capsys):
    assert main(["demo", "--window-size", "1"]) == 2
    assert "--window-size must be at least 2" in capsys.readouterr().err


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


def test_demo_on_the_embedded_model_says_what_it_is(tmp_path, monkeypatch, micro_config, caplog):
    model = tmp_path / "models" / "vdpm_default.safetensors"
    save_checkpoint(VDPM(micro_config), model)
    (tmp_path / "models" / "vdpm_default.md").write_text("# card\n")
    monkeypatch.setenv("VDPM_MODEL", str(model))
    assert main(["demo", "--frames", "3", "--window-size", "3", "--out", str(tmp_path / "d")]) == 0
    assert "using the embedded default model" in caplog.text and str(tmp_path / "models" / "vdpm_default.md") in caplog.text


def test_train_help_names_every_preset(capsys):
    import pytest

    from vdpm_ros.model.presets import PRESETS

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in PRESETS), out
