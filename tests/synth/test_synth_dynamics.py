"""Determinism, motion masks, objects entering / leaving the view, occlusions, image options."""

from __future__ import annotations

import dataclasses

import numpy as np

from vdpm_ros.synth import SceneConfig, SyntheticSequence, generate_sequence

ARRAY_FIELDS = ("images", "pointmaps", "valid", "depth", "intrinsics", "extrinsics", "object_ids", "motion_mask", "timestamps")


def test_same_seed_same_arrays(sequences: dict[int, SyntheticSequence], config: SceneConfig) -> None:
    again = generate_sequence(3, config)
    for name in ARRAY_FIELDS:
        assert np.array_equal(getattr(again, name), getattr(sequences[3], name)), name
    assert again.objects == sequences[3].objects


def test_different_seeds_differ(sequences: dict[int, SyntheticSequence]) -> None:
    a, b = sequences[0], sequences[1]
    assert not np.array_equal(a.images, b.images)
    assert not np.allclose(a.pointmaps, b.pointmaps)
    assert not np.allclose(a.extrinsics, b.extrinsics)


def test_motion_mask_matches_displacements(sequences: dict[int, SyntheticSequence], config: SceneConfig) -> None:
    eps = config.motion_epsilon
    for seq in sequences.values():
        static_ids = [0] + [o.object_id for o in seq.objects if o.is_static]
        for i in range(seq.num_frames):
            displacement = np.linalg.norm(seq.pointmaps[:, i] - seq.pointmaps[i, i][None], axis=-1).max(axis=0)
            # float32 storage may flip points within round-off of the threshold
            decided = np.abs(displacement - eps) > 1e-5
            assert np.array_equal(seq.motion_mask[i][decided], (displacement > eps)[decided])
            ids = seq.object_ids[i]
            assert not seq.motion_mask[i][np.isin(ids, static_ids)].any()
            moving_ids = np.isin(ids, [o.object_id for o in seq.objects if not o.is_static])
            if moving_ids.sum() > 0:
                assert seq.motion_mask[i][moving_ids].mean() > 0.95


def test_objects_enter_or_leave_the_view(sequences: dict[int, SyntheticSequence]) -> None:
    events = 0
    for seq in sequences.values():
        for obj in seq.objects:
            visible = [(seq.object_ids[i] == obj.object_id).any() for i in range(seq.num_frames)]
            events += int(any(visible) and not all(visible))
    assert events >= 2


def test_objects_occlude_each_other(sequences: dict[int, SyntheticSequence]) -> None:
    """Some object point, projected into another frame, lies behind a *different* object there."""
    occlusions = 0
    for seq in sequences.values():
        _, h, w = seq.depth.shape
        for i in range(seq.num_frames):
            for j in range(seq.num_frames):
                ids = seq.object_ids[i].reshape(-1)
                obj = ids > 0
                uv, z = seq.project(seq.pointmaps[j, i].reshape(-1, 3)[obj], j)
                pix = np.round(uv).astype(np.int64)
                inside = (z > 0) & (pix[:, 0] >= 0) & (pix[:, 0] < w) & (pix[:, 1] >= 0) & (pix[:, 1] < h)
                seen_id = seq.object_ids[j][pix[inside, 1], pix[inside, 0]]
                seen_depth = seq.depth[j][pix[inside, 1], pix[inside, 0]]
                occluder = (seen_id > 0) & (seen_id != ids[obj][inside]) & (seen_depth < 0.9 * z[inside])
                occlusions += int(occluder.sum())
    assert occlusions > 100


def test_image_noise_changes_only_images() -> None:
    base = SceneConfig(height=24, width=32, frames=3)
    clean = generate_sequence(5, base)
    noisy = generate_sequence(5, dataclasses.replace(base, image_noise_std=4.0))
    noisy_again = generate_sequence(5, dataclasses.replace(base, image_noise_std=4.0))
    assert np.array_equal(noisy.images, noisy_again.images)
    assert np.array_equal(noisy.pointmaps, clean.pointmaps)
    diff = noisy.images.astype(np.float64) - clean.images.astype(np.float64)
    assert 2.0 < diff.std() < 6.0


def test_antialiasing_changes_only_images() -> None:
    base = SceneConfig(height=24, width=32, frames=2)
    sharp = generate_sequence(2, base)
    smooth = generate_sequence(2, dataclasses.replace(base, antialias=2))
    assert np.array_equal(smooth.pointmaps, sharp.pointmaps)
    assert np.array_equal(smooth.object_ids, sharp.object_ids)
    diff = np.abs(smooth.images.astype(np.float64) - sharp.images.astype(np.float64))
    assert 0.0 < diff.mean() < 20.0


def test_more_frames_and_fps_stay_consistent() -> None:
    """Motion is a function of time: with twice the fps, frame 2k shows time t_k of the base rate."""
    seq = generate_sequence(4, SceneConfig(height=20, width=24, frames=8, fps=30.0, max_objects=2, min_objects=1))
    assert np.allclose(seq.timestamps, np.arange(8) / 30.0)
    assert seq.pointmaps.shape == (8, 8, 20, 24, 3)
    assert np.isfinite(seq.pointmaps).all() and seq.valid.all()
