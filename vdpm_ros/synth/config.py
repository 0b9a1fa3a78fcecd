"""Configuration of the procedural dynamic-scene generator.

All lengths are metres, all angles degrees, all speeds are given *per frame*
(so the amount of inter-frame overlap does not change when ``fps`` changes;
the generator converts them to per-second rates with ``fps``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

Range = tuple[float, float]

# Fields that hold a (low, high) interval; __post_init__ coerces and checks them.
_RANGE_FIELDS: tuple[str, ...] = (
    "fov_deg_range",
    "room_size_range",
    "room_height_range",
    "camera_height_range",
    "camera_step_range",
    "object_size_range",
    "object_depth_range",
    "object_step_range",
    "object_rotation_deg_range",
    "deform_cycles_per_frame_range",
    "ambient_range",
)

_FLOAT_FIELDS: tuple[str, ...] = (
    "fps",
    "camera_jitter_deg",
    "static_object_prob",
    "cross_view_prob",
    "deform_strength",
    "image_noise_std",
    "motion_epsilon",
)


@dataclass(frozen=True)
class SceneConfig:
    """Parameters of one family of synthetic sequences.

    Attributes:
        height: image height H in pixels.
        width: image width W in pixels.
        frames: number of frames S per sequence (the V-DPM window length).
        fps: frame rate; frame i is taken at ``i / fps`` seconds.
        min_objects: minimum number of foreground objects (inclusive).
        max_objects: maximum number of foreground objects (inclusive).
        deforming_objects: how many of the foreground objects deform non-rigidly
            (time-varying affine map of their canonical shape). Must not exceed
            ``min_objects`` so the count can always be honoured.
        fov_deg_range: interval of the horizontal field of view (degrees), sampled uniformly.
        room_size_range: interval of the room's horizontal side lengths (metres).
        room_height_range: interval of the room's floor-to-ceiling height (metres).
        camera_height_range: interval of the camera's initial height above the floor (metres).
        camera_step_range: interval of the camera's translation per frame (metres/frame).
        camera_jitter_deg: amplitude of the smooth look-at jitter (yaw, pitch, roll), degrees.
        object_size_range: interval of an object's bounding-sphere radius (metres).
        object_depth_range: interval of the depth at which objects are placed in a
            reference view (metres).
        object_step_range: interval of a moving object's translation speed (metres/frame).
        object_rotation_deg_range: interval of a moving object's spin rate (degrees/frame).
        static_object_prob: probability that a rigid object does not move at all (a deforming
            object with a static pose still deforms).
        cross_view_prob: probability that an object's trajectory is built to enter or leave
            the field of view within the window (needs ``frames >= 2``).
        deform_strength: amplitude of the affine deformation: log-stretch and shear
            amplitude (dimensionless, e.g. 0.35 = up to ~35 % stretch/squash).
        deform_cycles_per_frame_range: interval of the deformation frequency (cycles/frame).
        ambient_range: interval of the ambient light fraction in [0, 1].
        image_noise_std: standard deviation of additive Gaussian image noise in 8-bit
            levels (0 = noiseless).
        antialias: supersampling factor per image axis for the *colours* only (1 = one
            sample at the pixel centre). Geometry ground truth is always at pixel centres.
        motion_epsilon: displacement (metres) above which a visible point counts as moving
            in ``motion_mask``.
    """

    height: int = 84
    width: int = 112
    frames: int = 5
    fps: float = 10.0
    min_objects: int = 2
    max_objects: int = 4
    deforming_objects: int = 1
    fov_deg_range: Range = (50.0, 80.0)
    room_size_range: Range = (5.0, 9.0)
    room_height_range: Range = (2.6, 3.6)
    camera_height_range: Range = (1.0, 1.8)
    camera_step_range: Range = (0.04, 0.2)
    camera_jitter_deg: float = 2.0
    object_size_range: Range = (0.25, 0.7)
    object_depth_range: Range = (1.4, 4.0)
    object_step_range: Range = (0.02, 0.15)
    object_rotation_deg_range: Range = (1.0, 10.0)
    static_object_prob: float = 0.25
    cross_view_prob: float = 0.3
    deform_strength: float = 0.35
    deform_cycles_per_frame_range: Range = (0.04, 0.12)
    ambient_range: Range = (0.2, 0.45)
    image_noise_std: float = 0.0
    antialias: int = 1
    motion_epsilon: float = 1e-4

    def __post_init__(self) -> None:
        for name in _RANGE_FIELDS:
            object.__setattr__(self, name, _as_range(name, getattr(self, name)))
        for name in ("height", "width", "frames", "antialias"):
            object.__setattr__(self, name, _as_int(name, getattr(self, name), minimum=1))
        for name in ("min_objects", "max_objects", "deforming_objects"):
            object.__setattr__(self, name, _as_int(name, getattr(self, name), minimum=0))
        for name in _FLOAT_FIELDS:
            object.__setattr__(self, name, _as_float(name, getattr(self, name)))

        if self.height < 2 or self.width < 2:
            raise ValueError(f"SceneConfig image size must be at least 2x2, got {self.height}x{self.width}")
        _check_positive("fps", self.fps)
        if self.min_objects > self.max_objects:
            raise ValueError(f"SceneConfig.min_objects ({self.min_objects}) must be <= max_objects ({self.max_objects})")
        if self.deforming_objects > self.min_objects:
            raise ValueError(
                f"SceneConfig.deforming_objects ({self.deforming_objects}) must be <= min_objects "
                f"({self.min_objects}) so every sequence can contain that many deforming objects"
            )

        lo, hi = self.fov_deg_range
        if lo <= 0.0 or hi >= 170.0:
            raise ValueError(f"SceneConfig.fov_deg_range must lie in (0, 170) degrees, got {self.fov_deg_range}")
        for name in ("room_size_range", "room_height_range", "object_size_range", "object_depth_range"):
            if getattr(self, name)[0] <= 0.0:
                raise ValueError(f"SceneConfig.{name} must be positive, got {getattr(self, name)}")
        if self.room_size_range[0] < 2.5:
            raise ValueError(f"SceneConfig.room_size_range must start at >= 2.5 m so the camera fits, got {self.room_size_range}")
        if self.room_height_range[0] < 2.0:
            raise ValueError(f"SceneConfig.room_height_range must start at >= 2.0 m, got {self.room_height_range}")
        if self.camera_height_range[0] < 0.5 or self.camera_height_range[1] > self.room_height_range[0] - 0.4:
            raise ValueError(
                "SceneConfig.camera_height_range must lie within [0.5, min room height - 0.4] m, "
                f"got {self.camera_height_range} with room_height_range {self.room_height_range}"
            )
        for name in ("camera_step_range", "object_step_range", "object_rotation_deg_range", "deform_cycles_per_frame_range"):
            if getattr(self, name)[0] < 0.0:
                raise ValueError(f"SceneConfig.{name} must be non-negative, got {getattr(self, name)}")
        if self.camera_step_range[1] > 1.0:
            raise ValueError(f"SceneConfig.camera_step_range above 1 m/frame leaves no overlap, got {self.camera_step_range}")
        if self.deform_cycles_per_frame_range[1] > 0.5:
            raise ValueError(
                f"SceneConfig.deform_cycles_per_frame_range must be <= 0.5 cycles/frame (Nyquist), got {self.deform_cycles_per_frame_range}"
            )
        lo, hi = self.ambient_range
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"SceneConfig.ambient_range must lie in [0, 1], got {self.ambient_range}")
        for name in ("static_object_prob", "cross_view_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SceneConfig.{name} must be a probability in [0, 1], got {value}")
        for name in ("camera_jitter_deg", "deform_strength", "image_noise_std"):
            if getattr(self, name) < 0.0:
                raise ValueError(f"SceneConfig.{name} must be non-negative, got {getattr(self, name)}")
        if self.deform_strength > 1.0:
            raise ValueError(f"SceneConfig.deform_strength must be <= 1, got {self.deform_strength}")
        if self.deforming_objects > 0 and self.deform_strength == 0.0:
            raise ValueError("SceneConfig.deform_strength must be > 0 when deforming_objects > 0")
        _check_positive("motion_epsilon", self.motion_epsilon)


def _as_range(name: str, value: Any) -> Range:
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        lo, hi = (_as_float(name, v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"SceneConfig.{name} must be a (low, high) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"SceneConfig.{name} must be finite, got {value!r}")
    if lo > hi:
        raise ValueError(f"SceneConfig.{name} must satisfy low <= high, got {value!r}")
    return (lo, hi)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"SceneConfig.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"SceneConfig.{name} must be finite, got {value!r}")
    return float(value)


def _as_int(name: str, value: Any, minimum: int) -> int:
    # bool is an int subclass; accepting True as "1 frame" would hide mistakes.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"SceneConfig.{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"SceneConfig.{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_positive(name: str, value: float) -> None:
    if not value > 0.0:
        raise ValueError(f"SceneConfig.{name} must be a positive number, got {value!r}")
