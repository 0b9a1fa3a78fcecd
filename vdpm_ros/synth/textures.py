"""Procedural solid textures.

Textures are functions of 3D points in the surface's own canonical coordinates, so the
pattern is glued to the surface and moves / deforms with it. A solid texture needs no
UV parametrisation and works identically on planes, boxes, spheres and cylinders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .transforms import random_rotation

TEXTURE_KINDS: tuple[str, ...] = ("checker", "stripes", "noise", "marble", "grid", "gradient")


_LATTICE_BITS = 5  # lattice values repeat every 2**5 = 32 cells along each axis
_LATTICE = 1 << _LATTICE_BITS


@dataclass(frozen=True, eq=False)
class NoiseTable:
    """Random lattice values for value noise, [32 ** 3] float32 in [0, 1] (periodic lattice)."""

    values: np.ndarray

    @staticmethod
    def sample(rng: np.random.Generator) -> NoiseTable:
        return NoiseTable(rng.random(_LATTICE**3, dtype=np.float32))


def value_noise(q: np.ndarray, table: NoiseTable) -> np.ndarray:
    """Smooth 3D value noise.

    Args:
        q: [N, 3] points in lattice units (one lattice cell = one unit), float32 or float64.
        table: lattice values.

    Returns:
        [N] values in [0, 1] (dtype of q), C1-continuous (smoothstep-interpolated lattice values).
    """
    base = np.floor(q)
    f = q - base
    w = f * f * (3.0 - 2.0 * f)
    cell = base.astype(np.int32)
    mask = _LATTICE - 1
    # Flat index (x * 32 + y) * 32 + z of both lattice neighbours along each axis.
    x0 = (cell[:, 0] & mask) << (2 * _LATTICE_BITS)
    x1 = ((cell[:, 0] + 1) & mask) << (2 * _LATTICE_BITS)
    y0 = (cell[:, 1] & mask) << _LATTICE_BITS
    y1 = ((cell[:, 1] + 1) & mask) << _LATTICE_BITS
    z0 = cell[:, 2] & mask
    z1 = (cell[:, 2] + 1) & mask
    values = table.values
    wx, wy, wz = w[:, 0], w[:, 1], w[:, 2]

    def lerp_z(xy: np.ndarray) -> np.ndarray:
        v0 = values[xy + z0]
        return v0 + wz * (values[xy + z1] - v0)

    a = lerp_z(x0 + y0)
    a = a + wy * (lerp_z(x0 + y1) - a)
    b = lerp_z(x1 + y0)
    b = b + wy * (lerp_z(x1 + y1) - b)
    return a + wx * (b - a)


def fbm(q: np.ndarray, table: NoiseTable, octaves: int) -> np.ndarray:
    """Fractal sum of ``octaves`` value-noise octaves, normalised to [0, 1]. q: [N, 3] -> [N]."""
    total = np.zeros(q.shape[0], dtype=q.dtype)
    amplitude, norm = 1.0, 0.0
    for k in range(octaves):
        # The offset decorrelates octaves that would otherwise share lattice points.
        total += amplitude * value_noise(q * np.float32(2.0**k) + np.float32(17.31 * k), table)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


@dataclass(frozen=True, eq=False)
class Texture:
    """One procedural albedo pattern.

    ``q = (rotation @ x + offset) / scale`` maps a canonical point ``x`` (metres) into pattern
    units; ``kind`` selects the pattern, ``colors`` [C, 3] its palette (RGB in [0, 1]) and
    ``detail`` the strength of a fine noise modulation that adds texture everywhere
    (so no region is perfectly flat, which would make correspondence ill-posed).
    """

    kind: str
    colors: np.ndarray  # [C, 3], C >= 3
    rotation: np.ndarray  # [3, 3]
    offset: np.ndarray  # [3]
    scale: float  # metres per pattern period
    detail: float  # in [0, 1)
    octaves: int
    sharpness: float  # > 0; large = hard edges for stripes / grid
    noise: NoiseTable

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Albedo [N, 3] float32 in [0, 1] at canonical points [N, 3] (metres)."""
        # float32 is ample for colours and halves the memory traffic of the noise gathers.
        q = (points @ np.ascontiguousarray(self.rotation.T / self.scale) + self.offset / self.scale).astype(np.float32)
        c0, c1, c2 = self.colors[0], self.colors[1], self.colors[2]
        if self.kind == "checker":
            parity = np.floor(q).sum(axis=1) % 2.0
            rgb = _mix(c0, c1, parity)
        elif self.kind == "stripes":
            s = _soft_step(np.sin(2.0 * np.pi * q[:, 0]), self.sharpness)
            rgb = _mix(c0, c1, s)
        elif self.kind == "noise":
            rgb = _ramp(self.colors, fbm(q, self.noise, self.octaves))
        elif self.kind == "marble":
            phase = q[:, 0] + 2.0 * fbm(q, self.noise, self.octaves)
            rgb = _ramp(self.colors, 0.5 + 0.5 * np.sin(2.0 * np.pi * phase))
        elif self.kind == "grid":
            dist = np.abs(q - np.round(q)).min(axis=1)  # distance to the nearest grid plane
            line = dist < 0.06 + 0.04 / self.sharpness
            rgb = np.where(line[:, None], c2, _mix(c0, c1, value_noise(q * np.float32(0.5), self.noise)))
        elif self.kind == "gradient":
            tri = np.abs((0.5 * q[:, 0]) % 1.0 - 0.5) * 2.0  # triangle wave, continuous
            rgb = _ramp(self.colors, tri)
        else:
            raise ValueError(f"unknown texture kind {self.kind!r}")
        if self.detail > 0.0:
            grain = value_noise(q * np.float32(7.0) + np.float32(3.7), self.noise) - np.float32(0.5)
            rgb = rgb * (1.0 + np.float32(2.0 * self.detail) * grain)[:, None]
        return np.clip(rgb, 0.0, 1.0)


