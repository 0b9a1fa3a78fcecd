"""Node parameters: one definition, equal to config/vdpm.yaml and the launch file, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from vdpm_ros.ros.parameters import NodeParameters, render_yaml

REPO = Path(__file__).resolve().parents[1]


def _yaml_values() -> dict:
    import yaml

    data = yaml.safe_load((REPO / "config" / "vdpm.yaml").read_text())
    return data["/**"]["ros__parameters"]


def test_yaml_equals_the_declared_defaults():
    assert _yaml_values() == NodeParameters.defaults()
    assert (REPO / "config" / "vdpm.yaml").read_text() == render_yaml()


def test_defaults_make_a_valid_pipeline_config():
    from vdpm_ros.pipeline import PipelineConfig, WindowBuffer

    cfg = NodeParameters().pipeline
    assert (cfg.window_size, cfg.queue_size, cfg.time_jump_reset) == (5, 2, 1.0)
    # The node's parameters are the pipeline's own fields: same names, same defaults.
    assert cfg == PipelineConfig()
    never = NodeParameters.from_values({"time_jump_reset": 0.0}).pipeline
    assert WindowBuffer.from_config(never)._jump_ns is None  # 0 = never reset


def test_every_parameter_is_described():
    assert all(len(d) > 10 for d in NodeParameters.descriptions().values())


@pytest.mark.parametrize(
    "values, message",
    [
        ({"window_size": 1}, "window_size"),
        ({"preprocess_mode": "stretch"}, "one of"),
        ({"stride": 0}, "stride must be >= 1"),
        ({"window_size": 4.5}, "window_size must be an integer"),
        ({"confidence_percentile": 120.0}, "<= 99.9"),
        ({"windowsize": 5}, "unknown vdpm_node parameters"),
    ],
)
def test_bad_values_are_refused_with_the_name(values, message):
    with pytest.raises(ValueError, match=message):
        NodeParameters.from_values(values)


def test_stride_beyond_the_window_is_one_rule_for_node_and_pipeline():
    # The pipeline supports windows that share no frame (stitching chains them); the node used to refuse it.
    params = NodeParameters.from_values({"stride": 6})
    assert params.pipeline.stride == 6 and params.pipeline.window_size == 5


def test_every_section_owns_distinct_parameter_names():
    names = [s.name for s in NodeParameters.specs()]
    assert len(names) == len(set(names))
    assert NodeParameters.from_values(NodeParameters().values()) == NodeParameters()
    assert NodeParameters().replace(window_size=7, odom_frame="o").changed() == {"window_size": 7, "odom_frame": "o"}


def _run_launch_file(monkeypatch, **given: str) -> tuple[dict, dict]:
    """Execute launch/vdpm.launch.py against stand-ins of the launch packages (not on PyPI): (declared args, Node kwargs)."""
    import importlib.util
    import sys
    import types

    declared: dict[str, str] = {}
    nodes: list[dict] = []

    class LaunchConfiguration:
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context[self.name]

    def declare(name, default_value="", description=""):
        assert description, name
        declared[name] = default_value
        return ("arg", name)

    modules = {
        "launch": types.SimpleNamespace(LaunchDescription=lambda entities: entities),
        "launch.actions": types.SimpleNamespace(DeclareLaunchArgument=declare, OpaqueFunction=lambda function: ("fn", function)),
        "launch.substitutions": types.SimpleNamespace(LaunchConfiguration=LaunchConfiguration),
        "launch_ros.actions": types.SimpleNamespace(Node=lambda **kw: nodes.append(kw) or ("node", kw)),
        "ament_index_python.packages": types.SimpleNamespace(get_package_share_directory=lambda pkg: str(REPO)),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("vdpm_launch", REPO / "launch" / "vdpm.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entities = module.generate_launch_description()
    context = {**declared, **given}
    for kind, value in entities:
        if kind == "fn":
            value(context)
    assert len(nodes) == 1
    return declared, nodes[0]


def test_launch_file_declares_every_parameter_and_runs_vdpm_node(monkeypatch):
    declared, node = _run_launch_file(monkeypatch)
    assert (node["package"], node["executable"], node["name"], node["namespace"]) == ("vdpm_ros", "vdpm_node", "vdpm_node", "")
    # Every node parameter can be given on the command line (none is silently ignored), and defaults to
    # "not given", so an unset argument never replaces what params_file says.
    assert all(declared[name] == "" for name in NodeParameters.defaults()), declared
    assert declared["use_sim_time"] == ""
    params_file, overrides = node["parameters"]
    assert params_file == str(REPO / "config" / "vdpm.yaml") and overrides == {}
    # Only the image is remapped by default: camera_info and depth are found beside it by the node.
    assert node["remappings"] == [("image", "camera/image_raw"), ("image/compressed", "camera/image_raw/compressed")]
    # An input argument must not be named like a parameter (depth_topic as an input would read as the output).
    from vdpm_ros.ros.launch_args import INPUT_ARGUMENTS

    assert not {name for name, _, _ in INPUT_ARGUMENTS} & set(NodeParameters.defaults())


def test_launch_arguments_reach_the_node(monkeypatch):
    _, node = _run_launch_file(monkeypatch, namespace="cam1", image_qos="reliable", stride="3", use_sim_time="true",
                               image_topic="/cam1/color/image_raw", input_depth_topic="/cam1/aligned_depth/image_raw")  # fmt: skip
    assert node["namespace"] == "cam1"
    assert node["parameters"][1] == {"image_qos": "reliable", "stride": 3, "use_sim_time": True}
    assert ("depth", "/cam1/aligned_depth/image_raw") in node["remappings"]
    assert ("image/compressed", "/cam1/color/image_raw/compressed") in node["remappings"]


def test_params_file_is_read_without_ros(tmp_path):
    from pathlib import Path

    from vdpm_ros.ros.parameters import NodeParameters, load_params_file

    repo = Path(__file__).resolve().parents[1]
    assert load_params_file(repo / "config" / "vdpm.yaml") == NodeParameters()
    f = tmp_path / "p.yaml"
    f.write_text("/**:\n  ros__parameters:\n    window_size: 4\n")
    assert load_params_file(f).pipeline.window_size == 4
    f.write_text("vdpm_node:\n  ros__parameters:\n    window_sise: 4\n")
    with pytest.raises(ValueError, match="unknown vdpm_node parameters: \\['window_sise'\\]"):
        load_params_file(f)
    f.write_text("other_node:\n  ros__parameters:\n    x: 1\n")
    with pytest.raises(ValueError, match="no 'vdpm_node: ros__parameters:' section"):
        load_params_file(f)


def test_the_parameter_table_in_the_docs_is_the_declared_one():
    from vdpm_ros.ros.parameters import render_markdown_table

    text = (REPO / "docs" / "node.md").read_text()
    start = text.index("<!-- parameter-table")
    table = text[text.index("\n", start) + 1 : text.index("<!-- end parameter-table -->")]
    assert table == render_markdown_table(), "regenerate the table in docs/node.md from render_markdown_table()"
