"""The rigid SE(3) motion of one object over the window, from its points at two times.

For an object's pixels the dynamic point maps give the same physical points at t_src and t_end, so the
motion is a closed-form least-squares fit (Umeyama without scale, as the DPM paper recovers object
motion). A learned model's worst pixels (object borders mixed with the background) would pull the
fit, so pairs with a residual above ``trim`` times the median are dropped once and the fit repeated,
as the window stitcher does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.alignment import umeyama
from ..geometry.rotation import mat_to_quat
from ._checks import check_float, check_int


@dataclass(frozen=True)
class RigidFitConfig:
    """Attributes:
    min_points: fewest finite point pairs for a fit (>= 3).
    max_points: pairs used, evenly subsampled above this (the fit is O(N); this bounds it).
    trim: after a first fit, pairs with a residual above ``trim`` times the median are dropped and
        the fit repeated once; 0 disables it.
    """

    min_points: int = 10
    max_points: int = 5000
    trim: float = 3.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_int(owner, "min_points", self.min_points, 3)
        check_int(owner, "max_points", self.max_points, self.min_points)
        object.__setattr__(self, "trim", check_float(owner, "trim", self.trim, 0.0))
        if 0.0 < self.trim <= 1.0:
            raise ValueError(f"{owner}.trim must be 0 (off) or > 1 (a multiple of the median residual), got {self.trim}")


@dataclass(frozen=True, eq=False)
class RigidMotion:
    """``x(t_end) = rotation @ x(t_src) + translation`` for the points of one object.

    Attributes:
        rotation: ``[3, 3]`` float64 proper rotation, in the points' frame.
        translation: ``[3]`` float64 in the points' units.
        rms_residual: root-mean-square distance between the fitted and the observed t_end positions of
            the pairs used, in the points' units: 0 for a rigid object and exact maps; it grows with
            the model's noise and with non-rigid motion.
        num_points: pairs used in the final fit (after subsampling and trimming).
    """

    rotation: np.ndarray
    translation: np.ndarray
    rms_residual: float
    num_points: int

    def apply(self, points: np.ndarray) -> np.ndarray:
        """``points [..., 3]`` at t_src -> their predicted positions at t_end."""
        return np.asarray(points, dtype=np.float64) @ self.rotation.T + self.translation

    @property
    def rotation_angle_rad(self) -> float:
        """Angle of the rotation in [0, pi] radians."""
        return float(np.arccos(np.clip((np.trace(self.rotation) - 1.0) / 2.0, -1.0, 1.0)))

    @property
    def quaternion_xyzw(self) -> np.ndarray:
        """``[4]`` float64 the rotation as a unit quaternion, scalar last (geometry_msgs order), w >= 0."""
        return mat_to_quat(self.rotation)


def fit_rigid_motion(source: np.ndarray, target: np.ndarray, config: RigidFitConfig = RigidFitConfig()) -> RigidMotion | None:
    """Fit the SE(3) mapping ``source [N, 3]`` (t_src) onto ``target [N, 3]`` (t_end), or None with too few pairs.

    Pairs with a non-finite coordinate are ignored.
    """
    source = np.asarray(source, dtype=np.float64).reshape(-1, 3)
    target = np.asarray(target, dtype=np.float64).reshape(-1, 3)
    if source.shape != target.shape:
        raise ValueError(f"fit_rigid_motion needs two [N, 3] arrays of equal shape, got {source.shape} and {target.shape}")
    finite = np.isfinite(source).all(-1) & np.isfinite(target).all(-1)
    idx = np.flatnonzero(finite)
    if idx.size < config.min_points:
        return None
    if idx.size > config.max_points:
        idx = idx[np.linspace(0, idx.size - 1, config.max_points).astype(np.int64)]
    src, tgt = source[idx], target[idx]
    fit = umeyama(src, tgt, with_scale=False)
    residual = np.linalg.norm(fit.apply(src) - tgt, axis=-1)
    if config.trim > 0:
        keep = residual <= config.trim * np.median(residual) + 1e-12
        if keep.sum() >= config.min_points and not keep.all():
            src, tgt = src[keep], tgt[keep]
            fit = umeyama(src, tgt, with_scale=False)
            residual = np.linalg.norm(fit.apply(src) - tgt, axis=-1)
    if not (np.isfinite(fit.rotation).all() and np.isfinite(fit.translation).all()):
        return None
    return RigidMotion(fit.rotation, fit.translation, float(np.sqrt(np.mean(residual**2))), int(len(src)))