def _mix(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    return a + (b - a) * s[:, None]


def _soft_step(x: np.ndarray, sharpness: float) -> np.ndarray:
    """Map x in [-1, 1] to [0, 1]; sharpness -> inf gives a hard threshold at 0."""
    return 0.5 + 0.5 * np.tanh(sharpness * x)


def _ramp(colors: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour ramp through all palette entries; s [N] in [0, 1] -> [N, 3]."""
    n = colors.shape[0] - 1
    pos = np.clip(s, 0.0, 1.0) * n
    k = np.minimum(pos.astype(np.int64), n - 1)
    return colors[k] + (colors[k + 1] - colors[k]) * (pos - k)[:, None]


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """HSV [..., 3] (all in [0, 1]) to RGB [..., 3] in [0, 1]."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6.0) % 6.0
    return v[..., None] - (v * s)[..., None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def sample_palette(rng: np.random.Generator, n: int = 3) -> np.ndarray:
    """Random palette [n, 3] with guaranteed brightness contrast between entries 0 and 1."""
    hue = rng.random()
    hues = (hue + rng.uniform(-0.25, 0.25, size=n) + rng.integers(0, 2, size=n) * 0.5) % 1.0
    sat = rng.uniform(0.15, 0.9, size=n)
    val = rng.uniform(0.3, 1.0, size=n)
    # A dark/bright pair keeps even low-saturation palettes distinguishable.
    dark = rng.uniform(0.15, 0.45)
    bright = rng.uniform(dark + 0.35, 1.0)
    val[0], val[1] = (dark, bright) if rng.random() < 0.5 else (bright, dark)
    return hsv_to_rgb(np.stack([hues, sat, val], axis=-1))


def sample_texture(
    rng: np.random.Generator,
    scale_range: tuple[float, float],
    kinds: tuple[str, ...] = TEXTURE_KINDS,
    rotation: np.ndarray | None = None,
) -> Texture:
    """Draw a random texture.

    Args:
        rng: random generator (consumed deterministically).
        scale_range: interval of the pattern period in metres.
        kinds: texture kinds to choose from.
        rotation: [3, 3] fixed pattern orientation; random when None.
    """
    kind = str(kinds[rng.integers(len(kinds))])
    return Texture(
        kind=kind,
        colors=sample_palette(rng, 3).astype(np.float32),
        rotation=random_rotation(rng) if rotation is None else rotation,
        offset=rng.uniform(-50.0, 50.0, size=3),
        scale=float(rng.uniform(*scale_range)),
        detail=float(rng.uniform(0.05, 0.25)),
        octaves=int(rng.integers(2, 4)),
        sharpness=float(rng.uniform(1.5, 12.0)),
        noise=NoiseTable.sample(rng),
    )
