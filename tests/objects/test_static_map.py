"""The static voxel map: bounded, one point per voxel of the configured size, no moving points."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.evaluation.objects import observation_from_sequence
from vdpm_ros.objects import StaticMap, StaticMapConfig

SECOND = 1_000_000_000


def _cube(rng, n, centre=(0.0, 0.0, 0.0), half=1.0):
    return rng.uniform(-half, half, size=(n, 3)) + np.asarray(centre)


def test_one_point_per_voxel_inside_its_voxel():
    rng = np.random.default_rng(0)
    points = _cube(rng, 20000)
    smap = StaticMap(StaticMapConfig(voxel_size=0.1))
    assert smap.insert(points, 0) == len(smap)
    cloud = smap.cloud()
    keys = np.floor(points / 0.1).astype(np.int64)
    assert len(smap) == len(np.unique(keys, axis=0)) <= 20**3
    # Each voxel's point (the mean of its points) lies in that voxel, and no two share one.
    idx = smap.voxel_indices()
    np.testing.assert_array_equal(np.floor(cloud.xyz.astype(np.float64) / 0.1 + 1e-6).astype(np.int64), idx)
    assert len(np.unique(idx, axis=0)) == len(idx)
    assert cloud.observations.sum() == 20000 and cloud.xyz.dtype == np.float32 and cloud.rgb.dtype == np.uint8
    # The mean: the voxel of the first point holds the mean of every point in it.
    first = (keys == keys[0]).all(-1)
    row = np.flatnonzero((idx == keys[0]).all(-1))[0]
    np.testing.assert_allclose(cloud.xyz[row], points[first].mean(0), rtol=1e-5)


def test_the_latest_point_and_colours_of_a_voxel():
    smap = StaticMap(StaticMapConfig(voxel_size=1.0, position="latest"))
    smap.insert(np.array([[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]]), 0, rgb=np.array([[0, 0, 0], [100, 50, 10]]))
    smap.insert(np.array([[0.9, 0.9, 0.9]]), SECOND, rgb=np.array([[200, 250, 10]]))
    cloud = smap.cloud()
    np.testing.assert_allclose(cloud.xyz, [[0.9, 0.9, 0.9]], rtol=1e-6)
    np.testing.assert_array_equal(cloud.rgb, [[100, 100, 7]])  # mean colour of the three (20 / 3 rounds to 7)
    assert cloud.rgb_packed[0] == (100 << 16) | (100 << 8) | 7
    assert cloud.last_seen_ns[0] == SECOND and cloud.observations[0] == 3


def test_the_map_is_bounded_and_forgets_the_oldest_voxels_first():
    rng = np.random.default_rng(1)
    smap = StaticMap(StaticMapConfig(voxel_size=0.1, max_voxels=500))
    voxels = []
    for k in range(6):  # six windows of about 230 voxels each, 5 m apart
        points = _cube(rng, 300, centre=(5 * k, 0, 0), half=0.4)
        voxels.append(len(np.unique(np.floor(points / 0.1), axis=0)))
        smap.insert(points, k * SECOND)
        assert len(smap) <= 500
    seen = smap.cloud().last_seen_ns
    assert len(smap) == 500 and voxels[5] + voxels[4] < 500 < voxels[5] + voxels[4] + voxels[3]
    # The two latest windows are all there, the third latest in part, nothing older.
    assert (seen == 5 * SECOND).sum() == voxels[5] and (seen == 4 * SECOND).sum() == voxels[4]
    assert seen.min() == 3 * SECOND


def test_farthest_eviction_keeps_what_is_near_the_camera():
    rng = np.random.default_rng(2)
    smap = StaticMap(StaticMapConfig(voxel_size=0.1, max_voxels=300, eviction="farthest"))
    smap.insert(_cube(rng, 2000, half=0.5), 0, viewpoint=np.zeros(3))
    smap.insert(_cube(rng, 2000, centre=(3, 0, 0), half=0.5), SECOND, viewpoint=np.zeros(3))
    assert len(smap) == 300
    assert np.linalg.norm(smap.cloud().xyz, axis=-1).max() < 1.0  # everything kept is from the near cube


def test_moving_points_never_enter_and_clear_what_they_occupy(small_sequences):
    """Static points of a synthetic window (motion mask off) go in; the moving object's voxels stay empty."""
    seq = small_sequences[0]
    obs = observation_from_sequence(seq)
    pts = obs.points
    ok = obs.usable & np.isfinite(pts).all(-1)
    static, dynamic = pts[ok & ~obs.dynamic], pts[ok & obs.dynamic]
    assert len(dynamic) > 100
    smap = StaticMap(StaticMapConfig(voxel_size=0.05))
    # Earlier the moving object's place held static points (say it stood still there before): they go.
    smap.insert(dynamic, 0)
    assert len(smap) > 0
    smap.insert(static, obs.stamp_ns, dynamic_points=dynamic, viewpoint=obs.camera_position)

    def voxels(points):
        return {tuple(v) for v in np.floor(points.astype(np.float64) / 0.05).astype(np.int64)}

    def map_voxels(m):
        return {tuple(v) for v in m.voxel_indices()}

    only_dynamic = voxels(dynamic) - voxels(static)  # voxels no static point of this window falls in
    assert only_dynamic and not only_dynamic & map_voxels(smap)
    assert map_voxels(smap) == voxels(static)  # every voxel comes from a static point, and each static point has one
    # With clearing off, the stale voxels stay.
    keep = StaticMap(StaticMapConfig(voxel_size=0.05, clear_dynamic=False))
    keep.insert(dynamic, 0)
    keep.insert(static, obs.stamp_ns, dynamic_points=dynamic)
    assert only_dynamic <= map_voxels(keep)


def test_non_finite_points_are_skipped_and_reset_empties():
    smap = StaticMap()
    assert smap.insert(np.array([[np.nan, 0, 0], [np.inf, 1, 1]]), 0) == 0 and len(smap) == 0
    smap.insert(np.array([[0.0, 0, 0], [1e9, 0, 0]]), 0)  # 1e9 m is beyond the index range: skipped
    assert len(smap) == 1
    smap.reset()
    assert len(smap) == 0 and smap.cloud().xyz.shape == (0, 3)


def test_publishing_is_rate_limited_by_message_time():
    smap = StaticMap(StaticMapConfig(publish_period_s=1.0))
    assert smap.publish_due(0)
    assert not smap.publish_due(SECOND // 2)
    assert smap.publish_due(SECOND)
    assert not smap.publish_due(SECOND + 1)
    assert smap.publish_due(SECOND // 10)  # time went back (a restarted bag): due at once


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"voxel_size": 0.0}, "voxel_size"),
        ({"max_voxels": 0}, "max_voxels"),
        ({"eviction": "random"}, "eviction"),
        ({"position": "median"}, "position"),
        ({"clear_dynamic": 1}, "clear_dynamic"),
        ({"publish_period_s": -1.0}, "publish_period_s"),
    ],
)
def test_bad_static_map_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StaticMapConfig(**kwargs)
