"""Moving pixels -> objects: connected regions of the motion mask, split where they are apart in 3D.

Two steps, both deterministic:

1. ``scipy.ndimage.label`` finds the connected regions of the usable moving pixels; regions smaller
   than the size floor are noise of the mask and are dropped.
2. Inside the remaining regions, neighbouring pixels stay together only when their 3D points are close:
   closer than ``split_distance`` times their distance from the camera. Two objects that overlap in
   the image but lie at different depths (a person walking in front of a rolling ball) become separate
   components of that neighbourhood graph (``scipy.sparse.csgraph.connected_components``).

Relative to range, the threshold means the same at every depth and in model units as in metres; on a
surface seen at a grazing angle neighbouring points are a few pixel footprints apart, far below 5 % of
the range at any usual resolution. It is single linkage: a chain of points with small steps (a blurred
depth edge between two moving objects) keeps them together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._checks import check_float, check_int


@dataclass(frozen=True)
class SegmentationConfig:
    """How moving pixels are grouped into objects.

    Attributes:
        min_pixels: fewest pixels of an object (after the 3D split); smaller groups are dropped.
        min_image_fraction: the same floor as a fraction of the image's pixels (the larger of the two
            applies), so that one setting suits a 112-pixel test image and a 1280-pixel camera.
        split_distance: neighbouring pixels belong to one object only if their 3D points are closer than
            this fraction of their distance from the camera (dimensionless, > 0).
        connectivity: 4 or 8, the pixel neighbourhood of both steps.
        max_objects: at most this many objects, the largest kept.
    """

    min_pixels: int = 20
    min_image_fraction: float = 0.0005
    split_distance: float = 0.05
    connectivity: int = 8
    max_objects: int = 64

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_int(owner, "min_pixels", self.min_pixels, 1)
        object.__setattr__(self, "min_image_fraction", check_float(owner, "min_image_fraction", self.min_image_fraction, 0.0, maximum=1.0))
        object.__setattr__(self, "split_distance", check_float(owner, "split_distance", self.split_distance, 0.0, strict=True))
        if self.connectivity not in (4, 8) or isinstance(self.connectivity, bool):
            raise ValueError(f"{owner}.connectivity must be 4 or 8, got {self.connectivity!r}")
        check_int(owner, "max_objects", self.max_objects, 1)

    def size_floor(self, num_pixels: int) -> int:
        """The effective minimum object size for an image of ``num_pixels`` pixels."""
        return max(self.min_pixels, int(np.ceil(self.min_image_fraction * num_pixels)))


@dataclass(frozen=True, eq=False)
class Segmentation:
    """Objects of the latest frame as a label image.

    Attributes:
        labels: ``[H, W]`` int32, 0 = no object, k = object k (1..num_objects), numbered by size, largest first.
        num_objects: number of objects.
        num_regions: connected regions of the moving pixels before the size floor and the 3D split.
        dropped_pixels: usable moving pixels that ended in no object (groups below the size floor, or
            beyond ``max_objects``).
    """

    labels: np.ndarray
    num_objects: int
    num_regions: int
    dropped_pixels: int

    def mask(self, label: int) -> np.ndarray:
        """``[H, W]`` bool pixels of object ``label``."""
        return self.labels == label

    @property
    def pixel_counts(self) -> np.ndarray:
        """``[num_objects]`` int64 pixels of objects 1..num_objects."""
        return np.bincount(self.labels.ravel(), minlength=self.num_objects + 1)[1:]


def _neighbour_offsets(connectivity: int) -> tuple[tuple[int, int], ...]:
    # Each undirected neighbour pair once: right, down (and the two downward diagonals for 8).
    return ((0, 1), (1, 0)) if connectivity == 4 else ((0, 1), (1, 0), (1, 1), (1, -1))


def _shifted(a: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Views ``(a[p], a[p + (dy, dx)])`` over every pixel p whose neighbour is inside the image (dy >= 0)."""
    h, w = a.shape[:2]
    rows_a, rows_b = slice(0, h - dy), slice(dy, h)
    cols_a, cols_b = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    return a[rows_a, cols_a], a[rows_b, cols_b]


