"""Typed, self-validating configuration of the streaming pipeline (buffer, worker, processor, stitcher).

The ROS node declares one parameter per field and builds this object with :meth:`PipelineConfig.from_dict`;
a bad value fails here, at start-up, with a message that names the field.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping

from ..geometry import DEFAULT_MOTION_THRESHOLD

PREPROCESS_MODES = ("crop", "pad")
RESAMPLE_MODES = ("nearest", "bilinear")
SCALE_MODES = ("none", "fixed", "depth")
PRECISIONS = ("float32", "bfloat16", "float16")
MOTION_SPANS = ("window", "step")


@dataclass(frozen=True)
class PipelineConfig:
    """Every knob of the ROS-free streaming core.

    Attributes:
        window_size: frames per window S (>= 2: scene flow needs the previous time). V-DPM was
            fine-tuned on 5-19 frame snippets.
        stride: new accepted frames between two emitted windows (1 = a window per frame). With
            ``stride >= window_size`` windows share no frame and stitching falls back to chaining.
        min_frame_interval_s: rate limit / keyframe selection by message stamp: a frame closer than
            this to the last accepted frame is skipped (0 = keep every frame).
        time_jump_reset_s: a stamp that goes back by more than this many seconds (e.g. a looped bag)
            resets the buffer and is accepted; ``None`` = every backwards stamp is rejected.
        preprocess_mode: "crop" (width 518, centre-crop the height) or "pad" (longest side 518, white
            padding); raw pixels cropped away have no prediction and come out invalid.
        resample: how network-resolution maps are read at raw pixel centres: "nearest" (default; never
            blends a foreground and a background point across a depth edge) or "bilinear".
        confidence_percentile: points whose confidence is below this percentile of the latest frame's
            confidences are left out of the cloud (50 = the official demo's threshold).
        motion_threshold: a pixel is dynamic when its point moves by more than this times the scene
            scale (mean distance of the latest frame's points to the window's frame-0 camera) within
            the window: from the window's first frame or from the previous frame to the latest. 0.025
            is the official demo's value, which it applies to the largest displacement over the clip;
            a single frame interval would make the mask depend on the frame rate.
        scale_mode: "none" (model units), "fixed" (model units times ``fixed_scale``) or "depth"
            (metres from an aligned depth image: median ratio of sensor to predicted depth).
        motion_span: "window" flags a point that moves from the window's first or previous frame to
            the latest (one more decoder pass, for t_0); "step" only from the previous frame, which is
            cheaper but depends on the frame rate (slow motion at a high rate is never flagged).
        fixed_scale: factor for ``scale_mode="fixed"``, from model units to metres.
        depth_scale_min_pixels: fewest valid (sensor and prediction) pixels for a depth-scale estimate;
            below it the previous window's factor is reused.
        decode_previous_time: decode P_{S-1}(t_{S-2}) and P_{S-1}(t_0) too (needed for scene flow,
            motion mask and optical flow); False decodes only t_{S-1} and leaves those outputs empty.
        precision: dtype of the backbone and decoder ("bfloat16"/"float16" run under autocast; the
            heads always run in float32).
        max_queue: windows waiting for the inference worker; when full the oldest is dropped.
        stitch: align successive windows into one continuous odometry frame.
        stitch_min_points: fewest confident static shared points for a Sim(3) fit; below it the
            stitcher falls back to the shared camera pose.
        stitch_max_points: points used in the fit (evenly subsampled above this, for speed).
        stitch_with_scale: fit Sim(3) (True) or SE(3) (False); ``None`` = SE(3) for "depth" (each window
            is already metric, a scale fit would only accumulate drift) and Sim(3) otherwise (every
            window has its own normalised model scale).
        trajectory_max_length: camera poses kept in the trajectory (oldest forgotten first).
    """

    window_size: int = 5
    stride: int = 1
    min_frame_interval_s: float = 0.0
    time_jump_reset_s: float | None = None
    preprocess_mode: str = "crop"
    resample: str = "nearest"
    confidence_percentile: float = 50.0
    motion_threshold: float = DEFAULT_MOTION_THRESHOLD
    scale_mode: str = "none"
    fixed_scale: float = 1.0
    depth_scale_min_pixels: int = 100
    motion_span: str = "window"
    decode_previous_time: bool = True
    precision: str = "float32"
    max_queue: int = 2
    stitch: bool = True
    stitch_min_points: int = 100
    stitch_max_points: int = 20000
    stitch_with_scale: bool | None = None
    trajectory_max_length: int = 10000

    def __post_init__(self) -> None:
        for name, minimum in (
            ("window_size", 1),
            ("stride", 1),
            ("depth_scale_min_pixels", 1),
            ("max_queue", 1),
            ("stitch_min_points", 3),
            ("stitch_max_points", 3),
            ("trajectory_max_length", 1),
        ):
            _check_int(name, getattr(self, name), minimum)
        for name in ("min_frame_interval_s", "confidence_percentile", "motion_threshold", "fixed_scale"):
            object.__setattr__(self, name, _check_float(name, getattr(self, name)))
        if self.time_jump_reset_s is not None:
            object.__setattr__(self, "time_jump_reset_s", _check_float("time_jump_reset_s", self.time_jump_reset_s))
            if self.time_jump_reset_s <= 0:
                raise ValueError(f"PipelineConfig.time_jump_reset_s must be > 0 or None, got {self.time_jump_reset_s}")
        for name in ("decode_previous_time", "stitch"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"PipelineConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if self.stitch_with_scale is not None and not isinstance(self.stitch_with_scale, bool):
            raise ValueError(f"PipelineConfig.stitch_with_scale must be a bool or None, got {self.stitch_with_scale!r}")
        for name, choices in (
            ("preprocess_mode", PREPROCESS_MODES),
            ("resample", RESAMPLE_MODES),
            ("scale_mode", SCALE_MODES),
            ("precision", PRECISIONS),
            ("motion_span", MOTION_SPANS),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"PipelineConfig.{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.decode_previous_time and self.window_size < 2:
            raise ValueError(
                f"PipelineConfig.window_size must be >= 2 when decode_previous_time is set (scene flow needs two "
                f"times), got {self.window_size}"
            )
        if self.min_frame_interval_s < 0:
            raise ValueError(f"PipelineConfig.min_frame_interval_s must be >= 0, got {self.min_frame_interval_s}")
        if not 0.0 <= self.confidence_percentile < 100.0:
            raise ValueError(f"PipelineConfig.confidence_percentile must lie in [0, 100), got {self.confidence_percentile}")
        if self.motion_threshold <= 0:
            raise ValueError(f"PipelineConfig.motion_threshold must be > 0, got {self.motion_threshold}")
        if self.fixed_scale <= 0:
            raise ValueError(f"PipelineConfig.fixed_scale must be > 0, got {self.fixed_scale}")
        if self.stitch_min_points > self.stitch_max_points:
            raise ValueError(
                f"PipelineConfig.stitch_min_points ({self.stitch_min_points}) must be <= stitch_max_points "
                f"({self.stitch_max_points})"
            )

    @property
    def units(self) -> str:
        """Units of every length in the results: "model" for ``scale_mode="none"``, else "m".

        A fixed factor is taken to convert model units to metres (that is what it is for).
        """
        return "model" if self.scale_mode == "none" else "m"

    @property
    def stitch_fits_scale(self) -> bool:
        """Whether the stitcher fits Sim(3) (True) or SE(3) (False); see ``stitch_with_scale``."""
        if self.stitch_with_scale is not None:
            return self.stitch_with_scale
        return self.scale_mode != "depth"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PipelineConfig":
        """Build from a mapping (e.g. ROS parameters); unknown keys are an error so typos do not pass silently."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown PipelineConfig keys: {unknown}; known keys: {sorted(known)}")
        return cls(**dict(data))


def _check_int(name: str, value: Any, minimum: int) -> None:
    # bool is an int subclass; accepting True as "1" would hide a mistyped parameter.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"PipelineConfig.{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"PipelineConfig.{name} must be >= {minimum}, got {value}")


def _check_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"PipelineConfig.{name} must be a finite number, got {value!r}")
    return float(value)
