"""Fixtures of the object-stage tests: small synthetic sequences with exact 4D ground truth."""

from __future__ import annotations

import pytest
from object_samples import ORACLE_SEEDS, RIGID, SMALL

from vdpm_ros.synth import SceneConfig, generate_sequence


@pytest.fixture(scope="session")
def small_sequences():
    return [generate_sequence(seed, SMALL) for seed in ORACLE_SEEDS]


@pytest.fixture(scope="session")
def rigid_sequences():
    return [generate_sequence(seed, RIGID) for seed in ORACLE_SEEDS]


@pytest.fixture(scope="session")
def long_sequence():
    """9 frames: five overlapping 5-frame windows for tracking."""
    return generate_sequence(1001, SceneConfig(height=84, width=112, frames=9))
