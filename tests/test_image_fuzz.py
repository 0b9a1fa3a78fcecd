"""Hostile image messages: the decoders raise ImageDecodingError (with a reason) and nothing else.

Two fuzzers, both deterministic: a seeded mutator of valid JPEG/PNG/PPM/GIF/WebP files
(tests/image_mutations.py) and hypothesis (derandomized) over raw Image fields and random bytes.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_mutations import HUGE, mutate, png_with_size, truncated_ihdr, valid_images, with_huge_size

from vdpm_ros.messages.image import (
    SUPPORTED_COLOUR_ENCODINGS,
    SUPPORTED_DEPTH_ENCODINGS,
    DecodeFailure,
    ImageDecodingError,
    ImagePayload,
    decode_compressed,
    depth_to_metres,
    image_to_rgb,
)

MUTATIONS = 6000  # about 1.5 s on the 2-core CPU
# Pillow warns (not raises) between its 89 MP and 179 MP limits; ours refuses far below either.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def _decode_or_reason(data: bytes, needed_size=None) -> str:
    """ "ok" (after checking the array) or the rejection's reason; any other exception fails the test."""
    try:
        out = decode_compressed("jpeg", data, needed_size)
    except ImageDecodingError as exc:
        assert isinstance(exc.reason, DecodeFailure)
        assert str(exc) and len(str(exc)) < 400, "one readable line"
        return exc.reason.value
    assert out.rgb.dtype == np.uint8 and out.rgb.ndim == 3 and out.rgb.shape[2] == 3
    assert out.rgb.shape[0] * out.rgb.shape[1] <= out.raw_wh[0] * out.raw_wh[1]
    return "ok"


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    return valid_images()


def test_every_valid_image_decodes(images):
    for name, data in images.items():
        assert _decode_or_reason(data) == "ok", name


def test_seeded_mutations_only_raise_image_decoding_error(images):
    rng = random.Random(20240610)
    names = sorted(images)
    corpus = [images[n] for n in names]
    outcomes: Counter[str] = Counter()
    for i in range(MUTATIONS):
        name = names[i % len(names)]
        data = mutate(name, images[name], corpus, rng)
        if i % 3 == 0:  # a third through the reduced (draft) JPEG path
            data = mutate(name, data, corpus, rng)
        outcomes[_decode_or_reason(data, (8, 6) if i % 3 == 0 else None)] += 1
    assert sum(outcomes.values()) == MUTATIONS
    # The mutator reaches every kind of rejection a compressed image can have (and some mutants still decode).
    for reason in ("ok", "corrupt", "too_large", "unsupported_format"):
        assert outcomes[reason] > 0, (reason, outcomes)


def test_no_bytes_is_empty():
    assert _decode_or_reason(b"") == "empty"


@pytest.mark.parametrize("name", sorted(valid_images()))
def test_a_header_declaring_60000_squared_is_refused_before_decoding(images, name):
    reason = _decode_or_reason(with_huge_size(name, images[name]))
    # The header still parses in every format, so the size check (not a failed decode) refuses it.
    assert reason == "too_large", name


def test_the_size_check_comes_before_any_pixel_is_decoded(images):
    # 5000 x 5000 with the 32 x 24 image's data: decoding would fail as truncated ("corrupt");
    # "too_large" shows the declared size was refused first.
    data = png_with_size(images["png_rgb"], 5000, 5000)
    assert _decode_or_reason(data) == "too_large"
    # Under a limit that admits it, the same bytes are a decode failure, not a crash.
    with pytest.raises(ImageDecodingError) as info:
        decode_compressed("png", data, max_input_pixels=5000 * 5000)
    assert info.value.reason is DecodeFailure.CORRUPT
    # A header within the limit but past Pillow's own bomb limit would be Pillow's DecompressionBombError.
    with pytest.raises(ImageDecodingError) as info:
        decode_compressed("png", png_with_size(images["png_rgb"], HUGE, HUGE), max_input_pixels=HUGE * HUGE)
    assert info.value.reason is DecodeFailure.TOO_LARGE


def test_truncated_ihdr_and_bad_checksums_are_corrupt(images):
    rng = random.Random(1)
    for _ in range(50):
        assert _decode_or_reason(truncated_ihdr(images["png_rgb"], rng)) == "corrupt"
    assert _decode_or_reason(png_with_size(images["png_rgb"], HUGE, HUGE, fix_crc=False)) == "corrupt"


def test_malformed_ppm_is_corrupt():
    for data in (b"P6\n4 4\n255\n" + b"\0" * 10, b"P6\n-4 4\n255\n", b"P6\nfour 4\n255\n", b"P6\n4 4\n0\n" + b"\0" * 48, b"P6"):
        assert _decode_or_reason(data) in ("corrupt", "empty"), data


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(
        [b"", b"\xff\xd8", b"\xff\xd8\xff\xc0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"P6\n", b"P5 ", b"RIFF\0\0\0\0WEBPVP8 "]
    ),
    body=st.binary(max_size=300),
    needed=st.none() | st.tuples(st.integers(-5, 100), st.integers(-5, 100)),
)
def test_random_bytes_behind_a_magic_number(prefix, body, needed):
    _decode_or_reason(prefix + body, needed)


_ENCODINGS = st.sampled_from(SUPPORTED_COLOUR_ENCODINGS + SUPPORTED_DEPTH_ENCODINGS + ("yuv422", "", "rgb8" * 2000)) | st.text(max_size=20)
_DIM = st.integers(-3, 40) | st.sampled_from([0, 2**16, 2**31 - 1, 2**32 - 1, HUGE])


@settings(max_examples=600, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    encoding=_ENCODINGS,
    height=_DIM,
    width=_DIM,
    step=st.integers(-5, 400) | st.sampled_from([2**32 - 1]),
    data=st.binary(max_size=2000),
    big=st.booleans(),
)
def test_raw_images_only_raise_image_decoding_error(encoding, height, width, step, data, big):
    payload = ImagePayload(encoding, height, width, step, data, big)
    for decode, channels in ((image_to_rgb, 3), (depth_to_metres, None)):
        try:
            out = decode(payload)
        except ImageDecodingError as exc:
            assert isinstance(exc.reason, DecodeFailure)
            assert len(str(exc)) < 400, "an untrusted encoding string is never echoed whole"
            continue
        assert out.shape[:2] == (height, width)
        assert (out.ndim == 3 and out.shape[2] == channels) if channels else out.ndim == 2
        if decode is depth_to_metres:
            assert np.isfinite(out).all()


@pytest.mark.parametrize(
    "payload, reason",
    [
        (ImagePayload("rgb8", 0, 7, 21, b""), "empty"),
        (ImagePayload("rgb8", 3072, 4097, 4097 * 3, b""), "too_large"),
        (ImagePayload("rgb8", 5, 7, 20, b"\0" * 105), "size_mismatch"),
        (ImagePayload("rgb8", 5, 7, 21, b"\0" * 104), "size_mismatch"),
        (ImagePayload("x" * 5000, 5, 7, 21, b"\0" * 105), "unsupported_encoding"),
    ],
)
def test_raw_rejection_reasons(payload, reason):
    with pytest.raises(ImageDecodingError) as info:
        image_to_rgb(payload)
    assert info.value.reason.value == reason
    assert len(str(info.value)) < 300
