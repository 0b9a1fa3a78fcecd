"""Stitching: known Sim(3) recovery, fallbacks, and a continuous trajectory over a synthetic sequence."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_oracle import ORACLE_IMG, OracleModel, frames_of

from vdpm_ros.geometry.alignment import Sim3
from vdpm_ros.pipeline import AnchorMap, PipelineConfig, Trajectory, WindowProcessor, WindowResult, WindowStitcher, fit_anchor_pair
from vdpm_ros.pipeline.results import StageTimings
from vdpm_ros.pipeline.stitching import compose, transform_poses
from vdpm_ros.preprocessing import scaled_grid


def _rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _sim(rng, scale=1.7) -> Sim3:
    return Sim3(scale=scale, rotation=_rotation(rng), translation=rng.normal(size=3))


def _inverse(sim: Sim3) -> Sim3:
    rot = sim.rotation.T
    return Sim3(1.0 / sim.scale, rot, -(rot @ sim.translation) / sim.scale)


def _result(stamps, extrinsics, anchors) -> WindowResult:
    """A WindowResult with only what the stitcher reads filled in."""
    z = np.zeros((2, 2))
    return WindowResult(
        stamps_ns=tuple(stamps),
        raw_hw=(2, 2),
        net_hw=(2, 2),
        output_grid=scaled_grid((2, 2), (2, 2)),
        output_intrinsics=np.eye(3),
        units="model",
        scale=1.0,
        scale_source="none",
        rgb=np.zeros((2, 2, 3), np.uint8),
        valid=z > 0,
        points=np.zeros((2, 2, 3)),
        points_camera=np.zeros((2, 2, 3)),
        confidence=z,
        confidence_threshold=0.0,
        cloud_mask=z > 0,
        depth=z,
        scene_scale=1.0,
        flow_dt_s=None,
        scene_flow=None,
        scene_flow_camera=None,
        flow_confidence=None,
        dynamic=None,
        motion_mask=None,
        optical_flow=None,
        extrinsics=np.asarray(extrinsics, float),
        intrinsics=np.tile(np.eye(3), (len(stamps), 1, 1)),
        anchors=tuple(anchors),
        timings=StageTimings(0, 0, 0, 0, 0, 0),
    )


def test_fit_recovers_a_known_sim3_despite_moving_outliers(rng):
    odom_pts = rng.normal(size=(30, 40, 3)) + [0, 0, 4]
    truth = _sim(rng)  # new window frame -> odometry frame
    new_pts = _inverse(truth).apply(odom_pts)
    moving = np.zeros((30, 40), bool)
    moving[5:15, 10:20] = True
    new_pts[moving] += 3.0  # a moving object: must be ignored because the previous window flagged it
    anchor = AnchorMap(7, new_pts.astype(np.float32), np.ones((30, 40), bool), np.ones((30, 40), bool))
    fit = fit_anchor_pair(anchor, odom_pts, ~moving, min_points=50)
    assert fit.num_points == (~moving).sum()
    assert fit.sim3.scale == pytest.approx(truth.scale, rel=1e-5)
    np.testing.assert_allclose(fit.sim3.rotation, truth.rotation, atol=1e-5)
    np.testing.assert_allclose(fit.sim3.translation, truth.translation, atol=1e-4)
    assert fit.rmse < 1e-4
    # The new window's own motion flags count as well.
    flagged_in_new = AnchorMap(7, anchor.points, anchor.confident, ~moving)
    assert fit_anchor_pair(flagged_in_new, odom_pts, np.ones((30, 40), bool), min_points=50, trim=np.inf).rmse < 1e-4
    # Without the static mask the outliers would bias the fit; too few points give no fit at all.
    assert fit_anchor_pair(anchor, odom_pts, np.ones((30, 40), bool), trim=np.inf).rmse > 0.1
    assert fit_anchor_pair(anchor, odom_pts, ~moving, min_points=5000).sim3 is None


def test_se3_fit_keeps_scale_one(rng):
    odom_pts = rng.normal(size=(10, 10, 3))
    truth = _sim(rng, scale=1.0)
    anchor = AnchorMap(1, _inverse(truth).apply(odom_pts), np.ones((10, 10), bool), np.ones((10, 10), bool))
    fit = fit_anchor_pair(anchor, odom_pts, np.ones((10, 10), bool), with_scale=False, min_points=10)
    assert fit.sim3.scale == 1.0
    np.testing.assert_allclose(fit.sim3.rotation, truth.rotation, atol=1e-6)


def test_stitcher_chains_known_transforms_between_windows(rng):
    """Window 2 is window 1 seen through a known Sim(3); the stitcher must undo it."""
    pts = rng.normal(size=(12, 16, 3)) + [0, 0, 5]
    ones = np.ones((12, 16), bool)
    eye = np.tile(np.hstack([np.eye(3), np.zeros((3, 1))]), (3, 1, 1))
    st = WindowStitcher(min_points=20)
    first = st.add(_result([0, 1, 2], eye, [AnchorMap(2, pts, ones, ones)]))
    assert first.method == "first"
    truth = _sim(rng)  # window-2 frame -> window-1 (= odometry) frame
    assert st.anchor_request([1, 2, 3]) == 2 and st.anchor_request([3, 4, 5]) is None
    # Window 2's cameras: camera k of window 2 is camera k of window 1 moved by `truth`.
    ext2 = eye.copy()
    second = st.add(_result([1, 2, 3], ext2, [AnchorMap(3, pts, ones, ones), AnchorMap(2, _inverse(truth).apply(pts), ones, ones)]))
    assert second.method == "points" and second.shared_stamp_ns == 2
    assert second.odom_from_window.scale == pytest.approx(truth.scale, rel=1e-6)
    np.testing.assert_allclose(second.odom_from_window.rotation, truth.rotation, atol=1e-6)
    np.testing.assert_allclose(second.latest_pose[:3, 3], truth.translation, atol=1e-6)
    np.testing.assert_allclose(second.vectors_to_odom(np.array([1.0, 0, 0])), truth.scale * truth.rotation[:, 0], atol=1e-6)
    assert list(st.trajectory.stamps_ns) == [0, 1, 2, 3]


def test_fallbacks_pose_then_chained_keep_the_previous_scale(rng):
    eye = np.tile(np.hstack([np.eye(3), np.zeros((3, 1))]), (3, 1, 1))
    moved = eye.copy()
    moved[:, 0, 3] = [0.0, -1.0, -2.0]  # camera k sits at x = k (camera-from-world t = -C)
    pts = rng.normal(size=(8, 8, 3)) + [0, 0, 5]
    ones = np.ones((8, 8), bool)
    st = WindowStitcher(min_points=20)
    st.add(_result([0, 1, 2], moved, [AnchorMap(2, pts, ones, ones)]))
    # A window in half the units, shifted so that its frame 0 is stamp 1's camera: fitted scale 2.
    half = moved.copy()
    half[:, :, 3] *= 0.5
    second = st.add(_result([1, 2, 3], half, [AnchorMap(2, (pts - [1.0, 0, 0]) * 0.5, ones, ones)]))
    assert second.method == "points" and second.odom_from_window.scale == pytest.approx(2.0)
    np.testing.assert_allclose(second.odom_from_camera[:, 0, 3], [1.0, 2.0, 3.0], atol=1e-9)
    # Shared stamps but no anchor: the shared camera keeps its pose, the window keeps the last scale.
    third = st.add(_result([2, 3, 4], half, []))
    assert third.method == "pose" and third.shared_stamp_ns == 3 and third.odom_from_window.scale == pytest.approx(2.0)
    np.testing.assert_allclose(third.odom_from_camera[:, 0, 3], [2.0, 3.0, 4.0], atol=1e-9)
    # No shared stamp at all: the window's first camera is put where the last known camera was.
    fourth = st.add(_result([10, 11, 12], half, []))
    assert fourth.method == "chained" and fourth.shared_stamp_ns is None
    np.testing.assert_allclose(fourth.odom_from_camera[:, 0, 3], [4.0, 5.0, 6.0], atol=1e-9)
    assert list(st.trajectory.stamps_ns) == [0, 1, 2, 3, 4, 10, 11, 12]
    # Time going backwards restarts the odometry frame.
    again = st.add(_result([0, 1, 2], eye, []))
    assert again.method == "first" and list(st.trajectory.stamps_ns) == [0, 1, 2]


def test_compose_and_transform_poses_agree(rng):
    a, b = _sim(rng), _sim(rng, 0.5)
    x = rng.normal(size=(5, 3))
    np.testing.assert_allclose(compose(a, b).apply(x), a.apply(b.apply(x)), atol=1e-9)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = _rotation(rng), rng.normal(size=3)
    out = transform_poses(a, pose)
    np.testing.assert_allclose(out[:3, :3] @ out[:3, :3].T, np.eye(3), atol=1e-9)  # no scale in the rotation
    np.testing.assert_allclose(out[:3, 3], a.apply(pose[:3, 3]), atol=1e-9)


def test_trajectory_is_ordered_and_bounded():
    traj = Trajectory(max_length=3)
    for s in range(5):
        traj.add(s, np.eye(4))
    assert list(traj.stamps_ns) == [2, 3, 4] and traj.poses.shape == (3, 4, 4) and 1 not in traj
    with pytest.raises(ValueError, match="increase"):
        traj.add(4, np.eye(4))
    with pytest.raises(ValueError, match="4, 4"):
        traj.add(9, np.eye(3))


def _stitch_sequence(seq, window, stride, scales, **cfg):
    oracle = OracleModel(seq, ORACLE_IMG, "pad", window_scales=scales)
    config = PipelineConfig(preprocess_mode="pad", window_size=window, stride=stride, **cfg)
    proc, st = WindowProcessor(oracle, config), WindowStitcher.from_config(config)
    frames = frames_of(seq)
    outs = []
    for a in range(0, seq.num_frames - window + 1, stride):
        win = frames[a : a + window]
        anchor = st.anchor_request([f.stamp_ns for f in win])
        res = proc.process(win, [] if anchor is None else [anchor])
        outs.append(st.add(res))
    return st, outs


def test_overlapping_windows_give_one_continuous_trajectory(seq_long):
    """Each window has its own model scale; the stitched poses must still equal the ground truth (first window's units)."""
    scales = {0: 1.0, 1: 0.6, 2: 1.9, 3: 0.8, 4: 1.3}
    st, outs = _stitch_sequence(seq_long, 4, 1, scales)
    assert [o.method for o in outs] == ["first"] + ["points"] * 4
    assert all(o.rmse < 1e-4 for o in outs[1:])
    gt = seq_long.camera_to_world()
    poses = st.trajectory.poses
    assert len(poses) == seq_long.num_frames
    np.testing.assert_allclose(poses[:, :3, :3], gt[:, :3, :3], atol=1e-4)
    np.testing.assert_allclose(poses[:, :3, 3], gt[:, :3, 3], atol=1e-4)
    for a, o in enumerate(outs):  # every window's cameras, not only the recorded ones
        np.testing.assert_allclose(o.odom_from_camera[:, :3, 3], gt[a : a + 4, :3, 3], atol=1e-4)
        assert o.odom_from_window.scale == pytest.approx(1.0 / scales[a], rel=1e-4)


def test_stride_two_still_overlaps(seq_long):
    st, outs = _stitch_sequence(seq_long, 4, 2, {0: 1.0, 2: 2.0, 4: 0.5})
    assert [o.method for o in outs] == ["first", "points", "points"]
    np.testing.assert_allclose(st.trajectory.positions, seq_long.camera_to_world()[:, :3, 3], atol=1e-4)


def test_no_overlap_chains_on_the_last_pose(seq_long):
    st, outs = _stitch_sequence(seq_long, 4, 4, None)
    assert [o.method for o in outs] == ["first", "chained"]
    gt = seq_long.camera_to_world()
    pos = st.trajectory.positions
    assert len(pos) == 8
    np.testing.assert_allclose(pos[:4], gt[:4, :3, 3], atol=1e-4)
    np.testing.assert_allclose(pos[4], pos[3], atol=1e-9)  # documented: no motion assumed across the gap
    # Relative motion inside the chained window is still right.
    np.testing.assert_allclose(pos[7] - pos[4], gt[7, :3, 3] - gt[4, :3, 3], atol=0.2)


def test_metric_windows_are_stitched_rigidly(seq_long):
    oracle = OracleModel(seq_long, ORACLE_IMG, "pad", window_scales={0: 0.5, 1: 3.0})
    config = PipelineConfig(preprocess_mode="pad", window_size=4, scale_mode="depth")
    assert not config.stitch_fits_scale
    proc, st = WindowProcessor(oracle, config), WindowStitcher.from_config(config)
    frames = frames_of(seq_long, depth=True)
    st.add(proc.process(frames[0:4]))
    out = st.add(proc.process(frames[1:5], [frames[3].stamp_ns]))
    assert out.method == "points" and out.odom_from_window.scale == 1.0
    np.testing.assert_allclose(st.trajectory.positions, seq_long.camera_to_world()[:5, :3, 3], atol=1e-4)
