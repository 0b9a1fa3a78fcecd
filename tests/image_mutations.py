"""Valid small images in every CompressedImage format we accept, and a seeded mutator of their bytes.

The mutations are the ways real streams and hostile publishers break images: bit flips, truncation,
splices of another image's bytes, and headers rewritten to declare 60000 x 60000 (or the largest the
format can say) so that a decoder that trusts them allocates gigabytes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
from PIL import Image

HUGE = 60000


def _smooth(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h))
    noise = rng.integers(0, 40, (h, w, 3))
    return np.clip(np.stack([u, v, 255 - u], -1) + noise, 0, 255).astype(np.uint8)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def valid_images() -> dict[str, bytes]:
    """name -> bytes of a valid 32 x 24 (or so) image; the name starts with the format."""
    rgb = Image.fromarray(_smooth(24, 32, 0))
    grey = rgb.convert("L")
    frames = [Image.fromarray(_smooth(20, 30, s)) for s in (1, 2)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "jpeg_baseline": _save(rgb, "JPEG", quality=90),
        "jpeg_progressive": _save(rgb, "JPEG", quality=70, progressive=True),
        "jpeg_grey": _save(grey, "JPEG"),
        "png_rgb": _save(rgb, "PNG"),
        "png_grey16": _save(Image.fromarray(np.asarray(grey).astype(np.uint16) * 16), "PNG"),
        "png_palette": _save(rgb.convert("P"), "PNG"),
        "png_rgba_interlaced": _save(rgb.convert("RGBA"), "PNG", interlace=1)
        if _png_interlace_supported()
        else _save(rgb.convert("RGBA"), "PNG"),
        "ppm_p6": _save(rgb, "PPM"),
        "ppm_pgm": _save(grey, "PPM"),
        "gif_animated": gif.getvalue(),
        "webp_lossy": _save(rgb, "WEBP", quality=80),
        "webp_lossless": _save(rgb, "WEBP", lossless=True),
    }


def _png_interlace_supported() -> bool:
    try:
        _save(Image.new("RGB", (2, 2)), "PNG", interlace=1)
        return True
    except (TypeError, ValueError, OSError):
        return False


# ----------------------------------------------------------------- header rewrites
def _png_chunks(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, type) of each chunk of a PNG, as far as its lengths go."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((pos, data[pos + 4 : pos + 8]))
        pos += 12 + length
    return out


def png_with_size(data: bytes, width: int, height: int, fix_crc: bool = True) -> bytes:
    """The PNG with its IHDR rewritten to declare ``width x height`` (CRC recomputed unless ``fix_crc=False``)."""
    body = bytearray(data)
    body[16:24] = struct.pack(">II", width, height)
    if fix_crc:
        body[29:33] = struct.pack(">I", zlib.crc32(bytes(body[12:29])))
    return bytes(body)


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOFn) rewritten to declare ``width x height`` (at most 65535)."""
    body = bytearray(data)
    pos = 2
    while pos + 4 <= len(body):
        if body[pos] != 0xFF:
            break
        marker = body[pos + 1]
        (length,) = struct.unpack(">H", body[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            body[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
            return bytes(body)
        pos += 2 + length
    return bytes(body)


def gif_with_size(data: bytes, width: int, height: int) -> bytes:
    body = bytearray(data)
    body[6:10] = struct.pack("<HH", min(width, 65535), min(height, 65535))
    return bytes(body)


def ppm_with_size(data: bytes, width: int, height: int) -> bytes:
    """A P5/P6 file with its header replaced (the pixel data of the original image follows)."""
    magic, rest = data[:2], data[2:]
    fields, pos = [], 0
    while len(fields) < 3 and pos < len(rest):  # width, height, maxval, each after white space
        while pos < len(rest) and rest[pos : pos + 1].isspace():
            pos += 1
        start = pos
        while pos < len(rest) and not rest[pos : pos + 1].isspace():
            pos += 1
        fields.append(rest[start:pos])
    maxval = fields[2] if len(fields) == 3 else b"255"
    return magic + b"\n%d %d\n%s\n" % (width, height, maxval) + rest[pos + 1 :]


def webp_with_max_size(data: bytes) -> bytes:
    """The WebP's dimensions set to the largest it can declare (16384 x 16384 for VP8 / VP8L)."""
    body = bytearray(data)
    chunk = bytes(body[12:16])
    if len(body) < 30:
        return bytes(body)
    if chunk == b"VP8 " and body[23:26] == b"\x9d\x01\x2a":
        body[26:30] = b"\xff\x3f\xff\x3f"
    elif chunk == b"VP8L" and body[20] == 0x2F:
        body[21:24] = b"\xff\xff\xff"
        body[24] |= 0x0F
    elif chunk == b"VP8X":
        body[24:30] = b"\xff\xff\x3f\xff\xff\x3f"
    return bytes(body)


def with_huge_size(name: str, data: bytes) -> bytes:
    """``data`` declaring 60000 x 60000 (or its format's maximum)."""
    if name.startswith("png"):
        return png_with_size(data, HUGE, HUGE)
    if name.startswith("jpeg"):
        return jpeg_with_size(data, HUGE, HUGE)
    if name.startswith("gif"):
        return gif_with_size(data, HUGE, HUGE)
    if name.startswith("ppm"):
        return ppm_with_size(data, HUGE, HUGE)
    return webp_with_max_size(data)


def truncated_ihdr(data: bytes, rng: random.Random) -> bytes:
    """A PNG cut inside its IHDR, or with an IHDR whose length field says fewer than 13 bytes."""
    if rng.random() < 0.5:
        return data[: rng.randrange(8, 33)]
    body = bytearray(data)
    short = rng.randrange(0, 13)
    body[8:12] = struct.pack(">I", short)
    return bytes(body[: 16 + short]) + bytes(body[29:])


# ----------------------------------------------------------------- the mutator
def mutate(name: str, data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    """One random mutation of ``data`` (a valid image called ``name``); ``corpus`` feeds the splices."""
    body = bytearray(data)
    if len(body) < 40:  # too short for a header rewrite (an earlier mutation cut it): grow it at random
        return bytes(body) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 16)))
    kind = rng.choice(("flip", "flip", "bytes", "truncate", "splice", "delete", "repeat", "huge", "ihdr", "png_chunk"))
    chunks = _png_chunks(data) if name.startswith("png") else []
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(body))
            body[i] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(body))
            n = rng.randint(1, 8)
            body[i : i + n] = bytes(rng.randrange(256) for _ in range(n))
    elif kind == "truncate":
        body = body[: rng.randrange(len(body))]
    elif kind == "splice":
        other = rng.choice(corpus)
        start = rng.randrange(len(other))
        piece = other[start : start + rng.randint(1, 256)]
        at = rng.randrange(len(body))
        body[at : at + (len(piece) if rng.random() < 0.5 else 0)] = piece
    elif kind == "delete":
        at = rng.randrange(len(body))
        del body[at : at + rng.randint(1, 64)]
    elif kind == "repeat":
        at = rng.randrange(len(body))
        body[at:at] = body[at : at + rng.randint(1, 128)]
    elif kind == "huge":
        body = bytearray(with_huge_size(name, data))
    elif kind == "ihdr" and name.startswith("png"):
        body = bytearray(truncated_ihdr(data, rng))
    elif kind == "png_chunk" and len(chunks) >= 2:
        pos, _ = rng.choice(chunks)
        if rng.random() < 0.5:  # a chunk whose length field lies
            body[pos : pos + 4] = struct.pack(">I", rng.choice((0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 20))))
        else:  # a run of whole chunks copied to another chunk boundary (e.g. IDAT before IHDR)
            bounds = [p for p, _ in chunks] + [len(data)]
            a, b = sorted(rng.sample(bounds, 2))
            at = rng.choice(bounds)
            body[at:at] = body[a:b]
    else:  # a format-specific kind on another format: flip one byte of the header
        body[rng.randrange(min(32, len(body)))] ^= 0xFF
    return bytes(body)
