"""Image payload decoding/encoding without cv_bridge."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vdpm_ros.messages.image import (
    DecodeFailure,
    ImageDecodingError,
    ImagePayload,
    compressed_to_rgb,
    decode_compressed,
    depth_to_metres,
    encode_image,
    image_to_rgb,
)

RGB = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _payload(array: np.ndarray, encoding: str, pad: int = 0, big: bool = False) -> ImagePayload:
    h, w = array.shape[:2]
    arr = array.astype(array.dtype.newbyteorder(">")) if big else array
    rows = arr.reshape(h, -1).view(np.uint8)
    step = rows.shape[1] + pad
    data = np.zeros((h, step), np.uint8)
    data[:, : rows.shape[1]] = rows
    return ImagePayload(encoding, h, w, step, data.tobytes(), big)


@pytest.mark.parametrize(
    "encoding, array",
    [
        ("rgb8", RGB),
        ("bgr8", RGB[..., ::-1].copy()),
        ("8UC3", RGB[..., ::-1].copy()),
        ("rgba8", np.concatenate([RGB, np.full((5, 7, 1), 9, np.uint8)], 2)),
        ("bgra8", np.concatenate([RGB[..., ::-1], np.full((5, 7, 1), 9, np.uint8)], 2)),
    ],
)
@pytest.mark.parametrize("pad", [0, 3])
def test_colour_encodings_decode_to_rgb(encoding, array, pad):
    np.testing.assert_array_equal(image_to_rgb(_payload(array, encoding, pad)), RGB)


def test_mono_encodings():
    mono = RGB[..., 0]
    np.testing.assert_array_equal(image_to_rgb(_payload(mono, "mono8")), np.repeat(mono[..., None], 3, 2))
    m16 = mono.astype(np.uint16) * 16  # 12-bit data in 16-bit words
    out = image_to_rgb(_payload(m16, "mono16", big=True))
    assert out.dtype == np.uint8
    np.testing.assert_allclose(out[..., 0].astype(float), m16 * 255.0 / 4095, atol=0.51)
    # a darker frame of the same camera keeps its brightness (no per-frame stretch)
    dark = image_to_rgb(_payload(m16 // 2, "mono16", big=True))
    np.testing.assert_allclose(dark[..., 0].astype(float), (m16 // 2) * 255.0 / 4095, atol=0.51)
    full = image_to_rgb(_payload(np.full((2, 2), 65535, np.uint16), "mono16"))
    assert (full == 255).all()


def test_zero_copy_decode():
    buf = bytearray(_payload(RGB, "rgb8").data)
    out = image_to_rgb(ImagePayload("rgb8", 5, 7, 21, buf))
    buf[0] = 255 - buf[0]
    assert out[0, 0, 0] == buf[0]


@pytest.mark.parametrize(
    "payload, message",
    [
        (ImagePayload("yuv422", 5, 7, 14, b"\0" * 70), "unsupported image encoding 'yuv422'"),
        (ImagePayload("rgb8", 5, 7, 21, b"\0" * 50), "needs 105 bytes"),
        (ImagePayload("rgb8", 5, 7, 10, b"\0" * 105), "step 10"),
        (ImagePayload("rgb8", 0, 7, 21, b""), "empty"),
    ],
)
def test_bad_images_are_clear_errors(payload, message):
    with pytest.raises(ImageDecodingError, match=message):
        image_to_rgb(payload)


def test_depth_encodings():
    d = np.array([[1.5, np.nan], [0.0, 2.25]], np.float32)
    np.testing.assert_array_equal(depth_to_metres(_payload(d, "32FC1")), [[1.5, 0.0], [0.0, 2.25]])
    mm = np.array([[1500, 0], [250, 65535]], np.uint16)
    np.testing.assert_allclose(depth_to_metres(_payload(mm, "16UC1")), mm / 1000.0)
    with pytest.raises(ImageDecodingError, match="depth encoding"):
        depth_to_metres(_payload(RGB, "rgb8"))


@pytest.mark.parametrize("fmt, max_err", [("png", 0), ("jpeg", 8)])
def test_compressed(fmt, max_err):
    u, v = np.meshgrid(np.arange(32) * 8, np.arange(24) * 10, indexing="xy")
    smooth = np.stack([u, v, np.full((24, 32), 128)], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(smooth).save(buf, format=fmt.upper(), **({"quality": 95} if fmt == "jpeg" else {}))
    out = compressed_to_rgb(fmt, buf.getvalue())
    assert out.shape == smooth.shape
    assert np.abs(out.astype(int) - smooth).max() <= max_err
    with pytest.raises(ImageDecodingError, match="cannot decode"):
        compressed_to_rgb("jpeg", b"garbage")


def test_encode_round_trip():
    for array in (RGB, RGB[..., 0], np.random.rand(5, 7).astype(np.float32), np.random.rand(5, 7, 2).astype(np.float32)):
        p = encode_image(array)
        assert p.step * p.height == len(p.data)
        back = np.frombuffer(p.data, array.dtype).reshape(array.shape)
        np.testing.assert_array_equal(back, array)
    assert encode_image(RGB).encoding == "rgb8" and encode_image(RGB[..., 0]).encoding == "mono8"
    with pytest.raises(ValueError, match="cannot encode"):
        encode_image(np.zeros((2, 2), np.int64))


def _jpeg(array: np.ndarray, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=95, **options)
    return buf.getvalue()


def _gradient(h: int, w: int) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h))
    return np.stack([u, v, 255 - u], -1).astype(np.uint8)


@pytest.mark.parametrize("progressive", [False, True])
def test_a_large_jpeg_is_decoded_straight_at_the_size_needed(progressive):
    raw = _gradient(1200, 1601)  # a width libjpeg's 1/8 scale does not divide
    data = _jpeg(raw, progressive=progressive)
    full = decode_compressed("jpeg", data)
    assert full.rgb.shape == (1200, 1601, 3) and full.scale_xy == (1.0, 1.0) and full.raw_wh == (1601, 1200)
    small = decode_compressed("jpeg", data, needed_size=(200, 0))
    # 1/8 is the largest reduction that keeps the width >= 200; the last column covers a partial block.
    assert small.rgb.shape == (150, 201, 3) and small.raw_wh == (1601, 1200)
    assert small.scale_xy == (0.125, 0.125)
    blocks = full.rgb[:, :1600].reshape(150, 8, 200, 8, 3).mean(axis=(1, 3))
    assert np.abs(small.rgb[:, :200].astype(float) - blocks).mean() < 2.0  # the same picture, averaged
    # At least what was asked for in both dimensions: height 160 forces 1/4.
    assert decode_compressed("jpeg", data, needed_size=(200, 160)).rgb.shape == (300, 401, 3)
    # Asking for more than the image has decodes it whole.
    assert decode_compressed("jpeg", data, needed_size=(4000, 4000)).rgb.shape == (1200, 1601, 3)


def test_decoded_intrinsics_follow_the_pixel_centres():
    data = _jpeg(_gradient(1200, 1600))
    small = decode_compressed("jpeg", data, needed_size=(200, 150))
    assert small.rgb.shape == (150, 200, 3)
    k = np.array([[1000.0, 0.0, 799.5], [0.0, 1000.0, 599.5], [0.0, 0.0, 1.0]])  # principal point at the centre
    k_small = small.intrinsics_to_decoded(k)
    np.testing.assert_allclose(k_small, [[125.0, 0.0, 99.5], [0.0, 125.0, 74.5], [0.0, 0.0, 1.0]])


def test_only_jpeg_is_reduced():
    buf = io.BytesIO()
    Image.fromarray(_gradient(64, 96)).save(buf, format="PNG")
    out = decode_compressed("png", buf.getvalue(), needed_size=(12, 8))
    assert out.rgb.shape == (64, 96, 3) and out.scale_xy == (1.0, 1.0)


def test_compressed_rejection_reasons():
    buf = io.BytesIO()
    Image.fromarray(_gradient(64, 96)).save(buf, format="TIFF")
    cases = [
        (b"", DecodeFailure.EMPTY),
        (b"garbage", DecodeFailure.UNSUPPORTED_FORMAT),
        (buf.getvalue(), DecodeFailure.UNSUPPORTED_FORMAT),  # TIFF: a format we do not open
        (_jpeg(_gradient(8, 8))[:40], DecodeFailure.CORRUPT),
    ]
    for data, reason in cases:
        with pytest.raises(ImageDecodingError) as info:
            decode_compressed("x" * 5000, data)
        assert info.value.reason is reason
        assert "x" * 81 not in str(info.value), "the format string is clipped"
    with pytest.raises(ImageDecodingError) as info:
        compressed_to_rgb("jpeg", _jpeg(_gradient(64, 96)), max_input_pixels=64 * 96 - 1)
    assert info.value.reason is DecodeFailure.TOO_LARGE and "96x64" in str(info.value)
