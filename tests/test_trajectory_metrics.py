"""ATE and RPE agree with the evo package on the same trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.evaluation.trajectory import align_sim3, ate_rmse, rpe_rmse

evo = pytest.importorskip("evo", reason="evo is a test dependency: pip install -e '.[test]'")


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _trajectory(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    poses = np.tile(np.eye(4), (n, 1, 1))
    for i in range(1, n):
        step = np.eye(4)
        step[:3, :3] = _random_rotation(rng) if i % 7 == 0 else np.eye(3)
        step[:3, 3] = rng.normal(scale=0.2, size=3)
        poses[i] = poses[i - 1] @ step
    return poses


def _perturbed(ref: np.ndarray, seed: int) -> np.ndarray:
    """The reference seen in another frame at another scale, with noise: what a monocular estimate looks like."""
    rng = np.random.default_rng(seed)
    g = np.eye(4)
    g[:3, :3] = _random_rotation(rng)
    g[:3, 3] = rng.normal(size=3)
    est = g @ ref.copy()
    est[:, :3, 3] *= 0.3
    est[:, :3, 3] += rng.normal(scale=0.01, size=(len(ref), 3))
    return est


def _evo(traj: np.ndarray):
    from evo.core.trajectory import PoseTrajectory3D

    return PoseTrajectory3D(poses_se3=list(traj), timestamps=np.arange(len(traj), dtype=float))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ate_and_rpe_match_evo(seed):
    from evo.core import metrics

    ref = _trajectory(40, seed)
    est = _perturbed(ref, seed + 10)
    traj_ref, traj_est = _evo(ref), _evo(est)
    traj_est.align(traj_ref, correct_scale=True)
    ape = metrics.APE(metrics.PoseRelation.translation_part)
    ape.process_data((traj_ref, traj_est))
    assert ate_rmse(est, ref) == pytest.approx(ape.get_statistic(metrics.StatisticsType.rmse), rel=1e-9, abs=1e-12)
    for delta, all_pairs in ((1, False), (5, False), (5, True)):
        rpe_t = metrics.RPE(metrics.PoseRelation.translation_part, delta, metrics.Unit.frames, all_pairs=all_pairs)
        rpe_t.process_data((traj_ref, traj_est))
        rpe_r = metrics.RPE(metrics.PoseRelation.rotation_angle_deg, delta, metrics.Unit.frames, all_pairs=all_pairs)
        rpe_r.process_data((traj_ref, traj_est))
        trans, rot = rpe_rmse(est, ref, delta, all_pairs=all_pairs)
        assert trans == pytest.approx(rpe_t.get_statistic(metrics.StatisticsType.rmse), rel=1e-9, abs=1e-12)
        assert rot == pytest.approx(rpe_r.get_statistic(metrics.StatisticsType.rmse), rel=1e-7, abs=1e-9)


def test_perfect_estimate_up_to_similarity_has_zero_error():
    ref = _trajectory(20, 3)
    g = np.eye(4)
    g[:3, :3] = _random_rotation(np.random.default_rng(4))
    est = g @ ref
    est[:, :3, 3] *= 2.0
    assert ate_rmse(est, ref) < 1e-9
    assert max(rpe_rmse(est, ref)) < 1e-6
    np.testing.assert_allclose(align_sim3(est, ref), ref, atol=1e-9)


def test_rpe_needs_enough_poses():
    with pytest.raises(ValueError, match="more than 5 poses"):
        rpe_rmse(np.tile(np.eye(4), (3, 1, 1)), np.tile(np.eye(4), (3, 1, 1)), delta=5)
