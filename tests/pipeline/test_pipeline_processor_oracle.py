"""The processor's maths against exact ground truth: an oracle model returns the synthetic truth."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_oracle import ORACLE_IMG, PAD_POINT, OracleModel, frames_of

from vdpm_ros.pipeline import MetricScaleError, PipelineConfig, WindowProcessor


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _gt_dynamic(seq, valid: np.ndarray, threshold: float = 0.025) -> np.ndarray:
    """Ground-truth motion of the latest frame with the pipeline's normalised threshold (scale over the visible part):
    the point moves that far from the window's first (0) or previous (3) frame to the latest (4)."""
    now = seq.pointmaps[4, 4]
    scale = np.linalg.norm(now[valid], axis=-1).mean()
    moved = np.maximum(np.linalg.norm(now - seq.pointmaps[0, 4], axis=-1), np.linalg.norm(now - seq.pointmaps[3, 4], axis=-1))
    return (moved > threshold * scale) & valid


def _gt_dynamic_on(seq, res) -> np.ndarray:
    """:func:`_gt_dynamic` on the result's output grid."""
    import dataclasses

    from vdpm_ros.preprocessing import sample_nearest

    maps = np.stack([[sample_nearest(seq.pointmaps[t, i], res.output_grid) for i in range(5)] for t in range(5)])
    return _gt_dynamic(dataclasses.replace(seq, pointmaps=maps), res.valid)


def _run(seq, mode, **cfg):
    oracle = OracleModel(seq, ORACLE_IMG, mode)
    proc = WindowProcessor(oracle, PipelineConfig(preprocess_mode=mode, **cfg))
    return proc.process(frames_of(seq)), oracle


