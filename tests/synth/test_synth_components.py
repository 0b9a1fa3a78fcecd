"""Unit tests of the building blocks: primitives, motions, textures, culling."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.synth import SceneConfig, render
from vdpm_ros.synth.motion import AffineDeformation, RigidMotion
from vdpm_ros.synth.primitives import Box, Cylinder, Ellipsoid, RoomBox, Sphere
from vdpm_ros.synth.scene import sample_scene
from vdpm_ros.synth.textures import NoiseTable, sample_texture, value_noise
from vdpm_ros.synth.transforms import axis_angle_to_matrix, look_at, random_rotation


def _rays(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rays from a shell of radius 3 aimed roughly at the origin."""
    origins = rng.normal(size=(n, 3))
    origins *= 3.0 / np.linalg.norm(origins, axis=1, keepdims=True)
    directions = -origins + rng.normal(scale=0.8, size=(n, 3))
    return origins, directions * rng.uniform(0.3, 2.0, size=(n, 1))  # unnormalised on purpose


def _inside(shape, points: np.ndarray) -> np.ndarray:
    if isinstance(shape, Ellipsoid):
        return np.sum((points / shape.semi_axes) ** 2, axis=-1) < 1.0
    if isinstance(shape, Box):
        return np.all(np.abs(points) < shape.half_extents, axis=-1)
    return (np.hypot(points[..., 0], points[..., 1]) < shape.radius) & (np.abs(points[..., 2]) < shape.half_height)


SHAPES = [
    Sphere(np.full(3, 0.8)),
    Ellipsoid(np.array([1.0, 0.4, 0.7])),
    Box(np.array([0.9, 0.3, 0.6])),
    Cylinder(0.5, 0.9),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.kind)
def test_primitive_hits_are_first_surface_points(shape) -> None:
    rng = np.random.default_rng(0)
    o, d = _rays(rng, 4000)
    t = shape.intersect(o, d)
    hit = np.isfinite(t)
    assert 0.2 < hit.mean() < 0.95
    # Brute-force march: misses never enter the shape; hits are not preceded by the interior.
    samples = np.linspace(0.0, 1.0, 400)[1:-1]
    t_far = np.where(hit, t, 10.0)
    march = o[:, None, :] + (samples[None, :, None] * t_far[:, None, None]) * d[:, None, :]
    assert not _inside(shape, march).any()
    # Hit points are on the boundary: just before is outside, just after is inside.
    p = o[hit] + t[hit, None] * d[hit]
    step = 1e-6 * d[hit]
    assert not _inside(shape, p - step).any()
    assert _inside(shape, p + step).mean() > 0.99  # grazing hits may leave at once
    n = shape.normals(p)
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0)
    assert np.all(np.einsum("ni,ni->n", n, d[hit]) <= 1e-9)  # outward normals face the ray


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.kind)
def test_primitive_bounding_radius_contains_shape(shape) -> None:
    rng = np.random.default_rng(1)
    o, d = _rays(rng, 2000)
    t = shape.intersect(o, d)
    p = o[np.isfinite(t)] + t[np.isfinite(t), None] * d[np.isfinite(t)]
    radii = np.linalg.norm(p, axis=-1)
    assert radii.max() <= shape.bounding_radius + 1e-9
    assert radii.max() > 0.9 * shape.bounding_radius


def test_room_box_exit_points_and_faces() -> None:
    room = RoomBox(np.array([3.0, 2.0, 1.5]))
    rng = np.random.default_rng(2)
    o = rng.uniform(-1.0, 1.0, size=(3000, 3))
    d = rng.normal(size=(3000, 3))
    t, face = room.intersect(o, d)
    p = o + t[:, None] * d
    axis = face // 2
    rows = np.arange(p.shape[0])
    expected = np.where(face % 2 == 1, 1.0, -1.0) * room.half_extents[axis]
    assert np.allclose(p[rows, axis], expected)
    assert np.all(np.abs(p) <= room.half_extents + 1e-9)
    assert np.array_equal(np.unique(face), np.arange(6))
    normals = room.face_normals(face)
    assert np.all(np.einsum("ni,ni->n", normals, d) < 0.0)  # inward normals face the camera


