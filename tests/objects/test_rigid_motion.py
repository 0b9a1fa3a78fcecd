"""The rigid fit against known SE(3) motions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vdpm_ros.objects import RigidFitConfig, fit_rigid_motion


def _known_motion(seed: int, n: int = 500):
    rng = np.random.default_rng(seed)
    rotation = Rotation.from_rotvec(rng.normal(size=3) * 0.3).as_matrix()
    translation = rng.normal(size=3)
    source = rng.normal(size=(n, 3)) * np.array([0.4, 0.2, 0.3]) + np.array([0.0, 0.0, 3.0])
    return rotation, translation, source, source @ rotation.T + translation


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_exact_rigid_motion_is_recovered(seed):
    rotation, translation, source, target = _known_motion(seed)
    fit = fit_rigid_motion(source, target)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-10)
    np.testing.assert_allclose(fit.translation, translation, atol=1e-10)
    assert fit.rms_residual < 1e-10 and fit.num_points == len(source)
    assert fit.rotation_angle_rad == pytest.approx(np.linalg.norm(Rotation.from_matrix(rotation).as_rotvec()), abs=1e-9)
    q = fit.quaternion_xyzw
    assert q[3] >= 0 and np.isclose(np.linalg.norm(q), 1.0)
    np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), rotation, atol=1e-9)
    np.testing.assert_allclose(fit.apply(source), target, atol=1e-9)


def test_outliers_are_trimmed_and_noise_shows_in_the_residual():
    rotation, translation, source, target = _known_motion(3, n=1000)
    rng = np.random.default_rng(3)
    noisy = target + rng.normal(scale=0.002, size=target.shape)
    noisy[:30] += rng.normal(scale=0.5, size=(30, 3))  # 3 % gross outliers (border pixels mixed with the background)
    fit = fit_rigid_motion(source, noisy)
    untrimmed = fit_rigid_motion(source, noisy, RigidFitConfig(trim=0.0))
    assert fit.num_points < 1000 - 25 and untrimmed.num_points == 1000
    err = np.degrees(Rotation.from_matrix(fit.rotation.T @ rotation).magnitude())
    err_untrimmed = np.degrees(Rotation.from_matrix(untrimmed.rotation.T @ rotation).magnitude())
    assert err < 0.1 < err_untrimmed
    assert 0.002 < fit.rms_residual < 0.006  # about sqrt(3) * 0.002 of noise on the inliers


def test_nan_pairs_are_ignored_and_too_few_points_give_none():
    rotation, translation, source, target = _known_motion(4, n=50)
    source[::2] = np.nan
    fit = fit_rigid_motion(source, target)
    assert fit.num_points == 25
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-9)
    assert fit_rigid_motion(source[:15], target[:15]) is None  # 7 finite pairs < min_points 10
    with pytest.raises(ValueError, match="equal shape"):
        fit_rigid_motion(source, target[:10])


def test_large_objects_are_subsampled_evenly():
    rotation, translation, source, target = _known_motion(5, n=3000)
    fit = fit_rigid_motion(source, target, RigidFitConfig(max_points=200))
    assert fit.num_points == 200
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_points": 2}, "min_points"),
        ({"max_points": 5}, "max_points"),
        ({"trim": 0.5}, "trim"),
        ({"trim": float("nan")}, "trim"),
        ({"min_points": True}, "min_points"),
    ],
)
def test_bad_fit_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RigidFitConfig(**kwargs)
