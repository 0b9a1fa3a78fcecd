"""Every command on a broken file: one line naming the file and the fault, exit code 2, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from bag_files import FRAMES, truncate, write_rosbag2

from vdpm_ros.cli.main import main
from vdpm_ros.model import VDPM
from vdpm_ros.model.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def model(tmp_path_factory, micro_config):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "micro.safetensors"
    save_checkpoint(VDPM(micro_config), path)
    return path


@pytest.fixture(scope="module")
def mcap_bag(tmp_path_factory):
    return write_rosbag2(tmp_path_factory.mktemp("bags") / "good", "mcap")


def _broken(kind: str, root, good):
    rng = np.random.default_rng(0)
    if kind == "empty.mcap":
        path = root / kind
        path.write_bytes(b"")
    elif kind == "random.mcap":
        path = root / kind
        path.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "random.db3":
        path = root / kind
        path.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "random.bag":
        path = root / kind
        path.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "no_metadata_dir":
        path = root / kind
        path.mkdir()
    elif kind == "notes.txt":
        path = root / kind
        path.write_text("not a bag")
    elif kind == "killed_early.mcap":
        path = truncate(good / "good.mcap", root / kind, 0.1)
    else:
        raise AssertionError(kind)
    return path


def _one_line_error(capsys, command: str, path) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith(f"vdpm {command}: error: bag {path}"), err
    return err


KINDS = ["empty.mcap", "random.mcap", "random.db3", "random.bag", "no_metadata_dir", "notes.txt", "killed_early.mcap"]


@pytest.mark.parametrize("kind", KINDS)
def test_eval_bag_on_a_broken_bag_is_one_line_and_exit_2(kind, tmp_path, mcap_bag, model, capsys):
    path = _broken(kind, tmp_path, mcap_bag)
    assert main(["eval", "--bag", str(path), "--model", str(model), "--json", str(tmp_path / "eval.json")]) == 2
    _one_line_error(capsys, "eval", path)
    assert not (tmp_path / "eval.json").exists()


def test_eval_bag_on_a_killed_recording_evaluates_what_is_intact(tmp_path, mcap_bag, model, capsys, caplog):
    bag = shutil.copytree(mcap_bag, tmp_path / "killed")
    (bag / "metadata.yaml").unlink()
    truncate(mcap_bag / "good.mcap", bag / "good.mcap", 0.7)
    out = tmp_path / "eval.json"
    assert main(["eval", "--bag", str(bag), "--model", str(model), "--json", str(out), "--window-size", "3", "--frames", "0"]) == 0
    warning = [r.getMessage() for r in caplog.records if "messages recovered" in r.getMessage()]
    assert len(warning) == 1 and "not closed" in warning[0]
    recovered = int(warning[0].split(" messages recovered")[0].rsplit(" ", 1)[1])
    assert 0 < recovered < FRAMES
    assert f"{recovered} frames" in capsys.readouterr().out
    assert out.stat().st_size > 0


def _model_commands(model, tmp_path) -> dict[str, list[str]]:
    """Every command that takes a model, run as briefly as it allows."""
    return {
        "info": ["info", str(model)],
        "eval": ["eval", "--synthetic", "1000", "--model", str(model), "--json", str(tmp_path / "e.json")],
        "bench": ["bench", "--model", str(model), "--repeats", "1", "--warmup", "0"],
        "demo": ["demo", "--model", str(model), "--out", str(tmp_path / "demo"), "--frames", "6"],
    }


@pytest.mark.parametrize("cut", ["header", "half"])
def test_every_command_on_a_truncated_safetensors_is_one_line_and_exit_2(tmp_path, model, capsys, cut):
    data = model.read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[:50] if cut == "header" else data[: len(data) // 2])
    for name, argv in _model_commands(bad, tmp_path).items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith(f"vdpm {name}: error:") and str(bad) in err and "truncated" in err, err


def _cut_export(directory, micro_config):
    """A `vdpm export` directory whose manifest is whole but whose graphs were cut short (a copy or a disk that gave out)."""
    from vdpm_ros.export.manifest import ExportManifest

    directory.mkdir()
    files = {"encoder": "encoder.onnx", "decoder": "decoder.onnx"}
    ExportManifest(
        model_config=micro_config.to_dict(), image_hw=(28, 42), preprocessing={"mode": "crop", "target_size": 42, "patch_size": 14},
        dtype="fp32", io_dtype="fp32", opset=18, files=files, external_data={}, inputs={}, outputs={},
        source_checkpoint="micro.safetensors", source_sha256="0" * 64,
    ).write(directory)  # fmt: skip
    for file in files.values():
        (directory / file).write_bytes(
            b"\x08\x08\x12\x07pytorch\x1a\x03" + bytes(range(40))
        )  # an ONNX protobuf's first bytes, then nothing whole
    return directory


def test_every_command_on_a_truncated_export_is_one_line_and_exit_2(tmp_path, capsys, micro_config):
    bad = _cut_export(tmp_path / "cut_export", micro_config)
    for name, argv in _model_commands(bad, tmp_path).items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith(f"vdpm {name}: error:") and str(bad) in err, err


@pytest.mark.parametrize("content", [b"", b"\x80\x02garbage" * 100, bytes(range(256)) * 16])
def test_info_on_a_random_pt(tmp_path, capsys, content):
    bad = tmp_path / "random.pt"
    bad.write_bytes(content)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "random.pt" in err and "Traceback" not in err, err


def test_play_on_a_broken_bag_is_one_line_and_exit_2(ros, ros_isolation, tmp_path, mcap_bag):
    # In a subprocess: vdpm play initialises rclpy in its own process, as a user would run it.
    env = {**os.environ, **ros_isolation}
    for kind in ("random.mcap", "killed_early.mcap", "no_metadata_dir"):
        path = _broken(kind, tmp_path, mcap_bag)
        proc = subprocess.run([sys.executable, "-m", "vdpm_ros.cli.main", "play", str(path), "--wait-subscribers", "0"],
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        err = proc.stderr.strip().splitlines()
        assert err and err[-1].startswith(f"vdpm play: error: bag {path}"), proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
