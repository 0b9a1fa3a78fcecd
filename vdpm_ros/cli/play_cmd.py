"""``vdpm play BAG``: replay a rosbag2 into ROS 2 with /clock (a stand-in for ``ros2 bag play``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="replay a rosbag2 (mcap or sqlite3) into ROS 2 with /clock")
    p.add_argument("bag", type=Path)
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1.0)")
    p.add_argument("--topics", nargs="*", default=None, help="only these topics (default: all)")
    p.add_argument("--wait-subscribers", type=float, default=10.0, help="seconds to wait for a subscriber on the image topic first")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import rclpy
    except ImportError as exc:
        raise ValueError(f"rclpy is not importable ({exc}); run: bash scripts/setup_ros_venv.sh") from exc
    import time

    from ..ros.bag_player import play_bag

    if not args.bag.exists():
        raise FileNotFoundError(f"bag {args.bag} does not exist")
    rclpy.init()
    try:
        node = rclpy.create_node("vdpm_bag_player")
        deadline = time.monotonic() + args.wait_subscribers
        while time.monotonic() < deadline and node.count_subscribers("/camera/image_raw") == 0:
            rclpy.spin_once(node, timeout_sec=0.1)
        time.sleep(1.0)  # let the subscriber's side of discovery finish too
        stats = play_bag(node, args.bag, args.rate, set(args.topics) if args.topics else None)
        print(f"published {stats.published} messages from {args.bag} in {stats.wall_seconds:.1f} s")
        node.destroy_node()
    finally:
        rclpy.shutdown()
    return 0
