"""Similarity alignment of point sets / trajectories (Umeyama), used to compare with ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sim3:
    """``x -> scale * rotation @ x + translation``."""

    scale: float
    rotation: np.ndarray  # [3, 3]
    translation: np.ndarray  # [3]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """``points [..., 3]`` -> transformed ``[..., 3]``."""
        return self.scale * points @ self.rotation.T + self.translation


def umeyama(source: np.ndarray, target: np.ndarray, with_scale: bool = True) -> Sim3:
    """Least-squares Sim(3) (or SE(3)) mapping ``source [N, 3]`` onto ``target [N, 3]`` (Umeyama 1991).

    Raises:
        ValueError: fewer than 3 points or mismatched shapes.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 3:
        raise ValueError(f"umeyama needs two [N, 3] arrays of equal shape, got {source.shape} and {target.shape}")
    if source.shape[0] < 3:
        raise ValueError(f"umeyama needs at least 3 points, got {source.shape[0]}")
    mu_s, mu_t = source.mean(0), target.mean(0)
    src, tgt = source - mu_s, target - mu_t
    cov = tgt.T @ src / len(source)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2] = -1.0  # reflection -> proper rotation
    rotation = (u * sign) @ vt
    var_s = (src**2).sum() / len(source)
    scale = float((d * sign).sum() / var_s) if with_scale and var_s > 0 else 1.0
    translation = mu_t - scale * rotation @ mu_s
    return Sim3(scale=scale, rotation=rotation, translation=translation)
