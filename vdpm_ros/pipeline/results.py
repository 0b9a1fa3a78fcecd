"""Typed results of one processed window.

Frames and units used throughout:
- *window frame*: the camera frame of the window's first frame (OpenCV optical axes: x right, y down,
  z forward), the frame V-DPM predicts in;
- *latest camera frame*: the optical frame of the window's last (latest) camera, the natural
  ``frame_id`` of the published clouds and images;
- lengths are in ``WindowResult.units``: "model" (V-DPM's normalised units) or "m" (metric scale applied);
- every ``[H, W, ...]`` array is on the OUTPUT GRID of the latest frame (``output_grid``): the camera image
  at the resolution ``PipelineConfig.output_resolution`` asks for (the camera's own pixels with "camera").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.poses import world_from_camera
from ..preprocessing import ImageTransform


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock seconds per stage of one window (device synchronised, so GPU work is counted where it runs).

    Attributes:
        preprocess_s: resize/crop/pad of the frames that were not cached, stacking, host-to-device copy.
        encode_s: aggregator (backbone), once per window.
        cameras_s: camera head.
        decode_s: time-conditioned decoder and point head for the latest frame, plus the time-variant head
            for stitching anchors.
        postprocess_s: everything derived from the maps (resampling to the output grid, flow, masks, depth,
            scale, projection) and the copy back to the host.
        total_s: the whole ``WindowProcessor.process`` call.
        motion_s: the flow motion source (optical flow, camera motion, rigidity), 0 with the model's decoder.
        stitch_s: placing the window in the odometry frame (0 without stitching).
        scene_s: the scene stage: moving objects and the static map (0 when off).
    """

    preprocess_s: float
    encode_s: float
    cameras_s: float
    decode_s: float
    postprocess_s: float
    total_s: float
    motion_s: float = 0.0
    stitch_s: float = 0.0
    scene_s: float = 0.0

    @property
    def window_s(self) -> float:
        """Everything the pipeline spends on the window: the processor, stitching and the scene stage."""
        return self.total_s + self.stitch_s + self.scene_s  # total_s includes motion_s

    def stages_s(self) -> dict[str, float]:
        """The stages by name, in pipeline order, seconds; they add up to :attr:`window_s` but for the processor's
        own bookkeeping (``total_s`` minus its stages). The one list of stage names: the benchmark's table and
        the node's /diagnostics both read it."""
        return {"preprocess": self.preprocess_s, "encode": self.encode_s, "cameras": self.cameras_s, "decode": self.decode_s,
                "motion": self.motion_s, "postprocess": self.postprocess_s, "stitch": self.stitch_s, "scene": self.scene_s}  # fmt: skip


@dataclass(frozen=True)
class AnchorMap:
    """One frame's own-time point map at NETWORK resolution, kept to align the next window onto this one.

    The same camera image gives the same network grid in every window, so two windows' anchor maps of
    one stamp correspond pixel for pixel.

    Attributes:
        stamp_ns: stamp of the frame.
        points: ``[h, w, 3]`` float32 P_i(t_i) in the window frame, in ``units``.
        confident: ``[h, w]`` bool, inside the image part of the network input and confidence at or above
            the percentile threshold.
        static: ``[h, w]`` bool, not flagged as moving (all True where motion is unknown).
    """

    stamp_ns: int
    points: np.ndarray
    confident: np.ndarray
    static: np.ndarray


@dataclass(frozen=True)
class CloudPoints:
    """The confidence-filtered point cloud of the latest frame, one row per kept raw pixel.

    Attributes:
        xyz: ``[N, 3]`` float32 positions in the requested frame, in ``WindowResult.units``.
        rgb: ``[N, 3]`` uint8 colours of the raw image.
        confidence: ``[N]`` float32 V-DPM confidence (>= 1, higher is better).
        pixels: ``[N, 2]`` int32 (u, v) raw pixel of each point.
    """

    xyz: np.ndarray
    rgb: np.ndarray
    confidence: np.ndarray
    pixels: np.ndarray

    @property
    def rgb_packed(self) -> np.ndarray:
        """``[N]`` uint32 0x00RRGGBB, the PCL/RViz "rgb" field layout (reinterpret as float32 if needed)."""
        c = self.rgb.astype(np.uint32)
        return (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]