def test_affine_deformation_is_volume_preserving_and_time_varying() -> None:
    rng = np.random.default_rng(3)
    deformation = AffineDeformation(
        stretch_amp=rng.uniform(0.1, 0.3, 3),
        stretch_freq=rng.uniform(2.0, 6.0, 3),
        stretch_phase=rng.uniform(0, 6, 3),
        shear_amp=rng.uniform(0.0, 0.3, 3),
        shear_freq=rng.uniform(2.0, 6.0, 3),
        shear_phase=rng.uniform(0, 6, 3),
    )
    mats = deformation.matrices(np.linspace(0.0, 1.0, 11))
    assert np.allclose(np.linalg.det(mats), 1.0)
    assert np.abs(mats[0] - mats[-1]).max() > 0.05
    singular = np.linalg.svd(mats, compute_uv=False)
    assert np.all(np.abs(singular - 1.0).max(axis=1) > 1e-3)  # not a rotation


def test_rigid_motion_rotations_and_static() -> None:
    rng = np.random.default_rng(4)
    motion = RigidMotion(
        base_rotation=random_rotation(rng),
        spin_axes=rng.normal(size=(2, 3)),
        spin_rates=np.array([1.0, 0.4]),
        position=np.array([1.0, 2.0, 0.5]),
        velocity=np.array([0.3, 0.0, -0.1]),
        acceleration=np.array([0.0, 0.2, 0.0]),
        ref_time=0.2,
    )
    times = np.linspace(0.0, 0.4, 5)
    rot, centre = motion.transforms(times)
    assert np.allclose(rot @ np.transpose(rot, (0, 2, 1)), np.eye(3))
    assert np.allclose(np.linalg.det(rot), 1.0)
    assert np.allclose(centre[2], motion.position)  # ref_time maps to position
    assert not motion.is_static
    still = RigidMotion.static(np.array([1.0, 0.0, 0.0]), np.eye(3))
    rot, centre = still.transforms(times)
    assert still.is_static
    assert np.array_equal(rot, np.broadcast_to(np.eye(3), rot.shape))
    assert np.array_equal(centre, np.broadcast_to([1.0, 0.0, 0.0], centre.shape))


def test_look_at_points_optical_axis_at_target() -> None:
    pos = np.array([[0.0, 0.0, 1.0], [1.0, -2.0, 1.5]])
    target = np.array([[3.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    rot = look_at(pos, target, np.array([0.0, 0.0, 1.0]))
    forward = (target - pos) / np.linalg.norm(target - pos, axis=1, keepdims=True)
    assert np.allclose(rot[:, :, 2], forward)
    assert np.allclose(np.linalg.det(rot), 1.0)
    assert np.all(rot[:, 2, 1] < 0.0)  # camera y (down) points towards world -z
    assert np.allclose(axis_angle_to_matrix(np.array([0.0, 0.0, 2.0]), np.array([np.pi / 2]))[0] @ [1, 0, 0], [0, 1, 0])


def test_value_noise_range_and_continuity() -> None:
    rng = np.random.default_rng(5)
    table = NoiseTable.sample(rng)
    q = rng.uniform(-40.0, 40.0, size=(5000, 3))
    v = value_noise(q, table)
    assert v.min() >= 0.0 and v.max() <= 1.0 and v.std() > 0.05
    assert np.abs(value_noise(q + 1e-4, table) - v).max() < 1e-2
    lattice = np.floor(q)  # at lattice points the noise equals a table value
    assert np.all(np.isin(value_noise(lattice, table).astype(np.float32), table.values))


def test_textures_deterministic_in_range_and_varied() -> None:
    points = np.random.default_rng(6).uniform(-1.0, 1.0, size=(3000, 3))
    kinds = set()
    for seed in range(24):
        tex = sample_texture(np.random.default_rng(seed), (0.1, 0.5))
        kinds.add(tex.kind)
        rgb = tex(points)
        assert rgb.shape == (3000, 3) and rgb.min() >= 0.0 and rgb.max() <= 1.0
        assert rgb.std(axis=0).max() > 0.02  # no flat textures
        assert np.array_equal(rgb, sample_texture(np.random.default_rng(seed), (0.1, 0.5))(points))
    assert len(kinds) >= 5


def test_screen_culling_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SceneConfig(height=40, width=52)
    grid = render.pixel_grid(config.height, config.width)
    for seed in range(4):
        scene = sample_scene(seed, config)
        culled = render.cast_rays(scene, grid)
        with monkeypatch.context() as patch:
            patch.setattr(render, "_screen_cull", lambda k, uv, *args: np.arange(uv.shape[0]))
            brute = render.cast_rays(scene, grid)
        assert np.array_equal(culled.object_ids, brute.object_ids)
        assert np.array_equal(culled.t, brute.t)
