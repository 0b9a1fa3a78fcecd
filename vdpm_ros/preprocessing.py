"""Camera images -> network input, exactly as the official V-DPM / VGGT loader does it, and back.

The official loader resizes with Pillow's bicubic filter to width 518 (height rounded to a multiple
of 14), then either centre-crops the height to 518 ("crop") or makes the longest side 518 and pads
to 518 x 518 with white ("pad"). Frames of different sizes in one window are padded to the largest
with white. :class:`ImageTransform` records the resulting affine pixel mapping so that intrinsics
and pixel coordinates predicted on the network input can be expressed on the raw camera image.

Pixel coordinates follow the OpenCV / ROS CameraInfo convention: integer (u, v) is the centre of
pixel (column u, row v).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image

Mode = Literal["crop", "pad"]
TARGET_SIZE = 518
PATCH_SIZE = 14


@dataclass(frozen=True)
class ImageTransform:
    """Affine map from raw-image pixels to network-input pixels: ``u_net = sx * (u_raw + 0.5) - 0.5 + ox``.

    Attributes:
        raw_hw: (height, width) of the camera image.
        net_hw: (height, width) of the network input (after crop / pad).
        scale_xy: (sx, sy) resized size over raw size.
        offset_xy: (ox, oy) pixels added by padding (positive) or removed by cropping (negative).
    """

    raw_hw: tuple[int, int]
    net_hw: tuple[int, int]
    scale_xy: tuple[float, float]
    offset_xy: tuple[float, float]

    def _affine(self) -> np.ndarray:
        sx, sy = self.scale_xy
        ox, oy = self.offset_xy
        return np.array([[sx, 0.0, 0.5 * sx - 0.5 + ox], [0.0, sy, 0.5 * sy - 0.5 + oy], [0.0, 0.0, 1.0]])

    def raw_to_net_pixels(self, uv: np.ndarray) -> np.ndarray:
        """``uv [..., 2]`` raw pixel coordinates -> network-input pixel coordinates."""
        a = self._affine()
        return np.asarray(uv, dtype=np.float64) * a[[0, 1], [0, 1]] + a[:2, 2]

    def net_to_raw_pixels(self, uv: np.ndarray) -> np.ndarray:
        """``uv [..., 2]`` network-input pixel coordinates -> raw pixel coordinates."""
        a = self._affine()
        return (np.asarray(uv, dtype=np.float64) - a[:2, 2]) / a[[0, 1], [0, 1]]

    def intrinsics_to_raw(self, k_net: np.ndarray) -> np.ndarray:
        """``K [..., 3, 3]`` on the network input -> the same camera on the raw image."""
        return _scale_rows(np.linalg.inv(self._affine()), k_net)

    def intrinsics_to_net(self, k_raw: np.ndarray) -> np.ndarray:
        """``K [..., 3, 3]`` on the raw image -> the same camera on the network input."""
        return _scale_rows(self._affine(), k_raw)

    @property
    def valid_region(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) rows/columns of the network input that show the image (not padding)."""
        sx, sy = self.scale_xy
        ox, oy = self.offset_xy
        h, w = self.net_hw
        top = max(0, int(round(oy)))
        left = max(0, int(round(ox)))
        bottom = min(h, int(round(oy + sy * self.raw_hw[0])))
        right = min(w, int(round(ox + sx * self.raw_hw[1])))
        return top, bottom, left, right