@dataclass
class WindowResult:
    """Everything the node publishes for one window, all derived from one model pass.

    Identification:
        stamps_ns: the S frame stamps of the window, oldest first; outputs of the latest frame carry ``stamps_ns[-1]``.
        raw_hw: (H_cam, W_cam) of the latest camera image; net_hw: (h, w) of the network input.
        output_grid: camera pixels -> output-grid pixels; ``output_grid.net_hw`` is (H, W) of every map below.
        output_intrinsics: ``[3, 3]`` float64 K of the latest camera on the output grid (what /vdpm/camera_info says).
        units: "model" or "m"; scale: factor applied to every model-unit length (1 for ``scale_mode="none"``);
        scale_source: "none", "fixed", "depth" (from this frame's depth) or "depth-previous" (reused).

    Latest frame (output grid):
        rgb: ``[H, W, 3]`` uint8, the input image on the output grid (the image itself, not a copy, for "camera").
        valid: ``[H, W]`` bool, the pixel has a prediction (False where the crop removed it).
        points: ``[H, W, 3]`` float32 P_{S-1}(t_{S-1}) in the window frame, NaN where invalid (PCL convention).
        points_camera: ``[H, W, 3]`` float32 the same points in the latest camera frame, NaN where invalid.
        confidence: ``[H, W]`` float32 confidence of ``points`` (>= 1), 0 where invalid.
        confidence_threshold: the percentile threshold; cloud_mask: ``[H, W]`` bool, valid and confidence >= threshold.
        depth: ``[H, W]`` float32 z of ``points_camera`` (REP 118: NaN where invalid or not in front).
        scene_scale: mean distance of the latest frame's valid points to the window-frame origin, in ``units``.

    Motion of the latest frame from t_{S-2} to t_{S-1} (None when ``decode_previous_time`` is off):
        flow_dt_s: t_{S-1} - t_{S-2} in seconds.
        scene_flow: ``[H, W, 3]`` float32 (P_{S-1}(t_{S-1}) - P_{S-1}(t_{S-2})) / dt in units per second, window
            frame, NaN where invalid. This is object motion only: the camera's own motion is not in it.
        scene_flow_camera: ``[H, W, 3]`` float32 the same vectors in the latest camera frame.
        flow_confidence: ``[H, W]`` float32 min of the two maps' confidences, 0 where invalid.
        dynamic: ``[H, W]`` bool, the point moves by more than motion_threshold * scene_scale from t_0 or
            from t_{S-2} to t_{S-1} (False where invalid).
        motion_mask: ``[H, W]`` uint8, 255 where ``dynamic``, else 0.
        optical_flow: ``[H, W, 2]`` float32 pixels: where the pixel's point was in the previous image
            (P_{S-1}(t_{S-2}) projected with camera S-2) minus the pixel; NaN where invalid.

    The latest frame at the window's first time (motion_span "window"; None in "step" mode or without
    decode_previous_time):
        points_first: ``[H, W, 3]`` float32 P_{S-1}(t_0) in the window frame, in ``units``, NaN where invalid:
            where the latest frame's points were at the window's first time (the longest span the window
            has; the object stage measures each object's motion over it).
        first_stamp_ns: the stamp t_0 of ``points_first`` (``stamps_ns[0]``).

    Cameras of all S frames:
        extrinsics: ``[S, 3, 4]`` float64 camera-from-world (window frame), translations in ``units``.
        intrinsics: ``[S, 3, 3]`` float64 K on each frame's camera image, pixel centres at integer
            coordinates (OpenCV): the model's principal point, the network image's centre, becomes
            ((W-1)/2, (H-1)/2) of the network image before it is mapped to raw pixels.

    Other:
        anchors: own-time maps for stitching (the latest frame first, then any requested ones).
        timings: per-stage seconds.
    """

    stamps_ns: tuple[int, ...]
    raw_hw: tuple[int, int]
    net_hw: tuple[int, int]
    output_grid: ImageTransform
    output_intrinsics: np.ndarray
    units: str
    scale: float
    scale_source: str
    rgb: np.ndarray
    valid: np.ndarray
    points: np.ndarray
    points_camera: np.ndarray
    confidence: np.ndarray
    confidence_threshold: float
    cloud_mask: np.ndarray
    depth: np.ndarray
    scene_scale: float
    flow_dt_s: float | None
    scene_flow: np.ndarray | None
    scene_flow_camera: np.ndarray | None
    flow_confidence: np.ndarray | None
    dynamic: np.ndarray | None
    motion_mask: np.ndarray | None
    optical_flow: np.ndarray | None
    extrinsics: np.ndarray
    intrinsics: np.ndarray
    anchors: tuple[AnchorMap, ...]
    timings: StageTimings
    points_first: np.ndarray | None = None
    first_stamp_ns: int | None = None
    #: Where the motion came from: "model" (the network's decoder) or "flow" (the optical-flow source).
    motion_source: str = "model"

    @property
    def output_hw(self) -> tuple[int, int]:
        """(H, W) of the output grid, the size of every published map."""
        return tuple(self.output_grid.net_hw)

    @property
    def latest_stamp_ns(self) -> int:
        return self.stamps_ns[-1]

    @property
    def previous_stamp_ns(self) -> int | None:
        return self.stamps_ns[-2] if len(self.stamps_ns) > 1 else None

    @property
    def world_from_camera(self) -> np.ndarray:
        """``[S, 4, 4]`` float64 pose of each camera in the window frame (inverse of ``extrinsics``)."""
        return world_from_camera(self.extrinsics)

    def cloud(self, frame: str = "camera") -> CloudPoints:
        """The confidence-filtered cloud of the latest frame, in the "camera" (latest optical) or "window" frame."""
        if frame not in ("camera", "window"):
            raise ValueError(f"cloud frame must be 'camera' or 'window', got {frame!r}")
        xyz = self.points_camera if frame == "camera" else self.points
        v, u = np.nonzero(self.cloud_mask)
        return CloudPoints(
            xyz=xyz[v, u],
            rgb=self.rgb[v, u],
            confidence=self.confidence[v, u],
            pixels=np.stack([u, v], axis=-1).astype(np.int32),
        )
