"""vdpm_node in its own process against every kind of bad input, over real rclpy: it counts each, and keeps publishing.

Each category is sent, then acknowledged by the node's own /diagnostics (its counters reach what was
sent), then one or more valid frames must give a new published window while the process stays up.
Nothing waits on the wall clock: transport is reliable with queues deep enough for every burst, and
every step waits for what the node reports (the deadlines only guard against a hung node).

The expected counts come from the same ROS-free intake and window buffer fed the same messages in
the same order here (tests/test_node_intake.py checks those rules one by one); the node must agree
on every counter, and every /diagnostics report and the shutdown summary must add up.
"""

from __future__ import annotations

import io
import random
import signal

import numpy as np
from PIL import Image as PILImage
from ros_node_helpers import DiagnosticsWatch, NodeProcess, driver_node, ros_header, spin_until, wait_for_publisher, wait_for_subscriber

from vdpm_ros.messages.image import encode_image
from vdpm_ros.messages.validation import CameraInfoPayload
from vdpm_ros.pipeline import PipelineConfig
from vdpm_ros.pipeline.window_buffer import WindowBuffer
from vdpm_ros.ros.intake import CameraIntake, IntakeLimits

H, W = 42, 56
FRAME = "fuzz_camera_optical"
K = [50.0, 0.0, 28.0, 0.0, 50.0, 21.0, 0.0, 0.0, 1.0]
#: Keys the node and the local mirror must agree on (everything but the windows' fates, which depend on speed).
MIRRORED = ("images_arrived", "frames_received", "frames_accepted", "frames_skipped_rate_limit", "frames_rejected_stamp",
            "buffer_resets", "images_rejected", "depth_arrived", "depth_accepted", "depth_rejected", "frames_with_depth",
            "frames_depth_stale", "frames_depth_size_mismatch", "frames_without_depth", "camera_info_arrived",
            "camera_info_accepted", "camera_info_rejected", "frames_missed", "windows_submitted")  # fmt: skip


