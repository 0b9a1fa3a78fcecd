"""The one rule for "this pixel moves", shared by the node's pipeline, the bag evaluation and the synthetic protocol.

A point is moving when it is farther than ``threshold * scene_scale`` from any of the positions it had
at the other times considered. The times considered (and the scene scale) are the caller's choice: the
node looks at the window's first and previous frames, the synthetic protocol at every frame of its window.
Works on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from torch import Tensor

#: The official demo's static/dynamic threshold, in units where points have unit mean distance to the origin.
DEFAULT_MOTION_THRESHOLD = 0.025

A = TypeVar("A", np.ndarray, Tensor)


def moving(current: A, others: A | Sequence[A], scene_scale: float, threshold: float = DEFAULT_MOTION_THRESHOLD) -> A:
    """Points that moved: ``current [..., 3]`` against ``others [K, ..., 3]`` -> bool ``[...]``.

    Args:
        current: each pixel's point at the time of interest.
        others: the same pixels' points at K other times (a stacked array or a sequence of K arrays).
        scene_scale: the scene's scale in the points' units (e.g. mean distance to the camera; 1 for
            unit-mean normalised points).
        threshold: fraction of the scene scale beyond which a point counts as moving.
    """
    if isinstance(current, Tensor):
        import torch

        stacked = others if isinstance(others, Tensor) else torch.stack(list(others))
        return ((stacked - current).norm(dim=-1) > threshold * scene_scale).any(0)
    stacked = np.asarray(others) if not isinstance(others, np.ndarray) else others
    return (np.linalg.norm(stacked - current, axis=-1) > threshold * scene_scale).any(0)
