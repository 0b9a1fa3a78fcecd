"""Every parameter of ``vdpm_node``: the settings of the model door, the node's inputs, the pipeline and the outputs.

Each parameter is declared once, as a :func:`~vdpm_ros.settings.setting` on the section that owns it
(:class:`~vdpm_ros.runtime.ModelSettings`, :class:`NodeSettings`, :class:`~vdpm_ros.pipeline.PipelineConfig`,
:class:`~vdpm_ros.pipeline.ObjectsConfig`, :class:`~vdpm_ros.output.OutputConfig`): the ROS parameter has the field's name, default, description and
bounds. config/vdpm.yaml and the parameter table of docs/node.md are generated from here (tests compare).

This module does not import rclpy, so ``vdpm eval`` and the tests read parameters files without ROS.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..messages.image import DEFAULT_MAX_INPUT_PIXELS
from ..messages.validation import DEFAULT_MAX_DEPTH_M, DEFAULT_MAX_DEPTH_STAMP_DIFF_NS
from ..output import OutputConfig
from ..pipeline.config import PipelineConfig
from ..pipeline.objects_config import ObjectsConfig
from ..runtime import ModelSettings
from ..settings import SettingSpec, check_settings, coerce, setting, specs

#: Subscription queue depths that ``image_queue_depth: 0`` stands for, by ``image_qos``.
AUTO_QUEUE_DEPTH = {"sensor_data": 5, "reliable": 500}


@dataclass(frozen=True)
class NodeSettings:
    """What only the ROS node has: how it subscribes, what input it accepts, how often it reports, how it stops."""

    image_transport: str = setting(
        "raw", "subscribe to image (raw) or image/compressed (jpeg/png), not both", choices=("raw", "compressed")
    )
    image_qos: str = setting(
        "sensor_data", "QoS of the image subscriptions: sensor_data (best effort) or reliable", choices=("sensor_data", "reliable")
    )
    image_queue_depth: int = setting(
        0,
        "messages each image, depth and camera_info subscription holds while the node is busy; 0 = 5 with sensor_data "
        "(the newest frames matter) or 500 with reliable (a burst of hundreds is received, then dropped by the node's own "
        "limits and counted). Memory: up to this many messages per topic",
        min=0, max=100000,
    )  # fmt: skip
    max_input_pixels: int = setting(
        DEFAULT_MAX_INPUT_PIXELS, "images (colour or depth) declaring more than width x height pixels are rejected before decoding; "
        "the default 4096 x 3072 admits 4K and 12 MP cameras", min=1,
    )  # fmt: skip
    max_depth: float = setting(
        DEFAULT_MAX_DEPTH_M, "metres: depth pixels beyond this are no measurement (a depth image with none left is rejected)", min=1e-3
    )
    depth_stamp_tolerance: float = setting(
        DEFAULT_MAX_DEPTH_STAMP_DIFF_NS * 1e-9, "seconds: a colour frame takes the depth image nearest in stamp only within this", min=0.0
    )
    diagnostics_period: float = setting(1.0, "seconds between /diagnostics messages", min=0.1)
    shutdown_timeout: float = setting(
        5.0, "seconds the window in progress may take to finish (and be published) on SIGINT/SIGTERM; then, or on a second "
        "signal, it is abandoned unpublished", min=0.0,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_settings(self)

    @property
    def queue_depth(self) -> int:
        """The subscription queue depth in use (``image_queue_depth``, or its automatic value)."""
        return self.image_queue_depth or AUTO_QUEUE_DEPTH[self.image_qos]


#: Section name -> the settings class that owns its parameters, in the order of config/vdpm.yaml.
SECTIONS: dict[str, type] = {
    "model": ModelSettings, "node": NodeSettings, "pipeline": PipelineConfig, "objects": ObjectsConfig, "outputs": OutputConfig,
}  # fmt: skip


@dataclass(frozen=True)
class NodeParameters:
    """The node's configuration, one typed section per owner; parameter names are flat and unique."""

    model: ModelSettings = field(default_factory=ModelSettings)
    node: NodeSettings = field(default_factory=NodeSettings)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    objects: ObjectsConfig = field(default_factory=ObjectsConfig)
    outputs: OutputConfig = field(default_factory=OutputConfig)

    @classmethod
    def specs(cls) -> list[SettingSpec]:
        """Every node parameter, in declaration order (library-only pipeline knobs are not parameters)."""
        return [s for section in SECTIONS.values() for s in specs(section) if s.node]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {s.name: s.default for s in cls.specs()}

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        return {s.name: s.description for s in cls.specs()}

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> NodeParameters:
        """From flat parameter values (missing ones take their defaults).

        Raises:
            ValueError: an unknown name, or a value of the wrong type, out of bounds or not a choice, naming it.
        """
        return cls().replace(**values)

    def values(self) -> dict[str, Any]:
        """Flat parameter name -> value."""
        return {s.name: getattr(getattr(self, key), s.name) for key, section in SECTIONS.items() for s in specs(section) if s.node}

    def changed(self) -> dict[str, Any]:
        """The parameters that differ from their defaults."""
        defaults = self.defaults()
        return {name: value for name, value in self.values().items() if value != defaults[name]}

    def replace(self, **values: Any) -> NodeParameters:
        """A copy with some flat parameters changed (validated as :meth:`from_values` does)."""
        by_name = {s.name: s for s in self.specs()}
        unknown = sorted(set(values) - set(by_name))
        if unknown:
            raise ValueError(f"unknown vdpm_node parameters: {unknown}")
        sections = {}
        for key, section in SECTIONS.items():
            mine = {s.name: coerce(s, values[s.name], "parameter") for s in specs(section) if s.name in values}
            sections[key] = dataclasses.replace(getattr(self, key), **mine)
        return NodeParameters(**sections)


