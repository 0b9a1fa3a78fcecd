"""rclpy input messages -> plain values for the core; outgoing messages are built by :mod:`vdpm_ros.output`.

Everything here is a small pure function so the node callbacks stay free of maths.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image

from ..messages.image import ImagePayload


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def image_payload(msg: Image) -> ImagePayload:
    """The message's fields as a payload; ``msg.data`` is shared, not copied."""
    return ImagePayload(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))


def camera_info_k(msg: CameraInfo) -> np.ndarray | None:
    """``[3, 3]`` K of a CameraInfo, or None when it is unset (all zeros) or not finite."""
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    return k if np.isfinite(k).all() and k[0, 0] > 0 and k[1, 1] > 0 else None
