"""Depth and CameraInfo validation: every reason code, and the good pixels of a partly bad image kept."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.messages.image import ImagePayload, depth_image_metres
from vdpm_ros.messages.validation import (
    CameraInfoRejection,
    DepthRejection,
    check_camera_info,
    match_depth,
    sanitize_depth,
)

K = [500.0, 0.0, 319.5, 0.0, 500.0, 239.5, 0.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "value, reason",
    [
        (np.nan, DepthRejection.NON_FINITE),
        (np.inf, DepthRejection.NON_FINITE),
        (-np.inf, DepthRejection.NON_FINITE),
        (0.0, DepthRejection.NON_POSITIVE),
        (-2.0, DepthRejection.NON_POSITIVE),
        (1e30, DepthRejection.BEYOND_MAX_DEPTH),
        (100.5, DepthRejection.BEYOND_MAX_DEPTH),
    ],
)
def test_an_image_with_no_usable_pixel_is_refused_with_its_reason(value, reason):
    check = sanitize_depth(np.full((4, 6), value, np.float32))
    assert not check.ok and check.depth is None and check.reason is reason
    assert check.message and "6x4" in check.message


def test_a_mix_of_bad_kinds_is_named_by_the_best_it_got():
    d = np.array([[np.nan, -1.0], [0.0, 1e30]], np.float32)
    assert sanitize_depth(d).reason is DepthRejection.BEYOND_MAX_DEPTH
    assert sanitize_depth(d[:, :1]).reason is DepthRejection.NON_POSITIVE
    assert sanitize_depth(d[:1, :1]).reason is DepthRejection.NON_FINITE


def test_bad_pixels_become_no_measurement_and_good_ones_stay():
    d = np.array([[1.5, np.nan, -3.0], [0.0, 250.0, 2.25]], np.float32)
    check = sanitize_depth(d, max_depth_m=100.0)
    assert check.ok and check.reason is None and check.message == ""
    np.testing.assert_array_equal(check.depth, [[1.5, 0.0, 0.0], [0.0, 0.0, 2.25]])
    assert check.depth.dtype == np.float32
    assert check.cleared_pixels == 3  # NaN, -3 and 250 m; the 0 was already "no measurement"
    assert sanitize_depth(d, max_depth_m=300.0).depth[1, 1] == 250.0


def test_min_valid_fraction():
    d = np.zeros((10, 10), np.float32)
    d[0, :5] = 2.0  # 5 % usable
    assert sanitize_depth(d, min_valid_fraction=0.05).ok
    check = sanitize_depth(d, min_valid_fraction=0.06)
    assert check.reason is DepthRejection.TOO_SPARSE and "5.00 %" in check.message


def test_sanitize_depth_arguments_are_checked():
    with pytest.raises(ValueError, match="max_depth_m"):
        sanitize_depth(np.ones((2, 2)), max_depth_m=0)
    with pytest.raises(ValueError, match="min_valid_fraction"):
        sanitize_depth(np.ones((2, 2)), min_valid_fraction=1.0)
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        sanitize_depth(np.ones((2, 2, 1)))


def test_raw_depth_keeps_what_the_sensor_sent_for_the_check():
    d = np.array([[np.nan, -1.0]], np.float32)
    payload = ImagePayload("32FC1", 1, 2, 8, d.tobytes())
    out = depth_image_metres(payload)
    assert np.isnan(out[0, 0]) and out[0, 1] == -1.0
    assert sanitize_depth(out).reason is DepthRejection.NON_POSITIVE


def test_match_depth_takes_the_nearest_and_refuses_stale_or_misfit_ones():
    near, far = np.ones((4, 6), np.float32), np.full((4, 6), 2.0, np.float32)
    depths = [(1_000_000_000, far), (1_040_000_000, near)]
    m = match_depth(depths, 1_050_000_000, (4, 6), max_stamp_diff_ns=50_000_000)
    assert m.reason is None and m.depth is near and m.stamp_diff_ns == 10_000_000
    stale = match_depth(depths, 1_200_000_000, (4, 6), max_stamp_diff_ns=50_000_000)
    assert stale.reason is DepthRejection.STALE and stale.depth is None and "0.160 s" in stale.message
    misfit = match_depth(depths, 1_040_000_000, (480, 640))
    assert misfit.reason is DepthRejection.SIZE_MISMATCH and "6x4" in misfit.message and "640x480" in misfit.message
    nothing = match_depth([], 1_000_000_000, (4, 6))
    assert nothing.depth is None and nothing.reason is None  # no depth yet: nothing to count


@pytest.mark.parametrize(
    "k, reason",
    [
        ([0.0] * 9, CameraInfoRejection.K_ZERO),
        ([np.nan] + K[1:], CameraInfoRejection.K_NON_FINITE),
        (K[:4] + [np.inf] + K[5:], CameraInfoRejection.K_NON_FINITE),
        ([0.0] + K[1:], CameraInfoRejection.K_INVALID),
        (K[:4] + [-500.0] + K[5:], CameraInfoRejection.K_INVALID),
        (K[:8] + [0.0], CameraInfoRejection.K_INVALID),
        (K[:8], CameraInfoRejection.K_INVALID),
        (K[:2] + [5000.0] + K[3:], CameraInfoRejection.K_INVALID),  # principal point off the image
        ("not numbers", CameraInfoRejection.K_INVALID),
    ],
)
def test_bad_k_is_refused_with_its_reason(k, reason):
    check = check_camera_info(k, (480, 640), (480, 640))
    assert not check.ok and check.k is None and check.reason is reason
    assert check.message.startswith("CameraInfo ignored: ")


def test_a_good_camera_info_gives_its_k():
    check = check_camera_info(K, (480, 640), (480, 640))
    assert check.ok and check.message == ""
    np.testing.assert_array_equal(check.k, np.reshape(K, (3, 3)))
    assert check.image_hw == (480, 640)
    early = check_camera_info(K, (480, 640))  # no image seen yet: the size is checked later, against image_hw
    assert early.ok and early.image_hw == (480, 640)


@pytest.mark.parametrize("info_hw", [(1080, 1920), (0, 0), (480, 641)])
def test_a_camera_info_of_another_size_is_refused(info_hw):
    k = [500.0, 0.0, 100.0, 0.0, 500.0, 100.0, 0.0, 0.0, 1.0]
    check = check_camera_info(k, info_hw, (480, 640))
    assert check.reason is CameraInfoRejection.SIZE_MISMATCH
    assert "640x480" in check.message


def test_binning_and_roi_map_k_to_the_published_image():
    # 1280 x 960 calibrated, ROI 640 x 480 at (100, 50), binning 2: a 320 x 240 image.
    k_full = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 480.0], [0.0, 0.0, 1.0]])
    check = check_camera_info(k_full.reshape(-1), (960, 1280), (240, 320), binning_xy=(2, 2), roi=(100, 50, 480, 640))
    assert check.ok, check.message
    assert check.image_hw == (240, 320)
    # A full-resolution pixel centre u lands on (u - offset + 0.5) / 2 - 0.5 of the published image.
    u_full, v_full = 640.0, 480.0
    np.testing.assert_allclose(check.k[:2, 2], [(u_full - 100 + 0.5) / 2 - 0.5, (v_full - 50 + 0.5) / 2 - 0.5])
    np.testing.assert_allclose(np.diag(check.k)[:2], [500.0, 500.0])
    wrong = check_camera_info(k_full.reshape(-1), (960, 1280), (480, 640), binning_xy=(2, 2), roi=(100, 50, 480, 640))
    assert wrong.reason is CameraInfoRejection.SIZE_MISMATCH and "binning 2x2" in wrong.message and "ROI 640x480" in wrong.message
    # binning 0 and 1 both mean none
    assert np.array_equal(check_camera_info(K, (480, 640), (480, 640), binning_xy=(1, 0)).k, np.reshape(K, (3, 3)))
