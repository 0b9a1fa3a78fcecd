"""Shared inputs of the object-stage tests (plain module: conftest.py names clash across test folders)."""

from __future__ import annotations

import numpy as np

from vdpm_ros.objects.detection import DetectedObject
from vdpm_ros.objects.rigid_motion import RigidMotion
from vdpm_ros.synth import SceneConfig

#: Held-out seeds with 1-4 moving objects each (rigid and deforming ones).
ORACLE_SEEDS = (1000, 1001, 1002, 1003, 1004, 1006)
SMALL = SceneConfig(height=84, width=112, frames=5)
RIGID = SceneConfig(height=84, width=112, frames=5, deforming_objects=0)


def make_object(centre, velocity=(0.0, 0.0, 0.0), size=0.4, label=1) -> DetectedObject:
    """A hand-made detection: a cube of edge ``size`` at ``centre`` moving at ``velocity``."""
    centre = np.asarray(centre, dtype=np.float64)
    half = np.full(3, size / 2)
    motion = RigidMotion(np.eye(3), np.zeros(3), 0.0, 100)
    return DetectedObject(label, centre, np.asarray(velocity, dtype=np.float64), motion, centre - half, centre + half, 100, 1.0, None, None)
