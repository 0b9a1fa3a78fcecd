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

    return stop_process(proc, 60.0)  # a loaded machine can take a while to print the shutdown summary


def wait_for_subscriber(executor, publisher, timeout: float = 180.0) -> bool:
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


class NodeProcess:
    """``vdpm node`` in a subprocess whose output goes to a file (a pipe nobody reads would block a chatty node)."""

    def __init__(self, env: dict, log_path, *ros_args: str) -> None:
        self.log_path = log_path
        self._log_file = open(log_path, "w")  # noqa: SIM115 - closed in wait()
        cmd = [sys.executable, "-m", "vdpm_ros.cli.main", "node", "--ros-args", *ros_args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, text=True)

    def log(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Exit status, SIGKILL after ``timeout`` s (then the status is negative)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()
        return self.proc.returncode

    def stop(self, timeout: float = 30.0) -> str:
        """SIGTERM, wait, and the whole log."""
        if self.alive():
            self.proc.terminate()
        self.wait(timeout)
        return self.log()


class DiagnosticsWatch:
    """The node's /diagnostics status (vdpm_ros.ros.node.NODE_STATUS): the latest values, and whether every report balanced."""

    def __init__(self, node) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile

        from vdpm_ros.ros.node import NODE_STATUS

        self.latest: dict[str, str] = {}
        self.reports = 0
        self.unbalanced: list[str] = []
        self._name = NODE_STATUS
        self.subscription = node.create_subscription(DiagnosticArray, "/diagnostics", self._on, QoSProfile(depth=50))

    def _on(self, msg) -> None:
        for status in msg.status:
            if status.name == self._name:
                self.latest = {kv.key: kv.value for kv in status.values}
                self.reports += 1
                if self.latest.get("accounts") != "balanced":
                    self.unbalanced.append(self.latest.get("accounts", "<no accounts key>"))

    def value(self, key: str) -> int:
        """An integer value of the latest report (-1 before the first)."""
        return int(self.latest[key]) if key in self.latest else -1

    def wait(self, executor, condition, timeout: float = 120.0) -> bool:
        """Spin until ``condition(self)`` holds for a report newer than the call (the node has caught up), or timeout."""
        seen = self.reports
        return spin_until(executor, lambda: self.reports > seen and condition(self), timeout)