@pytest.mark.parametrize("mode, seq_name", [("crop", "seq_tall"), ("pad", "seq_wide")])
def test_outputs_equal_ground_truth_at_raw_resolution(mode, seq_name, request):
    seq = request.getfixturevalue(seq_name)
    res, oracle = _run(seq, mode)
    H, W = seq.images.shape[1:3]
    expected_valid = np.ones((H, W), bool)
    if mode == "crop":
        expected_valid[:14] = expected_valid[-14:] = False  # the centre crop of 140 rows to 112
    np.testing.assert_array_equal(res.valid, expected_valid)
    v = res.valid
    assert res.raw_hw == (H, W) and res.net_hw == (112, 112) and res.stamps_ns[-1] == int(round(seq.timestamps[4] * 1e9))

    # Points: window frame = frame-0 camera = the sequence's world frame.
    np.testing.assert_allclose(res.points[v], seq.pointmaps[4, 4][v], atol=1e-5)
    assert np.isnan(res.points[~v]).all() and np.isnan(res.depth[~v]).all() and (res.confidence[~v] == 0).all()
    np.testing.assert_allclose(res.depth[v], seq.depth[4][v], rtol=1e-5)
    cam = seq.pointmaps[4, 4] @ seq.extrinsics[4, :, :3].T + seq.extrinsics[4, :, 3]
    np.testing.assert_allclose(res.points_camera[v], cam[v], atol=1e-4)

    # Scene flow in units per second over the 0.1 s between the two latest frames.
    assert res.flow_dt_s == pytest.approx(0.1)
    gt_flow = (seq.pointmaps[4, 4] - seq.pointmaps[3, 4]) / 0.1
    np.testing.assert_allclose(res.scene_flow[v], gt_flow[v], atol=1e-3)
    np.testing.assert_allclose(res.scene_flow_camera[v], (gt_flow @ seq.extrinsics[4, :, :3].T)[v], atol=1e-3)

    # Motion mask: identical to the ground truth under the same normalised threshold.
    gt_dyn = _gt_dynamic(seq, v)
    assert gt_dyn.mean() > 0.05, "test scene should contain moving pixels"
    assert _iou(res.dynamic, gt_dyn) > 0.999
    assert _iou(res.dynamic, seq.motion_mask[4] & v) > 0.9
    assert res.motion_mask.dtype == np.uint8 and set(np.unique(res.motion_mask)) <= {0, 255}
    np.testing.assert_array_equal(res.motion_mask == 255, res.dynamic)

    # Cameras: poses and intrinsics on the raw image exactly. The principal point is the image centre,
    # ((W-1)/2, (H-1)/2) with pixel centres at integers, as in the synthetic ground truth.
    np.testing.assert_allclose(res.extrinsics, seq.extrinsics, atol=1e-5)
    np.testing.assert_allclose(res.intrinsics[:, [0, 1], [0, 1]], seq.intrinsics[:, [0, 1], [0, 1]], rtol=1e-6)
    np.testing.assert_allclose(res.intrinsics[:, :2, 2], seq.intrinsics[:, :2, 2], atol=1e-6)

    # Optical flow: P_4(t_3) projected into camera 3, minus the pixel.
    uv, _ = seq.project(seq.pointmaps[3, 4], 3)
    grid = np.stack(np.meshgrid(np.arange(W), np.arange(H)), axis=-1)
    gt_of = uv - grid
    assert res.optical_flow.shape == (H, W, 2) and res.optical_flow.dtype == np.float32
    k = res.intrinsics[3]
    cam3 = seq.pointmaps[3, 4] @ seq.extrinsics[3, :, :3].T + seq.extrinsics[3, :, 3]
    uv_pred = np.stack([k[0, 0] * cam3[..., 0] / cam3[..., 2] + k[0, 2], k[1, 1] * cam3[..., 1] / cam3[..., 2] + k[1, 2]], axis=-1)
    np.testing.assert_allclose(res.optical_flow[v], (uv_pred - grid)[v], atol=2e-3)  # exact with the decoded camera
    np.testing.assert_allclose(res.optical_flow[v], gt_of[v], atol=2e-3)
    assert np.abs(gt_of[v]).max() > 2.0, "test scene should move the camera by pixels"

    # Confidence filtering: the official percentile over the image part only (padding is confident garbage).
    assert res.confidence_threshold == pytest.approx(np.percentile(oracle.raw_conf[4][v], 50), rel=1e-5)
    assert 0.45 < res.cloud_mask[v].mean() < 0.55 and not res.cloud_mask[~v].any()
    assert np.all(np.abs(res.points[res.cloud_mask]) < PAD_POINT / 2)
    assert res.scene_scale == pytest.approx(np.linalg.norm(seq.pointmaps[4, 4][v], axis=-1).mean(), rel=1e-5)


def test_only_the_latest_frame_is_decoded_at_three_times(seq_wide):
    res, oracle = _run(seq_wide, "pad")
    names = [c[0] for c in oracle.calls]
    assert names.count("encode") == 1 and "time_variant" not in names
    assert ("decode", (0, 3, 4), (4,)) in oracle.calls
    proc = WindowProcessor(oracle, PipelineConfig(preprocess_mode="pad"))
    oracle.calls.clear()
    res = proc.process(frames_of(seq_wide), anchor_stamps_ns=[res.stamps_ns[2], 123])
    assert ("time_variant", (2,)) in oracle.calls
    assert [a.stamp_ns for a in res.anchors] == [res.stamps_ns[4], res.stamps_ns[2]]
    np.testing.assert_allclose(res.anchors[1].points[14:98], seq_wide.pointmaps[2, 2], atol=1e-5)
    assert not res.anchors[1].confident[:14].any()  # padding rows never anchor


def test_no_previous_time_skips_motion_outputs(seq_wide):
    res, oracle = _run(seq_wide, "pad", decode_previous_time=False)
    assert ("decode", (4,), (4,)) in oracle.calls
    assert res.scene_flow is None and res.motion_mask is None and res.optical_flow is None and res.dynamic is None
    np.testing.assert_allclose(res.depth, seq_wide.depth[4], rtol=1e-5)


