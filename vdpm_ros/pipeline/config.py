"""Typed, self-validating configuration of the streaming pipeline (buffer, worker, processor, stitcher).

Each field is a :func:`~vdpm_ros.settings.setting`: its default, description, bounds and choices are declared
once here. The ROS node declares one parameter per field marked ``node`` (same name, same default), so a bad
value fails here, at start-up, with a message that names the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..geometry import DEFAULT_MOTION_THRESHOLD
from ..preprocessing import check_output_resolution
from ..settings import check_settings, from_mapping, setting

PREPROCESS_MODES = ("crop", "pad")
RESAMPLE_MODES = ("nearest", "bilinear")
SCALE_MODES = ("none", "fixed", "depth")
PRECISIONS = ("float32", "bfloat16", "float16")
MOTION_SPANS = ("window", "step")
MOTION_SOURCES = ("auto", "model", "flow")


@dataclass(frozen=True)
class PipelineConfig:
    """Every knob of the ROS-free streaming core.

    Attributes:
        window_size: frames per window S (>= 2: scene flow needs the previous time). V-DPM was
            fine-tuned on 5-19 frame snippets.
        stride: new accepted frames between two emitted windows (1 = a window per frame). With
            ``stride >= window_size`` windows share no frame and stitching falls back to chaining.
        min_frame_interval: seconds; rate limit / keyframe selection by message stamp: a frame closer
            than this to the last accepted frame is skipped (0 = keep every frame).
        time_jump_reset: seconds; a stamp that goes back by more than this (e.g. a looped bag) resets
            the buffer and is accepted; 0 = every backwards stamp is rejected.
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
        motion_source: "model" (the network's decoder gives P_i(t_j)), "flow" (:mod:`vdpm_ros.motion`: optical
            flow from the latest frame to the others with the model's depth and cameras; for a network that
            did not learn motion, such as the embedded default model) or "auto" (see
            :func:`~vdpm_ros.pipeline.processor.choose_motion_source`).
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
        output_resolution: the grid every published map and cloud is on (see
            :func:`vdpm_ros.preprocessing.output_grid`): "network" (the default: the camera image at the scale
            the network sees it, which holds all the model's information and costs the same for any camera),
            "camera" (every camera pixel; the cost grows with the camera's resolution) or a largest width in
            pixels ("640"). /vdpm/camera_info describes the grid actually published.
        queue_size: windows waiting for the inference worker; when full the oldest is dropped.
        stitch: align successive windows into one continuous odometry frame.
        stitch_min_points: fewest confident static shared points for a Sim(3) fit; below it the
            stitcher falls back to the shared camera pose.
        stitch_max_points: points used in the fit (evenly subsampled above this, for speed).
        stitch_with_scale: fit Sim(3) (True) or SE(3) (False); ``None`` = SE(3) for "depth" (each window
            is already metric, a scale fit would only accumulate drift) and Sim(3) otherwise (every
            window has its own normalised model scale).
        trajectory_max_length: camera poses kept in the trajectory (oldest forgotten first).
    """

    window_size: int = setting(5, "frames per window (the node needs at least 2; V-DPM was trained on 5-19)", min=1)
    stride: int = setting(
        1,
        "new frames between two windows (window_size - stride frames overlap; stride >= window_size: no overlap, frames between windows are not processed)",
        min=1,
    )
    min_frame_interval: float = setting(0.0, "seconds: frames closer than this to the last accepted frame are skipped", min=0.0)
    time_jump_reset: float = setting(
        1.0, "seconds: a stamp going back by more than this (looped bag) resets the stream; 0 = reject every backwards stamp", min=0.0
    )
    preprocess_mode: str = setting(
        "crop", "crop (width to the model size, centre-crop) or pad (longest side, white pad)", choices=PREPROCESS_MODES
    )
    resample: str = setting(
        "nearest",
        "how network-resolution maps are read at camera pixels: nearest (never blends across a depth edge) or bilinear",
        choices=RESAMPLE_MODES,
        node=False,
    )
    confidence_percentile: float = setting(50.0, "point cloud keeps points above this confidence percentile", min=0.0, max=99.9)
    motion_threshold: float = setting(
        DEFAULT_MOTION_THRESHOLD,
        "a point is dynamic when it moves more than this times the mean distance of the scene to the camera, from the window's first or previous frame to the latest",
        min=1e-6,
    )
    scale_mode: str = setting(
        "none", "none (model units), fixed (times fixed_scale), depth (from the aligned depth topic)", choices=SCALE_MODES
    )
    fixed_scale: float = setting(1.0, "metres per model unit when scale_mode is fixed", min=1e-9)
    depth_scale_min_pixels: int = setting(
        100, "fewest valid depth pixels for a metric-scale estimate (below it the previous window's factor is reused)", min=1, node=False
    )
    motion_source: str = setting(
        "auto",
        "where motion comes from: model (the network's decoder, what the official weights give), flow (optical flow with the model's depth and cameras, for a network that did not learn motion), auto (model when the checkpoint says its decoder learned motion, else flow)",
        choices=MOTION_SOURCES,
    )
    motion_span: str = setting(
        "window",
        "window: dynamic = moved since the window's first or previous frame (one more decoder pass); step: since the previous frame only (cheaper, but depends on the frame rate)",
        choices=MOTION_SPANS,
    )
    decode_previous_time: bool = setting(
        True, "decode the previous (and first) target time: scene flow, motion mask and optical flow need it", node=False
    )
    precision: str = setting("float32", "backbone/decoder precision: float32, bfloat16 or float16 (heads stay float32)", choices=PRECISIONS)
    output_resolution: str = setting(
        "network",
        "grid of the published maps and clouds: network (the camera image at the scale the network sees it), camera (every camera pixel: costs grow with the camera), or a largest width in pixels such as 640",
    )
    queue_size: int = setting(2, "windows waiting for the model; when full the oldest is dropped (and counted)", min=1)
    stitch: bool = setting(True, "align successive windows (Sim(3) on static points) into one odometry frame")
    stitch_min_points: int = setting(100, "fewest confident static shared points for a Sim(3) fit", min=3, node=False)
    stitch_max_points: int = setting(20000, "points used in the stitching fit (evenly subsampled above this)", min=3, node=False)
    stitch_with_scale: bool | None = None
    trajectory_max_length: int = setting(10000, "camera poses kept in the trajectory (oldest forgotten first)", min=1, node=False)

    def __post_init__(self) -> None:
        check_settings(self)  # types, bounds and choices, from the declarations above
        try:
            check_output_resolution(self.output_resolution)
        except ValueError as exc:
            raise ValueError(f"PipelineConfig.{exc}") from None
        if self.stitch_with_scale is not None and not isinstance(self.stitch_with_scale, bool):
            raise ValueError(f"PipelineConfig.stitch_with_scale must be a bool or None, got {self.stitch_with_scale!r}")
        if self.decode_previous_time and self.window_size < 2:
            raise ValueError(
                f"PipelineConfig.window_size must be >= 2 when decode_previous_time is set (scene flow needs two "
                f"times), got {self.window_size}"
            )
        if self.stitch_min_points > self.stitch_max_points:
            raise ValueError(
                f"PipelineConfig.stitch_min_points ({self.stitch_min_points}) must be <= stitch_max_points ({self.stitch_max_points})"
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
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        """Build from a mapping (e.g. ROS parameters); unknown keys are an error so typos do not pass silently."""
        return from_mapping(cls, dict(data))
