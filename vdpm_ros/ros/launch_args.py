"""The launch file's arguments: every node parameter, overriding the parameters file only when given.

launch_ros passes a parameter dict after ``params_file``, and the later source wins; a dict that always
held the arguments' defaults would silently replace what the user's ``params_file`` sets. So every
parameter argument defaults to the empty string, which means "not given". The arguments are generated
from the node's parameter table, so ``ros2 launch vdpm_ros vdpm.launch.py stride:=3`` works for every
parameter and none is silently ignored. This module has no launch import so that it can be tested where
the launch packages are not installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .parameters import NodeParameters

#: Launch arguments that are not node parameters: (name, default, description).
INPUT_ARGUMENTS: tuple[tuple[str, str, str], ...] = (
    ("params_file", "", "YAML with vdpm_node parameters; empty = the package's config/vdpm.yaml"),
    ("namespace", "", "namespace of the node and its relative topics (one node per camera: namespace:=cam1)"),
    ("image_topic", "camera/image_raw", "input camera topic, relative to the namespace unless it starts with /; "
     "with image_transport compressed, <image_topic>/compressed is used"),
    ("input_camera_info_topic", "", "input CameraInfo topic; empty = camera_info beside the image topic, as image_proc "
     "does (not the node parameter camera_info_topic, which names an output)"),
    ("input_depth_topic", "", "input aligned depth topic (scale_mode depth); empty = depth/image_raw beside the image "
     "topic (not the node parameter depth_topic, which names an output)"),
)  # fmt: skip
#: The launch argument that is a ROS parameter of every node, not one of ours.
USE_SIM_TIME = ("use_sim_time", "true to use /clock (bag replay)")


def parameter_arguments() -> list[tuple[str, str]]:
    """(name, description) of every parameter argument: all node parameters, then use_sim_time."""
    not_given = "; empty = the value in params_file"
    return [(s.name, s.description + not_given) for s in NodeParameters.specs()] + [(USE_SIM_TIME[0], USE_SIM_TIME[1] + not_given)]


def _kinds() -> dict[str, type]:
    return {**{s.name: s.kind for s in NodeParameters.specs()}, USE_SIM_TIME[0]: bool}


def parameter_overrides(arguments: Mapping[str, str]) -> dict[str, Any]:
    """Launch argument strings -> typed parameter overrides, leaving out the ones that were not given.

    Raises:
        ValueError: a value that does not parse as its parameter's type, naming the argument.
    """
    out: dict[str, Any] = {}
    for name, kind in _kinds().items():
        text = arguments.get(name, "").strip()
        if not text:
            continue
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(f"launch argument {name}:={text!r} must be true or false")
            out[name] = text.lower() == "true"
        elif kind in (int, float):
            try:
                out[name] = kind(text)
            except ValueError:
                raise ValueError(f"launch argument {name}:={text!r} must be {'an integer' if kind is int else 'a number'}") from None
        else:
            out[name] = text
    return out


def input_remappings(image_topic: str, camera_info_topic: str = "", depth_topic: str = "") -> list[tuple[str, str]]:
    """The node's input remappings. Camera info and depth left empty are not remapped: the node then looks
    beside the image topic (``<image ns>/camera_info``, ``<image ns>/depth/image_raw``), as image_proc does."""
    out = [("image", image_topic), ("image/compressed", image_topic.rstrip("/") + "/compressed")]
    if camera_info_topic.strip():
        out.append(("camera_info", camera_info_topic.strip()))
    if depth_topic.strip():
        out.append(("depth", depth_topic.strip()))
    return out
