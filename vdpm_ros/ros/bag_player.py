"""Replay a rosbag2 (sqlite3 or mcap) into ROS 2 with /clock, where ``ros2 bag play`` is unavailable.

Messages keep their recorded stamps; /clock follows the recorded receive times, so a node running
with ``use_sim_time`` sees the recording's time. Reading uses ``rosbags`` (pure Python) through
:func:`vdpm_ros.bags.bag_reader.open_bag` (a broken bag is one ``BagReadError``; an unfinished MCAP
recording plays as far as it is intact); each message is deserialised with rclpy into the installed
message class and published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock

from ..bags.bag_reader import open_bag
from ..output.types import rclpy_message_class as message_class
from .conversions import ns_to_stamp


@dataclass
class PlayStats:
    matched: bool = True
    published: int = 0
    skipped_types: int = 0
    wall_seconds: float = 0.0
    #: Reliable topics whose subscribers had not acknowledged every message when playback ended.
    unacknowledged: tuple[str, ...] = ()


def _wait_for_matches(node: Node, publishers: list, timeout: float) -> bool:
    """Give subscribers time to match the new publishers: best-effort messages sent before that are lost."""
    import rclpy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(p.get_subscription_count() > 0 for p in publishers):
        rclpy.spin_once(node, timeout_sec=0.1)
    matched = all(p.get_subscription_count() > 0 for p in publishers)
    time.sleep(1.0)  # the subscriber's side of discovery finishes a little later
    return matched


def play_bag(
    node: Node,
    path: str | Path,
    rate: float = 1.0,
    topics: set[str] | None = None,
    sensor_qos: bool = True,
    wait_for: tuple[str, ...] = (),
    wait_timeout: float = 10.0,
    on_publish=None,
    ack_timeout: float = 10.0,
) -> PlayStats:
    """Publish every message of the bag (optionally only ``topics``) at ``rate`` x recorded speed.

    Image-like topics use sensor-data QoS (as cameras do) when ``sensor_qos``; the rest reliable.
    Playback starts once the topics in ``wait_for`` have a matched subscriber (or ``wait_timeout`` passed).
    ``on_publish(topic, msg)`` is called right after each message goes out (e.g. to time the node's response).
    """
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    stats = PlayStats()
    clock_pub = node.create_publisher(Clock, "/clock", QoSProfile(depth=10))
    pubs = {}
    with open_bag(Path(path)) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for c in conns:
            try:
                cls = message_class(c.msgtype)
            except (ImportError, AttributeError):
                node.get_logger().warning(f"skipping {c.topic}: message type {c.msgtype} is not installed")
                continue
            qos = qos_profile_sensor_data if sensor_qos and c.msgtype.startswith("sensor_msgs/msg/") else QoSProfile(depth=10)
            pubs[c.topic] = (node.create_publisher(cls, c.topic, qos), cls)
        stats.matched = _wait_for_matches(node, [pubs[t][0] for t in wait_for if t in pubs], wait_timeout)
        if not stats.matched:
            node.get_logger().warning(f"no subscriber matched {list(wait_for)} within {wait_timeout} s; playing anyway")
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
            msg = deserialize_message(bytes(raw), cls)
            pub.publish(msg)
            if on_publish is not None:
                on_publish(conn.topic, msg)
            stats.published += 1
    stats.wall_seconds = time.monotonic() - start_wall
    # publish() only queues a message: a player that exits at once can take the last ones with it,
    # reliable QoS or not. Wait until the subscribers have them (best-effort publishers return at once).
    stats.unacknowledged = tuple(topic for topic, (pub, _) in pubs.items() if not pub.wait_for_all_acked(Duration(seconds=ack_timeout)))
    if stats.unacknowledged:
        node.get_logger().warning(f"subscribers did not acknowledge every message on {list(stats.unacknowledged)} within {ack_timeout} s")
    return stats


def play_bag_file(path: str | Path, rate: float = 1.0, topics: set[str] | None = None, reliable: bool = False,
                  wait_topic: str = "/camera/image_raw", wait_timeout: float = 10.0) -> PlayStats:  # fmt: skip
    """``vdpm play``: its own rclpy context and node around :func:`play_bag`, shut down whatever happens."""
    import rclpy

    rclpy.init()
    try:
        node = rclpy.create_node("vdpm_bag_player")
        try:
            return play_bag(node, path, rate, topics, sensor_qos=not reliable, wait_for=(wait_topic,), wait_timeout=wait_timeout)
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
