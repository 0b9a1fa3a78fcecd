"""The node's input side without ROS: CameraIntake (decode, check, pair, count, log) and NodeAccounts (the sums).

The node runs exactly this code in its callbacks (tests/ros_node/test_node_hostile_inputs.py checks that
over real rclpy); here every rule is checked with exact counts and an injected clock.
"""

from __future__ import annotations

import dataclasses
import io
import random

import numpy as np
import pytest
from image_mutations import mutate, valid_images, with_huge_size
from PIL import Image

from vdpm_ros.messages.image import ImagePayload, encode_image
from vdpm_ros.messages.log_throttle import KindThrottle
from vdpm_ros.messages.validation import CameraInfoPayload
from vdpm_ros.pipeline.window_buffer import WindowBuffer
from vdpm_ros.pipeline.worker import InferenceWorker
from vdpm_ros.ros.accounting import IMAGE_REASONS, NodeAccounts, Tally
from vdpm_ros.ros.intake import CameraIntake, IntakeLimits

K = [500.0, 0.0, 28.0, 0.0, 500.0, 21.0, 0.0, 0.0, 1.0]
H, W = 42, 56
S = 1_000_000_000  # one second in ns


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _intake(**limits) -> tuple[CameraIntake, list[tuple[str, str]], FakeClock]:
    lines: list[tuple[str, str]] = []
    clock = FakeClock()
    intake = CameraIntake(IntakeLimits(**limits), lambda level, line: lines.append((level, line)), KindThrottle(5.0, clock))
    return intake, lines, clock


