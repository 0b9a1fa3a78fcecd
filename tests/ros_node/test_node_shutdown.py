"""SIGINT and SIGTERM while vdpm_node is running a window: it is finished (or abandoned) cleanly, nothing is logged late.

The stream is 640x480 frames, reliable, faster than the small model's windows, so the worker is never idle
once the first window is out: the signal is sent when the node's /diagnostics says a window is in
progress (and at least two more wait in the queue), so the signal arrives mid-window whatever the machine's
load. Outputs at camera resolution make each window slow enough (a few hundred ms) that the worker cannot
empty a queue of four between the report and the signal.
"""

from __future__ import annotations

import re
import signal

import numpy as np
from ros_node_helpers import DiagnosticsWatch, NodeProcess, driver_node, ros_header, spin_until, wait_for_publisher, wait_for_subscriber

from vdpm_ros.messages.image import encode_image

H, W = 480, 640
LATE_LOG = ("Traceback", "[ERROR]", "context is invalid", "Failed to publish", "RCLError", "publisher's context")


def _summary(log: str) -> str:
    return next(line for line in log.splitlines() if "stopping:" in line)


def _windows(summary: str) -> dict[str, int]:
    m = re.search(r"(\d+) windows submitted: (\d+) published, (\d+) dropped \(queue full\), (\d+) dropped at shutdown, "
                  r"(\d+) failed, (\d+) publish failures, (\d+) abandoned in flight", summary)  # fmt: skip
    assert m, summary
    keys = ("submitted", "published", "dropped_queue_full", "dropped_at_shutdown", "failed", "publish_failures", "abandoned")
    return dict(zip(keys, map(int, m.groups())))


def _signal_mid_window(node_env, tmp_path, sig: int, *params: str) -> tuple[int, str, int, int]:
    """Run the node, stream until a window is in progress, send ``sig``; (exit code, log, published then, poses received)."""
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import Image

    env, model_path = node_env
    node = NodeProcess(
        env, tmp_path / "node.log", "-p", f"model_path:={model_path}", "-p", "device:=cpu", "-p", "window_size:=3",
        "-p", "queue_size:=4", "-p", "output_resolution:=camera", "-p", "diagnostics_period:=0.2", "-p", "image_qos:=reliable", "-r", "image:=/stop/image_raw", *params,
    )  # fmt: skip
    rgb = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    payload = encode_image(rgb)
    try:
        with driver_node("vdpm_stop_driver") as (driver, executor):
            pub = driver.create_publisher(Image, "/stop/image_raw", QoSProfile(depth=20))
            poses: list = []
            pose_sub = driver.create_subscription(PoseStamped, "/vdpm/camera_pose", poses.append, QoSProfile(depth=100))
            diag = DiagnosticsWatch(driver)
            assert wait_for_subscriber(executor, pub), node.stop()
            assert wait_for_publisher(executor, pose_sub), node.stop()
            stamp = 3_000 * 10**9
            signalled_at = None

            def in_progress(d: DiagnosticsWatch) -> bool:
                return d.value("windows_published") >= 1 and d.latest.get("window_in_progress") == "True" and d.value("windows_queued") >= 3

            # 640x480 frames at about 50 Hz (stamps 0.1 s apart) until a window is running with others queued behind
            # it: faster than the node's windows on a quiet machine too, so the queue fills whatever the load.
            for _ in range(3000):
                stamp += 10**8
                msg = Image(header=ros_header(stamp, "stop_camera"), height=H, width=W, encoding="rgb8", is_bigendian=0, step=W * 3)
                msg.data = payload.data
                pub.publish(msg)
                spin_until(executor, lambda: False, 0.02)
                if diag.reports and in_progress(diag):
                    signalled_at = diag.value("windows_published")
                    node.send(sig)
                    break
                assert node.alive(), node.log()
            assert signalled_at is not None, f"no window was ever in progress with one queued: {diag.latest}"
            # Keep listening while the node finishes: the window in progress may still be published.
            spin_until(executor, lambda: not node.alive(), 180)
            rc = node.wait(30)
            received = len(poses)
    finally:
        log = node.stop()
    return rc, log, signalled_at, received


def test_sigint_mid_window_finishes_and_publishes_it_then_logs_nothing_late(node_env, tmp_path):
    rc, log, published_then, received = _signal_mid_window(node_env, tmp_path, signal.SIGINT, "-p", "shutdown_timeout:=300.0")
    assert rc == 0, log
    for bad in LATE_LOG:
        assert bad not in log, f"{bad!r}:\n{log}"
    assert "shutting down: finishing the window in progress" in log and "abandoned unpublished" not in log
    summary = _summary(log)
    assert summary.endswith("every message and window accounted for"), summary
    fate = _windows(summary)
    assert fate["abandoned"] == fate["publish_failures"] == fate["failed"] == 0, summary
    # The window in progress at the signal was finished and published, and the queued ones were dropped, counted.
    assert fate["published"] >= published_then + 1 and fate["dropped_at_shutdown"] >= 1, summary
    assert received >= published_then
    assert log.rstrip().splitlines()[-1] == summary, "nothing is logged after the summary"


def test_sigterm_mid_window_with_no_time_to_finish_abandons_it_cleanly(node_env, tmp_path):
    rc, log, _, _ = _signal_mid_window(node_env, tmp_path, signal.SIGTERM, "-p", "shutdown_timeout:=0.0")
    assert rc == 0, log
    for bad in LATE_LOG:
        assert bad not in log, f"{bad!r}:\n{log}"
    summary = _summary(log)
    assert summary.endswith("every message and window accounted for"), summary
    fate = _windows(summary)
    assert fate["abandoned"] == 1 and fate["publish_failures"] == fate["failed"] == 0, summary
    lines = log.rstrip().splitlines()
    assert lines[-2] == summary and "abandoned unpublished" in lines[-1], "the last two lines; nothing after them"


def test_a_second_signal_makes_the_node_hurry(ros):
    """The signal handlers alone, in this process: the first signal asks to stop, the second to hurry."""
    import os

    from vdpm_ros.ros.node import _StopSignals

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop = _StopSignals()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested.wait(10) and not stop.hurry.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.hurry.wait(10)
    finally:
        stop.restore()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
