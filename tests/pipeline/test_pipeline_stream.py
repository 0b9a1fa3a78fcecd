"""StreamingPipeline end to end with the oracle model: buffering, background inference, drops, stitching."""

from __future__ import annotations

import threading

import numpy as np
from pipeline_oracle import ORACLE_IMG, OracleModel, frames_of

from vdpm_ros.pipeline import MetricScaleError, PipelineConfig, StreamingPipeline

WAIT = 300.0  # an upper bound only (a hung worker): a loaded CI machine can take minutes


class GatedOracle(OracleModel):
    """The oracle, with the first ``encode`` held until the test releases it (a GPU that cannot keep up)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.started = threading.Event()
        self.release = threading.Event()

    def encode(self, images):
        self.started.set()
        assert self.release.wait(WAIT)
        return super().encode(images)


def test_stream_publishes_every_window_with_a_continuous_trajectory(seq_long):
    oracle = OracleModel(seq_long, ORACLE_IMG, "pad", window_scales={1: 0.5, 2: 2.0, 3: 1.5, 4: 0.7})
    outputs = []
    config = PipelineConfig(preprocess_mode="pad", window_size=4, queue_size=8)
    with StreamingPipeline(oracle, config, on_output=outputs.append) as pipe:
        pushes = [pipe.push(f) for f in frames_of(seq_long)]
        assert pipe.wait_idle(WAIT)
        stamps, poses = pipe.trajectory()
        stats = pipe.stats()
    assert [p.submitted for p in pushes] == [False] * 3 + [True] * 5 and not any(p.dropped_older for p in pushes)
    assert [o.stitch.method for o in outputs] == ["first"] + ["points"] * 4
    assert [o.result.latest_stamp_ns for o in outputs] == [f.stamp_ns for f in frames_of(seq_long)][3:]
    np.testing.assert_allclose(poses[:, :3, 3], seq_long.camera_to_world()[:, :3, 3], atol=1e-4)
    assert len(stamps) == 8
    assert (stats.buffer.windows, stats.worker.processed, stats.worker.dropped, stats.worker.failed) == (5, 5, 0, 0)
    assert not pipe.worker.alive


def test_slow_inference_drops_the_oldest_windows_and_still_stitches(seq_long):
    oracle = GatedOracle(seq_long, ORACLE_IMG, "pad")
    outputs = []
    pipe = StreamingPipeline(oracle, PipelineConfig(preprocess_mode="pad", window_size=4, queue_size=2), on_output=outputs.append)
    try:
        frames = frames_of(seq_long)
        for f in frames[:4]:
            pipe.push(f)
        assert oracle.started.wait(WAIT)  # window 0..3 is "on the GPU"
        pushes = [pipe.push(f) for f in frames[4:]]  # windows 1..4, 2..5 queue; 3..6 and 4..7 push them out
        assert [p.dropped_older for p in pushes] == [False, False, True, True]
        oracle.release.set()
        assert pipe.wait_idle(WAIT)
        stats = pipe.stats()
        stamps, poses = pipe.trajectory()
    finally:
        assert pipe.close(WAIT)
    assert (stats.worker.submitted, stats.worker.processed, stats.worker.dropped) == (5, 3, 2)
    assert [o.result.stamps_ns[0] for o in outputs] == [frames[i].stamp_ns for i in (0, 3, 4)]
    # Window 3..6 shares only frame 3 with window 0..3, enough for a point fit.
    assert [o.stitch.method for o in outputs] == ["first", "points", "points"]
    assert len(stamps) == 8  # frames of the dropped windows are recorded from the later ones
    np.testing.assert_allclose(poses[:, :3, 3], seq_long.camera_to_world()[:, :3, 3], atol=1e-4)


def test_a_failing_window_is_reported_and_the_stream_goes_on(seq_long):
    oracle = OracleModel(seq_long, ORACLE_IMG, "pad")
    outputs, errors = [], []
    config = PipelineConfig(preprocess_mode="pad", window_size=4, queue_size=8, scale_mode="depth", stitch=False)
    frames = frames_of(seq_long, depth=True)
    frames[3] = frames_of(seq_long, [3])[0]  # the first window's latest frame has no depth: no scale yet
    with StreamingPipeline(oracle, config, outputs.append, lambda window, exc: errors.append(exc)) as pipe:
        for f in frames[:5]:
            pipe.push(f)
        assert pipe.wait_idle(WAIT)
        assert pipe.trajectory()[0].shape == (0,)
    assert len(errors) == 1 and isinstance(errors[0], MetricScaleError)
    assert len(outputs) == 1 and outputs[0].stitch is None and outputs[0].result.scale_source == "depth"
    assert pipe.stats().worker.failed == 1


def test_offline_pipeline_matches_the_streaming_one(seq_long):
    from vdpm_ros.pipeline import OfflinePipeline

    config = PipelineConfig(preprocess_mode="pad", window_size=4, queue_size=8)
    scales = {1: 0.5, 2: 2.0, 3: 1.5, 4: 0.7}
    streamed = []
    with StreamingPipeline(OracleModel(seq_long, ORACLE_IMG, "pad", window_scales=scales), config, streamed.append) as pipe:
        for f in frames_of(seq_long):
            pipe.push(f)
        assert pipe.wait_idle(WAIT)
        stream_poses = pipe.trajectory()[1]
    offline = OfflinePipeline(OracleModel(seq_long, ORACLE_IMG, "pad", window_scales=scales), config)
    outputs = [o for o in (offline.push(f) for f in frames_of(seq_long)) if o is not None]
    assert [o.result.latest_stamp_ns for o in outputs] == [o.result.latest_stamp_ns for o in streamed]
    assert [o.stitch.method for o in outputs] == [o.stitch.method for o in streamed]
    np.testing.assert_array_equal(offline.trajectory()[1], stream_poses)
    for a, b in zip(outputs, streamed):
        np.testing.assert_array_equal(a.result.points, b.result.points)


def test_published_twist_is_the_latest_cameras_velocity_in_its_own_frame(seq_long):
    """With exact cameras the odometry twist equals the ground-truth camera motion over the last frame interval."""
    from vdpm_ros.geometry.poses import world_from_camera
    from vdpm_ros.pipeline import OfflinePipeline
    from vdpm_ros.pipeline.published import published_arrays

    offline = OfflinePipeline(OracleModel(seq_long, ORACLE_IMG, "pad"), PipelineConfig(preprocess_mode="pad", window_size=4))
    outputs = [o for o in (offline.push(f) for f in frames_of(seq_long)) if o is not None]
    gt = world_from_camera(seq_long.extrinsics)  # the odometry frame is the first camera's, as in the sequence
    dt = seq_long.timestamps[1] - seq_long.timestamps[0]
    from scipy.linalg import logm

    for k, out in enumerate(outputs):
        i = k + 3  # index of the window's latest frame
        linear, angular = published_arrays(out).twist
        xi = np.real(logm(np.linalg.inv(gt[i - 1]) @ gt[i])) / dt  # the ground truth's own body twist
        np.testing.assert_allclose(linear, xi[:3, 3], atol=1e-4)
        np.testing.assert_allclose(angular, [xi[2, 1], xi[0, 2], xi[1, 0]], atol=1e-4)
        assert np.linalg.norm(xi[:3, 3]) > 0.1  # the camera moves: the check is not 0 == 0
    off = OfflinePipeline(OracleModel(seq_long, ORACLE_IMG, "pad"), PipelineConfig(preprocess_mode="pad", window_size=4, stitch=False))
    out = next(o for o in (off.push(f) for f in frames_of(seq_long)) if o is not None)
    assert published_arrays(out).twist is None


def test_the_flow_links_of_queued_windows_are_computed_while_the_model_is_busy_and_change_nothing(seq_long, monkeypatch):
    from vdpm_ros.motion import window_flow
    from vdpm_ros.pipeline import OfflinePipeline

    real, threads = window_flow.dis_flow, []

    def recording(*args):
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(window_flow, "dis_flow", recording)
    config = PipelineConfig(preprocess_mode="pad", window_size=4, queue_size=8, motion_source="flow")
    oracle = GatedOracle(seq_long, ORACLE_IMG, "pad")
    frames, streamed = frames_of(seq_long), []
    pipe = StreamingPipeline(oracle, config, on_output=streamed.append)
    try:
        assert pipe.link_worker is not None
        for f in frames[:4]:
            pipe.push(f)
        assert oracle.started.wait(WAIT)  # window 0..3 is "on the GPU"
        # The prefetch queue holds one window: had window 1..4 come before the thread took window 0..3, it would
        # replace it (counted as dropped) and the worker would compute link 0-1 itself (CI saw that once, loaded).
        assert pipe.link_worker.wait_idle(WAIT)
        for f in frames[4:]:
            pipe.push(f)  # windows 1..4 to 4..7 queue
            assert pipe.link_worker.wait_idle(WAIT)  # a slow camera: each window's links are ready before the next frame
        on_the_side = threads.count("vdpm-flow-links")
        oracle.release.set()
        assert pipe.wait_idle(WAIT)
        links = pipe.stats().links
    finally:
        assert pipe.close(WAIT)
    # Window 0..3's 3 links and the 4 new ones of the queued windows, both directions: all on the side thread.
    assert on_the_side == 14 and threads.count("vdpm-flow-links") == 14 and len(threads) == 14, threads
    assert (links.submitted, links.processed, links.failed, links.dropped_queue_full) == (5, 5, 0, 0)
    # The same windows as without a second thread, to the bit.
    offline = OfflinePipeline(OracleModel(seq_long, ORACLE_IMG, "pad"), config)
    outputs = [o for o in (offline.push(f) for f in frames) if o is not None]
    assert [o.result.motion_source for o in streamed] == ["flow"] * 5
    assert [o.result.latest_stamp_ns for o in outputs] == [o.result.latest_stamp_ns for o in streamed]
    for a, b in zip(outputs, streamed):
        np.testing.assert_array_equal(a.result.points, b.result.points)
        np.testing.assert_array_equal(a.result.scene_flow, b.result.scene_flow)
        np.testing.assert_array_equal(a.result.motion_mask, b.result.motion_mask)


def test_no_flow_prefetch_thread_with_the_models_decoder(seq_long):
    with StreamingPipeline(OracleModel(seq_long, ORACLE_IMG, "pad"), PipelineConfig(preprocess_mode="pad", motion_source="model")) as pipe:
        assert pipe.link_worker is None and pipe.stats().links is None
