"""The processor on a real (random-weight) V-DPM: shapes, dtypes and frames at the raw resolution."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.pipeline import Frame, PipelineConfig, WindowProcessor

RAW = (50, 40)  # "crop": 40 -> 42 wide, 52.5 -> 56 high, centre-cropped to 42; "pad": 42 high, 28 wide + 14 white


def _frames(rng, n=3, hw=RAW):
    return [Frame(i * 50_000_000, rng.integers(0, 256, (*hw, 3), dtype=np.uint8)) for i in range(n)]


@pytest.mark.parametrize("mode", ["crop", "pad"])
def test_shapes_dtypes_and_raw_resolution(micro_model, rng, mode):
    frames = _frames(rng)
    proc = WindowProcessor(micro_model, PipelineConfig(window_size=3, preprocess_mode=mode, output_resolution="camera"))
    res = proc.process(frames, anchor_stamps_ns=[frames[1].stamp_ns])
    H, W = RAW
    assert res.raw_hw == RAW and res.net_hw == (42, 42) and res.stamps_ns == tuple(f.stamp_ns for f in frames)
    for name, shape, dtype in [
        ("valid", (H, W), np.bool_),
        ("points", (H, W, 3), np.float32),
        ("points_camera", (H, W, 3), np.float32),
        ("confidence", (H, W), np.float32),
        ("cloud_mask", (H, W), np.bool_),
        ("depth", (H, W), np.float32),
        ("scene_flow", (H, W, 3), np.float32),
        ("scene_flow_camera", (H, W, 3), np.float32),
        ("flow_confidence", (H, W), np.float32),
        ("dynamic", (H, W), np.bool_),
        ("motion_mask", (H, W), np.uint8),
        ("optical_flow", (H, W, 2), np.float32),
        ("extrinsics", (3, 3, 4), np.float64),
        ("intrinsics", (3, 3, 3), np.float64),
        ("world_from_camera", (3, 4, 4), np.float64),
    ]:
        arr = getattr(res, name)
        assert arr.shape == shape and arr.dtype == dtype, (name, arr.shape, arr.dtype)
    assert res.rgb is frames[-1].rgb
    if mode == "crop":
        # 56 resized rows keep 42: the top and bottom 7 resized rows (about 6 raw rows) have no prediction.
        assert not res.valid[:5].any() and not res.valid[-5:].any() and res.valid[8:-8].all()
    else:
        assert res.valid.all()
    assert np.isfinite(res.points[res.valid]).all() and np.isnan(res.points[~res.valid]).all()
    assert (res.confidence[res.valid] >= 1).all()
    assert res.cloud_mask.sum() > 0 and not (res.cloud_mask & ~res.valid).any()
    assert [a.stamp_ns for a in res.anchors] == [frames[2].stamp_ns, frames[1].stamp_ns]
    assert all(a.points.shape == (42, 42, 3) and a.confident.shape == (42, 42) for a in res.anchors)
    t = res.timings
    parts = [t.preprocess_s, t.encode_s, t.cameras_s, t.decode_s, t.postprocess_s]
    assert min(parts) >= 0 and sum(parts) <= t.total_s + 1e-6
    assert res.flow_dt_s == pytest.approx(0.05)


@pytest.mark.parametrize("spec, hw", [("network", (68, 90)), ("camera", (720, 960)), ("320", (240, 320))])
def test_outputs_are_on_the_grid_output_resolution_asks_for(micro_model, rng, spec, hw):
    from vdpm_ros.preprocessing import output_grid

    frames = _frames(rng, hw=(720, 960))
    res = WindowProcessor(micro_model, PipelineConfig(window_size=3, output_resolution=spec)).process(frames)
    # The 42-wide model sees the 960x720 camera at scale 0.04375 -> "network" is 42x32; ask the grid itself.
    expected = output_grid(WindowProcessor(micro_model, PipelineConfig())._preprocess(frames[-1:])[1][0], spec).net_hw
    assert res.output_hw == expected and (spec != "camera" or expected == (720, 960)) and (spec != "320" or expected == hw)
    for name in ("valid", "points", "depth", "scene_flow", "motion_mask", "optical_flow", "rgb", "confidence"):
        assert getattr(res, name).shape[:2] == expected, name


def test_bad_windows_are_refused(micro_model, rng):
    proc = WindowProcessor(micro_model, PipelineConfig(window_size=3))
    frames = _frames(rng)
    with pytest.raises(ValueError, match="increase"):
        proc.process([frames[0], frames[2], frames[1]])
    with pytest.raises(ValueError, match="at least 2"):
        proc.process(frames[:1])


def test_preprocessing_is_cached_across_windows(micro_model, rng, monkeypatch):
    import vdpm_ros.pipeline.processor as processor

    calls = []
    real = processor.preprocess_frame
    monkeypatch.setattr(processor, "preprocess_frame", lambda *a, **k: calls.append(1) or real(*a, **k))
    frames = _frames(rng, n=4)
    proc = WindowProcessor(micro_model, PipelineConfig(window_size=3))
    first = proc.process(frames[0:3])
    proc.process(frames[1:4])
    assert len(calls) == 4  # each frame resized once, not once per window
    again = WindowProcessor(micro_model, PipelineConfig(window_size=3)).process(frames[0:3])
    np.testing.assert_array_equal(first.confidence, again.confidence)


def test_mixed_image_sizes_in_one_window_are_padded_not_refused(micro_model, rng):
    """The buffer never forms such a window, but the processor on its own must still cope (official padding)."""
    frames = _frames(rng, n=2, hw=(40, 50)) + [Frame(200_000_000, rng.integers(0, 256, (*RAW, 3), dtype=np.uint8))]
    res = WindowProcessor(micro_model, PipelineConfig(window_size=3)).process(frames)
    assert res.raw_hw == RAW and res.points.shape == (*RAW, 3) and res.valid.any()
