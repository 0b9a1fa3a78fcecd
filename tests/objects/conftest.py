"""Fixtures of the object-stage tests: small synthetic sequences with exact 4D ground truth."""

from __future__ import annotations

import pytest

from vdpm_ros.synth import SceneConfig, generate_sequence

#: Held-out seeds with 1-4 moving objects each (rigid and deforming ones).
ORACLE_SEEDS = (1000, 1001, 1002, 1003, 1004, 1006)
SMALL = SceneConfig(height=84, width=112, frames=5)
RIGID = SceneConfig(height=84, width=112, frames=5, deforming_objects=0)


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
