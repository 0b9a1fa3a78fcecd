"""Exactness of the 4D ground truth: reprojection, static / rigid / deforming motion, correspondences."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vdpm_ros.synth import SceneConfig, SyntheticSequence
from vdpm_ros.synth.render import cast_rays, pixel_grid, point_maps
from vdpm_ros.synth.scene import sample_scene

MIN_PIXELS = 30  # fewer pixels of an object give poorly conditioned fits


def test_own_time_points_reproject_to_pixel_centres(sequences: dict[int, SyntheticSequence], helpers: SimpleNamespace) -> None:
    for seq in sequences.values():
        s, h, w = seq.depth.shape
        grid = helpers.pixel_grid(h, w)
        for i in range(s):
            cam = helpers.to_camera(seq.pointmaps[i, i], seq.extrinsics[i])
            k = seq.intrinsics[i].astype(np.float64)
            x, y, z = cam[..., 0], cam[..., 1], cam[..., 2]
            uv = np.stack([k[0, 0] * x / z + k[0, 2], k[1, 1] * y / z + k[1, 2]], axis=-1)
            assert np.abs(uv - grid).max() < 1e-3
            assert np.allclose(cam[..., 2], seq.depth[i], rtol=1e-5, atol=0.0)


def test_static_points_never_move(sequences: dict[int, SyntheticSequence]) -> None:
    checked_static_objects = 0
    for seq in sequences.values():
        static_ids = [0] + [o.object_id for o in seq.objects if o.is_static]
        checked_static_objects += len(static_ids) - 1
        for i in range(seq.num_frames):
            mask = np.isin(seq.object_ids[i], static_ids)
            assert mask.any()
            for j in range(seq.num_frames):
                assert np.array_equal(seq.pointmaps[j, i][mask], seq.pointmaps[i, i][mask])
    assert checked_static_objects > 0  # the static-object branch was exercised


def test_rigid_objects_move_by_one_rigid_transform(sequences: dict[int, SyntheticSequence], helpers: SimpleNamespace) -> None:
    checked = 0
    for seq in sequences.values():
        s = seq.num_frames
        for obj in seq.objects:
            if obj.is_deforming:
                continue
            frames = [i for i in range(s) if (seq.object_ids[i] == obj.object_id).sum() >= MIN_PIXELS]
            for a, b in [(0, s - 1), (1, 3), (4, 2)]:
                per_frame = []
                for i in frames:
                    mask = seq.object_ids[i] == obj.object_id
                    rot, trans, residual = helpers.kabsch(seq.pointmaps[a, i][mask], seq.pointmaps[b, i][mask])
                    assert residual < 1e-4
                    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-9)
                    per_frame.append((rot, trans))
                    checked += 1
                if not frames:
                    continue
                # The same transform explains every frame's pixels of this object ...
                for rot, trans in per_frame[1:]:
                    assert np.allclose(rot, per_frame[0][0], atol=1e-4)
                    assert np.allclose(trans, per_frame[0][1], atol=1e-4)
                # ... and one fit over all frames' pixels together stays exact.
                src = np.concatenate([seq.pointmaps[a, i][seq.object_ids[i] == obj.object_id] for i in frames])
                dst = np.concatenate([seq.pointmaps[b, i][seq.object_ids[i] == obj.object_id] for i in frames])
                rot, trans, residual = helpers.kabsch(src, dst)
                assert residual < 1e-4
                moved = np.abs(rot - np.eye(3)).max() + np.abs(trans).max() > 1e-3
                assert moved == (not obj.is_static)
    assert checked > 20


def test_deforming_object_is_exactly_affine_but_not_rigid(sequences: dict[int, SyntheticSequence], helpers: SimpleNamespace) -> None:
    checked = 0
    for seq in sequences.values():
        s = seq.num_frames
        for obj in seq.objects:
            if not obj.is_deforming:
                continue
            frames = [i for i in range(s) if (seq.object_ids[i] == obj.object_id).sum() >= MIN_PIXELS]
            for i in frames:
                mask = seq.object_ids[i] == obj.object_id
                _, _, rigid_residual = helpers.kabsch(seq.pointmaps[0, i][mask], seq.pointmaps[s - 1, i][mask])
                assert rigid_residual > 5e-3  # centimetres of non-rigid motion, not round-off
                checked += 1
            if not frames:
                continue
            # One affine map per time pair explains the pixels of all frames at once.
            for a, b in [(0, s - 1), (2, 1)]:
                src = np.concatenate([seq.pointmaps[a, i][seq.object_ids[i] == obj.object_id] for i in frames])
                dst = np.concatenate([seq.pointmaps[b, i][seq.object_ids[i] == obj.object_id] for i in frames])
                _, residual = helpers.affine_fit(src, dst)
                assert residual < 1e-4
    assert checked > 10


def _bilinear(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample image [H, W, C] at float pixel positions (u, v) [N] (inside the image)."""
    u0 = np.floor(u).astype(np.int64)
    v0 = np.floor(v).astype(np.int64)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    return (
        image[v0, u0] * (1 - fu) * (1 - fv)
        + image[v0, u0 + 1] * fu * (1 - fv)
        + image[v0 + 1, u0] * (1 - fu) * fv
        + image[v0 + 1, u0 + 1] * fu * fv
    )


