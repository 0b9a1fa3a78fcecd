"""Shared fixtures. The reference data lives in ../shared/reference beside the checkout (CI has it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("VDPM_REFERENCE_DIR", REPO.parent / "shared" / "reference"))
TINY = REFERENCE / "tiny"


def _require_reference() -> None:
    if not TINY.is_dir():
        message = f"reference data not found at {REFERENCE} (set VDPM_REFERENCE_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


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
