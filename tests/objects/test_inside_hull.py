"""The convex-hull fill that limits how far a moving object grows (objects.detection._inside_hull)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay

from vdpm_ros.objects.detection import _inside_hull


def _hull_by_triangulation(mask: np.ndarray) -> np.ndarray:
    # Independent definition: a pixel centre inside (or on) a Delaunay triangle of the mask's pixel centres.
    v, u = np.nonzero(mask)
    points = np.stack([u, v], axis=-1).astype(np.float64)
    if len(points) < 3 or np.linalg.matrix_rank(points - points.mean(0)) < 2:
        return mask.copy()
    gv, gu = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    simplex = Delaunay(points).find_simplex(np.stack([gu.ravel(), gv.ravel()], -1).astype(np.float64), tol=1e-9)
    return (simplex >= 0).reshape(mask.shape)


def test_hull_fill_equals_the_triangulated_hull_on_random_masks():
    rng = np.random.default_rng(7)
    for i in range(120):
        h, w = int(rng.integers(3, 120)), int(rng.integers(3, 160))
        yy, xx = np.mgrid[:h, :w]
        mask = np.zeros((h, w), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(1, 25)
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        mask &= rng.random((h, w)) > 0.1
        if i % 10 == 0:  # collinear pixels: no area
            mask[:] = False
            mask[int(rng.integers(0, h)), :: int(rng.integers(1, 4))] = True
        np.testing.assert_array_equal(_inside_hull(mask), _hull_by_triangulation(mask), err_msg=f"mask {i}")


def test_hull_of_an_l_shape_fills_its_corner_and_nothing_outside():
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:8, 2] = True
    mask[7, 2:8] = True
    hull = _inside_hull(mask)
    assert hull[4, 4] and hull[6, 5]  # below the diagonal from (2, 2) to (7, 7)
    assert not hull[3, 6] and not hull[0, 0] and not hull[9, 9]
    assert hull[mask].all()