def _correspondence_errors(seq: SyntheticSequence, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For frame-i pixels whose point at t_j is clearly visible in frame j: error of P_i(t_j)
    against P_j(t_j) interpolated at its projection, in units of the pixel footprint.

    Returns (error ratio [N], object id [N], moving [N]) of the checked pixels.
    """
    _, h, w = seq.depth.shape
    points = seq.pointmaps[j, i].reshape(-1, 3).astype(np.float64)
    ids = seq.object_ids[i].reshape(-1)
    uv, z = seq.project(points, j)
    u, v = uv[:, 0], uv[:, 1]
    inside = (z > 0) & (u >= 0) & (u < w - 1) & (v >= 0) & (v < h - 1)
    u, v, z, points, ids = u[inside], v[inside], z[inside], points[inside], ids[inside]
    moving = seq.motion_mask[i].reshape(-1)[inside]
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    clear = np.ones(u.shape, dtype=bool)
    for du in (0, 1):
        for dv in (0, 1):
            # Same surface and same depth at all 4 neighbours: unoccluded, no depth edge.
            clear &= seq.object_ids[j][v0 + dv, u0 + du] == ids
            clear &= np.abs(seq.depth[j][v0 + dv, u0 + du] - z) < 0.01 * z
    target = _bilinear(seq.pointmaps[j, j].astype(np.float64), u[clear], v[clear])
    footprint = z[clear] / seq.intrinsics[j, 0, 0]
    ratio = np.linalg.norm(points[clear] - target, axis=-1) / footprint
    return ratio, ids[clear], moving[clear]


def test_cross_frame_correspondences(sequences: dict[int, SyntheticSequence]) -> None:
    ratios, ids, moving = [], [], []
    for seq in sequences.values():
        for i in range(seq.num_frames):
            for j in range(seq.num_frames):
                if i != j:
                    r, k, m = _correspondence_errors(seq, i, j)
                    ratios.append(r)
                    ids.append(k)
                    moving.append(m)
    ratio, ids_all, moving_all = np.concatenate(ratios), np.concatenate(ids), np.concatenate(moving)
    assert ratio.size > 10_000
    assert moving_all.sum() > 2_000  # moving objects are part of the check
    for subset in (np.ones_like(moving_all), moving_all, ids_all == 0):
        r = ratio[subset]
        # Bilinear interpolation of a smooth surface is accurate to a small fraction of a pixel.
        assert np.median(r) < 0.05
        assert np.quantile(r, 0.99) < 0.5


def test_deforming_correspondences(sequences: dict[int, SyntheticSequence]) -> None:
    ratios = []
    for seq in sequences.values():
        deforming = [o.object_id for o in seq.objects if o.is_deforming]
        for i in range(seq.num_frames):
            for j in range(seq.num_frames):
                if i != j:
                    r, k, _ = _correspondence_errors(seq, i, j)
                    ratios.append(r[np.isin(k, deforming)])
    ratio = np.concatenate(ratios)
    assert ratio.size > 500
    assert np.median(ratio) < 0.05
    assert np.quantile(ratio, 0.99) < 0.5


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_points_at_other_times_lie_on_the_surface_seen_then(seed: int) -> None:
    """Exact check: cast the ray of frame j through P_i(t_j) with the scene posed at t_j.

    P_i(t_j) lies on a surface at t_j, so that ray's first hit can never be farther than
    P_i(t_j); when it is at the same depth it must be the same object and the same point.
    """
    config = SceneConfig()
    scene = sample_scene(seed, config)
    hits = cast_rays(scene, pixel_grid(config.height, config.width))
    points, _ = point_maps(scene, hits)  # float64, camera-0 frame
    r0, p0 = scene.camera.rotations[0], scene.camera.positions[0]
    k = scene.intrinsics
    rng = np.random.default_rng(seed)
    visible, total = 0, 0
    for i in range(config.frames):
        for j in range(config.frames):
            if i == j:
                continue
            pick = rng.choice(hits.t.shape[1], size=1500, replace=False)
            room_points = points[j, i, pick] @ r0.T + p0
            cam = (room_points - scene.camera.positions[j]) @ scene.camera.rotations[j]
            z = cam[:, 2]
            uv = np.stack([k[0, 0] * cam[:, 0] / z + k[0, 2], k[1, 1] * cam[:, 1] / z + k[1, 2]], axis=-1)
            in_image = (uv[:, 0] <= config.width - 0.5) & (uv[:, 1] <= config.height - 0.5)
            inside = (z > 0) & np.all(uv >= -0.5, axis=1) & in_image
            recast = cast_rays(scene, uv[inside], frames=[j])
            t_hit, z_in = recast.t[0], z[inside]
            assert np.all(t_hit <= z_in * (1 + 1e-9) + 1e-9)
            same = np.abs(t_hit - z_in) <= 1e-7 * z_in
            assert np.array_equal(recast.object_ids[0][same], hits.object_ids[i, pick][inside][same])
            hit_points = scene.camera.positions[j] + t_hit[same, None] * (
                np.concatenate([(uv[inside][same] - k[:2, 2]) / k[[0, 1], [0, 1]], np.ones((same.sum(), 1))], axis=1)
                @ scene.camera.rotations[j].T
            )
            assert np.abs(hit_points - room_points[inside][same]).max(initial=0.0) < 1e-6
            visible += int(same.sum())
            total += int(inside.sum())
    assert total > 0 and visible > 0.5 * total
