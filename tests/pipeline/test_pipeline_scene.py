"""The pipeline's scene stage (oracle model): tracked moving objects and the static map, per window after stitching."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_oracle import ORACLE_IMG, OracleModel, frames_of
from scipy.spatial import cKDTree

from vdpm_ros.evaluation.node_protocol import score_sequence
from vdpm_ros.evaluation.objects import evaluate_object_detections, ground_truth_objects, true_motion_mask
from vdpm_ros.evaluation.pipeline_objects import object_summary
from vdpm_ros.pipeline import ObjectsConfig, OfflinePipeline, PipelineConfig, StreamingPipeline
from vdpm_ros.synth import SceneConfig, generate_sequence

#: Every window in its own model scale, as V-DPM normalises each window differently.
SCALES = {0: 1.0, 1: 2.0, 2: 0.5, 3: 1.5}
CONFIG = PipelineConfig(preprocess_mode="pad", window_size=5)


def _run(seq, config=CONFIG, objects=None, scales=SCALES):
    pipe = OfflinePipeline(OracleModel(seq, ORACLE_IMG, "pad", window_scales=scales), config, objects)
    return [(i, out) for i, f in enumerate(frames_of(seq)) if (out := pipe.push(f)) is not None]


def test_every_window_carries_its_tracked_objects_measured_over_the_whole_window(seq_long):
    outputs = _run(seq_long)
    assert len(outputs) == 4
    tracks = []
    for i, out in outputs:
        scene = out.scene
        det = scene.detections
        assert det.source_stamp_ns == out.result.stamps_ns[0] and det.stamp_ns == out.result.latest_stamp_ns
        m = evaluate_object_detections(det, ground_truth_objects(seq_long, source=i - 4, target=i))
        # The odometry frame is the first window's (scale 1: the sequence's world frame, metres).
        assert m.recall == 1.0 and m.precision == 1.0 and m.velocity_rel_error < 0.01 and m.rotation_error_deg < 0.01, (i, m)
        assert len(scene.objects) == len(det.objects)
        assert all(t.detection is d for t, d in zip(scene.objects, det.objects))
        tracks.append({t.track_id: t.observations for t in scene.objects})
        assert not scene.restarted
    assert [t.get(1) for t in tracks] == [1, 2, 3, 4]  # track 1 is followed through every window


def test_the_static_map_holds_the_static_scene_in_the_odometry_frame(seq_long):
    outputs = _run(seq_long)
    scenes = [out.scene for _, out in outputs]
    # 0.1 s between windows, a period of 1 s of message time: the first window publishes, then none.
    assert scenes[0].static_map is not None and all(s.static_map is None for s in scenes[1:])
    assert [s.static_map_voxels for s in scenes] == sorted(s.static_map_voxels for s in scenes) and scenes[-1].static_map_voxels > 0
    cloud = scenes[0].static_map
    assert len(cloud.xyz) == scenes[0].static_map_voxels and cloud.xyz.dtype == np.float32 and cloud.rgb.dtype == np.uint8
    # Every voxel point lies on the exact static part of the first window's last frame.
    i = outputs[0][0]
    still = seq_long.valid[i] & ~true_motion_mask(seq_long, 0, i)
    dist, _ = cKDTree(seq_long.pointmaps[i, i][still]).query(cloud.xyz)
    assert np.max(dist) < 0.05 * np.sqrt(3)  # within a voxel (5 cm)


def test_a_new_odometry_frame_restarts_tracks_and_map(seq_long):
    config = PipelineConfig(preprocess_mode="pad", window_size=5, time_jump_reset=0.1)
    pipe = OfflinePipeline(OracleModel(seq_long, ORACLE_IMG, "pad"), config)
    frames = frames_of(seq_long)
    first = [out for f in frames if (out := pipe.push(f)) is not None]
    # The bag starts over: time goes back, the buffer resets, the stitcher starts a new odometry frame.
    again = [out for f in frames if (out := pipe.push(f)) is not None]
    assert again[0].stitch.method == "first" and again[0].scene.restarted
    assert again[0].scene.static_map_voxels == first[0].scene.static_map_voxels  # only this window's points
    assert again[0].scene.static_map is not None  # published at once in the new frame
    old = {t.track_id for out in first for t in out.scene.objects}
    new = {t.track_id for t in again[0].scene.objects}
    assert new and min(new) > max(old)  # fresh tracks; ids are never reused
    assert all(t.observations == 1 for t in again[0].scene.objects)


def test_without_stitching_objects_are_in_the_camera_frame_and_there_is_no_map(seq_long):
    outputs = _run(seq_long, PipelineConfig(preprocess_mode="pad", window_size=5, stitch=False))
    for _, out in outputs:
        assert out.scene.static_map is None and out.scene.static_map_voxels == 0
        r, det = out.result, out.scene.detections
        obj = det.objects[0]
        mask = det.segmentation.labels == obj.label
        np.testing.assert_allclose(obj.centroid, np.nanmean(r.points_camera[mask & r.valid], axis=0), atol=1e-4)


def test_the_stage_can_be_switched_off(seq_long):
    _, out = _run(seq_long, objects=ObjectsConfig(moving_objects=False, static_map=False))[0]
    assert out.scene.detections is None and out.scene.objects == () and out.scene.static_map is None


def test_settings_reach_the_stage(seq_long):
    objects = ObjectsConfig(object_min_pixels=10**6, static_map_voxel_size=0.5, static_map_period=0.0)
    outputs = _run(seq_long, objects=objects)
    assert all(out.scene.objects == () for _, out in outputs)  # no object is a million pixels
    assert all(out.scene.static_map is not None for _, out in outputs)  # period 0: every window
    coarse = outputs[0][1].scene.static_map_voxels
    assert coarse < _run(seq_long)[0][1].scene.static_map_voxels / 10  # 0.5 m voxels: far fewer than 5 cm ones
    with pytest.raises(ValueError, match="ObjectsConfig.static_map_voxel_size"):
        ObjectsConfig(static_map_voxel_size=0.0)


def test_the_streaming_pipeline_gives_the_same_scene_outputs(seq_long):
    config = PipelineConfig(preprocess_mode="pad", window_size=5, queue_size=10)
    offline = [out for _, out in _run(seq_long, config)]
    streamed = []
    with StreamingPipeline(OracleModel(seq_long, ORACLE_IMG, "pad", window_scales=SCALES), config, streamed.append) as pipe:
        for f in frames_of(seq_long):
            pipe.push(f)
        assert pipe.wait_idle(300)  # generous: 4 windows and the scene stage on a loaded 2-core machine
    assert len(streamed) == len(offline)
    for a, b in zip(streamed, offline):
        assert [t.track_id for t in a.scene.objects] == [t.track_id for t in b.scene.objects]
        for ta, tb in zip(a.scene.objects, b.scene.objects):
            np.testing.assert_allclose(ta.velocity, tb.velocity, atol=1e-6)
        assert a.scene.static_map_voxels == b.scene.static_map_voxels


@pytest.mark.parametrize("seed", [1000, 1003, 1006])
def test_the_object_metrics_of_an_oracle_are_near_perfect(seed):
    """The evaluation of ``vdpm eval --synthetic``: the node's default pipeline, windows in their own model
    scale (the alignment to ground truth must undo it)."""
    seq = generate_sequence(seed, SceneConfig(height=84, width=ORACLE_IMG, frames=8))
    metrics = score_sequence(OracleModel(seq, ORACLE_IMG, "crop", window_scales={0: 2.0, 2: 0.5}), seq, PipelineConfig()).objects
    s = object_summary(metrics)
    assert s["objects"]["windows"] == 4 and s["objects"]["ground_truth"] >= 4
    assert s["object_recall"] == 1.0 and s["object_precision"] == 1.0, s
    # Pixels of a spinning object near its axis stay below the motion threshold; the object's rigid motion
    # brings them back (without that growing, seed 1003 measured 0.040: a slow spinning box, 77 % of it moving).
    assert s["object_velocity_rel_error"] < 0.01 and s["object_rotation_error_deg"] < 0.01, s


def test_a_model_that_sees_no_motion_finds_no_object():
    class StillOracle(OracleModel):
        def _points(self, state, time_idx, frame_idx):
            return super()._points(state, frame_idx, frame_idx)

    seq = generate_sequence(1000, SceneConfig(height=84, width=ORACLE_IMG, frames=6))
    s = object_summary(score_sequence(StillOracle(seq, ORACLE_IMG, "crop"), seq, PipelineConfig()).objects)
    assert s["objects"]["ground_truth"] > 0 and s["objects"]["predicted"] == 0
    assert s["object_recall"] == 0.0 and np.isnan(s["object_velocity_rel_error"])
