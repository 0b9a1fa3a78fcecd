"""One camera frame as the pipeline sees it, after the ROS layer has converted the messages."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """A camera image with its stamp and optional calibration and aligned depth.

    Attributes:
        stamp_ns: message stamp in integer nanoseconds (``sec * 10**9 + nanosec``). All timing in the
            pipeline comes from stamps, never the wall clock, so it works with simulated time.
        rgb: ``[H, W, 3]`` uint8 RGB camera image (the raw resolution every output refers to).
        intrinsics: optional ``[3, 3]`` float64 K from CameraInfo (pixels of ``rgb``, OpenCV convention).
            Carried for the node; the pipeline publishes the model's own estimate.
        depth: optional ``[H, W]`` float32 metric depth in metres aligned pixel-for-pixel with ``rgb``
            (0, NaN or inf = no measurement); only ``scale_mode="depth"`` reads it.
    """

    stamp_ns: int
    rgb: np.ndarray
    intrinsics: np.ndarray | None = None
    depth: np.ndarray | None = None

    def __post_init__(self) -> None:
        if isinstance(self.stamp_ns, bool) or not isinstance(self.stamp_ns, numbers.Integral):
            raise ValueError(f"Frame.stamp_ns must be an int of nanoseconds, got {self.stamp_ns!r}")
        object.__setattr__(self, "stamp_ns", int(self.stamp_ns))
        rgb = np.asarray(self.rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
            raise ValueError(f"Frame.rgb must be a uint8 [H, W, 3] RGB image, got {rgb.dtype} {rgb.shape}")
        object.__setattr__(self, "rgb", rgb)
        if self.intrinsics is not None:
            k = np.asarray(self.intrinsics, dtype=np.float64)
            if k.shape != (3, 3) or not np.isfinite(k).all():
                raise ValueError(f"Frame.intrinsics must be a finite [3, 3] matrix, got shape {k.shape}")
            object.__setattr__(self, "intrinsics", k)
        if self.depth is not None:
            d = np.asarray(self.depth)
            if d.shape != rgb.shape[:2]:
                raise ValueError(f"Frame.depth must be aligned with rgb: shape {rgb.shape[:2]}, got {d.shape}")
            if d.dtype != np.float32:
                # A 16UC1 depth image in millimetres must be converted by the caller; a silent cast would be wrong by 1000x.
                if not np.issubdtype(d.dtype, np.floating):
                    raise ValueError(f"Frame.depth must be float metres, got {d.dtype} (convert 16UC1 millimetres first)")
                d = d.astype(np.float32)
            object.__setattr__(self, "depth", d)

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width) of the raw image."""
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])

    @property
    def stamp_s(self) -> float:
        return self.stamp_ns * 1e-9