def _scale_rows(affine: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``affine @ k`` for a scale-and-offset ``affine`` written out row by row, so that an infinite focal length
    (an untrained camera head) stays infinite instead of turning every entry it touches into NaN via 0 * inf."""
    k = np.asarray(k, dtype=np.float64)
    out = k.copy()
    with np.errstate(invalid="ignore"):
        out[..., 0, :] = affine[0, 0] * k[..., 0, :] + affine[0, 2] * k[..., 2, :]
        out[..., 1, :] = affine[1, 1] * k[..., 1, :] + affine[1, 2] * k[..., 2, :]
    return out


def resized_size(raw_hw: tuple[int, int], mode: Mode, target: int = TARGET_SIZE) -> tuple[int, int]:
    """(height, width) after the official resize, before crop or pad."""
    h, w = raw_hw
    if mode == "pad" and h > w:
        return target, round(w * (target / h) / PATCH_SIZE) * PATCH_SIZE
    return round(h * (target / w) / PATCH_SIZE) * PATCH_SIZE, target


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}; convert with (img * 255).round().astype(np.uint8)")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        # Transparent pixels become white; Pillow's compositing keeps the official rounding.
        rgba = Image.fromarray(image)
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    raise ValueError(f"expected an image [H, W], [H, W, 3] (RGB) or [H, W, 4] (RGBA), got shape {image.shape}")


def preprocess_frame(image: np.ndarray, mode: Mode = "crop", target: int = TARGET_SIZE) -> tuple[torch.Tensor, ImageTransform]:
    """One camera image -> ``[3, H, W]`` float32 RGB in [0, 1] and its :class:`ImageTransform`.

    Args:
        image: ``[H, W, 3]`` RGB, ``[H, W, 4]`` RGBA or ``[H, W]`` mono, uint8.
        mode: "crop" (width 518, centre-crop height above 518) or "pad" (longest side 518, white pad to square).
    """
    if mode not in ("crop", "pad"):
        raise ValueError(f"preprocessing mode must be 'crop' or 'pad', got {mode!r}")
    rgb = _as_rgb_uint8(image)
    raw_hw = (rgb.shape[0], rgb.shape[1])
    if min(raw_hw) < 1:
        raise ValueError(f"empty image of shape {rgb.shape}")
    new_h, new_w = resized_size(raw_hw, mode, target)
    if new_h < PATCH_SIZE or new_w < PATCH_SIZE:
        raise ValueError(f"image {raw_hw[1]}x{raw_hw[0]} is too elongated: it resizes to {new_w}x{new_h}, below one patch")
    resized = np.array(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BICUBIC))
    tensor = torch.from_numpy(resized).permute(2, 0, 1).float().div_(255.0)
    ox = oy = 0.0
    if mode == "crop" and new_h > target:
        top = (new_h - target) // 2
        tensor = tensor[:, top : top + target]
        oy = -float(top)
    if mode == "pad":
        pad_h, pad_w = target - new_h, target - new_w
        top, left = pad_h // 2, pad_w // 2
        tensor = torch.nn.functional.pad(tensor, (left, pad_w - left, top, pad_h - top), value=1.0)
        ox, oy = float(left), float(top)
    transform = ImageTransform(
        raw_hw=raw_hw,
        net_hw=(tensor.shape[1], tensor.shape[2]),
        scale_xy=(new_w / raw_hw[1], new_h / raw_hw[0]),
        offset_xy=(ox, oy),
    )
    return tensor.contiguous(), transform


def preprocess_images(
    images: Sequence[np.ndarray], mode: Mode = "crop", target: int = TARGET_SIZE
) -> tuple[torch.Tensor, list[ImageTransform]]:
    """A window of camera images -> ``[S, 3, H, W]`` float32 in [0, 1] and one transform per frame.

    Frames whose network size differs are padded (white, centred) to the largest, as the official
    loader does; their transforms include that padding.
    """
    if len(images) == 0:
        raise ValueError("preprocess_images needs at least one image")
    frames = [preprocess_frame(img, mode, target) for img in images]
    max_h = max(t.shape[1] for t, _ in frames)
    max_w = max(t.shape[2] for t, _ in frames)
    tensors, transforms = [], []
    for tensor, tf in frames:
        pad_h, pad_w = max_h - tensor.shape[1], max_w - tensor.shape[2]
        if pad_h or pad_w:
            top, left = pad_h // 2, pad_w // 2
            tensor = torch.nn.functional.pad(tensor, (left, pad_w - left, top, pad_h - top), value=1.0)
            tf = ImageTransform(tf.raw_hw, (max_h, max_w), tf.scale_xy, (tf.offset_xy[0] + left, tf.offset_xy[1] + top))
        tensors.append(tensor)
        transforms.append(tf)
    return torch.stack(tensors), transforms


#: ``output_resolution`` values that are not a pixel width.
OUTPUT_RESOLUTIONS = ("network", "camera")


def check_output_resolution(spec: str) -> str:
    """``"network"``, ``"camera"`` or a largest width in pixels (``"640"``); raises ValueError otherwise."""
    if spec in OUTPUT_RESOLUTIONS or (spec.isdigit() and int(spec) >= PATCH_SIZE):
        return spec
    raise ValueError(f"output_resolution must be network, camera or a width of at least {PATCH_SIZE} pixels (e.g. 640), got {spec!r}")


def output_grid(net: ImageTransform, spec: str = "network") -> ImageTransform:
    """The grid the outputs are published on, as a map from camera pixels to grid pixels.

    Args:
        net: the frame's camera -> network-input transform (its resize factor defines "network").
        spec: "camera" (the camera's own pixels), "network" (the camera image at the scale the network sees
            it: for a 1280x720 camera and a 518-wide model, 518x291) or a largest width in pixels (never larger
            than the camera).

    The grid keeps the camera's aspect ratio and covers the whole camera image; pixels the network does not
    see (a crop) have no prediction there.
    """
    H, W = net.raw_hw
    check_output_resolution(spec)
    if spec == "camera":
        scale = 1.0
    elif spec == "network":
        scale = min(1.0, net.scale_xy[0])
    else:
        scale = min(1.0, int(spec) / W)
    return scaled_grid((H, W), (max(1, round(H * scale)), max(1, round(W * scale))))


def scaled_grid(raw_hw: tuple[int, int], grid_hw: tuple[int, int]) -> ImageTransform:
    """The grid of ``grid_hw`` pixels spread evenly over a ``raw_hw`` camera image (what :func:`output_grid` makes),
    so a consumer that knows only the two sizes (a published depth image and the camera) rebuilds the same map."""
    (H, W), (h, w) = raw_hw, grid_hw
    return ImageTransform(raw_hw=(H, W), net_hw=(h, w), scale_xy=(w / W, h / H), offset_xy=(0.0, 0.0))


def grid_pixel_sources(grid: ImageTransform) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pixel of ``grid`` (a camera -> grid transform), the camera pixel under its centre.

    Returns rows ``[h, w]``, columns ``[h, w]`` (int, clipped into the image) and ``inside [h, w]`` bool (False
    for padding and for centres outside the camera image). ``floor(x + 0.5)``, not rint: a centre exactly
    between two camera pixels takes the later one, every time.
    """
    h, w = grid.net_hw
    v, u = np.mgrid[0:h, 0:w]
    raw = grid.net_to_raw_pixels(np.stack([u, v], axis=-1).astype(np.float64))
    cols, rows = np.floor(raw[..., 0] + 0.5).astype(int), np.floor(raw[..., 1] + 0.5).astype(int)
    H, W = grid.raw_hw
    top, bottom, left, right = grid.valid_region
    inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    inside &= (v >= top) & (v < bottom) & (u >= left) & (u < right)
    return np.clip(rows, 0, H - 1), np.clip(cols, 0, W - 1), inside


def sample_nearest(image: np.ndarray, grid: ImageTransform) -> np.ndarray:
    """A camera-resolution array ``[H, W, ...]`` read at the pixels of ``grid`` -> ``[h, w, ...]`` (nearest).

    Nearest, because these are labels, depths and points: an average would blend a foreground and a
    background value into one that is neither.
    """
    if tuple(image.shape[:2]) != tuple(grid.raw_hw):
        raise ValueError(f"array of shape {image.shape} is not on the camera image {grid.raw_hw} of this grid")
    if grid.net_hw == grid.raw_hw and grid.offset_xy == (0.0, 0.0):
        return image
    rows, cols, _ = grid_pixel_sources(grid)
    return image[rows[:, :1], cols[:1, :]] if grid.offset_xy == (0.0, 0.0) else image[rows, cols]
