"""Rotation and pose-encoding maths on random and adversarial inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vdpm_ros.geometry import cameras_to_pose_encoding, mat_to_quat, pose_encoding_to_cameras, quat_to_mat


def _random_quats(n: int, seed: int = 0) -> torch.Tensor:
    q = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return q / q.norm(dim=-1, keepdim=True)


def test_quat_to_mat_gives_rotations_even_for_non_unit_quaternions():
    q = _random_quats(100) * torch.linspace(0.2, 3.0, 100, dtype=torch.float64)[:, None]
    r = quat_to_mat(q)
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    torch.testing.assert_close(r @ r.transpose(-1, -2), eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(100, dtype=torch.float64), atol=1e-12, rtol=0)


def test_quaternion_round_trip_is_sign_standardised():
    q = _random_quats(500)
    back = mat_to_quat(quat_to_mat(q))
    expected = torch.where(q[:, 3:] < 0, -q, q)
    torch.testing.assert_close(back, expected, atol=1e-12, rtol=0)


def test_half_turns_and_identity():
    """180-degree rotations (w = 0) are where naive trace-based conversions break."""
    rots = torch.stack(
        [
            torch.eye(3, dtype=torch.float64),
            torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)),
            torch.diag(torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64)),
            torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64)),
        ]
    )
    torch.testing.assert_close(quat_to_mat(mat_to_quat(rots)), rots, atol=1e-12, rtol=0)


def test_quat_convention_is_scalar_last_and_active():
    """q = (0, 0, sin 45, cos 45) is +90 degrees about z: x axis -> y axis."""
    s = math.sin(math.pi / 4)
    r = quat_to_mat(torch.tensor([0.0, 0.0, s, s], dtype=torch.float64))
    torch.testing.assert_close(r @ torch.tensor([1.0, 0, 0], dtype=torch.float64), torch.tensor([0.0, 1, 0], dtype=torch.float64))


def test_pose_encoding_round_trip_and_intrinsics_layout():
    q = _random_quats(6, seed=3).float()
    enc = torch.cat([torch.randn(6, 3), q, torch.tensor([[0.9, 1.2]]).expand(6, 2)], dim=-1)[None]
    extr, intr = pose_encoding_to_cameras(enc, (294, 518))
    assert extr.shape == (1, 6, 3, 4) and intr.shape == (1, 6, 3, 3)
    torch.testing.assert_close(intr[0, 0, 0, 0], torch.tensor(259 / math.tan(0.6)))
    torch.testing.assert_close(intr[0, 0, 1, 1], torch.tensor(147 / math.tan(0.45)))
    assert intr[0, 0, 0, 2] == 259 and intr[0, 0, 1, 2] == 147 and intr[0, 0, 2, 2] == 1
    back = cameras_to_pose_encoding(extr, intr, (294, 518))
    expected = enc.clone()
    expected[..., 3:7] = torch.where(enc[..., 6:7] < 0, -enc[..., 3:7], enc[..., 3:7])
    torch.testing.assert_close(back, expected, atol=2e-6, rtol=0)


def test_body_twist_is_the_se3_logarithm_of_the_relative_motion():
    from scipy.linalg import expm
    from scipy.spatial.transform import Rotation

    from vdpm_ros.geometry.poses import body_twist

    def hat(linear, angular):
        m = np.zeros((4, 4))
        m[:3, :3] = [[0, -angular[2], angular[1]], [angular[2], 0, -angular[0]], [-angular[1], angular[0], 0]]
        m[:3, 3] = linear
        return m

    rng = np.random.default_rng(3)
    for scale in (1.0, 1e-9):  # a real turn, and almost none (the series branch)
        before = np.eye(4)
        before[:3, :3] = Rotation.random(random_state=int(rng.integers(1 << 30))).as_matrix()
        before[:3, 3] = rng.normal(size=3)
        linear, angular, dt = rng.normal(size=3), rng.normal(size=3) * scale, 0.1
        after = before @ expm(hat(linear, angular) * dt)  # constant body twist for dt
        got_linear, got_angular = body_twist(before, after, dt)
        np.testing.assert_allclose(got_linear, linear, atol=1e-8)
        np.testing.assert_allclose(got_angular, angular, atol=1e-8)
    with pytest.raises(ValueError, match="dt_s must be positive"):
        body_twist(before, after, 0.0)
