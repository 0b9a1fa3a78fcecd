"""A SceneFlow message crosses a process boundary through Fast DDS (typesupport of the generated package)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The publisher process must start Python, import rclpy and the messages and finish discovery in this time; the loop
# ends at the first message, so a generous limit costs a healthy run nothing (a loaded 2-core CI machine is slow).
TIMEOUT_S = 120.0


def test_scene_flow_published_by_another_process_arrives_intact(ros, ros_isolation):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from ros_interface_samples import check_scene_flow

    from vdpm_ros.msg import SceneFlow

    topic = ros_isolation["VDPM_TEST_TOPIC"]
    publisher = subprocess.Popen(
        [sys.executable, str(HERE / "scene_flow_publisher.py"), topic, str(TIMEOUT_S + 5)],
        cwd=HERE.parents[1],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    context = rclpy.Context()
    rclpy.init(context=context)
    received: list[SceneFlow] = []
    try:
        node = Node("vdpm_test_scene_flow_subscriber", context=context)
        node.create_subscription(SceneFlow, topic, received.append, 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + TIMEOUT_S
        while not received and time.monotonic() < deadline and publisher.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        if publisher.poll() is None:
            publisher.send_signal(signal.SIGINT)  # a clean exit leaves no Fast DDS files in /dev/shm
        try:
            output, _ = publisher.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            publisher.kill()
            output, _ = publisher.communicate()
    assert received, f"no SceneFlow on {topic} within {TIMEOUT_S} s; publisher said:\n{output}"
    check_scene_flow(received[0])
