"""``vdpm play BAG``: replay a rosbag2 into ROS 2 with /clock (a stand-in for ``ros2 bag play``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="replay a rosbag2 (mcap or sqlite3) into ROS 2 with /clock")
    p.add_argument("bag", type=Path)
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1.0)")
    p.add_argument("--topics", nargs="*", default=None, help="only these topics (default: all)")
    p.add_argument("--wait-subscribers", type=float, default=10.0, help="seconds to wait for a subscriber on --wait-topic first")
    p.add_argument("--wait-topic", default="/camera/image_raw", help="topic whose subscriber must be matched before playback")
    p.add_argument(
        "--reliable", action="store_true",
        help="publish camera topics with reliable QoS (default: sensor-data best effort, as cameras do); "
        "pair with the node's image_qos:=reliable when no frame may be lost",
    )  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.bag.exists():
        raise FileNotFoundError(f"bag {args.bag} does not exist")
    try:
        from ..ros.bag_player import play_bag_file
    except ImportError as exc:
        raise ValueError(f"rclpy is not importable ({exc}); run: bash scripts/setup_ros_venv.sh") from exc
    stats = play_bag_file(args.bag, args.rate, set(args.topics) if args.topics else None, reliable=args.reliable,
                          wait_topic=args.wait_topic, wait_timeout=args.wait_subscribers)  # fmt: skip
    print(f"published {stats.published} messages from {args.bag} in {stats.wall_seconds:.1f} s")
    return 0
