"""sensor_msgs/Image and CompressedImage payloads <-> numpy, without cv_bridge.

Decoding is zero-copy where the layout allows (a view on the message bytes, rows cut by ``step``).

Every decoder here takes untrusted bytes from the network and raises nothing but
:class:`ImageDecodingError`, whose ``reason`` (a :class:`DecodeFailure`) says what kind of input it
was, so a ROS callback can count rejections by kind and go on. Declared dimensions are checked
against ``max_input_pixels`` before any pixel is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import Enum

import numpy as np

from .untrusted import clip_for_log

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

#: Default limit on an image's declared width x height: 4096 x 3072 = 12.6 MP. It admits every 4K
#: camera (UHD 3840 x 2160, DCI 4096 x 2160) and the 12 MP sensors of robot and phone cameras
#: (4000 x 3000, IMX477's 4056 x 3040), and refuses the 16 MP and larger images no camera stream
#: of ours needs. A decoded image at the limit is 38 MB of RGB; Pillow's own bomb limit is 89 MP.
DEFAULT_MAX_INPUT_PIXELS = 4096 * 3072

#: Container formats a CompressedImage may hold. image_transport sends JPEG and PNG; the others are
#: small, well-fuzzed Pillow decoders. Anything else (TIFF, EPS, PSD, ...) is refused unopened:
#: some Pillow plugins call external programs or large third-party decoders.
COMPRESSED_FORMATS = ("JPEG", "PNG", "WEBP", "PPM", "GIF")
_MAGIC = {
    "JPEG": (b"\xff\xd8",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "GIF": (b"GIF87a", b"GIF89a"),
    "PPM": tuple(b"P%d" % n for n in range(1, 7)),  # PBM, PGM, PPM (not PFM floats, not PAM)
}


class DecodeFailure(str, Enum):
    """Why an image message was refused: a closed set, for counters (``reason.value`` is the counter key)."""

    EMPTY = "empty"  # no bytes, or a zero width or height
    TOO_LARGE = "too_large"  # declared width x height above max_input_pixels (or Pillow's bomb limit)
    SIZE_MISMATCH = "size_mismatch"  # raw Image: step or data length do not fit height x width x encoding
    UNSUPPORTED_ENCODING = "unsupported_encoding"  # raw Image encoding we cannot turn into RGB / metres
    UNSUPPORTED_FORMAT = "unsupported_format"  # CompressedImage bytes are none of COMPRESSED_FORMATS
    CORRUPT = "corrupt"  # a known format whose bytes do not decode (truncated, bad chunk, bad header)


class ImageDecodingError(ValueError):
    """An image message cannot be turned into pixels; the message says why, ``reason`` says what kind."""

    def __init__(self, reason: DecodeFailure, message: str) -> None:
        super().__init__(message)
        self.reason = DecodeFailure(reason)


@dataclass(frozen=True)
class ImagePayload:
    """The fields of a sensor_msgs/Image, independent of the message class that carries them."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes | bytearray | memoryview | np.ndarray
    is_bigendian: bool = False


@dataclass(frozen=True)
class DecodedImage:
    """A decoded CompressedImage, possibly at a reduced size.

    Attributes:
        rgb: ``[h, w, 3]`` uint8 RGB as decoded.
        raw_wh: (width, height) the image declares: the camera's resolution.
        scale_xy: (sx, sy), decoded pixels per raw pixel (1.0 at full size; 1/2, 1/4 or 1/8 when a JPEG
            was decoded reduced). Pixel centres map as ``u_decoded = sx * (u_raw + 0.5) - 0.5``.
    """

    rgb: np.ndarray
    raw_wh: tuple[int, int]
    scale_xy: tuple[float, float]

    def intrinsics_to_decoded(self, k_raw: np.ndarray) -> np.ndarray:
        """``K [3, 3]`` of the camera (CameraInfo, raw resolution) -> K of the decoded image."""
        sx, sy = self.scale_xy
        affine = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
        return affine @ np.asarray(k_raw, dtype=np.float64)


