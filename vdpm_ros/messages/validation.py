"""Checks on decoded depth images and CameraInfo before the pipeline trusts them (pure, no ROS).

Every refusal carries a reason from a closed set (``reason.value`` is the counter key), and every
check returns a typed result instead of raising, so a ROS callback counts the reason and goes on.

Depth (REP 118: metres, 0 = no measurement)
    A pixel that is NaN/inf, negative or beyond ``max_depth_m`` becomes 0 (no measurement); the good
    pixels of the image are kept. An image is refused when no pixel is left:
    ``non_finite`` (no finite pixel at all), ``non_positive`` (finite, but none > 0: all zero or
    negative), ``beyond_max_depth`` (positive pixels exist, all beyond the limit), or when fewer
    than ``min_valid_fraction`` of its pixels are left (``too_sparse``). When it is matched to a
    colour frame: ``stale`` (the nearest depth image is further than ``max_stamp_diff_ns`` in time)
    and ``size_mismatch`` (not the colour image's height x width).

CameraInfo (REP 104)
    ``k_zero`` (all of K is 0: an uncalibrated camera), ``k_non_finite``, ``k_invalid`` (not 9
    values, fx or fy <= 0, a last row other than [0 0 1], or the principal point outside the image),
    ``size_mismatch`` (its height x width, after binning and ROI, is not the image's; 0 x 0 included).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

#: Default largest depth trusted, in metres. Depth cameras (stereo, ToF, structured light) and
#: 16UC1 images (at most 65.535 m) stay below it; 1e30 or a saturated float sensor does not.
DEFAULT_MAX_DEPTH_M = 100.0
#: Default largest |depth stamp - colour stamp| for a depth image to belong to a colour frame.
DEFAULT_MAX_DEPTH_STAMP_DIFF_NS = 50_000_000


class DepthRejection(str, Enum):
    NON_FINITE = "non_finite"
    NON_POSITIVE = "non_positive"
    BEYOND_MAX_DEPTH = "beyond_max_depth"
    TOO_SPARSE = "too_sparse"
    STALE = "stale"
    SIZE_MISMATCH = "size_mismatch"


class CameraInfoRejection(str, Enum):
    K_ZERO = "k_zero"
    K_NON_FINITE = "k_non_finite"
    K_INVALID = "k_invalid"
    SIZE_MISMATCH = "size_mismatch"


@dataclass(frozen=True)
class DepthCheck:
    """Result of :func:`sanitize_depth`.

    Attributes:
        depth: ``[H, W]`` float32 metres, 0 where there is no usable measurement; None when refused.
        reason: why it was refused, or None.
        message: one line for the log ("" when accepted).
        cleared_pixels: pixels that held a value but were set to 0 (NaN/inf, negative, beyond the limit).
    """

    depth: np.ndarray | None
    reason: DepthRejection | None
    message: str = ""
    cleared_pixels: int = 0

    @property
    def ok(self) -> bool:
        return self.reason is None


def sanitize_depth(depth: np.ndarray, max_depth_m: float = DEFAULT_MAX_DEPTH_M, min_valid_fraction: float = 0.0) -> DepthCheck:
    """Keep the pixels of ``depth [H, W]`` (metres, NaN/inf allowed) in (0, max_depth_m]; refuse an image with none.

    ``min_valid_fraction`` in [0, 1): refuse images where fewer pixels than this fraction are usable
    (0: one usable pixel is enough).
    """
    if not (np.isfinite(max_depth_m) and max_depth_m > 0):
        raise ValueError(f"max_depth_m must be a positive number of metres, got {max_depth_m}")
    if not 0.0 <= min_valid_fraction < 1.0:
        raise ValueError(f"min_valid_fraction must be in [0, 1), got {min_valid_fraction}")
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"depth must be a non-empty [H, W] array, got shape {d.shape}")
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(d)
        positive = finite & (d > 0)
        usable = positive & (d <= max_depth_m)
    n_usable = int(usable.sum())
    cleared = int(d.size - n_usable - np.count_nonzero(d == 0))
    size = f"{d.shape[1]}x{d.shape[0]} depth image"
    if not finite.any():
        return DepthCheck(None, DepthRejection.NON_FINITE, f"{size} has no finite pixel (all NaN or inf)", cleared)
    if not positive.any():
        return DepthCheck(None, DepthRejection.NON_POSITIVE, f"{size} has no pixel > 0 m (all zero or negative)", cleared)
    if n_usable == 0:
        return DepthCheck(
            None, DepthRejection.BEYOND_MAX_DEPTH,
            f"{size}: every positive pixel is beyond max_depth {max_depth_m:g} m (nearest {float(d[positive].min()):.3g} m)", cleared,
        )  # fmt: skip
    if n_usable < min_valid_fraction * d.size:
        return DepthCheck(
            None, DepthRejection.TOO_SPARSE,
            f"{size}: {100.0 * n_usable / d.size:.2f} % usable pixels, below min_valid_fraction {100.0 * min_valid_fraction:g} %", cleared,
        )  # fmt: skip
    clean = d if cleared == 0 else np.where(usable, d, np.float32(0.0))
    return DepthCheck(clean.astype(np.float32, copy=False), None, "", cleared)


@dataclass(frozen=True)
class DepthMatch:
    """Result of :func:`match_depth`: the depth image for a colour frame, or why there is none.

    ``depth`` is None both when refused (``reason`` set) and when no depth image had arrived at all
    (``reason`` None: nothing to count). ``stamp_diff_ns`` is |depth - colour| of the nearest one.
    """

    depth: np.ndarray | None
    reason: DepthRejection | None
    message: str = ""
    stamp_diff_ns: int | None = None


def match_depth(
    depths: Iterable[tuple[int, np.ndarray]],
    image_stamp_ns: int,
    image_hw: tuple[int, int],
    max_stamp_diff_ns: int = DEFAULT_MAX_DEPTH_STAMP_DIFF_NS,
) -> DepthMatch:
    """The depth image nearest in time to a colour frame, if it is close enough and the same size.

    Args:
        depths: recent (stamp ns, depth ``[H, W]`` metres) pairs, any order.
        image_stamp_ns: the colour frame's stamp.
        image_hw: the colour image's (height, width).
        max_stamp_diff_ns: largest |depth stamp - colour stamp| accepted.

    A colour frame whose nearest depth image is too far in time counts one ``stale`` (per colour
    frame, not per depth image: it says how many frames went without depth).
    """
    if max_stamp_diff_ns < 0:
        raise ValueError(f"max_stamp_diff_ns must be >= 0, got {max_stamp_diff_ns}")
    best: tuple[int, np.ndarray] | None = None
    for stamp, depth in depths:
        diff = abs(int(stamp) - int(image_stamp_ns))
        if best is None or diff < best[0]:
            best = (diff, depth)
    if best is None:
        return DepthMatch(None, None)
    diff, depth = best
    if diff > max_stamp_diff_ns:
        return DepthMatch(
            None, DepthRejection.STALE,
            f"nearest depth image is {diff * 1e-9:.3f} s from the colour frame (at most {max_stamp_diff_ns * 1e-9:.3f} s)", diff,
        )  # fmt: skip
    if tuple(depth.shape[:2]) != tuple(image_hw):
        return DepthMatch(
            None, DepthRejection.SIZE_MISMATCH,
            f"depth image {depth.shape[1]}x{depth.shape[0]} does not match the colour image {image_hw[1]}x{image_hw[0]}: "
            "subscribe depth to a topic aligned to the colour camera (e.g. aligned_depth_to_color)", diff,
        )  # fmt: skip
    return DepthMatch(depth, None, "", diff)


@dataclass(frozen=True)
class CameraInfoCheck:
    """Result of :func:`check_camera_info`.

    Attributes:
        k: ``[3, 3]`` float64 intrinsics of the image as published (binning and ROI applied), or None.
        reason: why it was refused, or None.
        message: one line for the log ("" when accepted).
        image_hw: (height, width) of the image ``k`` is for (binning and ROI applied), or None when refused.
    """

    k: np.ndarray | None
    reason: CameraInfoRejection | None
    message: str = ""
    image_hw: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class CameraInfoPayload:
    """The fields of a sensor_msgs/CameraInfo that :func:`check_camera_info` reads, whatever message class carried them.

    Attributes:
        k: the 9 values of ``k`` (row-major, pixels of the calibrated resolution), as sent (not yet checked).
        height, width: the calibrated resolution.
        binning_xy: ``(binning_x, binning_y)``; 0 and 1 both mean none.
        roi: ``(x_offset, y_offset, height, width)``; all zero = the full image.
    """

    k: Sequence[float] | np.ndarray
    height: int
    width: int
    binning_xy: tuple[int, int] = (0, 0)
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)

    def check(self, image_hw: tuple[int, int] | None = None) -> CameraInfoCheck:
        """:func:`check_camera_info` of these fields against an image of ``image_hw`` (None: size not checked)."""
        return check_camera_info(self.k, (self.height, self.width), image_hw, self.binning_xy, self.roi)


def _refuse(reason: CameraInfoRejection, message: str) -> CameraInfoCheck:
    return CameraInfoCheck(None, reason, f"CameraInfo ignored: {message}")


def check_camera_info(
    k: Sequence[float] | np.ndarray,
    info_hw: tuple[int, int],
    image_hw: tuple[int, int] | None = None,
    binning_xy: tuple[int, int] = (0, 0),
    roi: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> CameraInfoCheck:
    """Check a CameraInfo's K and size; return K for the image as published.

    Args:
        k: the 9 values of ``CameraInfo.k`` (row-major, pixels of the calibrated full resolution).
        info_hw: ``(CameraInfo.height, CameraInfo.width)``, the calibrated resolution.
        image_hw: the image's (height, width), or None when no image has been seen (size not checked).
        binning_xy: ``(binning_x, binning_y)``; 0 and 1 both mean no binning.
        roi: ``(x_offset, y_offset, height, width)`` of ``CameraInfo.roi``; all zero = full image.

    With binning b and ROI offset o, a full-resolution pixel centre u maps to ``(u - o + 0.5) / b - 0.5``
    on the published image (the pixel-centre convention of :class:`vdpm_ros.preprocessing.ImageTransform`).
    """
    try:
        kk = np.asarray(k, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return _refuse(CameraInfoRejection.K_INVALID, "K is not 9 numbers")
    if kk.size != 9:
        return _refuse(CameraInfoRejection.K_INVALID, f"K has {kk.size} values, not 9")
    if not np.isfinite(kk).all():
        return _refuse(CameraInfoRejection.K_NON_FINITE, "K has NaN or inf entries")
    if not kk.any():
        return _refuse(CameraInfoRejection.K_ZERO, "K is all zero (an uncalibrated camera); calibrate it or publish its K")
    kk = kk.reshape(3, 3)
    fx, fy, cx, cy = kk[0, 0], kk[1, 1], kk[0, 2], kk[1, 2]
    if fx <= 0 or fy <= 0:
        return _refuse(CameraInfoRejection.K_INVALID, f"focal lengths fx={fx:g}, fy={fy:g} must be > 0")
    if not (kk[1, 0] == 0 and kk[2, 0] == 0 and kk[2, 1] == 0 and kk[2, 2] == 1):
        return _refuse(CameraInfoRejection.K_INVALID, f"K's lower rows {kk[1, :1].tolist() + kk[2].tolist()} are not [0, 0 0 1]")
    h, w = (int(v) for v in info_hw)
    if h <= 0 or w <= 0:
        seen = f", the image is {image_hw[1]}x{image_hw[0]}" if image_hw is not None else ""
        return _refuse(CameraInfoRejection.SIZE_MISMATCH, f"it declares a {w}x{h} image{seen} (height and width must be set)")
    if not (0 <= cx <= w and 0 <= cy <= h):
        return _refuse(CameraInfoRejection.K_INVALID, f"principal point ({cx:g}, {cy:g}) is outside its {w}x{h} image")
    bx, by = (max(1, int(b)) for b in binning_xy)
    ox, oy, roi_h, roi_w = (int(v) for v in roi)
    full_h, full_w = (roi_h, roi_w) if roi_h > 0 and roi_w > 0 else (h, w)
    if roi_h <= 0 or roi_w <= 0:
        ox = oy = 0
    expected = (full_h // by, full_w // bx)
    if image_hw is not None and tuple(int(v) for v in image_hw) != expected:
        how = (f", ROI {full_w}x{full_h}" if (full_h, full_w) != (h, w) else "") + (f", binning {bx}x{by}" if (bx, by) != (1, 1) else "")
        return _refuse(
            CameraInfoRejection.SIZE_MISMATCH,
            f"it describes a {expected[1]}x{expected[0]} image"
            + (f" ({w}x{h}{how})" if how else "")
            + f", the image is {image_hw[1]}x{image_hw[0]}: publish the CameraInfo of this image stream",
        )
    if (bx, by, ox, oy) != (1, 1, 0, 0):
        affine = np.array([[1 / bx, 0.0, (0.5 - ox) / bx - 0.5], [0.0, 1 / by, (0.5 - oy) / by - 0.5], [0.0, 0.0, 1.0]])
        kk = affine @ kk
    return CameraInfoCheck(kk, None, "", expected)
