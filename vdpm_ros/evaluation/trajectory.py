"""Trajectory errors after Sim(3) alignment: ATE and RPE (the conventions of the ``evo`` package).

Poses are world-from-camera ``[N, 4, 4]`` matched one to one (same stamps).
"""

from __future__ import annotations

import numpy as np

from ..geometry.alignment import umeyama


def align_sim3(estimate: np.ndarray, reference: np.ndarray, with_scale: bool = True) -> np.ndarray:
    """Estimated poses mapped by the Sim(3) that best fits their positions onto the reference's.

    The rotation acts on orientations and positions; the scale only on positions.
    """
    sim = umeyama(estimate[:, :3, 3], reference[:, :3, 3], with_scale=with_scale)
    aligned = estimate.astype(np.float64).copy()
    aligned[:, :3, :3] = sim.rotation @ estimate[:, :3, :3]
    aligned[:, :3, 3] = sim.apply(estimate[:, :3, 3])
    return aligned


def ate_rmse(estimate: np.ndarray, reference: np.ndarray, with_scale: bool = True) -> float:
    """Root mean square of position errors after alignment."""
    aligned = align_sim3(estimate, reference, with_scale)
    return float(np.sqrt(np.mean(np.sum((aligned[:, :3, 3] - reference[:, :3, 3]) ** 2, axis=-1))))


def _relative(poses: np.ndarray, starts: np.ndarray, delta: int) -> np.ndarray:
    return np.linalg.inv(poses[starts]) @ poses[starts + delta]


def rpe_rmse(
    estimate: np.ndarray, reference: np.ndarray, delta: int = 1, with_scale: bool = True, all_pairs: bool = False
) -> tuple[float, float]:
    """Relative pose error over ``delta``-frame steps after alignment: (translation RMSE, rotation RMSE in degrees).

    As in evo, the pairs are (0, delta), (delta, 2 delta), ... unless ``all_pairs`` (every i, i + delta).
    """
    if len(estimate) <= delta:
        raise ValueError(f"RPE with delta {delta} needs more than {delta} poses, got {len(estimate)}")
    aligned = align_sim3(estimate, reference, with_scale)
    starts = np.arange(0, len(estimate) - delta, 1 if all_pairs else delta)
    err = np.linalg.inv(_relative(reference, starts, delta)) @ _relative(aligned, starts, delta)
    trans = np.linalg.norm(err[:, :3, 3], axis=-1)
    r = err[:, :3, :3]
    # atan2 of sine and cosine stays accurate for small angles, where arccos of the trace loses digits.
    sin = 0.5 * np.linalg.norm(np.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], -1), axis=-1)
    cos = (np.trace(r, axis1=1, axis2=2) - 1.0) / 2.0
    rot = np.degrees(np.arctan2(sin, cos))
    return float(np.sqrt(np.mean(trans**2))), float(np.sqrt(np.mean(rot**2)))
