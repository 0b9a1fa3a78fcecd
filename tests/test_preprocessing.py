"""Official preprocessing rules and the exact pixel / intrinsics mapping back to the raw image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vdpm_ros.preprocessing import preprocess_frame, preprocess_images, resized_size


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "raw_hw, mode, net_hw",
    [
        ((480, 640), "crop", (392, 518)),  # 480 * 518 / 640 = 388.5 -> 28 patches -> 392
        ((720, 1280), "crop", (294, 518)),
        ((1000, 400), "crop", (518, 518)),  # portrait: 1295 tall, centre-cropped
        ((480, 640), "pad", (518, 518)),
        ((1000, 400), "pad", (518, 518)),
    ],
)
def test_output_sizes(raw_hw, mode, net_hw):
    tensor, tf = preprocess_frame(_image(*raw_hw), mode)
    assert tensor.shape == (3, *net_hw) and tf.net_hw == net_hw
    assert tensor.dtype == torch.float32 and 0.0 <= tensor.min() and tensor.max() <= 1.0


def test_pixels_equal_pillow_bicubic_resize():
    img = _image(240, 320)
    tensor, _ = preprocess_frame(img, "crop")
    h, w = resized_size((240, 320), "crop")
    expected = np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BICUBIC)).astype(np.float32) / 255
    np.testing.assert_array_equal(tensor.permute(1, 2, 0).numpy(), expected)


def test_pad_mode_pads_white_and_centres():
    tensor, tf = preprocess_frame(np.full((480, 640, 3), 100, np.uint8), "pad")
    top, bottom, left, right = tf.valid_region
    assert (top, bottom, left, right) == (63, 455, 0, 518)
    assert torch.all(tensor[:, :top] == 1.0) and torch.all(tensor[:, bottom:] == 1.0)
    assert torch.all(tensor[:, top:bottom] == 100 / 255)


def test_crop_mode_crops_the_centre():
    img = np.zeros((1036, 518, 3), np.uint8)  # 2x taller than wide -> 1036 resized, crop 259 top rows
    img[259:777] = 200
    tensor, tf = preprocess_frame(img, "crop")
    assert tf.offset_xy == (0.0, -259.0)
    assert torch.all(tensor == 200 / 255)


def test_mono_and_rgba_inputs():
    mono = _image(56, 84)[..., 0]
    t_mono, _ = preprocess_frame(mono)
    assert torch.equal(t_mono[0], t_mono[1]) and torch.equal(t_mono[1], t_mono[2])
    rgba = np.zeros((56, 84, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent -> white, as the official loader composites on white
    t_rgba, _ = preprocess_frame(rgba)
    assert torch.all(t_rgba == 1.0)


@pytest.mark.parametrize("bad, message", [(np.zeros((4, 4, 3), np.float32), "uint8"), (np.zeros((4, 4, 2), np.uint8), "shape")])
def test_bad_images_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        preprocess_frame(bad)


def test_bad_mode():
    with pytest.raises(ValueError, match="'crop' or 'pad'"):
        preprocess_frame(_image(10, 10), "stretch")


@pytest.mark.parametrize("raw_hw, mode", [((480, 640), "crop"), ((1000, 400), "crop"), ((480, 640), "pad"), ((300, 200), "pad")])
def test_intrinsics_and_pixels_map_consistently(raw_hw, mode):
    """Projecting with K_raw then mapping equals projecting with the mapped K, and the maps invert."""
    _, tf = preprocess_frame(_image(*raw_hw), mode)
    k_raw = np.array([[500.0, 0, raw_hw[1] / 2 - 3], [0, 480.0, raw_hw[0] / 2 + 5], [0, 0, 1]])
    pts = np.random.default_rng(1).uniform([-1, -1, 2], [1, 1, 5], (50, 3))
    uv_raw = (pts @ k_raw.T)[:, :2] / pts[:, 2:]
    k_net = tf.intrinsics_to_net(k_raw)
    uv_net = (pts @ k_net.T)[:, :2] / pts[:, 2:]
    np.testing.assert_allclose(tf.raw_to_net_pixels(uv_raw), uv_net, atol=1e-9)
    np.testing.assert_allclose(tf.net_to_raw_pixels(uv_net), uv_raw, atol=1e-9)
    np.testing.assert_allclose(tf.intrinsics_to_raw(k_net), k_raw, atol=1e-9)


def test_pixel_mapping_matches_where_content_lands_after_resize():
    """A bright blob at a known raw pixel appears at the mapped network pixel (centroid within 0.05 px)."""
    raw = np.zeros((480, 640, 3), np.uint8)
    v, u = np.mgrid[:480, :640]
    centre = np.array([201.3, 137.8])  # (u, v)
    raw[...] = (255 * np.exp(-((u - centre[0]) ** 2 + (v - centre[1]) ** 2) / (2 * 6.0**2)))[..., None].astype(np.uint8)
    for mode in ("crop", "pad"):
        tensor, tf = preprocess_frame(raw, mode)
        img = tensor[0].numpy().astype(np.float64)
        top, bottom, left, right = tf.valid_region
        img[:top], img[bottom:], img[:, :left], img[:, right:] = 0, 0, 0, 0  # white padding is not the blob
        img = np.where(img > 0.05, img, 0.0)
        vv, uu = np.mgrid[: img.shape[0], : img.shape[1]]
        got = np.array([(uu * img).sum(), (vv * img).sum()]) / img.sum()
        np.testing.assert_allclose(got, tf.raw_to_net_pixels(centre), atol=0.05)


def test_window_of_different_sizes_is_padded_and_transforms_follow():
    images = [_image(480, 640), _image(360, 640)]
    batch, tfs = preprocess_images(images, "crop")
    assert batch.shape == (2, 3, 392, 518)
    assert tfs[0].offset_xy == (0.0, 0.0)
    assert tfs[1].net_hw == (392, 518) and tfs[1].offset_xy == (0.0, 49.0)  # 294 tall, centred in 392
    assert torch.all(batch[1, :, :49] == 1.0)
    single, _ = preprocess_frame(images[1], "crop")
    assert torch.equal(batch[1, :, 49:343], single)
