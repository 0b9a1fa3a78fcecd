"""Moving pixels -> objects: connected regions, split in 3D, small ones dropped."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.objects import SegmentationConfig, segment_moving_pixels

H, W, F = 60, 80, 70.0


def _points(depth: np.ndarray) -> np.ndarray:
    """A pinhole camera at the origin (optical axes) seeing ``depth [H, W]``."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    return np.stack([(u - (W - 1) / 2) / F * depth, (v - (H - 1) / 2) / F * depth, depth], axis=-1)


def _segment(dynamic, depth, **cfg):
    points = _points(depth)
    return segment_moving_pixels(dynamic, points, np.ones((H, W), bool), np.zeros(3), SegmentationConfig(**cfg))


def test_separate_regions_become_objects_numbered_by_size():
    depth = np.full((H, W), 5.0)
    dynamic = np.zeros((H, W), bool)
    dynamic[5:15, 5:15] = True  # 100 px
    dynamic[30:50, 40:60] = True  # 400 px
    dynamic[2:4, 70:72] = True  # 4 px: noise, dropped
    seg = _segment(dynamic, depth)
    assert seg.num_objects == 2 and seg.num_regions == 3 and seg.dropped_pixels == 4
    assert seg.mask(1).sum() == 400 and seg.mask(1)[40, 50]
    assert seg.mask(2).sum() == 100 and seg.mask(2)[10, 10]
    np.testing.assert_array_equal(seg.pixel_counts, [400, 100])


def test_one_image_region_at_two_depths_is_split_and_a_slanted_surface_is_not():
    depth = np.full((H, W), 6.0)
    dynamic = np.zeros((H, W), bool)
    dynamic[10:40, 10:40] = True
    depth[10:40, 10:25] = 2.0  # a near object overlapping a far one in the image
    depth[10:40, 25:40] = 3.0
    seg = _segment(dynamic, depth)
    assert seg.num_regions == 1 and seg.num_objects == 2
    assert seg.mask(1).sum() == seg.mask(2).sum() == 450
    assert len(np.unique(seg.labels[10:40, 10:25])) == 1 and len(np.unique(seg.labels[10:40, 25:40])) == 1
    assert seg.labels[20, 15] != seg.labels[20, 30]

    # A floor-like surface seen at a grazing angle: depth grows steeply from row to row, still one object.
    v = np.arange(H, dtype=np.float64)[:, None]
    slanted = np.broadcast_to(1.5 + 0.06 * v, (H, W)).copy()
    seg = _segment(np.ones((H, W), bool), slanted)
    assert seg.num_objects == 1 and seg.mask(1).all()


def test_unusable_or_unknown_pixels_take_no_part():
    depth = np.full((H, W), 4.0)
    dynamic = np.zeros((H, W), bool)
    dynamic[10:30, 10:30] = True
    points = _points(depth)
    points[10:30, 19:21] = np.nan  # a column without estimate cuts the region in two
    usable = np.ones((H, W), bool)
    usable[10:12] = False
    seg = segment_moving_pixels(dynamic, points, usable, np.zeros(3), SegmentationConfig())
    assert seg.num_objects == 2
    assert not seg.labels[10:12].any() and not seg.labels[:, 19:21].any()
    assert seg.mask(1).sum() == seg.mask(2).sum() == 18 * 9


def test_size_floor_max_objects_and_empty_masks():
    depth = np.full((H, W), 4.0)
    dynamic = np.zeros((H, W), bool)
    for k in range(5):
        dynamic[5 : 5 + 5 + k, 5 + 14 * k : 10 + 14 * k] = True  # 25, 30, 35, 40, 45 px
    seg = _segment(dynamic, depth, max_objects=3)
    np.testing.assert_array_equal(seg.pixel_counts, [45, 40, 35])
    assert seg.dropped_pixels == 55
    # The floor as a fraction of the image: 1 % of 4800 px = 48 px drops all of them.
    assert _segment(dynamic, depth, min_image_fraction=0.01).num_objects == 0
    empty = _segment(np.zeros((H, W), bool), depth)
    assert empty.num_objects == 0 and not empty.labels.any() and empty.dropped_pixels == 0


def test_four_connectivity_keeps_diagonal_neighbours_apart():
    depth = np.full((H, W), 4.0)
    dynamic = np.zeros((H, W), bool)
    dynamic[10:20, 10:20] = True
    dynamic[20:30, 20:30] = True  # touches the first block only at a corner
    assert _segment(dynamic, depth, connectivity=8).num_objects == 1
    assert _segment(dynamic, depth, connectivity=4).num_objects == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_pixels": 0}, "min_pixels"),
        ({"split_distance": 0.0}, "split_distance"),
        ({"connectivity": 6}, "connectivity"),
        ({"min_image_fraction": 1.5}, "min_image_fraction"),
        ({"max_objects": 0}, "max_objects"),
    ],
)
def test_bad_segmentation_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SegmentationConfig(**kwargs)
