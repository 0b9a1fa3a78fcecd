"""``vdpm`` entry point: dispatches to subcommands."""

from __future__ import annotations

import argparse
import logging
import sys

from . import bench_cmd, conformance_cmd, demo_cmd, eval_cmd, export_cmd, info_cmd, node_cmd, play_cmd, synth_cmd, train_cmd

SUBCOMMANDS = (demo_cmd, node_cmd, play_cmd, conformance_cmd, info_cmd, synth_cmd, train_cmd, eval_cmd, export_cmd, bench_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vdpm", description="V-DPM 4D perception: tools around the ROS 2 node.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # rclpy's own arguments (--ros-args -r ... -p ...) are not ours to parse: split them off first.
    ros_args = argv[argv.index("--ros-args") :] if "--ros-args" in argv else []
    argv = argv[: len(argv) - len(ros_args)]
    parser = build_parser()
    args = parser.parse_args(argv)
    if ros_args:
        if args.command != "node":
            parser.error("--ros-args is only for 'vdpm node'")
        args.ros_args = ros_args
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="[%(levelname)s] %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        # User errors (bad path, wrong checkpoint, bad fixture) get one clear line, not a traceback.
        print(f"vdpm {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