def test_non_integer_resampling_stays_close_to_ground_truth(seq_scaled):
    res, _ = _run(seq_scaled, "crop", output_resolution="camera")
    assert res.net_hw == (84, 112) and res.valid.all()
    rel = np.abs(res.depth - seq_scaled.depth[4]) / seq_scaled.depth[4]
    assert np.median(rel) < 0.01 and np.percentile(rel, 90) < 0.05
    np.testing.assert_allclose(res.intrinsics[:, [0, 1], [0, 1]], seq_scaled.intrinsics[:, [0, 1], [0, 1]], rtol=1e-6)
    # The network image's centre maps to the raw image's centre, whatever the resampling factor (0.7 here).
    np.testing.assert_allclose(res.intrinsics[:, :2, 2], seq_scaled.intrinsics[:, :2, 2], atol=1e-5)
    assert _iou(res.dynamic, _gt_dynamic(seq_scaled, res.valid)) > 0.8


def test_bilinear_resampling_is_close_too(seq_scaled):
    res, _ = _run(seq_scaled, "crop", resample="bilinear", output_resolution="camera")
    rel = np.abs(res.depth - seq_scaled.depth[4]) / seq_scaled.depth[4]
    assert np.median(rel) < 0.01


@pytest.mark.parametrize("spec", ["network", "80"])
def test_outputs_on_a_smaller_grid_are_the_ground_truth_read_there(seq_scaled, spec):
    from vdpm_ros.preprocessing import sample_nearest

    res, _ = _run(seq_scaled, "crop", output_resolution=spec)
    H, W = seq_scaled.images.shape[1:3]
    h, w = res.output_hw
    assert w == (112 if spec == "network" else 80) and (h, w) != (H, W)
    gt = sample_nearest(seq_scaled.depth[4], res.output_grid)
    rel = np.abs(res.depth - gt) / gt
    assert np.median(rel) < 0.01 and np.percentile(rel, 90) < 0.05
    # camera_info describes the grid: the true camera with its pixels scaled onto it, pixel centres kept.
    k = seq_scaled.intrinsics[4].astype(np.float64)
    sx, sy = w / W, h / H
    expected = np.array([[k[0, 0] * sx, 0, (k[0, 2] + 0.5) * sx - 0.5], [0, k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5], [0, 0, 1]])
    np.testing.assert_allclose(res.output_intrinsics, expected, rtol=1e-5, atol=1e-4)
    assert _iou(res.dynamic, _gt_dynamic_on(seq_scaled, res)) > 0.8


def test_depth_scale_recovers_metres_from_a_depth_image(seq_wide):
    oracle = OracleModel(seq_wide, ORACLE_IMG, "pad", window_scales={0: 0.4})  # model units = 0.4 m
    proc = WindowProcessor(oracle, PipelineConfig(preprocess_mode="pad", scale_mode="depth"))
    res = proc.process(frames_of(seq_wide, depth=True))
    assert res.units == "m" and res.scale_source == "depth"
    assert res.scale == pytest.approx(2.5, rel=1e-5)
    np.testing.assert_allclose(res.depth, seq_wide.depth[4], rtol=1e-5)
    np.testing.assert_allclose(res.extrinsics, seq_wide.extrinsics, atol=1e-5)
    gt_flow = (seq_wide.pointmaps[4, 4] - seq_wide.pointmaps[3, 4]) / 0.1
    np.testing.assert_allclose(res.scene_flow, gt_flow, atol=1e-3)
    # The motion mask does not depend on units.
    assert _iou(res.dynamic, _gt_dynamic(seq_wide, res.valid)) > 0.999

    # A frame without depth reuses the last factor; a processor that never saw depth refuses.
    res2 = proc.process(frames_of(seq_wide))
    assert res2.scale_source == "depth-previous" and res2.scale == pytest.approx(2.5, rel=1e-5)
    with pytest.raises(MetricScaleError, match="no depth image"):
        WindowProcessor(oracle, PipelineConfig(preprocess_mode="pad", scale_mode="depth")).process(frames_of(seq_wide))


