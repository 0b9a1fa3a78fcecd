"""Shared fixtures and helpers for the synthetic-data tests.

Helpers are exposed through the ``helpers`` fixture rather than imported, so the tests
work under any pytest import mode and next to other ``conftest.py`` files.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vdpm_ros.synth import SceneConfig, SyntheticSequence, generate_sequence

# Enough seeds to hit every trajectory kind, shape and placement branch at least once.
SEEDS: tuple[int, ...] = tuple(range(12))


@pytest.fixture(scope="session")
def config() -> SceneConfig:
    return SceneConfig()


@pytest.fixture(scope="session")
def sequences(config: SceneConfig) -> dict[int, SyntheticSequence]:
    return {seed: generate_sequence(seed, config) for seed in SEEDS}


def kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares rigid fit dst ~ R @ src + t over points [N, 3].

    Returns R [3, 3] (det +1), t [3] and the largest point residual (metres).
    """
    src = src.astype(np.float64)
    dst = dst.astype(np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    h = (src - mu_s).T @ (dst - mu_d)
    u, _, vt = np.linalg.svd(h)
    sign = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, sign]) @ u.T
    trans = mu_d - rot @ mu_s
    residual = np.linalg.norm(src @ rot.T + trans - dst, axis=-1)
    return rot, trans, float(residual.max())


def affine_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares affine fit dst ~ A @ [src, 1]; returns A [3, 4] and the largest residual."""
    x = np.concatenate([src.astype(np.float64), np.ones((src.shape[0], 1))], axis=1)
    sol, *_ = np.linalg.lstsq(x, dst.astype(np.float64), rcond=None)
    residual = np.linalg.norm(x @ sol - dst, axis=-1)
    return sol.T, float(residual.max())


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Integer pixel centres as [H, W, 2] (u, v)."""
    v, u = np.mgrid[0:height, 0:width]
    return np.stack([u, v], axis=-1).astype(np.float64)


def to_camera(points: np.ndarray, extrinsic: np.ndarray) -> np.ndarray:
    """World points [..., 3] -> camera coordinates with a [3, 4] camera-from-world matrix."""
    e = extrinsic.astype(np.float64)
    return points.astype(np.float64) @ e[:, :3].T + e[:, 3]


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    return SimpleNamespace(kabsch=kabsch, affine_fit=affine_fit, pixel_grid=pixel_grid, to_camera=to_camera)
