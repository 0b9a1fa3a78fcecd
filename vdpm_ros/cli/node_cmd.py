"""``vdpm node [--params-file FILE] [--ros-args ...]``: run vdpm_node where ``ros2 run``/``ros2 launch`` are unavailable.

Same node, parameters and defaults as ``ros2 launch vdpm_ros vdpm.launch.py`` (config/vdpm.yaml).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "node",
        help="run the ROS 2 node (needs rclpy: scripts/setup_ros_venv.sh)",
        description="Runs vdpm_node. Remap topics and set parameters as with ros2 run, e.g. "
        "vdpm node --params-file my.yaml --ros-args -r image:=/camera/image_raw -p window_size:=8",
    )
    p.add_argument("--params-file", type=Path, default=None, help="YAML in the format of config/vdpm.yaml")
    # Everything from --ros-args on is split off by cli.main before argparse and passed to rclpy.
    p.set_defaults(run=run, ros_args=[])


def build_rclpy_args(params_file: Path | None, ros_args: list[str]) -> list[str]:
    """rclpy argv: our --params-file becomes a ROS params file before any user --ros-args."""
    args = ["vdpm_node"]
    if params_file is not None:
        if not params_file.is_file():
            raise FileNotFoundError(f"params file {params_file} does not exist")
        args += ["--ros-args", "--params-file", str(params_file)]
    return args + list(ros_args)


def run(args: argparse.Namespace) -> int:
    try:
        from ..ros.node import main as node_main
    except ImportError as exc:
        raise ValueError(f"rclpy is not importable ({exc}); run: bash scripts/setup_ros_venv.sh") from exc
    return node_main(build_rclpy_args(args.params_file, args.ros_args))
