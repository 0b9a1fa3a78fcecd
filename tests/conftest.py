"""Shared fixtures. The reference data of the official V-DPM code is kept in tests/fixtures/reference (4.8 MB;
``VDPM_REFERENCE_DIR`` points elsewhere), so a fresh clone runs every test."""

from __future__ import annotations

import functools
import json
import os
import uuid
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("VDPM_REFERENCE_DIR", REPO / "tests" / "fixtures" / "reference"))
TINY = REFERENCE / "tiny"


def _require_reference() -> None:
    if not TINY.is_dir():
        # The fixture is part of the repository: missing, it is a broken checkout or a wrong override.
        pytest.fail(f"reference data not found at {REFERENCE} (tests/fixtures/reference, or VDPM_REFERENCE_DIR)")


@pytest.fixture(scope="session")
def micro_config():
    """A 42-pixel-wide model small enough to train and evaluate in seconds (no reference data needed)."""
    from vdpm_ros.model import AggregatorConfig, CameraHeadConfig, DecoderConfig, PatchEmbedConfig, PointHeadConfig, VDPMConfig

    return VDPMConfig(
        img_size=42,
        embed_dim=16,
        intermediate_layer_idx=(0, 1, 2, 3),
        patch_embed=PatchEmbedConfig(depth=1, num_heads=2),
        aggregator=AggregatorConfig(depth=4, num_heads=2),
        decoder=DecoderConfig(depth=1, num_heads=2),
        point_head=PointHeadConfig(features=8, out_channels=(4, 8, 16, 16)),
        camera_head=CameraHeadConfig(trunk_depth=1, num_heads=2),
    )


class MicroExport(NamedTuple):
    model: torch.nn.Module  # the same random weights, built again in PyTorch
    dir: Path
    manifest: object  # ExportManifest
    status: int  # the command's exit status
    lines: list[str]  # what it printed
    args: list[str]
    hw: tuple[int, int]
    seed: int


@pytest.fixture(scope="session")
def micro_export(tmp_path_factory, micro_config) -> MicroExport:
    """``vdpm export --preset micro --random-weights --check`` at 28x42, run once for the session (an export
    takes close to a minute on a CPU): the export tests, the ONNX node and the ONNX benchmark read it; a test
    that damages it works on a copy. Weights are forced into external data, so the weight files can be damaged."""
    import contextlib
    import io

    import vdpm_ros.export.onnx_export as onnx_export
    from vdpm_ros.cli.main import main
    from vdpm_ros.export.manifest import ExportManifest
    from vdpm_ros.model import VDPM, presets

    hw, seed = (28, 42), 3
    out = tmp_path_factory.mktemp("micro_export") / "export"
    args = ["export", "--preset", "micro", "--random-weights", "--seed", str(seed), "--height", str(hw[0]),
            "--width", str(hw[1]), "--out", str(out), "--check"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(presets.PRESETS, "micro", lambda: micro_config)
        mp.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 0)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            status = main(args)
    torch.manual_seed(seed)
    model = VDPM(micro_config).eval()
    return MicroExport(model, out, ExportManifest.read(out), status, printed.getvalue().strip().splitlines(), args, hw, seed)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    _require_reference()
    return REFERENCE


@pytest.fixture(scope="session")
def tiny_config():
    from vdpm_ros.model import VDPMConfig

    _require_reference()
    return VDPMConfig.from_fixture_json(json.loads((TINY / "config.json").read_text()))


@pytest.fixture(scope="session")
def tiny_model(tiny_config):
    from vdpm_ros.model.checkpoint import load_model

    model, _ = load_model(TINY / "weights.safetensors", tiny_config)
    return model


@pytest.fixture(scope="session")
def tiny_images() -> torch.Tensor:
    _require_reference()
    with np.load(TINY / "inputs.npz") as data:
        return torch.from_numpy(data["images"])


@pytest.fixture(scope="session")
def tiny_outputs() -> dict[str, np.ndarray]:
    _require_reference()
    with np.load(TINY / "outputs.npz") as data:
        return {k: data[k] for k in data.files}


# --- ROS 2 (rclpy and the generated vdpm_ros.msg) ------------------------------------------------
# Tests that ask for the ``ros`` fixture need rclpy and vdpm_ros.msg: run scripts/setup_ros_venv.sh in a
# pip venv, or source a colcon install. Without them they skip with the reason; with VDPM_REQUIRE_ROS=1
# (set by .ci/run) they fail instead.

SETUP_HINT = "run scripts/setup_ros_venv.sh (pip venv) or source a colcon install of vdpm_ros"


def pytest_configure(config):
    # rosidl_parser's lark imports sre_parse (deprecated since Python 3.11): not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:module 'sre_:DeprecationWarning:lark")


def _unavailable(reason: str) -> None:
    if os.environ.get("VDPM_REQUIRE_ROS") == "1":
        pytest.fail(f"{reason} (VDPM_REQUIRE_ROS=1)")
    pytest.skip(reason)


@functools.cache
def _probe(what: str) -> str | None:
    """None when ``what`` works, else why not. Cached: each import is tried once per session."""
    try:
        if what == "rclpy":
            import rclpy.serialization  # noqa: F401
        elif what == "vdpm_ros.msg":
            from vdpm_ros.msg import SceneFlow

            SceneFlow.__class__.__import_type_support__()  # the typesupport libraries load
        elif what == "tf2_msgs":
            from tf2_msgs.msg import TFMessage

            TFMessage.__class__.__import_type_support__()
    except Exception as exc:  # ImportError, or a typesupport library that does not load
        return f"{what} is not importable ({type(exc).__name__}: {exc}); {SETUP_HINT}"
    return None


@pytest.fixture(scope="session")
def ros() -> None:
    """Skips (or, with VDPM_REQUIRE_ROS=1, fails) unless rclpy and vdpm_ros.msg import."""
    for what in ("rclpy", "vdpm_ros.msg"):
        reason = _probe(what)
        if reason:
            _unavailable(reason)


@pytest.fixture(scope="session")
def tf2_msgs(ros) -> None:
    reason = _probe("tf2_msgs")
    if reason:
        _unavailable(reason)


@pytest.fixture
def ros_isolation(monkeypatch) -> dict[str, str]:
    """Environment for one test's ROS traffic: its own domain id, discovery on this machine only.

    The id comes from the process id (1-101, the ids whose ports Linux never hands out as ephemeral);
    topics carry a random token too, so a collision with a parallel run cannot cross messages.
    """
    env = {
        "ROS_DOMAIN_ID": str(1 + os.getpid() % 101),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "VDPM_TEST_TOPIC": f"/vdpm_test_{uuid.uuid4().hex[:12]}/scene_flow",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