def _check_unique_names() -> None:
    seen: dict[str, str] = {}
    for s in NodeParameters.specs():
        if s.name in seen:
            raise TypeError(f"parameter {s.name} is declared by both {seen[s.name]} and {s.section}")
        seen[s.name] = s.section


_check_unique_names()


def load_params_file(path: str | Path) -> NodeParameters:
    """Node parameters from a ROS 2 params YAML (``vdpm_node:`` or ``/**:`` with ``ros__parameters``), without ROS."""
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


_SECTION_TITLES = {
    "ModelSettings": "model: which weights, engine and device",
    "NodeSettings": "node: subscriptions, input limits, diagnostics, shutdown",
    "PipelineConfig": "pipeline: windows, motion, metric scale, stitching",
    "ObjectsConfig": "objects: moving objects, their tracks, the static map",
    "OutputConfig": "outputs: topics, frames, what to publish",
}


def render_yaml() -> str:
    """config/vdpm.yaml as it must read: every parameter with its description and default."""
    lines = [
        "# vdpm_node parameters and their defaults. Regenerate with: python -m vdpm_ros.ros.parameters > config/vdpm.yaml",
        "# Use with: ros2 launch vdpm_ros vdpm.launch.py params_file:=my.yaml   or   vdpm node --params-file my.yaml",
        "# '/**' applies to the node whatever its name and namespace (a key 'vdpm_node' would match /vdpm_node only).",
        "/**:",
        "  ros__parameters:",
    ]
    section = None
    for s in NodeParameters.specs():
        if s.section != section:
            section = s.section
            lines.append(f"    # --- {_SECTION_TITLES[section]} ---")
        lines.append(f"    # {s.description}")
        lines.append(f"    {s.name}: {json.dumps(s.default)}")
    return "\n".join(lines) + "\n"


def render_markdown_table() -> str:
    """The parameter table of docs/node.md: name, default, what it does (with bounds and choices)."""
    rows = ["| parameter | default | description |", "| --- | --- | --- |"]
    for s in NodeParameters.specs():
        extra = []
        if s.choices:
            extra.append("one of " + ", ".join(f"`{c}`" for c in s.choices))
        if s.min is not None:
            extra.append(f">= {s.min:g}")
        if s.max is not None:
            extra.append(f"<= {s.max:g}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        rows.append(f"| `{s.name}` | `{json.dumps(s.default)}` | {s.description}{tail} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render_yaml(), end="")
