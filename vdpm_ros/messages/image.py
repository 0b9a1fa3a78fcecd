"""sensor_msgs/Image and CompressedImage payloads <-> numpy, without cv_bridge.

Decoding is zero-copy where the layout allows (a view on the message bytes, rows cut by ``step``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

#: encoding -> (channels, numpy dtype, channel order to reach RGB, or None for single-channel)
_COLOUR = {
    "rgb8": (3, np.uint8, (0, 1, 2)),
    "bgr8": (3, np.uint8, (2, 1, 0)),
    "rgba8": (4, np.uint8, (0, 1, 2)),
    "bgra8": (4, np.uint8, (2, 1, 0)),
    "8UC3": (3, np.uint8, (2, 1, 0)),  # OpenCV's default channel order is BGR
    "mono8": (1, np.uint8, None),
    "8UC1": (1, np.uint8, None),
    "mono16": (1, np.uint16, None),
    "16UC1": (1, np.uint16, None),
}
SUPPORTED_COLOUR_ENCODINGS = tuple(_COLOUR)
SUPPORTED_DEPTH_ENCODINGS = ("32FC1", "16UC1")


class ImageDecodingError(ValueError):
    """An image message cannot be turned into pixels; the message says why and what is supported."""


@dataclass(frozen=True)
class ImagePayload:
    """The fields of a sensor_msgs/Image, independent of the message class that carries them."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes | bytearray | memoryview | np.ndarray
    is_bigendian: bool = False


def _pixels(img: ImagePayload, channels: int, dtype: type) -> np.ndarray:
    item = np.dtype(dtype).newbyteorder(">" if img.is_bigendian else "<")
    row_bytes = img.width * channels * item.itemsize
    if img.height <= 0 or img.width <= 0:
        raise ImageDecodingError(f"empty image {img.width}x{img.height}")
    if img.step < row_bytes:
        raise ImageDecodingError(f"step {img.step} is smaller than one row of {img.width} x {channels} x {item.itemsize} bytes")
    raw = np.frombuffer(img.data, dtype=np.uint8)
    if raw.size < img.step * img.height:
        raise ImageDecodingError(f"{img.encoding} image {img.width}x{img.height} needs {img.step * img.height} bytes, got {raw.size}")
    rows = raw[: img.step * img.height].reshape(img.height, img.step)[:, :row_bytes]
    return rows.view(item).reshape(img.height, img.width, channels)


def sensor_full_scale(peak: int) -> int:
    """Full scale of a 16-bit mono image whose brightest pixel is ``peak``: the smallest of 10, 12, 14 or 16 bits.

    Many cameras put 10- or 12-bit data in 16-bit words. Scaling by the bit depth rather than by each
    frame's own maximum keeps the brightness of a sequence steady (a per-frame maximum makes it flicker).
    """
    for bits in (10, 12, 14, 16):
        if peak < (1 << bits):
            return (1 << bits) - 1
    return 65535


def image_to_rgb(img: ImagePayload) -> np.ndarray:
    """Decode to ``[H, W, 3]`` uint8 RGB; mono is replicated, 16-bit is scaled to 8 bits by its bit depth."""
    spec = _COLOUR.get(img.encoding)
    if spec is None:
        raise ImageDecodingError(
            f"unsupported image encoding {img.encoding!r}; supported: {', '.join(SUPPORTED_COLOUR_ENCODINGS)} "
            "(republish as rgb8/bgr8, e.g. with image_proc)"
        )
    channels, dtype, order = spec
    px = _pixels(img, channels, dtype)
    if order is None:
        mono = px[..., 0]
        if mono.dtype != np.uint8:
            mono = (mono.astype(np.float32) * (255.0 / sensor_full_scale(int(mono.max())))).round().astype(np.uint8)
        return np.repeat(mono[..., None], 3, axis=2)
    return px[..., list(order)] if order != (0, 1, 2) or channels == 4 else px


def depth_to_metres(img: ImagePayload) -> np.ndarray:
    """Depth image -> ``[H, W]`` float32 metres (REP 118: 32FC1 metres, 16UC1 millimetres); 0 / NaN = invalid."""
    if img.encoding == "32FC1":
        depth = _pixels(img, 1, np.float32)[..., 0].astype(np.float32)
    elif img.encoding == "16UC1":
        depth = _pixels(img, 1, np.uint16)[..., 0].astype(np.float32) / 1000.0
    else:
        raise ImageDecodingError(f"unsupported depth encoding {img.encoding!r}; supported: {', '.join(SUPPORTED_DEPTH_ENCODINGS)}")
    return np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)


def compressed_to_rgb(fmt: str, data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg / png) -> ``[H, W, 3]`` uint8 RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            if im.mode.startswith("I"):  # 16-bit grey PNG: convert("RGB") would clip it at 255
                mono = np.asarray(im).astype(np.float32)
                mono = (np.clip(mono, 0, None) * (255.0 / sensor_full_scale(int(mono.max())))).round().astype(np.uint8)
                return np.repeat(mono[..., None], 3, axis=-1)
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageDecodingError(f"cannot decode CompressedImage (format {fmt!r}, {len(data)} bytes): {exc}") from exc


def encode_image(array: np.ndarray) -> ImagePayload:
    """numpy -> Image fields: uint8 ``[H, W]`` mono8, uint8 ``[H, W, 3]`` rgb8, float32 ``[H, W]`` 32FC1, ``[H, W, 2]`` 32FC2."""
    array = np.ascontiguousarray(array)
    kinds = {
        (np.dtype(np.uint8), 2): ("mono8", 1),
        (np.dtype(np.uint8), 3): ("rgb8", 3),
        (np.dtype(np.float32), 2): ("32FC1", 1),
        (np.dtype(np.float32), 3): ("32FC2", 2),
    }
    key = (array.dtype, array.ndim)
    if key not in kinds or (array.ndim == 3 and array.shape[2] != kinds[key][1]):
        raise ValueError(f"cannot encode an array of dtype {array.dtype} and shape {array.shape} as a ROS image")
    encoding, channels = kinds[key]
    h, w = array.shape[:2]
    return ImagePayload(encoding, h, w, w * channels * array.itemsize, array.tobytes(), False)
