"""Clean-up of a per-pixel dynamic mask: morphology and small-component removal (OpenCV).

Per-pixel residual tests leave salt noise (single pixels where the flow is off) and pin holes inside
moving objects (textureless patches whose flow is smooth but wrong). Moving things in a camera's
view are regions of some size, so small regions are dropped and small holes filled.
"""

from __future__ import annotations

import cv2
import numpy as np


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def clean_mask(mask: np.ndarray, valid: np.ndarray, open_px: int = 0, close_px: int = 1, min_component_px: int = 12) -> np.ndarray:
    """``mask [h, w]`` bool -> cleaned bool mask, inside ``valid [h, w]``.

    Order: opening (removes regions thinner than ``2 * open_px + 1``), removal of 8-connected
    components under ``min_component_px`` pixels, closing (fills gaps narrower than ``2 * close_px + 1``).
    """
    m = (mask & valid).astype(np.uint8)
    if open_px > 0:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, _disk(open_px))
    if min_component_px > 1 and m.any():
        count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        keep = stats[:, cv2.CC_STAT_AREA] >= min_component_px
        keep[0] = False  # label 0 is the background
        m = keep[labels].astype(np.uint8)
    if close_px > 0 and m.any():
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, _disk(close_px))
    return m.astype(bool) & valid


def hysteresis(score: np.ndarray, low: float, high: float, valid: np.ndarray) -> np.ndarray:
    """``[h, w]`` bool: pixels with ``score > low`` 8-connected to a pixel with ``score > high``.

    A moving region's score is above ``high`` in its core and can dip near its edges and in its
    textureless parts; single noisy pixels rarely reach ``high``. ``low >= high`` is a plain threshold.
    """
    strong = (score > high) & valid
    if low >= high or not strong.any():
        return strong
    weak = ((score > low) & valid).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    seeded = np.zeros(count, bool)
    seeded[np.unique(labels[strong])] = True
    seeded[0] = False
    return seeded[labels]


def grow_into(mask: np.ndarray, allowed: np.ndarray, radius: int) -> np.ndarray:
    """``[h, w]`` bool: pixels of ``allowed`` reachable from ``mask`` in at most ``radius`` 8-connected steps
    that stay inside ``allowed`` (a geodesic dilation)."""
    grown = mask.copy()
    step = np.ones((3, 3), np.uint8)
    for _ in range(radius):
        nxt = cv2.dilate(grown.astype(np.uint8), step).astype(bool) & (allowed | grown)
        if (nxt == grown).all():
            break
        grown = nxt
    return grown & allowed & ~mask
