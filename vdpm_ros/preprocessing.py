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
        return np.linalg.inv(self._affine()) @ np.asarray(k_net, dtype=np.float64)

    def intrinsics_to_net(self, k_raw: np.ndarray) -> np.ndarray:
        """``K [..., 3, 3]`` on the raw image -> the same camera on the network input."""
        return self._affine() @ np.asarray(k_raw, dtype=np.float64)

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
