"""PipelineConfig validates itself and names the offending field."""

from __future__ import annotations

import pytest

from vdpm_ros.pipeline import PipelineConfig


def test_defaults():
    c = PipelineConfig()
    assert (c.window_size, c.stride, c.queue_size, c.preprocess_mode, c.scale_mode) == (5, 1, 2, "crop", "none")
    assert c.confidence_percentile == 50.0 and c.motion_threshold == 0.025 and c.min_frame_interval == 0.0 and c.time_jump_reset == 1.0
    assert c.units == "model" and c.stitch_fits_scale and c.decode_previous_time and c.stitch


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("window_size", 1, "window_size must be >= 2"),
        ("window_size", 2.0, "window_size must be an int"),
        ("window_size", True, "window_size must be an int"),
        ("stride", 0, "stride must be >= 1"),
        ("queue_size", 0, "queue_size"),
        ("min_frame_interval", -0.1, "min_frame_interval"),
        ("min_frame_interval", float("nan"), "min_frame_interval"),
        ("time_jump_reset", -1.0, "time_jump_reset"),
        ("preprocess_mode", "resize", "preprocess_mode"),
        ("resample", "cubic", "resample"),
        ("confidence_percentile", 100.0, "confidence_percentile"),
        ("motion_threshold", 0.0, "motion_threshold"),
        ("scale_mode", "metric", "scale_mode"),
        ("fixed_scale", -1.0, "fixed_scale"),
        ("precision", "int8", "precision"),
        ("stitch", 1, "stitch must be a bool"),
        ("stitch_with_scale", "yes", "stitch_with_scale"),
        ("stitch_min_points", 2, "stitch_min_points"),
        ("stitch_max_points", 50, "stitch_min_points"),
    ],
)
def test_invalid_values_raise_with_the_field_name(field, value, match):
    with pytest.raises(ValueError, match=match):
        PipelineConfig(**{field: value})


def test_single_frame_windows_only_without_previous_time():
    assert PipelineConfig(window_size=1, decode_previous_time=False).window_size == 1


def test_units_and_stitch_scale_follow_the_scale_mode():
    assert PipelineConfig(scale_mode="depth").units == "m" and not PipelineConfig(scale_mode="depth").stitch_fits_scale
    assert PipelineConfig(scale_mode="fixed").units == "m" and PipelineConfig(scale_mode="fixed").stitch_fits_scale
    assert PipelineConfig(scale_mode="depth", stitch_with_scale=True).stitch_fits_scale


def test_from_dict_round_trip_and_unknown_keys():
    c = PipelineConfig(window_size=7, scale_mode="fixed", fixed_scale=0.5)
    assert PipelineConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown PipelineConfig keys: \\['windowsize'\\]"):
        PipelineConfig.from_dict({"windowsize": 3})
    assert PipelineConfig.from_dict({"min_frame_interval": 1}).min_frame_interval == 1.0


def test_a_time_jump_reset_of_zero_means_never_reset():
    from vdpm_ros.pipeline import WindowBuffer

    assert WindowBuffer.from_config(PipelineConfig(time_jump_reset=0.0))._jump_ns is None
    assert WindowBuffer.from_config(PipelineConfig(time_jump_reset=1.5))._jump_ns == 1_500_000_000
