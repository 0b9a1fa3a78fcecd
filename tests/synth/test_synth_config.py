"""SceneConfig validation and generate_sequence argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.synth import SceneConfig, generate_sequence


def test_defaults_are_valid_and_ranges_are_tuples() -> None:
    cfg = SceneConfig(fov_deg_range=[55, 70])  # a list is accepted and normalised
    assert cfg.fov_deg_range == (55.0, 70.0)
    assert isinstance(cfg.fov_deg_range, tuple)
    assert (cfg.height, cfg.width, cfg.frames, cfg.fps) == (84, 112, 5, 10.0)


def test_config_is_frozen() -> None:
    cfg = SceneConfig()
    with pytest.raises(AttributeError):
        cfg.frames = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"height": 0}, "height"),
        ({"width": 1}, "image size"),
        ({"frames": 0}, "frames"),
        ({"frames": 2.0}, "frames"),
        ({"width": True}, "width"),
        ({"fps": 0.0}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"fps": "10"}, "fps"),
        ({"min_objects": 3, "max_objects": 2}, "min_objects"),
        ({"min_objects": -1}, "min_objects"),
        ({"deforming_objects": 3, "min_objects": 2}, "deforming_objects"),
        ({"fov_deg_range": (80.0, 50.0)}, "fov_deg_range"),
        ({"fov_deg_range": (0.0, 50.0)}, "fov_deg_range"),
        ({"fov_deg_range": "ab"}, "fov_deg_range"),
        ({"fov_deg_range": (50.0, 60.0, 70.0)}, "fov_deg_range"),
        ({"room_size_range": (1.0, 2.0)}, "room_size_range"),
        ({"room_height_range": (1.5, 3.0)}, "room_height_range"),
        ({"camera_height_range": (1.0, 3.0)}, "camera_height_range"),
        ({"camera_step_range": (0.1, 2.0)}, "camera_step_range"),
        ({"object_step_range": (-0.1, 0.1)}, "object_step_range"),
        ({"object_size_range": (0.0, 0.5)}, "object_size_range"),
        ({"deform_cycles_per_frame_range": (0.1, 0.6)}, "deform_cycles_per_frame_range"),
        ({"ambient_range": (0.2, 1.5)}, "ambient_range"),
        ({"static_object_prob": 1.5}, "static_object_prob"),
        ({"cross_view_prob": -0.1}, "cross_view_prob"),
        ({"deform_strength": 0.0}, "deform_strength"),
        ({"deform_strength": 2.0}, "deform_strength"),
        ({"image_noise_std": -1.0}, "image_noise_std"),
        ({"antialias": 0}, "antialias"),
        ({"motion_epsilon": 0.0}, "motion_epsilon"),
        ({"camera_jitter_deg": -1.0}, "camera_jitter_deg"),
    ],
)
def test_invalid_config_raises_with_field_name(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SceneConfig(**kwargs)


def test_zero_deforming_objects_allows_zero_strength() -> None:
    SceneConfig(deforming_objects=0, deform_strength=0.0)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_invalid_seed_raises(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_sequence(seed, SceneConfig(height=8, width=8, frames=2))  # type: ignore[arg-type]


def test_invalid_config_type_raises() -> None:
    with pytest.raises(ValueError, match="SceneConfig"):
        generate_sequence(0, {"frames": 2})  # type: ignore[arg-type]


def test_images_alone_are_the_sequence_images_without_its_ground_truth():
    from vdpm_ros.synth import generate_images

    cfg = SceneConfig(height=24, width=32, frames=4)
    seq = generate_sequence(1234, cfg)
    images, stamps = generate_images(1234, cfg)
    np.testing.assert_array_equal(images, seq.images)
    np.testing.assert_array_equal(stamps, seq.timestamps)
    with pytest.raises(ValueError, match="non-negative int"):
        generate_images(-1, cfg)


@pytest.mark.parametrize("extra", [{}, {"image_noise_std": 4.0, "antialias": 2}])
def test_images_rendered_a_few_frames_at_a_time_are_the_same_pixels(extra):
    from vdpm_ros.synth import iter_images

    cfg = SceneConfig(height=24, width=32, frames=7, **extra)
    seq = generate_sequence(1234, cfg)
    frames = list(iter_images(1234, cfg, chunk_frames=3))  # parts of 3, 3 and 1 frames
    assert len(frames) == 7
    np.testing.assert_array_equal(np.stack([img for img, _ in frames]), seq.images)
    np.testing.assert_array_equal([t for _, t in frames], seq.timestamps)
    with pytest.raises(ValueError, match="chunk_frames"):
        next(iter_images(1234, cfg, chunk_frames=0))
