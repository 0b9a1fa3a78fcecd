"""Fixtures of the pipeline tests: synthetic sequences with exact ground truth and a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pipeline_oracle import SEED

from vdpm_ros.synth import SceneConfig, generate_sequence


@pytest.fixture(scope="session")
def seq_tall():
    """140 x 112 (H x W): "crop" keeps rows 14..125 at scale 1."""
    return generate_sequence(SEED, SceneConfig(height=140, width=112, frames=5))


@pytest.fixture(scope="session")
def seq_wide():
    """84 x 112: "pad" adds 14 white rows above and below at scale 1."""
    return generate_sequence(SEED, SceneConfig(height=84, width=112, frames=5))


@pytest.fixture(scope="session")
def seq_scaled():
    """120 x 160: "crop" resizes by 0.7 to 84 x 112 (no crop), a non-integer raw <-> network map."""
    return generate_sequence(SEED, SceneConfig(height=120, width=160, frames=5))


@pytest.fixture(scope="session")
def seq_long():
    """8 frames, for stitching several overlapping windows."""
    return generate_sequence(SEED + 1, SceneConfig(height=84, width=112, frames=8))


@pytest.fixture(scope="session")
def micro_model(micro_config):
    from vdpm_ros.model import VDPM

    torch.manual_seed(0)
    return VDPM(micro_config).eval()


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
