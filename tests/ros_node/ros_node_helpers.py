"""Helpers of the node tests: run ``vdpm node`` in a subprocess and drive an rclpy executor with time limits."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time


def spin_until(executor, condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
        if condition():
            return True
    return False


def start_node(env: dict, *ros_args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vdpm_ros.cli.main", "node", "--ros-args", *ros_args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    from vdpm_ros.harness.live_eval import stop_process

    return stop_process(proc, 15.0)


def wait_for_subscriber(executor, publisher, timeout: float = 60.0) -> bool:
    """Until ``publisher`` has a subscriber, plus a moment for the subscriber's side of discovery.

    Matching is not symmetric in time: without the pause the first best-effort message can be lost.
    """
    if not spin_until(executor, lambda: publisher.get_subscription_count() > 0, timeout):
        return False
    spin_until(executor, lambda: False, 1.5)
    return True


def wait_for_publisher(executor, subscription, timeout: float = 60.0) -> bool:
    """Until ``subscription`` sees a publisher, plus a moment: a late-matching reader misses volatile messages."""
    if not spin_until(executor, lambda: subscription.get_publisher_count() > 0, timeout):
        return False
    spin_until(executor, lambda: False, 1.0)
    return True


@contextlib.contextmanager
def driver_node(name: str):
    """``(node, executor)`` in a private rclpy context, shut down on exit (the node under test runs in another process)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node(name, context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        yield node, executor
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def ros_header(stamp_ns: int, frame_id: str):
    """std_msgs/Header for test publishers, built by the package's own output builder."""
    from vdpm_ros.output import RclpyTypes
    from vdpm_ros.output.builders import header

    return header(RclpyTypes(), stamp_ns, frame_id)