def test_fixed_scale_multiplies_every_length(seq_wide):
    res, _ = _run(seq_wide, "pad", scale_mode="fixed", fixed_scale=2.0)
    assert res.scale == 2.0 and res.scale_source == "fixed"
    np.testing.assert_allclose(res.depth, 2.0 * seq_wide.depth[4], rtol=1e-5)
    np.testing.assert_allclose(res.extrinsics[:, :, 3], 2.0 * seq_wide.extrinsics[:, :, 3], atol=1e-5)
    np.testing.assert_allclose(res.points, 2.0 * seq_wide.pointmaps[4, 4], rtol=1e-5, atol=1e-5)


def test_cloud_is_the_confident_points(seq_wide):
    res, _ = _run(seq_wide, "pad")
    cloud = res.cloud("window")
    n = int(res.cloud_mask.sum())
    assert cloud.xyz.shape == (n, 3) and cloud.rgb.shape == (n, 3) and cloud.confidence.shape == (n,)
    assert cloud.rgb.dtype == np.uint8 and cloud.xyz.dtype == np.float32
    u, v = cloud.pixels[:, 0], cloud.pixels[:, 1]
    np.testing.assert_array_equal(cloud.rgb, seq_wide.images[4][v, u])
    np.testing.assert_allclose(cloud.xyz, seq_wide.pointmaps[4, 4][v, u], atol=1e-5)
    assert (cloud.confidence >= res.confidence_threshold).all()
    cam = res.cloud("camera")
    np.testing.assert_allclose(cam.xyz[:, 2], seq_wide.depth[4][v, u], rtol=1e-5)
    packed = cloud.rgb_packed
    assert packed.dtype == np.uint32 and int(packed[0]) == (int(cloud.rgb[0, 0]) << 16) | (int(cloud.rgb[0, 1]) << 8) | int(cloud.rgb[0, 2])


@pytest.mark.parametrize("sigma", [0.01, 100.0])
def test_motion_mask_does_not_depend_on_model_units(seq_wide, sigma):
    """The threshold is relative to the scene scale: any model normalisation gives the same mask."""
    oracle = OracleModel(seq_wide, ORACLE_IMG, "pad", window_scales={0: sigma})
    res = WindowProcessor(oracle, PipelineConfig(preprocess_mode="pad")).process(frames_of(seq_wide))
    assert _iou(res.dynamic, _gt_dynamic(seq_wide, res.valid)) > 0.999
    assert res.scene_scale == pytest.approx(sigma * np.linalg.norm(seq_wide.pointmaps[4, 4], axis=-1).mean(), rel=1e-5)


@pytest.mark.parametrize("span", ["step", "window"])
def test_motion_span_step_decodes_two_times_and_flags_only_motion_of_the_last_interval(seq_wide, span):
    # At 0.05 x the scene scale the objects of this scene move too little in one frame interval to be
    # flagged, but enough over the window: the rule that ignores the frame rate sees them.
    res, oracle = _run(seq_wide, "pad", motion_span=span, motion_threshold=0.05)
    v = res.valid
    now = seq_wide.pointmaps[4, 4]
    scale = np.linalg.norm(now[v], axis=-1).mean()
    last_step = np.linalg.norm(now - seq_wide.pointmaps[3, 4], axis=-1)
    whole = np.maximum(last_step, np.linalg.norm(now - seq_wide.pointmaps[0, 4], axis=-1))
    expected = ((last_step if span == "step" else whole) > 0.05 * scale) & v
    assert ("decode", (3, 4) if span == "step" else (0, 3, 4), (4,)) in oracle.calls
    np.testing.assert_array_equal(res.dynamic, expected)
    assert res.dynamic.any() == (span == "window")