def _rgb(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h))
    return np.clip(np.stack([u, v, 255 - u], -1) + rng.integers(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


class Mirror:
    """What the node should count: the same intake and buffer, fed here."""

    def __init__(self, limits: IntakeLimits, pipeline: PipelineConfig) -> None:
        self.intake = CameraIntake(limits)
        self.buffer = WindowBuffer.from_config(pipeline)

    def colour(self, frame) -> None:
        if frame is not None:
            self.buffer.push(frame)

    def values(self) -> dict[str, int]:
        from vdpm_ros.pipeline.worker import WorkerStats
        from vdpm_ros.ros.accounting import NodeAccounts

        idle = WorkerStats(self.buffer.counters.windows, self.buffer.counters.windows, 0, 0, 0, 0, 0, False, 0.0, 0.0, 0.0)
        i = self.intake
        accounts = NodeAccounts(i.images.snapshot(), i.depth.snapshot(), i.depth_pairing.snapshot(), i.camera_info.snapshot(),
                                self.buffer.counters, idle, i.gaps)  # fmt: skip
        return {k: int(v) for k, v in accounts.diagnostic_values().items() if k.startswith(MIRRORED) and v.lstrip("-").isdigit()}


def _check_against_mirror(diag: DiagnosticsWatch, mirror: Mirror) -> None:
    expected = mirror.values()
    got = {k: diag.value(k) for k in expected}
    assert got == expected, {k: (got[k], v) for k, v in expected.items() if got[k] != v}


def _settled(diag: DiagnosticsWatch, mirror: Mirror, published_before: int) -> bool:
    """Every window the mirror expects was submitted and has a fate, and more were published than before.

    The last window submitted is the newest, which a full queue never drops: it was published (or failed).
    """
    idle = diag.latest.get("windows_queued") == "0" and diag.latest.get("window_in_progress") == "False"
    return idle and diag.value("windows_submitted") >= mirror.buffer.counters.windows and diag.value("windows_published") > published_before


def _check_log(log: str) -> None:
    for bad in ("Traceback", "[ERROR]", "context is invalid", "Failed to publish", "RCLError"):
        assert bad not in log, f"{bad!r} in the node's log:\n{log[-5000:]}"
    assert max(len(line) for line in log.splitlines()) < 2000, "an untrusted string was echoed whole"
    summary = next(line for line in log.splitlines() if "stopping:" in line)
    assert summary.endswith("every message and window accounted for"), summary
    assert "0 publish failures" in summary and "0 abandoned in flight" in summary, summary


def test_compressed_stream_survives_malformed_huge_and_burst_images(node_env, tmp_path):
    from geometry_msgs.msg import PoseStamped
    from image_mutations import mutate, png_with_size, truncated_ihdr, valid_images, with_huge_size
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import CompressedImage

    env, model_path = node_env
    pipeline = PipelineConfig(window_size=2, min_frame_interval=0.15, queue_size=2)
    limits = IntakeLimits(max_input_pixels=200_000)
    node = NodeProcess(
        env, tmp_path / "node.log", "-p", f"model_path:={model_path}", "-p", "device:=cpu", "-p", "window_size:=2", "-p", "queue_size:=2",
        "-p", "min_frame_interval:=0.15", "-p", "diagnostics_period:=0.2", "-p", "image_transport:=compressed",
        "-p", "image_qos:=reliable", "-p", f"max_input_pixels:={limits.max_input_pixels}", "-r", "image:=/fuzz/image_raw",
    )  # fmt: skip
    mirror = Mirror(limits, pipeline)
    sent = 0
    stamp = [1_000 * 10**9]
    try:
        with driver_node("vdpm_fuzz_driver") as (driver, executor):
            pub = driver.create_publisher(CompressedImage, "/fuzz/image_raw/compressed", QoSProfile(depth=400))
            poses: list = []
            pose_sub = driver.create_subscription(PoseStamped, "/vdpm/camera_pose", poses.append, QoSProfile(depth=50))
            diag = DiagnosticsWatch(driver)
            assert wait_for_subscriber(executor, pub), node.stop()  # image_transport's name: <image>/compressed
            assert wait_for_publisher(executor, pose_sub), node.stop()

            def send(fmt: str, data: bytes) -> None:
                nonlocal sent
                stamp[0] += 10**8  # 0.1 s: every other frame is under min_frame_interval and skipped
                msg = CompressedImage(header=ros_header(stamp[0], FRAME), format=fmt)
                msg.data = data
                pub.publish(msg)
                mirror.colour(mirror.intake.compressed_image(stamp[0], fmt, data))
                sent += 1

            def acknowledged() -> bool:
                return diag.wait(executor, lambda d: d.value("images_arrived") >= sent)

            def still_publishing(what: str) -> None:
                """Valid frames until one completes a window (the mirror knows which), then that window must come out."""
                assert acknowledged(), f"after {what}: {diag.latest}\n{node.log()[-3000:]}"
                before, poses_before = diag.value("windows_published"), len(poses)
                windows = mirror.buffer.counters.windows
                for i in range(10):  # a reset and the rate limit (every other frame) hold the first ones back
                    send("jpeg", _jpeg(_rgb(seed=i)))
                    if mirror.buffer.counters.windows > windows:
                        break
                assert mirror.buffer.counters.windows > windows
                published = diag.wait(executor, lambda d: d.value("images_arrived") >= sent and _settled(d, mirror, before), 180)
                assert published, f"after {what}: {diag.latest}\n{node.log()[-3000:]}"
                assert spin_until(executor, lambda: len(poses) > poses_before, 60), f"after {what}: no pose came"
                assert node.alive(), node.log()
                _check_against_mirror(diag, mirror)

            still_publishing("the start")
            images = valid_images()
            for name, data in sorted(images.items()):  # 60000 x 60000 (or the format's largest) in every format
                send(name.split("_")[0], with_huge_size(name, data))
            still_publishing("header bombs")
            rng = random.Random(11)
            png = images["png_rgb"]
            send("png", png_with_size(png, 32, 24, fix_crc=False)[:-1] + b"\x00")  # a broken chunk
            send("png", truncated_ihdr(png, rng))
            send("ppm", b"P6\n-5 x\n255\n" + bytes(100))
            send("jpeg", _jpeg(_rgb())[:300])
            still_publishing("broken chunks, a truncated IHDR, a malformed PPM, a truncated JPEG")
            corpus = list(images.values())
            names = sorted(images)
            for _ in range(150):
                name = rng.choice(names)
                send(name.split("_")[0], mutate(name, images[name], corpus, rng))
            still_publishing("150 seeded mutants")
            send("jpeg", b"")
            send("jpeg", b"\x00" * 64)
            send("j" * 5000 + "\x1b[2J", b"GIF89a" + bytes(50))
            send("jpeg", _jpeg(_rgb(480, 640)))  # valid, but above max_input_pixels
            still_publishing("empty, unknown, hostile format strings and a too large image")
            send("jpeg", _jpeg(_rgb(21, 28)))
            send("jpeg", _jpeg(_rgb(21, 28)))
            still_publishing("a change of image size")
            burst = [_jpeg(_rgb(seed=i % 7)) for i in range(300)]
            for data in burst:  # as fast as rclpy publishes: the node must receive all, then drop by its own rules
                send("jpeg", data)
            still_publishing("a burst of 300 frames")
            assert diag.value("frames_missed") == 0 and diag.value("images_arrived") == sent
            assert diag.value("frames_skipped_rate_limit") >= 150
            assert diag.value("images_rejected_too_large") >= len(images) + 1
            assert min(diag.value(f"images_rejected_{r}") for r in ("corrupt", "unsupported_format", "empty")) >= 1
            assert diag.unbalanced == [], diag.unbalanced[:3]
            node.send(signal.SIGINT)
            rc = node.wait(120)
    finally:
        log = node.stop()
    assert rc == 0, log
    _check_log(log)
    assert "listening on /fuzz/image_raw/compressed (compressed, reliable QoS, queue 500), /fuzz/camera_info" in log
    assert "j" * 100 not in log and "\x1b" not in log
    assert f"stopping: {sent} images arrived" in log


def test_raw_stream_survives_bad_depth_camera_info_and_wrong_sizes(node_env, tmp_path):
    import dataclasses

    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import CameraInfo, Image

    env, _ = node_env
    pipeline = PipelineConfig(window_size=2, queue_size=2, scale_mode="depth")
    limits = IntakeLimits(max_depth_m=50.0)
    # The embedded trained model: random weights predict no usable depth, and then no metric scale can be set.
    node = NodeProcess(
        env, tmp_path / "node.log", "-p", "device:=cpu", "-p", "window_size:=2", "-p", "queue_size:=2",
        "-p", "scale_mode:=depth", "-p", "max_depth:=50.0", "-p", "diagnostics_period:=0.2", "-p", "image_qos:=reliable",
        "-r", "image:=/fuzzd/color/image_raw",
    )  # fmt: skip
    mirror = Mirror(limits, pipeline)
    counts = {"images": 0, "depth": 0, "camera_info": 0}
    stamp = [2_000 * 10**9]
    try:
        with driver_node("vdpm_fuzz_depth_driver") as (driver, executor):
            qos = QoSProfile(depth=100)
            image_pub = driver.create_publisher(Image, "/fuzzd/color/image_raw", qos)
            depth_pub = driver.create_publisher(Image, "/fuzzd/color/depth/image_raw", qos)  # beside the image, as documented
            info_pub = driver.create_publisher(CameraInfo, "/fuzzd/color/camera_info", qos)
            poses: list = []
            pose_sub = driver.create_subscription(PoseStamped, "/vdpm/camera_pose", poses.append, QoSProfile(depth=50))
            diag = DiagnosticsWatch(driver)
            for pub in (image_pub, depth_pub, info_pub):
                assert wait_for_subscriber(executor, pub), node.stop()
            assert wait_for_publisher(executor, pose_sub), node.stop()

            def ack(kind: str) -> None:
                key = {"images": "images_arrived", "depth": "depth_arrived", "camera_info": "camera_info_arrived"}[kind]
                assert diag.wait(executor, lambda d: d.value(key) >= counts[kind]), f"{key}: {diag.latest}\n{node.log()[-3000:]}"

            def image_msg(payload, t: int) -> Image:
                msg = Image(header=ros_header(t, FRAME), height=payload.height, width=payload.width, encoding=payload.encoding,
                            is_bigendian=0, step=payload.step)  # fmt: skip
                msg.data = bytes(payload.data)
                return msg

            def send_depth(payload, t: int) -> None:
                depth_pub.publish(image_msg(payload, t))
                mirror.intake.depth_image(t, payload)
                counts["depth"] += 1
                ack("depth")  # before the colour frame that may pair with it: the order is the node's, too

            def send_colour(payload, t: int) -> None:
                image_pub.publish(image_msg(payload, t))
                mirror.colour(mirror.intake.raw_image(t, payload))
                counts["images"] += 1
                ack("images")

            def send_info(payload: CameraInfoPayload) -> None:
                msg = CameraInfo(header=ros_header(stamp[0], FRAME), height=payload.height, width=payload.width)
                msg.k = [float(v) for v in payload.k]
                info_pub.publish(msg)
                mirror.intake.camera_info_message(payload)
                counts["camera_info"] += 1
                ack("camera_info")

            def next_stamp() -> int:
                stamp[0] += 10**8
                return stamp[0]

            def good_depth(h: int = H, w: int = W):
                return encode_image(np.full((h, w), 2.5, np.float32))

            def still_publishing(what: str) -> None:
                """Valid frames (with depth) until one completes a window (the mirror knows which); that window must come out."""
                before, poses_before = diag.value("windows_published"), len(poses)
                windows = mirror.buffer.counters.windows
                for i in range(4):  # after a reset, the second frame completes a window
                    t = next_stamp()
                    send_depth(good_depth(), t)
                    send_colour(encode_image(_rgb(seed=i)), t)
                    if mirror.buffer.counters.windows > windows:
                        break
                assert mirror.buffer.counters.windows > windows
                assert diag.wait(executor, lambda d: _settled(d, mirror, before), 180), f"after {what}: {diag.latest}\n{node.log()[-3000:]}"
                assert spin_until(executor, lambda: len(poses) > poses_before, 60), f"after {what}: no pose came"
                assert node.alive(), node.log()
                _check_against_mirror(diag, mirror)

            send_info(CameraInfoPayload(K, H, W))
            still_publishing("the start")
            nan = np.full((H, W), np.nan, np.float32)
            for values in (nan, np.full((H, W), np.inf, np.float32), np.zeros((H, W), np.float32), np.full((H, W), -1.0, np.float32),
                           np.full((H, W), 1e30, np.float32)):  # fmt: skip
                send_depth(encode_image(values), next_stamp())
            send_depth(dataclasses.replace(good_depth(), encoding="8UC1"), next_stamp())
            send_depth(dataclasses.replace(good_depth(), data=b"\0" * 40), next_stamp())
            send_depth(dataclasses.replace(good_depth(), width=60000, height=60000), next_stamp())
            still_publishing("non-finite, zero, negative, 1e30 m, wrongly encoded, truncated and huge depth images")
            t = next_stamp()
            send_depth(good_depth(), t - 5 * 10**8)  # 0.5 s before its colour frame: stale
            send_colour(encode_image(_rgb()), t)
            t = next_stamp()
            send_depth(good_depth(21, 28), t)  # not aligned to the colour camera
            send_colour(encode_image(_rgb()), t)
            still_publishing("stale depth and depth of another size")
            for payload in (CameraInfoPayload([0.0] * 9, H, W), CameraInfoPayload([float("nan")] * 9, H, W),
                            CameraInfoPayload(K, 1080, 1920), CameraInfoPayload([-50.0] + K[1:], H, W)):  # fmt: skip
                send_info(payload)
            still_publishing("zero, non-finite, negative and wrongly sized K")
            good = encode_image(_rgb())
            for payload in (dataclasses.replace(good, encoding="yuv422"), dataclasses.replace(good, step=10),
                            dataclasses.replace(good, data=bytes(good.data)[:100]), dataclasses.replace(good, width=60000, height=60000),
                            dataclasses.replace(good, encoding="e" * 5000)):  # fmt: skip
                send_colour(payload, next_stamp())
            still_publishing("unsupported encodings, wrong steps and sizes, a 60000 x 60000 image, a 5000-character encoding")
            for _ in range(2):
                t = next_stamp()
                send_depth(good_depth(21, 28), t)
                send_colour(encode_image(_rgb(21, 28)), t)
            still_publishing("a change of image size")
            for key in ("depth_rejected_non_finite", "depth_rejected_non_positive", "depth_rejected_beyond_max_depth",
                        "depth_rejected_unsupported_encoding", "depth_rejected_size_mismatch", "depth_rejected_too_large",
                        "frames_depth_stale", "frames_depth_size_mismatch", "camera_info_rejected_k_zero",
                        "camera_info_rejected_k_non_finite", "camera_info_rejected_size_mismatch", "camera_info_rejected_k_invalid",
                        "images_rejected_unsupported_encoding", "images_rejected_size_mismatch", "images_rejected_too_large",
                        "buffer_resets"):  # fmt: skip
                assert diag.value(key) >= 1, (key, diag.latest)
            assert diag.value("images_rejected") == 5, "bad depth images are not counted as bad colour images"
            assert diag.value("camera_info_accepted") == 1
            assert diag.unbalanced == [], diag.unbalanced[:3]
            node.send(signal.SIGTERM)
            rc = node.wait(120)
    finally:
        log = node.stop()
    assert rc == 0, log
    _check_log(log)
    assert (
        "listening on /fuzzd/color/image_raw (raw, reliable QoS, queue 500), /fuzzd/color/camera_info, /fuzzd/color/depth/image_raw" in log
    )
    assert "e" * 100 not in log
    assert "depth: " in log and "CameraInfo: 5 arrived, 1 used, 4 ignored" in log