def _check_pixel_count(width: int, height: int, max_input_pixels: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodingError(DecodeFailure.EMPTY, f"empty {what} {width}x{height}")
    if width * height > max_input_pixels:
        raise ImageDecodingError(
            DecodeFailure.TOO_LARGE,
            f"{what} {width}x{height} ({width * height / 1e6:.1f} MP) is above max_input_pixels "
            f"({max_input_pixels / 1e6:.1f} MP); raise max_input_pixels or lower the camera resolution",
        )


def _pixels(img: ImagePayload, channels: int, dtype: type, max_input_pixels: int) -> np.ndarray:
    width, height, step = int(img.width), int(img.height), int(img.step)
    encoding = clip_for_log(img.encoding)
    _check_pixel_count(width, height, max_input_pixels, f"{encoding} image")
    item = np.dtype(dtype).newbyteorder(">" if img.is_bigendian else "<")
    row_bytes = width * channels * item.itemsize
    if step < row_bytes:
        raise ImageDecodingError(
            DecodeFailure.SIZE_MISMATCH, f"step {step} is smaller than one row of {width} x {channels} x {item.itemsize} bytes"
        )
    try:
        raw = np.frombuffer(img.data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError) as exc:
        raise ImageDecodingError(DecodeFailure.SIZE_MISMATCH, f"image data is not a byte buffer ({type(exc).__name__}: {exc})") from exc
    if raw.size < step * height:
        raise ImageDecodingError(
            DecodeFailure.SIZE_MISMATCH, f"{encoding} image {width}x{height} needs {step * height} bytes, got {raw.size}"
        )
    rows = raw[: step * height].reshape(height, step)[:, :row_bytes]
    return rows.view(item).reshape(height, width, channels)


def sensor_full_scale(peak: int) -> int:
    """Full scale of a 16-bit mono image whose brightest pixel is ``peak``: the smallest of 10, 12, 14 or 16 bits.

    Many cameras put 10- or 12-bit data in 16-bit words. Scaling by the bit depth rather than by each
    frame's own maximum keeps the brightness of a sequence steady (a per-frame maximum makes it flicker).
    """
    for bits in (10, 12, 14, 16):
        if peak < (1 << bits):
            return (1 << bits) - 1
    return 65535


def image_to_rgb(img: ImagePayload, max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> np.ndarray:
    """Decode to ``[H, W, 3]`` uint8 RGB; mono is replicated, 16-bit is scaled to 8 bits by its bit depth.

    Raises only :class:`ImageDecodingError`.
    """
    spec = _COLOUR.get(img.encoding) if isinstance(img.encoding, str) else None
    if spec is None:
        raise ImageDecodingError(
            DecodeFailure.UNSUPPORTED_ENCODING,
            f"unsupported image encoding {clip_for_log(img.encoding)}; supported: {', '.join(SUPPORTED_COLOUR_ENCODINGS)} "
            "(republish as rgb8/bgr8, e.g. with image_proc)",
        )
    channels, dtype, order = spec
    px = _pixels(img, channels, dtype, max_input_pixels)
    if order is None:
        mono = px[..., 0]
        if mono.dtype != np.uint8:
            mono = (mono.astype(np.float32) * (255.0 / sensor_full_scale(int(mono.max())))).round().astype(np.uint8)
        return np.repeat(mono[..., None], 3, axis=2)
    return px[..., list(order)] if order != (0, 1, 2) or channels == 4 else px


def depth_image_metres(img: ImagePayload, max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> np.ndarray:
    """Depth image -> ``[H, W]`` float32 metres as sent (REP 118: 32FC1 metres, 16UC1 millimetres).

    NaN, inf and negative values are kept, for :func:`vdpm_ros.messages.validation.sanitize_depth` to
    judge and count. Raises only :class:`ImageDecodingError`.
    """
    if img.encoding == "32FC1":
        return _pixels(img, 1, np.float32, max_input_pixels)[..., 0].astype(np.float32)
    if img.encoding == "16UC1":
        return _pixels(img, 1, np.uint16, max_input_pixels)[..., 0].astype(np.float32) / 1000.0
    raise ImageDecodingError(
        DecodeFailure.UNSUPPORTED_ENCODING,
        f"unsupported depth encoding {clip_for_log(img.encoding)}; supported: {', '.join(SUPPORTED_DEPTH_ENCODINGS)}",
    )


def depth_to_metres(img: ImagePayload, max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> np.ndarray:
    """Depth image -> ``[H, W]`` float32 metres, NaN and inf set to 0 (= no measurement, REP 118).

    No range check: see :func:`vdpm_ros.messages.validation.sanitize_depth` for that. Raises only
    :class:`ImageDecodingError`.
    """
    depth = depth_image_metres(img, max_input_pixels)
    return np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)


def _sniff(head: bytes) -> str | None:
    for name, magics in _MAGIC.items():
        if head.startswith(magics):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_compressed(
    fmt: str,
    data: bytes | bytearray | memoryview | np.ndarray,
    needed_size: tuple[int, int] | None = None,
    max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS,
) -> DecodedImage:
    """sensor_msgs/CompressedImage -> :class:`DecodedImage`, at full size or reduced to what the caller needs.

    Args:
        fmt: the message's ``format`` field; only used in error messages (the bytes say what they are).
        data: the compressed bytes: JPEG, PNG, WebP, PPM/PGM or GIF (first frame).
        needed_size: (width, height), the largest size the caller will use (e.g. the network's input
            width, or the published output resolution); 0 in a dimension means "any". A JPEG is then
            decoded straight at 1/2, 1/4 or 1/8 scale (libjpeg DCT scaling, Pillow's ``draft``) where the
            result is still at least this large: a 4000 x 3000 JPEG needed at width 518 decodes at
            1000 x 750, about 3 x faster and with 1/16 of the memory. Other formats decode at full size.
            None decodes at full size.
        max_input_pixels: refuse images that declare more pixels than this, before decoding them.

    Raises only :class:`ImageDecodingError` (never Pillow's or numpy's exceptions).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        buf = bytes(data)
    except Exception as exc:  # an exotic buffer object: the message is unusable, not the node
        raise ImageDecodingError(DecodeFailure.CORRUPT, f"CompressedImage data is not bytes ({type(exc).__name__})") from exc
    what = f"CompressedImage (format {clip_for_log(fmt)}, {len(buf)} bytes)"
    if not buf:
        raise ImageDecodingError(DecodeFailure.EMPTY, f"empty {what}")
    kind = _sniff(buf[:16])
    if kind is None:
        raise ImageDecodingError(
            DecodeFailure.UNSUPPORTED_FORMAT,
            f"cannot decode {what}: starts with {clip_for_log(buf[:8])}, not one of {', '.join(COMPRESSED_FORMATS)}",
        )
    # Pillow's Image.open parses only the header; nothing is decoded before the size check.
    # Everything Pillow and numpy raise on hostile bytes (SyntaxError, ValueError, OSError, struct.error,
    # EOFError, IndexError, ZeroDivisionError, MemoryError, DecompressionBombError, ...) is an Exception;
    # KeyboardInterrupt and SystemExit are not and still stop the program.
    try:
        with Image.open(io.BytesIO(buf), formats=[kind]) as im:
            width, height = im.size
            _check_pixel_count(width, height, max_input_pixels, f"{kind} image in {what}")
            scale_xy = (1.0, 1.0)
            if needed_size is not None and kind == "JPEG":
                need_w, need_h = (max(1, int(n)) for n in needed_size)
                drafted = im.draft(None, (need_w, need_h))
                if drafted is not None:
                    _, box = drafted
                    scale_xy = (box[2] / width, box[3] / height)
            if im.mode.startswith("I"):  # 16-bit grey PNG: convert("RGB") would clip it at 255
                mono = np.asarray(im).astype(np.float32)
                mono = (np.clip(mono, 0, None) * (255.0 / sensor_full_scale(int(mono.max())))).round().astype(np.uint8)
                rgb = np.repeat(mono[..., None], 3, axis=-1)
            else:
                rgb = np.asarray(im.convert("RGB"))
    except ImageDecodingError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodingError(DecodeFailure.TOO_LARGE, f"cannot decode {what}: {exc}") from exc
    except MemoryError as exc:
        raise ImageDecodingError(DecodeFailure.TOO_LARGE, f"cannot decode {what}: out of memory") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodingError(DecodeFailure.CORRUPT, f"cannot decode {what}: a {kind} header that does not parse") from exc
    except Exception as exc:
        raise ImageDecodingError(DecodeFailure.CORRUPT, f"cannot decode {what}: {type(exc).__name__}: {clip_for_log(str(exc))}") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageDecodingError(DecodeFailure.CORRUPT, f"cannot decode {what}: decoded to an array of shape {rgb.shape}")
    return DecodedImage(rgb=rgb, raw_wh=(width, height), scale_xy=scale_xy)


def compressed_to_rgb(
    fmt: str, data: bytes | bytearray | memoryview | np.ndarray, max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS
) -> np.ndarray:
    """sensor_msgs/CompressedImage -> ``[H, W, 3]`` uint8 RGB at full size (see :func:`decode_compressed`).

    Raises only :class:`ImageDecodingError`.
    """
    return decode_compressed(fmt, data, None, max_input_pixels).rgb


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
