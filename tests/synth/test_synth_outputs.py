"""Shapes, dtypes and camera conventions of generated sequences."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.synth import SceneConfig, SyntheticSequence, generate_sequence


@pytest.mark.parametrize(("height", "width", "frames"), [(84, 112, 5), (30, 41, 3), (16, 16, 1)])
def test_shapes_and_dtypes(height: int, width: int, frames: int) -> None:
    seq = generate_sequence(7, SceneConfig(height=height, width=width, frames=frames))
    s, h, w = frames, height, width
    expected = {
        "images": ((s, h, w, 3), np.uint8),
        "pointmaps": ((s, s, h, w, 3), np.float32),
        "valid": ((s, h, w), np.bool_),
        "depth": ((s, h, w), np.float32),
        "intrinsics": ((s, 3, 3), np.float32),
        "extrinsics": ((s, 3, 4), np.float32),
        "object_ids": ((s, h, w), np.int16),
        "motion_mask": ((s, h, w), np.bool_),
        "timestamps": ((s,), np.float64),
    }
    for name, (shape, dtype) in expected.items():
        array = getattr(seq, name)
        assert array.shape == shape, name
        assert array.dtype == dtype, name
    assert seq.seed == 7
    assert seq.num_frames == s
    assert seq.scene_flow(0, s - 1).shape == (h, w, 3)
    assert seq.tracks(0).shape == (s, h, w, 3)


def test_closed_room_every_pixel_valid(sequences: dict[int, SyntheticSequence]) -> None:
    for seq in sequences.values():
        assert seq.valid.all()
        assert np.all(seq.depth > 0.0)
        assert np.all(np.isfinite(seq.pointmaps))


def test_extrinsics_frame0_identity_and_rotations(sequences: dict[int, SyntheticSequence]) -> None:
    identity = np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1).astype(np.float32)
    for seq in sequences.values():
        assert np.array_equal(seq.extrinsics[0], identity)
        rot = seq.extrinsics[:, :, :3].astype(np.float64)
        assert np.allclose(rot @ np.transpose(rot, (0, 2, 1)), np.eye(3), atol=1e-5)
        assert np.allclose(np.linalg.det(rot), 1.0, atol=1e-5)
        poses = seq.camera_to_world()
        assert np.allclose(poses[0], np.eye(4), atol=1e-7)
        # camera_to_world really inverts the extrinsics
        back = np.einsum("sij,sjk->sik", poses[:, :3, :3], seq.extrinsics[:, :, :3].astype(np.float64))
        assert np.allclose(back, np.eye(3), atol=1e-5)


def test_camera_moves_smoothly_with_bounded_steps(sequences: dict[int, SyntheticSequence], config: SceneConfig) -> None:
    moved = 0
    for seq in sequences.values():
        centres = seq.camera_to_world()[:, :3, 3]
        steps = np.linalg.norm(np.diff(centres, axis=0), axis=-1)
        # orbit arcs, bob and acceleration add a little to the nominal per-frame step
        assert steps.max() <= 1.5 * config.camera_step_range[1] + 1e-6
        moved += int(steps.max() > 1e-3)
    assert moved >= len(sequences) - 1  # the "static" fallback is rare


def test_intrinsics_pinhole_centre_and_fov(sequences: dict[int, SyntheticSequence], config: SceneConfig) -> None:
    fovs = []
    for seq in sequences.values():
        k = seq.intrinsics
        assert np.all(k == k[0])
        assert k[0, 0, 0] == pytest.approx(k[0, 1, 1])
        assert k[0, 0, 2] == pytest.approx((config.width - 1) / 2)
        assert k[0, 1, 2] == pytest.approx((config.height - 1) / 2)
        assert k[0, 2].tolist() == [0.0, 0.0, 1.0] and k[0, 0, 1] == 0.0
        fovs.append(np.degrees(2.0 * np.arctan(0.5 * config.width / k[0, 0, 0])))
    lo, hi = config.fov_deg_range
    assert all(lo - 1e-3 <= f <= hi + 1e-3 for f in fovs)
    assert max(fovs) - min(fovs) > 5.0  # FoV is actually random


def test_timestamps(sequences: dict[int, SyntheticSequence], config: SceneConfig) -> None:
    for seq in sequences.values():
        assert np.allclose(seq.timestamps, np.arange(config.frames) / config.fps, rtol=0, atol=1e-12)


def test_object_metadata_and_ids(sequences: dict[int, SyntheticSequence], config: SceneConfig) -> None:
    counts = set()
    for seq in sequences.values():
        n = len(seq.objects)
        counts.add(n)
        assert config.min_objects <= n <= config.max_objects
        assert [o.object_id for o in seq.objects] == list(range(1, n + 1))
        assert sum(o.is_deforming for o in seq.objects) == config.deforming_objects
        assert not any(o.is_static and o.is_deforming for o in seq.objects)
        assert seq.object_ids.min() >= 0 and seq.object_ids.max() <= n
        assert np.any(seq.object_ids > 0)  # objects are placed in view
    assert len(counts) > 1  # the number of objects is random


def test_images_are_textured_and_vary(sequences: dict[int, SyntheticSequence]) -> None:
    means = []
    for seq in sequences.values():
        img = seq.images.astype(np.float64)
        assert img.std() > 5.0
        # horizontal gradients exist almost everywhere: no large flat regions
        grad = np.abs(np.diff(img.mean(axis=-1), axis=2))
        assert np.mean(grad > 0.5) > 0.3
        means.append(img.mean(axis=(0, 1, 2)))
    assert np.ptp(np.array(means), axis=0).max() > 10.0  # appearance differs between seeds
