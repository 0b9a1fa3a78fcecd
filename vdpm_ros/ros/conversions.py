"""rclpy input messages -> plain values for the core; outgoing messages are built by :mod:`vdpm_ros.output`.

Everything here is a small pure function so the node callbacks stay free of maths.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image

from ..messages.image import ImagePayload
from ..messages.validation import CameraInfoPayload


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def image_payload(msg: Image) -> ImagePayload:
    """The message's fields as a payload; ``msg.data`` is shared, not copied."""
    return ImagePayload(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))


def camera_info_payload(msg: CameraInfo) -> CameraInfoPayload:
    """The fields :func:`~vdpm_ros.messages.validation.check_camera_info` reads (unchecked: K may be anything)."""
    roi = msg.roi
    return CameraInfoPayload(
        np.asarray(msg.k, dtype=np.float64), int(msg.height), int(msg.width), (int(msg.binning_x), int(msg.binning_y)),
        (int(roi.x_offset), int(roi.y_offset), int(roi.height), int(roi.width)),
    )  # fmt: skip
