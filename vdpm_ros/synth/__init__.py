"""Procedural dynamic 3D scenes with exact 4D ground truth (numpy only).

A textured room, a smoothly moving camera and several rigid and affinely deforming
objects are ray cast analytically; for every pixel of every frame the generator knows
the surface point's position at every frame time (V-DPM's P_i(t_j)).

    >>> from vdpm_ros.synth import SceneConfig, generate_sequence
    >>> seq = generate_sequence(0, SceneConfig(frames=3))
    >>> seq.pointmaps.shape
    (3, 3, 84, 112, 3)
"""

from .benchmark import measure_generation_speed
from .config import SceneConfig
from .sequence import ObjectInfo, SyntheticSequence, generate_images, generate_sequence, iter_images

__all__ = [
    "ObjectInfo",
    "SceneConfig",
    "SyntheticSequence",
    "generate_images",
    "iter_images",
    "generate_sequence",
    "measure_generation_speed",
]
