"""Camera messages in, pipeline frames out: decode, check, pair depth, count every refusal (no rclpy).

The node's callbacks turn a message into a payload and hand it here; what comes back is a
:class:`~vdpm_ros.pipeline.frames.Frame` for the pipeline, or None after the refusal was counted (by
reason, in :mod:`vdpm_ros.ros.accounting` tallies) and logged (one line per kind every few seconds, see
:class:`~vdpm_ros.messages.log_throttle.KindThrottle`). Nothing here raises on a hostile message.

Rules:
- colour images: decoded with ``max_input_pixels`` checked before any pixel (raw and compressed);
- depth images: decoded, then pixels that are NaN/inf, <= 0 or beyond ``max_depth`` set to 0 (no
  measurement); an image with no pixel left is refused. A colour frame takes the depth image nearest in
  stamp, if within ``depth_stamp_tolerance`` and of the same size (else it goes without, counted);
- CameraInfo: K and size checked against the last colour image; a refused one is ignored and the
  previous K kept. A K is attached to frames of the size it describes only.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..messages.frame_gaps import MissedFrameEstimator
from ..messages.image import (
    DEFAULT_MAX_INPUT_PIXELS,
    DecodeFailure,
    ImageDecodingError,
    ImagePayload,
    compressed_to_rgb,
    depth_image_metres,
    image_to_rgb,
)
from ..messages.log_throttle import KindThrottle
from ..messages.validation import (
    DEFAULT_MAX_DEPTH_M,
    DEFAULT_MAX_DEPTH_STAMP_DIFF_NS,
    CameraInfoPayload,
    match_depth,
    sanitize_depth,
)
from ..pipeline.frames import Frame
from .accounting import CAMERA_INFO_REASONS, DEPTH_REASONS, IMAGE_REASONS, PAIRING_REASONS, Tally

#: ``log(level, line)``; level is "info", "warning" or "error".
LogFn = Callable[[str, str], None]


@dataclass(frozen=True)
class IntakeLimits:
    """What the intake accepts.

    Attributes:
        max_input_pixels: largest declared width x height of a colour or depth image.
        max_depth_m: depth pixels beyond this (metres) are no measurement.
        depth_tolerance_ns: largest |depth stamp - colour stamp| for a depth image to belong to a frame.
        depth_buffer: depth images kept for pairing (a depth camera's frames need not arrive right
            before their colour image).
    """

    max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS
    max_depth_m: float = DEFAULT_MAX_DEPTH_M
    depth_tolerance_ns: int = DEFAULT_MAX_DEPTH_STAMP_DIFF_NS
    depth_buffer: int = 10

    def __post_init__(self) -> None:
        if self.max_input_pixels < 1:
            raise ValueError(f"max_input_pixels must be >= 1, got {self.max_input_pixels}")
        if not (np.isfinite(self.max_depth_m) and self.max_depth_m > 0):
            raise ValueError(f"max_depth_m must be a positive number of metres, got {self.max_depth_m}")
        if self.depth_tolerance_ns < 0:
            raise ValueError(f"depth_tolerance_ns must be >= 0, got {self.depth_tolerance_ns}")
        if self.depth_buffer < 1:
            raise ValueError(f"depth_buffer must be >= 1, got {self.depth_buffer}")


class CameraIntake:
    """Turns colour, depth and CameraInfo payloads into frames; thread-safe.

    Args:
        limits: what is accepted.
        log: where the (already throttled) log lines go.
        throttle: shared with the caller's other log lines; one per kind every 5 s by default.

    The tallies (``images``, ``depth``, ``depth_pairing``, ``camera_info``) and ``gaps`` are read by
    :class:`~vdpm_ros.ros.accounting.NodeAccounts`.
    """

    def __init__(self, limits: IntakeLimits | None = None, log: LogFn | None = None, throttle: KindThrottle | None = None) -> None:
        self.limits = limits or IntakeLimits()
        self._log = log or (lambda level, line: None)
        self.throttle = throttle or KindThrottle(5.0)
        self.images = Tally(IMAGE_REASONS)
        self.depth = Tally(DEPTH_REASONS)
        self.depth_pairing = Tally(PAIRING_REASONS)
        self.camera_info = Tally(CAMERA_INFO_REASONS)
        self._lock = threading.Lock()
        self._gaps = MissedFrameEstimator()
        self._depths: deque[tuple[int, np.ndarray]] = deque(maxlen=self.limits.depth_buffer)
        self._k: np.ndarray | None = None
        self._k_hw: tuple[int, int] | None = None
        self._image_hw: tuple[int, int] | None = None

    @property
    def gaps(self):
        with self._lock:
            return self._gaps.stats

    def report(self, level: str, kind: str, line: str) -> None:
        """Log ``line`` unless a line of ``kind`` went out less than the throttle period ago."""
        decision = self.throttle.allow(kind)
        if decision:
            self._log(level, line + decision.suffix())

    # ------------------------------------------------------------------ colour
    def raw_image(self, stamp_ns: int, payload: ImagePayload) -> Frame | None:
        """A sensor_msgs/Image's fields -> a frame, or None (counted and logged)."""
        return self._colour(stamp_ns, lambda: image_to_rgb(payload, self.limits.max_input_pixels))

    def compressed_image(self, stamp_ns: int, fmt: str, data) -> Frame | None:
        """A sensor_msgs/CompressedImage's format and data -> a frame at full size, or None (counted and logged)."""
        return self._colour(stamp_ns, lambda: compressed_to_rgb(fmt, data, self.limits.max_input_pixels))

    def _colour(self, stamp_ns: int, decode: Callable[[], np.ndarray]) -> Frame | None:
        self.images.arrive()
        with self._lock:
            missed = self._gaps.observe(stamp_ns)
            period = self._gaps.stats.period_s
        if missed:
            self.report(
                "warning", "image/missed",
                f"about {missed} frames missing before the image at {stamp_ns * 1e-9:.3f} s (stream period {period:.3f} s): "
                "lost in transport or by a full subscription queue (see image_qos, image_queue_depth)",
            )  # fmt: skip
        try:
            rgb = decode()
        except ImageDecodingError as exc:
            self.images.reject(exc.reason.value)
            self.report("warning", f"image/{exc.reason.value}", f"image at {stamp_ns * 1e-9:.3f} s rejected ({exc.reason.value}): {exc}")
            return None
        hw = (int(rgb.shape[0]), int(rgb.shape[1]))
        with self._lock:
            self._image_hw = hw
            match = match_depth(self._depths, stamp_ns, hw, self.limits.depth_tolerance_ns)
            k = self._k if self._k_hw == hw else None
        try:
            frame = Frame(stamp_ns=stamp_ns, rgb=rgb, intrinsics=k, depth=match.depth)
        except ValueError as exc:  # the decoders promise a valid image; if one did not, it is this image's fault
            self.images.reject(DecodeFailure.CORRUPT.value)
            self.report("error", "image/invalid_frame", f"image at {stamp_ns * 1e-9:.3f} s rejected: {exc}")
            return None
        self.depth_pairing.arrive()
        if match.depth is not None:
            self.depth_pairing.accept()
        elif match.reason is not None:
            self.depth_pairing.reject(match.reason.value)
            self.report("warning", f"depth_pairing/{match.reason.value}", f"frame at {stamp_ns * 1e-9:.3f} s has no depth: {match.message}")
        else:
            self.depth_pairing.reject("no_depth")
        self.images.accept()
        return frame

    # ------------------------------------------------------------------ depth
    def depth_image(self, stamp_ns: int, payload: ImagePayload) -> bool:
        """A depth Image's fields (32FC1 m or 16UC1 mm): kept for pairing (True) or refused (False, counted and logged)."""
        self.depth.arrive()
        try:
            metres = depth_image_metres(payload, self.limits.max_input_pixels)
        except ImageDecodingError as exc:
            self.depth.reject(exc.reason.value)
            self.report(
                "warning", f"depth/{exc.reason.value}", f"depth image at {stamp_ns * 1e-9:.3f} s rejected ({exc.reason.value}): {exc}"
            )
            return False
        check = sanitize_depth(metres, self.limits.max_depth_m)
        if not check.ok:
            self.depth.reject(check.reason.value)
            self.report(
                "warning",
                f"depth/{check.reason.value}",
                f"depth image at {stamp_ns * 1e-9:.3f} s rejected ({check.reason.value}): {check.message}",
            )
            return False
        with self._lock:
            self._depths.append((int(stamp_ns), check.depth))
        self.depth.accept()
        return True

    # ------------------------------------------------------------------ CameraInfo
    def camera_info_message(self, info: CameraInfoPayload) -> bool:
        """A CameraInfo's fields: its K is used from now on (True), or it is ignored and the previous K kept (False)."""
        self.camera_info.arrive()
        with self._lock:
            image_hw = self._image_hw
        check = info.check(image_hw)
        if not check.ok:
            self.camera_info.reject(check.reason.value)
            self.report("warning", f"camera_info/{check.reason.value}", f"{check.message}; keeping the previous K")
            return False
        with self._lock:
            self._k, self._k_hw = check.k, check.image_hw
        self.camera_info.accept()
        return True
