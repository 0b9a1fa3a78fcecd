"""Publishes make_scene_flow() on TOPIC every 50 ms until SIGINT/SIGTERM or SECONDS pass.

Run by test_transport.py as a separate process: python scene_flow_publisher.py TOPIC SECONDS
(ROS_DOMAIN_ID and ROS_AUTOMATIC_DISCOVERY_RANGE come from the environment).
"""

from __future__ import annotations

import sys
import time

import rclpy
from rclpy.node import Node
from ros_interface_samples import make_scene_flow

from vdpm_ros.msg import SceneFlow


def main(topic: str, seconds: float) -> int:
    rclpy.init()
    try:
        node = Node("vdpm_test_scene_flow_publisher")
        publisher = node.create_publisher(SceneFlow, topic, 10)
        msg = make_scene_flow()
        deadline = time.monotonic() + seconds
        while rclpy.ok() and time.monotonic() < deadline:
            publisher.publish(msg)
            time.sleep(0.05)
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