def spatial_components(mask: np.ndarray, points: np.ndarray, camera_position: np.ndarray, split_distance: float,
                       connectivity: int = 8) -> tuple[np.ndarray, int]:  # fmt: skip
    """Connected components of the pixels ``mask`` where neighbours count only when their 3D points are close.

    Two neighbouring pixels (4- or 8-connectivity) are linked when their points are closer than
    ``split_distance`` times the smaller of their distances from the camera.

    Args:
        mask: ``[H, W]`` bool pixels that take part (their points must be finite).
        points: ``[H, W, 3]`` the pixels' points (any frame and units); camera_position: ``[3]`` in that frame.

    Returns:
        ``(component [H, W] int64, count)``: -1 outside ``mask``, else the component 0..count-1 (in no order).
    """
    h, w = mask.shape
    component = np.full((h, w), -1, dtype=np.int64)
    n = int(mask.sum())
    if n == 0:
        return component, 0
    # Work on the bounding box of the mask: moving objects usually cover a small part of the image.
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    sub = mask[box]
    node = np.full(sub.shape, -1, dtype=np.int64)
    node[sub] = np.arange(n)
    pts = np.where(sub[..., None], points[box], 0.0).astype(np.float64)
    offset = pts - np.asarray(camera_position, dtype=np.float64)
    ranges = np.sqrt(np.einsum("...i,...i->...", offset, offset))
    pairs_i, pairs_j = [], []
    for dy, dx in _neighbour_offsets(connectivity):
        (na, nb), (pa, pb), (ra, rb) = _shifted(node, dy, dx), _shifted(pts, dy, dx), _shifted(ranges, dy, dx)
        both = (na >= 0) & (nb >= 0)
        step = pa[both] - pb[both]
        close = np.einsum("...i,...i->...", step, step) <= (split_distance * np.minimum(ra[both], rb[both])) ** 2
        pairs_i.append(na[both][close])
        pairs_j.append(nb[both][close])
    i, j = np.concatenate(pairs_i), np.concatenate(pairs_j)
    graph = coo_matrix((np.ones(i.size, dtype=np.int8), (i, j)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    sub_component = np.full(sub.shape, -1, dtype=np.int64)
    sub_component[sub] = labels
    component[box] = sub_component
    return component, int(count)


def segment_moving_pixels(
    dynamic: np.ndarray,
    points: np.ndarray,
    usable: np.ndarray,
    camera_position: np.ndarray,
    config: SegmentationConfig = SegmentationConfig(),
) -> Segmentation:
    """Group the moving pixels of one frame into objects.

    Args:
        dynamic: ``[H, W]`` bool motion mask.
        points: ``[H, W, 3]`` 3D points of the pixels (any frame, any units), NaN where unknown.
        usable: ``[H, W]`` bool pixels that may take part.
        camera_position: ``[3]`` the camera centre in the points' frame (ranges are measured from it).
        config: thresholds.
    """
    dynamic, usable = np.asarray(dynamic, dtype=bool), np.asarray(usable, dtype=bool)
    points = np.asarray(points)
    h, w = dynamic.shape
    mask = dynamic & usable & np.isfinite(points).all(-1)
    total = int(mask.sum())
    floor = config.size_floor(h * w)
    structure = ndimage.generate_binary_structure(2, 1 if config.connectivity == 4 else 2)
    regions, num_regions = ndimage.label(mask, structure=structure)
    sizes = np.bincount(regions.ravel(), minlength=num_regions + 1)
    big = sizes >= floor
    big[0] = False
    mask = big[regions]

    labels = np.zeros((h, w), dtype=np.int32)
    component, count = spatial_components(mask, points, camera_position, config.split_distance, config.connectivity)
    if count == 0:
        return Segmentation(labels, 0, int(num_regions), total)
    flat = component[mask]  # raster order
    counts = np.bincount(flat, minlength=count)
    # Largest first; ties broken by the first pixel in raster order so the numbering is reproducible.
    first = np.full(count, flat.size, dtype=np.int64)
    np.minimum.at(first, flat, np.arange(flat.size))
    order = np.lexsort((first, -counts))
    order = order[counts[order] >= floor][: config.max_objects]
    new_label = np.zeros(count, dtype=np.int32)
    new_label[order] = np.arange(1, order.size + 1, dtype=np.int32)
    labels[mask] = new_label[flat]
    kept = int((labels > 0).sum())
    return Segmentation(labels, int(order.size), int(num_regions), total - kept)
