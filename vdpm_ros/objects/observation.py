"""What the object stage reads from one window: the latest frame's points at two times, its motion mask
and confidences, all in the frame the outputs are published in.

The publish frame F is the odometry frame when windows are stitched, otherwise the latest camera's
optical frame (REP 103 optical axes). Every position and vector of the object stage is in F, in the
window's ``units`` ("model" or "m"); every ``[H, W]`` array is indexed by raw pixel of the latest image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNITS = ("model", "m")


@dataclass(frozen=True, eq=False)
class ObjectObservation:
    """The latest frame of a window as the object stage needs it.

    V-DPM gives, for every pixel of the latest frame i = S-1, where its 3D point is at several times of
    the window: P_i(t_end) at the latest time and P_i(t_src) at an earlier one. The longer the span
    between the two, the larger the motion relative to the model's noise, so the caller passes the
    earliest time it has (t_0 when the pipeline decodes it, else t_{S-2}).

    Attributes:
        stamp_ns: t_end, stamp of the latest frame (the pixels' frame), nanoseconds.
        source_stamp_ns: t_src < t_end, the time the motion is measured from, nanoseconds.
        points: ``[H, W, 3]`` float P_i(t_end) in F, in ``units``; NaN where there is no estimate.
        source_points: ``[H, W, 3]`` float P_i(t_src) in F: the same pixels' points at t_src; NaN where unknown.
        dynamic: ``[H, W]`` bool motion mask (the pipeline's ``WindowResult.dynamic``).
        confidence: ``[H, W]`` float per-pixel confidence (V-DPM's, >= 1 where known; the pipeline's
            ``flow_confidence``, the smaller of the two maps' confidences).
        usable: ``[H, W]`` bool pixels the stage may use (a valid prediction; a caller may also require
            confidence here).
        camera_position: ``[3]`` float64 centre of the latest camera in F: the origin of the viewing rays,
            so that 3D distances can be judged relative to range.
        units: "model" (V-DPM's normalised units) or "m".
    """

    stamp_ns: int
    source_stamp_ns: int
    points: np.ndarray
    source_points: np.ndarray
    dynamic: np.ndarray
    confidence: np.ndarray
    usable: np.ndarray
    camera_position: np.ndarray
    units: str = "model"

    def __post_init__(self) -> None:
        if not int(self.source_stamp_ns) < int(self.stamp_ns):
            raise ValueError(f"ObjectObservation.source_stamp_ns ({self.source_stamp_ns}) must be before stamp_ns ({self.stamp_ns})")
        if self.units not in UNITS:
            raise ValueError(f"ObjectObservation.units must be one of {UNITS}, got {self.units!r}")
        points = np.asarray(self.points)
        if points.ndim != 3 or points.shape[-1] != 3:
            raise ValueError(f"ObjectObservation.points must be [H, W, 3], got shape {points.shape}")
        hw = points.shape[:2]
        if np.shape(self.source_points) != points.shape:
            raise ValueError(f"ObjectObservation.source_points must match points {points.shape}, got {np.shape(self.source_points)}")
        for name in ("dynamic", "confidence", "usable"):
            if np.shape(getattr(self, name)) != hw:
                raise ValueError(f"ObjectObservation.{name} must be [H, W] = {hw}, got {np.shape(getattr(self, name))}")
        for name in ("dynamic", "usable"):
            if np.asarray(getattr(self, name)).dtype != bool:
                raise ValueError(f"ObjectObservation.{name} must be a bool array, got {np.asarray(getattr(self, name)).dtype}")
        camera = np.asarray(self.camera_position, dtype=np.float64)
        if camera.shape != (3,) or not np.isfinite(camera).all():
            raise ValueError(f"ObjectObservation.camera_position must be a finite [3] vector, got {self.camera_position!r}")
        object.__setattr__(self, "camera_position", camera)

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.points.shape[0]), int(self.points.shape[1])

    @property
    def span_s(self) -> float:
        """t_end - t_src in seconds."""
        return (int(self.stamp_ns) - int(self.source_stamp_ns)) * 1e-9
