"""Replay a rosbag2 (sqlite3 or mcap) into ROS 2 with /clock, where ``ros2 bag play`` is unavailable.

Messages keep their recorded stamps; /clock follows the recorded receive times, so a node running
with ``use_sim_time`` sees the recording's time. Reading uses ``rosbags`` (pure Python); each message
is deserialised with rclpy into the installed message class and published.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock

from .conversions import ns_to_stamp


def message_class(msgtype: str):
    """``"sensor_msgs/msg/Image"`` -> the rclpy message class."""
    package, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


@dataclass
class PlayStats:
    published: int = 0
    skipped_types: int = 0
    wall_seconds: float = 0.0


def play_bag(node: Node, path: str | Path, rate: float = 1.0, topics: set[str] | None = None, sensor_qos: bool = True) -> PlayStats:
    """Publish every message of the bag (optionally only ``topics``) at ``rate`` x recorded speed.

    Image-like topics use sensor-data QoS (as cameras do) when ``sensor_qos``; the rest reliable.
    """
    from rosbags.highlevel import AnyReader

    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    stats = PlayStats()
    clock_pub = node.create_publisher(Clock, "/clock", QoSProfile(depth=10))
    pubs = {}
    with AnyReader([Path(path)]) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for c in conns:
            try:
                cls = message_class(c.msgtype)
            except (ImportError, AttributeError):
                node.get_logger().warning(f"skipping {c.topic}: message type {c.msgtype} is not installed")
                continue
            qos = qos_profile_sensor_data if sensor_qos and c.msgtype.startswith("sensor_msgs/msg/") else QoSProfile(depth=10)
            pubs[c.topic] = (node.create_publisher(cls, c.topic, qos), cls)
        start_wall = time.monotonic()
        start_bag = None
        for conn, stamp_ns, raw in reader.messages(connections=conns):
            if conn.topic not in pubs:
                stats.skipped_types += 1
                continue
            start_bag = stamp_ns if start_bag is None else start_bag
            delay = (stamp_ns - start_bag) * 1e-9 / rate - (time.monotonic() - start_wall)
            if delay > 0:
                time.sleep(delay)
            clock_pub.publish(Clock(clock=ns_to_stamp(stamp_ns)))
            pub, cls = pubs[conn.topic]
            pub.publish(deserialize_message(bytes(raw), cls))
            stats.published += 1
    stats.wall_seconds = time.monotonic() - start_wall
    return stats
