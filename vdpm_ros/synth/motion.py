"""Object motions as exact functions of time.

A motion maps canonical (local) object coordinates ``x`` to room coordinates at time ``t``
(seconds) with an affine map ``X = L(t) x + c(t)``. Rigid motions have ``L = R(t)``;
deforming motions have ``L = R(t) A(t)`` with a volume-preserving affine ``A(t)``.
Because the map is affine, (i) ray casting stays analytic (map the ray into canonical
space) and (ii) the same canonical point evaluated at another time is the exact
correspondence of a surface point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .transforms import axis_angle_to_matrix


class Motion(Protocol):
    """Anything that yields per-time affine maps local -> room."""

    def transforms(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear parts [T, 3, 3] and offsets [T, 3] at ``times`` [T] (seconds)."""
        ...


@dataclass(frozen=True, eq=False)
class RigidMotion:
    """Smooth 6-DoF motion: spin about two fixed axes plus a quadratic path.

    ``R(t) = Rot(axis_b, rate_b * dt) @ Rot(axis_a, rate_a * dt) @ base_rotation`` and
    ``c(t) = position + velocity * dt + 0.5 * acceleration * dt^2`` with ``dt = t - ref_time``.
    All rates are per second; all vectors are in room coordinates (metres).
    """

    base_rotation: np.ndarray  # [3, 3]
    spin_axes: np.ndarray  # [2, 3]
    spin_rates: np.ndarray  # [2] rad/s
    position: np.ndarray  # [3] m, centre at ref_time
    velocity: np.ndarray  # [3] m/s
    acceleration: np.ndarray  # [3] m/s^2
    ref_time: float = 0.0

    @staticmethod
    def static(position: np.ndarray, rotation: np.ndarray) -> RigidMotion:
        """A motion that never moves (all rates exactly zero)."""
        zero = np.zeros(3)
        return RigidMotion(rotation, np.eye(3)[:2].copy(), np.zeros(2), np.asarray(position, float), zero, zero)

    @property
    def is_static(self) -> bool:
        return not (np.any(self.spin_rates) or np.any(self.velocity) or np.any(self.acceleration))

    def rotations(self, times: np.ndarray) -> np.ndarray:
        """[T, 3, 3] object-to-room rotations."""
        dt = np.asarray(times, dtype=np.float64) - self.ref_time
        first = axis_angle_to_matrix(self.spin_axes[0], self.spin_rates[0] * dt)
        second = axis_angle_to_matrix(self.spin_axes[1], self.spin_rates[1] * dt)
        return second @ first @ self.base_rotation

    def centres(self, times: np.ndarray) -> np.ndarray:
        """[T, 3] object centres in room coordinates (metres)."""
        dt = (np.asarray(times, dtype=np.float64) - self.ref_time)[:, None]
        return self.position + self.velocity * dt + 0.5 * self.acceleration * dt * dt

    def transforms(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.rotations(times), self.centres(times)


@dataclass(frozen=True, eq=False)
class AffineDeformation:
    """Time-varying volume-preserving affine map ``A(t) = diag(exp(s(t))) @ (I + U(t))``.

    ``s_k(t) = stretch_amp_k sin(stretch_freq_k t + stretch_phase_k)`` minus their mean (so
    ``det = 1``) gives anisotropic stretch/squash; ``U(t)`` is strictly upper triangular
    (shears xy, xz, yz) with entries ``shear_amp_k sin(shear_freq_k t + shear_phase_k)``.
    Frequencies are rad/s.
    """

    stretch_amp: np.ndarray  # [3]
    stretch_freq: np.ndarray  # [3]
    stretch_phase: np.ndarray  # [3]
    shear_amp: np.ndarray  # [3]
    shear_freq: np.ndarray  # [3]
    shear_phase: np.ndarray  # [3]

    def matrices(self, times: np.ndarray) -> np.ndarray:
        """[T, 3, 3] deformation matrices at ``times`` [T] (seconds)."""
        t = np.asarray(times, dtype=np.float64)[:, None]
        s = self.stretch_amp * np.sin(self.stretch_freq * t + self.stretch_phase)
        s = s - s.mean(axis=1, keepdims=True)
        h = self.shear_amp * np.sin(self.shear_freq * t + self.shear_phase)
        shear = np.tile(np.eye(3), (t.shape[0], 1, 1))
        shear[:, 0, 1], shear[:, 0, 2], shear[:, 1, 2] = h[:, 0], h[:, 1], h[:, 2]
        return np.exp(s)[:, :, None] * shear


@dataclass(frozen=True, eq=False)
class DeformingMotion:
    """Rigid motion composed with an affine deformation: ``X = R(t) A(t) x + c(t)``."""

    rigid: RigidMotion
    deformation: AffineDeformation

    def transforms(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rotations, centres = self.rigid.transforms(times)
        return rotations @ self.deformation.matrices(times), centres
