"""Every parameter of ``vdpm_node``, declared once: name, type, default, description, validation.

This module does not import rclpy: the defaults are checked against config/vdpm.yaml in the tests,
and the node declares them all from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def _p(default: Any, description: str, **extra: Any) -> Any:
    return field(default=default, metadata={"description": description, **extra})


@dataclass(frozen=True)
class NodeParameters:
    # --- model ---
    model_path: str = _p("", "checkpoint (.safetensors or official model.pt) or an ONNX export directory (vdpm export); empty = the embedded default model")
    engine: str = _p("auto", "auto (ONNX Runtime for an export directory, else PyTorch), pytorch or onnxruntime", choices=("auto", "pytorch", "onnxruntime"))
    device: str = _p("auto", "auto (cuda if available), cpu, cuda, cuda:N")
    allow_vggt: bool = _p(False, "accept a plain VGGT checkpoint (decoder untrained: flow and masks are meaningless)")
    # --- windowing ---
    window_size: int = _p(5, "frames per window (V-DPM was trained on 5-19)", min=2)
    stride: int = _p(1, "new frames between two windows (window_size - stride frames overlap)", min=1)
    min_frame_interval: float = _p(0.0, "seconds: frames closer than this to the last accepted frame are skipped", min=0.0)
    preprocess_mode: str = _p("crop", "crop (width to the model size, centre-crop) or pad (longest side, white pad)", choices=("crop", "pad"))
    queue_size: int = _p(2, "windows waiting for the GPU; when full the oldest is dropped (and counted)", min=1)
    time_jump_reset: float = _p(1.0, "seconds: a stamp going back by more than this (looped bag) resets the stream; 0 = reject all", min=0.0)
    precision: str = _p("float32", "backbone/decoder precision: float32, bfloat16 or float16 (heads stay float32)", choices=("float32", "bfloat16", "float16"))
    # --- outputs ---
    confidence_percentile: float = _p(50.0, "point cloud keeps points above this confidence percentile", min=0.0, max=99.9)
    motion_threshold: float = _p(0.025, "a point is dynamic when it moves more than this times the mean distance of the scene to the camera, from the window's first or previous frame to the latest", min=1e-6)
    motion_span: str = _p("window", "window: dynamic = moved since the window's first or previous frame (one more decoder pass); step: since the previous frame only (cheaper, but depends on the frame rate)", choices=("window", "step"))
    scale_mode: str = _p("none", "none (model units), fixed (times fixed_scale), depth (from the aligned depth topic)", choices=("none", "fixed", "depth"))
    fixed_scale: float = _p(1.0, "metres per model unit when scale_mode is fixed", min=1e-9)
    stitch: bool = _p(True, "align successive windows (Sim(3) on static points) into one odometry frame")
    image_transport: str = _p("raw", "subscribe to image (raw) or image/compressed (jpeg/png), not both", choices=("raw", "compressed"))
    image_qos: str = _p("sensor_data", "QoS of the image subscriptions: sensor_data (best effort) or reliable", choices=("sensor_data", "reliable"))
    odom_frame: str = _p("vdpm_odom", "frame of poses, path, odometry and clouds: the first camera's optical frame (z forward, y down), so not named odom, which a robot's wheel odometry owns (REP 105)")
    camera_frame: str = _p("", "camera optical frame (REP 103); empty = the image header's frame_id")
    odometry_variance: float = _p(1.0, "diagonal of the pose and twist covariances of /vdpm/odometry (units^2, rad^2): V-DPM gives no uncertainty, so this is a placeholder, large on purpose so that a fuser does not trust the estimate blindly", min=0.0)
    publish_tf: bool = _p(True, "broadcast odom_frame -> camera_frame on /tf; turn off when the robot's TF tree already gives camera_frame a parent")
    publish_window: bool = _p(False, "publish the full window message on window_topic")
    points_topic: str = _p("vdpm/points", "PointCloud2 xyz rgb confidence of the latest frame")
    scene_flow_topic: str = _p("vdpm/scene_flow", "PointCloud2 x y z vx vy vz confidence dynamic")
    scene_flow_msg_topic: str = _p("vdpm/scene_flow_stamped", "vdpm_ros/SceneFlow with source and target stamps")
    motion_mask_topic: str = _p("vdpm/motion_mask", "mono8 Image at the input resolution, 255 = moving")
    depth_topic: str = _p("vdpm/depth", "32FC1 Image at the input resolution")
    camera_pose_topic: str = _p("vdpm/camera_pose", "PoseStamped of the latest frame in odom_frame")
    odometry_topic: str = _p("vdpm/odometry", "Odometry of the latest frame")
    path_topic: str = _p("vdpm/path", "Path of all processed frames")
    camera_info_topic: str = _p("vdpm/camera_info", "estimated intrinsics mapped to the input image")
    optical_flow_topic: str = _p("vdpm/optical_flow", "32FC2 Image: pixel displacement from the latest to the previous frame")
    window_topic: str = _p("vdpm/window", "vdpm_ros/Window (when publish_window)")
    diagnostics_period: float = _p(1.0, "seconds between /diagnostics messages", min=0.1)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if "min" in meta and value < meta["min"]:
                raise ValueError(f"parameter {f.name}={value!r} must be >= {meta['min']}")
            if "max" in meta and value > meta["max"]:
                raise ValueError(f"parameter {f.name}={value!r} must be <= {meta['max']}")
            if "choices" in meta and value not in meta["choices"]:
                raise ValueError(f"parameter {f.name}={value!r} must be one of {meta['choices']}")
        if self.stride > self.window_size:
            raise ValueError(f"stride {self.stride} > window_size {self.window_size}: windows would skip frames")

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        return {f.name: f.metadata["description"] for f in dataclasses.fields(cls)}

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "NodeParameters":
        unknown = set(values) - set(cls.defaults())
        if unknown:
            raise ValueError(f"unknown vdpm_node parameters: {sorted(unknown)}")
        return cls(**{**cls.defaults(), **values})


def load_params_file(path) -> NodeParameters:
    """Node parameters from a ROS 2 params YAML (``vdpm_node:`` or ``/**:`` with ``ros__parameters``), without ROS."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file {path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    values: dict[str, Any] = {}
    for key, section in data.items() if isinstance(data, dict) else ():
        if str(key).strip("/") in ("vdpm_node", "**") and isinstance(section, dict):
            values.update(section.get("ros__parameters") or {})
    if not values:
        raise ValueError(f"{path} has no 'vdpm_node: ros__parameters:' section (see config/vdpm.yaml)")
    return NodeParameters.from_values(values)


def pipeline_config(params: NodeParameters):
    """The ROS-free pipeline's configuration for these node parameters."""
    from ..pipeline.config import PipelineConfig

    return PipelineConfig(
        window_size=params.window_size,
        stride=params.stride,
        min_frame_interval_s=params.min_frame_interval,
        time_jump_reset_s=params.time_jump_reset or None,
        preprocess_mode=params.preprocess_mode,
        confidence_percentile=params.confidence_percentile,
        motion_threshold=params.motion_threshold,
        motion_span=params.motion_span,
        scale_mode=params.scale_mode,
        fixed_scale=params.fixed_scale,
        precision=params.precision,
        max_queue=params.queue_size,
        stitch=params.stitch,
    )


def render_yaml() -> str:
    """config/vdpm.yaml as it must read: every parameter with its description and default."""
    import json

    lines = [
        "# vdpm_node parameters and their defaults. Regenerate with: python -m vdpm_ros.ros.parameters > config/vdpm.yaml",
        "# Use with: ros2 launch vdpm_ros vdpm.launch.py params_file:=my.yaml   or   vdpm node --params-file my.yaml",
        "# '/**' applies to the node whatever its name and namespace (a key 'vdpm_node' would match /vdpm_node only).",
        "/**:",
        "  ros__parameters:",
    ]
    for name, value in NodeParameters.defaults().items():
        lines.append(f"    # {NodeParameters.descriptions()[name]}")
        lines.append(f"    {name}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_yaml(), end="")
