"""Analytic ray intersection with canonical primitives.

Every shape lives in its own canonical (local) coordinates, centred at the origin.
Rays are ``x(t) = o + t d`` with *unnormalised* ``d``: a caller that maps a world
ray into local coordinates with an affine map keeps the same ``t``, which is what
lets moving and affinely deforming objects be ray cast exactly.

Shapes: arrays ``origins [N, 3]`` and ``directions [N, 3]`` -> ``t [N]`` (``inf`` = miss),
``normals(points [N, 3]) -> [N, 3]`` unit outward normals in local coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

# Hits closer than this along the ray are ignored, so a ray never re-hits its own start.
T_MIN = 1e-6


class Shape(Protocol):
    """Interface shared by the foreground primitives."""

    kind: ClassVar[str]

    @property
    def bounding_radius(self) -> float:
        """Radius (local units) of the origin-centred sphere that contains the shape."""
        ...

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """First hit ``t > T_MIN`` per ray, [N]; ``inf`` where the ray misses."""
        ...

    def normals(self, points: np.ndarray) -> np.ndarray:
        """Unit outward normals [N, 3] at surface points [N, 3]."""
        ...


def _first_positive(*candidates: np.ndarray) -> np.ndarray:
    """Smallest candidate > T_MIN per ray ([N] each, NaN/inf = none)."""
    best = np.full(candidates[0].shape, np.inf)
    for c in candidates:
        ok = c > T_MIN  # NaN compares False, so degenerate candidates drop out here
        best = np.where(ok & (c < best), c, best)
    return best


@dataclass(frozen=True, eq=False)
class Ellipsoid:
    """Axis-aligned ellipsoid ``sum((x / semi_axes)^2) = 1``; a sphere when the axes are equal."""

    semi_axes: np.ndarray  # [3] metres

    kind: ClassVar[str] = "ellipsoid"

    @property
    def bounding_radius(self) -> float:
        return float(np.max(self.semi_axes))

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        inv = 1.0 / self.semi_axes
        o = origins * inv
        d = directions * inv
        a = np.einsum("ni,ni->n", d, d)
        b = np.einsum("ni,ni->n", o, d)
        c = np.einsum("ni,ni->n", o, o) - 1.0
        disc = b * b - a * c
        root = np.sqrt(np.maximum(disc, 0.0))
        t_near = (-b - root) / a
        t_far = (-b + root) / a
        t = _first_positive(t_near, t_far)
        return np.where(disc >= 0.0, t, np.inf)

    def normals(self, points: np.ndarray) -> np.ndarray:
        n = points / self.semi_axes**2
        return n / np.linalg.norm(n, axis=-1, keepdims=True)


@dataclass(frozen=True, eq=False)
class Sphere(Ellipsoid):
    """Sphere of radius ``semi_axes[0]`` (kept as an Ellipsoid with equal axes)."""

    kind: ClassVar[str] = "sphere"


@dataclass(frozen=True, eq=False)
class Box:
    """Axis-aligned box ``|x_k| <= half_extents_k``."""

    half_extents: np.ndarray  # [3] metres

    kind: ClassVar[str] = "box"

    @property
    def bounding_radius(self) -> float:
        return float(np.linalg.norm(self.half_extents))

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        # Slab method; 0 * inf = NaN for rays lying in a slab plane, fmin/fmax skip those.
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / directions
            t1 = (-self.half_extents - origins) * inv
            t2 = (self.half_extents - origins) * inv
        t_enter = np.fmax.reduce(np.fmin(t1, t2), axis=-1)
        t_exit = np.fmin.reduce(np.fmax(t1, t2), axis=-1)
        hit = t_exit >= np.maximum(t_enter, T_MIN)
        t = np.where(t_enter > T_MIN, t_enter, t_exit)
        return np.where(hit, t, np.inf)

    def normals(self, points: np.ndarray) -> np.ndarray:
        ratio = np.abs(points) / self.half_extents
        axis = np.argmax(ratio, axis=-1)
        n = np.zeros_like(points)
        rows = np.arange(points.shape[0])
        n[rows, axis] = np.sign(points[rows, axis])
        return n


@dataclass(frozen=True)
class Cylinder:
    """Capped cylinder along local z: ``x^2 + y^2 <= radius^2``, ``|z| <= half_height``."""

    radius: float
    half_height: float

    kind: ClassVar[str] = "cylinder"

    @property
    def bounding_radius(self) -> float:
        return float(np.hypot(self.radius, self.half_height))

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        ox, oy, oz = origins[:, 0], origins[:, 1], origins[:, 2]
        dx, dy, dz = directions[:, 0], directions[:, 1], directions[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = dx * dx + dy * dy
            b = ox * dx + oy * dy
            c = ox * ox + oy * oy - self.radius**2
            disc = b * b - a * c
            root = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
            side = []
            for t in ((-b - root) / a, (-b + root) / a):
                z = oz + t * dz
                side.append(np.where(np.abs(z) <= self.half_height, t, np.nan))
            caps = []
            for h in (-self.half_height, self.half_height):
                t = (h - oz) / dz
                x = ox + t * dx
                y = oy + t * dy
                caps.append(np.where(x * x + y * y <= self.radius**2, t, np.nan))
        return _first_positive(*side, *caps)

    def normals(self, points: np.ndarray) -> np.ndarray:
        radial = np.hypot(points[:, 0], points[:, 1])
        side_err = np.abs(radial - self.radius) / self.radius
        cap_err = np.abs(np.abs(points[:, 2]) - self.half_height) / self.half_height
        on_cap = cap_err < side_err
        n = np.zeros_like(points)
        safe = np.maximum(radial, 1e-12)
        n[:, 0] = np.where(on_cap, 0.0, points[:, 0] / safe)
        n[:, 1] = np.where(on_cap, 0.0, points[:, 1] / safe)
        n[:, 2] = np.where(on_cap, np.sign(points[:, 2]), 0.0)
        return n


@dataclass(frozen=True, eq=False)
class RoomBox:
    """Inside of an axis-aligned box centred at the origin (the static room).

    Faces are numbered ``2 * axis + (1 if the +axis wall else 0)``: 0/1 = -x/+x walls,
    2/3 = -y/+y walls, 4 = floor (-z), 5 = ceiling (+z), with z up.
    """

    half_extents: np.ndarray  # [3] metres

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exit point of rays starting inside the box.

        Args:
            origins: [N, 3] or broadcastable ray origins (inside the box).
            directions: [N, 3] ray directions.

        Returns:
            t: [N] hit parameter (``inf`` only for a zero direction).
            face: [N] int64 face index.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = np.where(directions > 0.0, self.half_extents, -self.half_extents)
            t_axis = (bound - origins) / directions
        t_axis = np.where(np.isnan(t_axis) | (t_axis < 0.0), np.inf, t_axis)
        axis = np.argmin(t_axis, axis=-1)
        t = np.take_along_axis(t_axis, axis[..., None], axis=-1)[..., 0]
        positive = np.take_along_axis(directions, axis[..., None], axis=-1)[..., 0] > 0.0
        return t, 2 * axis + positive.astype(np.int64)

    @staticmethod
    def face_normals(face: np.ndarray) -> np.ndarray:
        """Inward unit normals [N, 3] of faces [N]."""
        n = np.zeros(face.shape + (3,))
        axis = face // 2
        n[np.arange(face.shape[0]), axis] = np.where(face % 2 == 1, -1.0, 1.0)
        return n

    def contains_sphere(self, centres: np.ndarray, radius: float, margin: float = 0.0) -> bool:
        """True if spheres of ``radius`` at all ``centres`` [T, 3] fit inside with ``margin``."""
        return bool(np.all(np.abs(centres) + radius + margin <= self.half_extents))
