"""RecentStageTimes: medians per stage over the last windows, named as the benchmark names them."""

from __future__ import annotations

import pytest

from vdpm_ros.pipeline import RecentStageTimes, StageTimings


def _timings(encode_s: float) -> StageTimings:
    return StageTimings(preprocess_s=0.001, encode_s=encode_s, cameras_s=0.002, decode_s=0.003, postprocess_s=0.004,
                        total_s=encode_s + 0.010, motion_s=0.0, stitch_s=0.005, scene_s=0.006)  # fmt: skip


def test_medians_over_the_last_windows_only():
    times = RecentStageTimes(capacity=3)
    assert times.medians_ms() == {} and len(times) == 0
    for encode_s in (1.0, 0.010, 0.020, 0.030):  # the first falls out of a capacity of 3
        times.record(_timings(encode_s), publish_s=0.002)
    m = times.medians_ms()
    assert len(times) == 3
    assert m["encode"] == pytest.approx(20.0) and m["publish"] == pytest.approx(2.0)
    # The whole window: the processor (its total includes its stages), stitching, scene, publishing.
    assert m["window"] == pytest.approx((0.020 + 0.010 + 0.005 + 0.006 + 0.002) * 1e3)
    assert list(m)[:8] == ["preprocess", "encode", "cameras", "decode", "motion", "postprocess", "stitch", "scene"]


def test_a_capacity_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        RecentStageTimes(capacity=0)