def _rgb(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _depth(values: float | np.ndarray, h: int = H, w: int = W) -> ImagePayload:
    return encode_image(np.broadcast_to(np.asarray(values, np.float32), (h, w)).copy())


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _accounts(intake: CameraIntake, buffer: WindowBuffer, worker: InferenceWorker) -> NodeAccounts:
    return NodeAccounts(
        intake.images.snapshot(), intake.depth.snapshot(), intake.depth_pairing.snapshot(), intake.camera_info.snapshot(),
        buffer.counters, worker.stats(), intake.gaps,
    )  # fmt: skip


# ----------------------------------------------------------------- colour
def test_every_colour_refusal_is_counted_by_reason_and_logged_once_per_kind():
    intake, lines, clock = _intake(max_input_pixels=100_000)
    good = encode_image(_rgb())
    assert intake.raw_image(1 * S, good) is not None
    bad = {
        "unsupported_encoding": dataclasses.replace(good, encoding="yuv422"),
        "size_mismatch": dataclasses.replace(good, data=good.data[:-10]),
        "empty": dataclasses.replace(good, width=0),
        "too_large": dataclasses.replace(good, width=60000, height=60000),
    }
    for i, payload in enumerate(bad.values()):
        assert intake.raw_image((2 + i) * S, payload) is None
    assert intake.compressed_image(6 * S, "jpeg", b"") is None
    assert intake.compressed_image(7 * S, "jpeg", b"not an image at all") is None
    assert intake.compressed_image(8 * S, "jpeg", _jpeg(_rgb())[:200]) is None
    assert intake.compressed_image(9 * S, "png", with_huge_size("png", valid_images()["png_rgb"])) is None
    counts = intake.images.snapshot()
    assert counts.arrived == 9 and counts.accepted == 1 and counts.balanced
    assert dict(counts.rejected) == {"empty": 2, "too_large": 2, "size_mismatch": 1, "unsupported_encoding": 1,
                                     "unsupported_format": 1, "corrupt": 1}  # fmt: skip
    kinds = [line.split("rejected (")[1].split(")")[0] for _, line in lines if "rejected (" in line]
    assert kinds == ["unsupported_encoding", "size_mismatch", "empty", "too_large", "unsupported_format", "corrupt"]
    # The same kinds again within 5 s: nothing logged; after 5 s, one line each saying how many were held back.
    n = len(lines)
    for i in range(3):
        intake.raw_image((10 + i) * S, bad["too_large"])
    assert len(lines) == n
    clock.now += 5.0
    intake.raw_image(13 * S, bad["too_large"])
    assert len(lines) == n + 1 and lines[-1][1].endswith("(4 more like this since the last report)")  # the PNG bomb was held back too


def test_a_hostile_encoding_string_is_clipped_in_the_log():
    intake, lines, _ = _intake()
    payload = dataclasses.replace(encode_image(_rgb()), encoding="\x1b[31m" + "x" * 5000)
    assert intake.raw_image(S, payload) is None
    ((level, line),) = lines
    assert level == "warning" and "x" * 81 not in line and "\x1b" not in line and len(line) < 400
    assert intake.compressed_image(2 * S, "jpeg\n" + "y" * 5000, b"junk") is None
    assert "y" * 81 not in lines[-1][1] and "\n" not in lines[-1][1]


def test_mutated_images_never_raise_and_are_all_accounted_for():
    intake, _, _ = _intake(max_input_pixels=200_000)
    images = valid_images()
    corpus = list(images.values())
    rng = random.Random(7)
    names = sorted(images)
    for i in range(300):
        name = rng.choice(names)
        intake.compressed_image(i * S // 10, name.split("_")[0], mutate(name, images[name], corpus, rng))
    counts = intake.images.snapshot()
    assert counts.arrived == 300 and counts.balanced and counts.rejected_total > 0 and counts.accepted > 0


def test_missed_frames_are_estimated_from_stamp_gaps_and_logged():
    intake, lines, _ = _intake()
    stamps = [i * S // 10 for i in range(40) if i not in (20, 21, 22, 30)]
    for t in stamps:
        intake.raw_image(t, encode_image(_rgb()))
    gaps = intake.gaps
    assert gaps.missed == 4 and gaps.received == len(stamps)
    assert any("about 3 frames missing" in line for _, line in lines)


# ----------------------------------------------------------------- depth
def test_depth_images_are_checked_and_refused_by_reason():
    intake, lines, _ = _intake(max_depth_m=50.0)
    nan = np.full((H, W), np.nan, np.float32)
    cases = {
        "non_finite": _depth(nan),
        "non_positive": _depth(0.0),
        "beyond_max_depth": _depth(1e30),
        "unsupported_encoding": dataclasses.replace(_depth(1.0), encoding="8UC1"),
        "size_mismatch": dataclasses.replace(_depth(1.0), data=b"\0" * 10),
    }
    for i, payload in enumerate(cases.values()):
        assert intake.depth_image(i * S, payload) is False
    assert intake.depth_image(10 * S, _depth(-1.0)) is False
    partly = np.full((H, W), 2.0, np.float32)
    partly[0, :5] = [np.nan, np.inf, -1.0, 0.0, 1e30]
    assert intake.depth_image(11 * S, encode_image(partly)) is True  # the good pixels are kept
    counts = intake.depth.snapshot()
    assert counts.balanced and counts.accepted == 1
    assert {r: n for r, n in counts.rejected if n} == {"non_finite": 1, "non_positive": 2, "beyond_max_depth": 1,
                                                       "unsupported_encoding": 1, "size_mismatch": 1}  # fmt: skip
    frame = intake.raw_image(11 * S, encode_image(_rgb()))
    assert frame is not None and frame.depth is not None
    assert (frame.depth[0, :5] == 0).all() and np.isfinite(frame.depth).all() and frame.depth.max() == 2.0
    assert intake.images.snapshot().rejected_total == 0, "bad depth is not counted as a bad colour image"
    assert all(line.startswith("depth image") for _, line in lines)


def test_each_colour_frame_is_paired_with_depth_or_counted_without():
    intake, _, _ = _intake(depth_tolerance_ns=S // 20)
    assert intake.raw_image(1 * S, encode_image(_rgb())).depth is None  # no depth image yet
    intake.depth_image(2 * S, _depth(3.0))
    assert intake.raw_image(2 * S + S // 100, encode_image(_rgb())).depth is not None  # 10 ms apart
    assert intake.raw_image(3 * S, encode_image(_rgb())).depth is None  # 1 s from the nearest depth: stale
    intake.depth_image(4 * S, _depth(3.0, 21, 28))  # half size: not aligned to the colour camera
    assert intake.raw_image(4 * S, encode_image(_rgb())).depth is None
    pairing = intake.depth_pairing.snapshot()
    assert pairing.balanced and pairing.arrived == 4 and pairing.accepted == 1
    assert dict(pairing.rejected) == {"stale": 1, "size_mismatch": 1, "no_depth": 1}


# ----------------------------------------------------------------- CameraInfo
def test_bad_camera_info_is_ignored_and_the_previous_k_kept():
    intake, lines, _ = _intake()
    assert intake.camera_info_message(CameraInfoPayload(K, H, W)) is True
    bad = {
        "k_zero": CameraInfoPayload([0.0] * 9, H, W),
        "k_non_finite": CameraInfoPayload([float("nan")] * 9, H, W),
        "k_invalid": CameraInfoPayload([-1.0] + K[1:], H, W),
    }
    for payload in bad.values():
        assert intake.camera_info_message(payload) is False
    frame = intake.raw_image(S, encode_image(_rgb()))
    np.testing.assert_array_equal(frame.intrinsics, np.reshape(K, (3, 3)))
    assert intake.camera_info_message(CameraInfoPayload(K, 1080, 1920)) is False  # now the image size is known
    counts = intake.camera_info.snapshot()
    assert counts.balanced and counts.accepted == 1 and all(n == 1 for _, n in counts.rejected)
    assert [line.split(":")[0] for _, line in lines] == ["CameraInfo ignored"] * 4
    assert all(line.endswith("keeping the previous K") for _, line in lines)
    np.testing.assert_array_equal(intake.raw_image(2 * S, encode_image(_rgb())).intrinsics, np.reshape(K, (3, 3)))


def test_a_k_is_attached_only_to_images_of_its_size():
    intake, _, _ = _intake()
    intake.camera_info_message(CameraInfoPayload([1000.0, 0, 960, 0, 1000.0, 540, 0, 0, 1], 1080, 1920))  # before any image
    assert intake.raw_image(S, encode_image(_rgb())).intrinsics is None


# ----------------------------------------------------------------- the sums
def test_the_accounts_add_up_for_a_stream_with_every_kind_of_trouble():
    intake, _, _ = _intake(max_input_pixels=100_000)
    buffer = WindowBuffer(window_size=3, stride=1, min_frame_interval_s=0.05, time_jump_reset_s=1.0)
    worker = InferenceWorker(lambda window: len(window), max_queue=2)
    rng = random.Random(3)
    try:
        t = 10 * S
        for _ in range(400):
            t += rng.choice([S // 30, S // 10, S // 10, -S // 10, 2 * S // 10])
            roll = rng.random()
            if roll < 0.1:
                intake.depth_image(t, _depth(rng.choice([np.nan, 0.0, 2.0, 1e30])))
            elif roll < 0.15:
                intake.camera_info_message(CameraInfoPayload(rng.choice([K, [0.0] * 9]), H, W))
            else:
                payload = encode_image(_rgb(*(rng.choice([(H, W), (H, W), (21, 28)]))))
                if roll < 0.25:
                    payload = dataclasses.replace(payload, encoding="yuv422")
                frame = intake.raw_image(t, payload)
                window = buffer.push(frame) if frame is not None else None
                if window is not None:
                    worker.submit(window)
            accounts = _accounts(intake, buffer, worker)
            assert accounts.mismatches() == [], accounts.mismatches()
        worker.close(10.0)
        accounts = _accounts(intake, buffer, worker)
    finally:
        worker.close(10.0)
    assert accounts.mismatches() == []
    values = accounts.diagnostic_values()
    assert values["accounts"] == "balanced"
    assert int(values["images_arrived"]) == int(values["frames_received"]) + int(values["images_rejected"]) > 0
    assert int(values["frames_received"]) == sum(
        int(values[k]) for k in ("frames_accepted", "frames_skipped_rate_limit", "frames_rejected_stamp")
    )
    assert sum(int(values[f"images_rejected_{r}"]) for r in IMAGE_REASONS) == int(values["images_rejected"])
    for key in ("frames_skipped_rate_limit", "frames_rejected_stamp", "buffer_resets", "images_rejected", "depth_rejected",
                "camera_info_rejected", "frames_with_depth", "frames_depth_stale", "windows_submitted"):  # fmt: skip
        assert int(values[key]) > 0, key  # the stream exercised it
    summary = accounts.summary()
    assert summary.endswith("every message and window accounted for")
    assert f"{values['images_arrived']} images arrived" in summary and f"{values['windows_submitted']} windows submitted" in summary


def test_a_mismatch_is_reported_not_hidden():
    intake, _, _ = _intake()
    buffer = WindowBuffer(window_size=2)
    worker = InferenceWorker(lambda window: 0)
    try:
        frame = intake.raw_image(S, encode_image(_rgb()))
        assert frame is not None  # ... but never pushed to the buffer: a frame lost inside the node
        intake.images.arrive()  # and an image that arrived without a fate
        accounts = _accounts(intake, buffer, worker)
    finally:
        worker.close(5.0)
    problems = accounts.mismatches()
    assert any("images: 2 arrived" in p for p in problems) and any("frames received by the pipeline" in p for p in problems)
    assert accounts.diagnostic_values()["accounts"].startswith("UNBALANCED")
    assert "ACCOUNTS DO NOT ADD UP" in accounts.summary()


def test_a_tally_refuses_a_reason_outside_its_closed_set():
    tally = Tally(("a", "b"))
    with pytest.raises(KeyError, match="unknown rejection reason"):
        tally.reject("c")
    with pytest.raises(ValueError):
        Tally(("a", "a"))
