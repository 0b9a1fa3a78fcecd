"""Typed, self-validating settings of the flow motion source (defaults tuned on held-out seeds 1500-1549)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

from .optical_flow import DIS_PRESETS

FLOW_FRAMES = ("window", "targets")
LIFT_DEPTHS = ("least_motion", "target")


@dataclass(frozen=True)
class FlowMotionConfig:
    """Every knob of :func:`~vdpm_ros.motion.flow_source.flow_dynamic_maps`.

    Attributes:
        flow_width: width in pixels of the working grid the optical flow runs on (the camera image is
            area-downscaled to it, aspect kept; never upscaled).
        dis_preset: OpenCV DIS preset: "ultrafast", "fast" or "medium".
        dis_finest_scale: finest pyramid level DIS refines to (0 = the working grid itself; None = the
            preset's own, 1 or 2).
        refine_chained: refine each chained flow (frames two or more apart) with one direct DIS pass
            between the latest image and the older one warped by the chained flow.
        flow_frames: "window" tests rigidity against every older frame of the window (the union over the
            window); "targets" only against the requested target times (cheaper, weaker).
        fb_absolute_px, fb_relative: forward-backward tolerance of each consecutive flow, in working
            pixels plus a fraction of the flow's length.
        pose_threshold_px: RANSAC inlier threshold of the relative pose, network pixels.
        pose_hypotheses: besides PnP on the model's depth, try the essential matrix (no depth needed) and
            the model's own cameras as each frame's first pose; the one whose matches one depth per pixel
            explains best (robust cost) goes on.
        essential_threshold_px: RANSAC threshold of the essential matrix, network pixels.
        pose_iterations: RANSAC iterations per older frame.
        pose_stride: every n-th network pixel (in both axes) takes part in the pose estimation.
        pose_rounds: rounds of (depth per pixel from the poses, poses from those depths) including the
            first; see :mod:`.camera_motion`.
        robust_scale_px: Cauchy scale of the robust pose polish and of the choice between pose guesses.
        refine_inlier_px: pixels whose worst rigidity residual (network pixels) is at most this fix the
            scale of the triangulated depths after each round.
        depth_prior_weight: weight of the model's depth in the per-pixel rigid depth fit, px^2 per unit
            of relative inverse-depth error; only matters where there is little parallax.
        residual_floor_px: flow residual (network pixels) below which a pixel is never dynamic (flow noise).
        residual_motion_fraction: a residual counts as motion when the 3D displacement it implies
            (residual x depth / focal length) exceeds this fraction of the pipeline's motion threshold
            (``motion_threshold`` x scene scale).
        texture_sigma_px: scale (working pixels) of the structure tensor that weighs each residual by how
            well the image texture lets the flow measure it in that direction (the aperture problem); 0 = off.
        texture_floor: added to the tensor's larger eigenvalue ((grey levels / 255 per pixel)^2): residuals in
            regions whose texture is weaker than this count less.
        residual_votes: in how many older frames the residual must exceed its threshold (fewer where
            fewer frames have a valid match): 1 is the union over the window; 2 ignores one frame's bad flow.
        score_low: hysteresis: pixels whose motion score (residual over threshold, see ``residual_votes``)
            exceeds this and that connect to a pixel whose score exceeds 1 are dynamic too (1 = no hysteresis).
        grow_unmatched_px: pixels without a trusted match in any older frame (they entered the view or were
            uncovered) are dynamic when at most this many steps (network pixels) from a dynamic region.
        depth_disagreement: |log(flow depth / model depth)| above which a pixel with enough parallax is
            dynamic (motion along the epipolar lines); ``inf`` turns the cue off.
        min_parallax: fraction of the depth fit's information from the flow needed for the depth cue.
        motion_threshold: the pipeline's motion threshold (fraction of the scene scale).
        min_component_px: connected dynamic regions smaller than this (network pixels) are dropped.
        close_px: radius of the morphological closing that fills holes in the dynamic mask (0 = none).
        open_px: radius of the opening that removes thin false alarms (0 = none).
        confidence_fb_px: forward-backward error (working pixels) at which a match's weight in the
            confidence falls to 1/e.
        lift_depth: how a moving pixel's match is lifted to 3D (see :mod:`.lifting`): "least_motion" (the
            least motion that explains the flow in every frame, pulled towards the model's depth of the
            latest frame by ``lift_prior_weight``; reads only the latest frame's own-time map) or "target"
            (the model's depth of the target frame at the match, checked by ``lift_depth_tolerance``).
        lift_prior_weight: see ``lift_depth`` and :func:`~vdpm_ros.motion.lifting.lift_least_motion`.
        lift_depth_tolerance: |log| depth jump at which "target" distrusts the target frame's depth.
    """

    flow_width: int = 160
    dis_preset: str = "medium"
    dis_finest_scale: int | None = 0
    refine_chained: bool = True
    flow_frames: str = "window"
    fb_absolute_px: float = 1.0
    fb_relative: float = 0.05
    pose_threshold_px: float = 1.5
    pose_hypotheses: bool = True
    essential_threshold_px: float = 0.5
    pose_iterations: int = 200
    pose_stride: int = 2
    pose_rounds: int = 3
    robust_scale_px: float = 1.0
    refine_inlier_px: float = 0.75
    depth_prior_weight: float = 1.0
    residual_floor_px: float = 0.75
    residual_motion_fraction: float = 0.25
    residual_votes: int = 2
    texture_sigma_px: float = 3.0
    texture_floor: float = 0.0
    score_low: float = 1.0
    grow_unmatched_px: int = 3
    depth_disagreement: float = math.inf
    min_parallax: float = 0.8
    motion_threshold: float = 0.025
    min_component_px: int = 30
    close_px: int = 1
    open_px: int = 1
    confidence_fb_px: float = 1.0
    lift_depth: str = "least_motion"
    lift_depth_tolerance: float = 0.3
    lift_prior_weight: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int):
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                    raise ValueError(f"FlowMotionConfig.{f.name} must be an int, got {value!r}")
            elif f.type in ("float", float):
                if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
                    raise ValueError(f"FlowMotionConfig.{f.name} must be a number, got {value!r}")
                object.__setattr__(self, f.name, float(value))
        if self.flow_width < 16:
            raise ValueError(f"FlowMotionConfig.flow_width must be at least 16 px, got {self.flow_width}")
        if self.dis_preset not in DIS_PRESETS:
            raise ValueError(f"FlowMotionConfig.dis_preset must be one of {sorted(DIS_PRESETS)}, got {self.dis_preset!r}")
        if self.dis_finest_scale is not None and (isinstance(self.dis_finest_scale, bool) or self.dis_finest_scale not in range(5)):
            raise ValueError(f"FlowMotionConfig.dis_finest_scale must be 0..4 or None, got {self.dis_finest_scale!r}")
        if self.flow_frames not in FLOW_FRAMES:
            raise ValueError(f"FlowMotionConfig.flow_frames must be one of {FLOW_FRAMES}, got {self.flow_frames!r}")
        if self.lift_depth not in LIFT_DEPTHS:
            raise ValueError(f"FlowMotionConfig.lift_depth must be one of {LIFT_DEPTHS}, got {self.lift_depth!r}")
        for name in ("refine_chained", "pose_hypotheses"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"FlowMotionConfig.{name} must be a bool, got {getattr(self, name)!r}")
        for name in ("pose_iterations", "pose_stride", "pose_rounds", "residual_votes"):
            if getattr(self, name) < 1:
                raise ValueError(f"FlowMotionConfig.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("min_component_px", "close_px", "open_px", "grow_unmatched_px"):
            if getattr(self, name) < 0:
                raise ValueError(f"FlowMotionConfig.{name} must be >= 0, got {getattr(self, name)}")
        positive = (
            "fb_absolute_px",
            "pose_threshold_px",
            "essential_threshold_px",
            "refine_inlier_px",
            "robust_scale_px",
            "motion_threshold",
        )
        for name in (*positive, "confidence_fb_px"):
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"FlowMotionConfig.{name} must be a positive finite number, got {getattr(self, name)}")
        non_negative = ("fb_relative", "texture_sigma_px", "texture_floor", "lift_prior_weight", "depth_prior_weight", "residual_floor_px")
        for name in (*non_negative, "residual_motion_fraction"):
            if not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"FlowMotionConfig.{name} must be a finite number >= 0, got {getattr(self, name)}")
        if not self.lift_depth_tolerance > 0:
            raise ValueError(
                f"FlowMotionConfig.lift_depth_tolerance must be > 0 (inf = always the target depth), got {self.lift_depth_tolerance}"
            )
        if not 0 < self.score_low <= 1:
            raise ValueError(f"FlowMotionConfig.score_low must lie in (0, 1], got {self.score_low}")
        if not self.depth_disagreement > 0:
            raise ValueError(f"FlowMotionConfig.depth_disagreement must be > 0 (inf = off), got {self.depth_disagreement}")
        if not 0 <= self.min_parallax <= 1:
            raise ValueError(f"FlowMotionConfig.min_parallax must lie in [0, 1], got {self.min_parallax}")
