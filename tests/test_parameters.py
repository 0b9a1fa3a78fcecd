"""Node parameters: one definition, equal to config/vdpm.yaml and the launch file, validated."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from vdpm_ros.ros.parameters import NodeParameters, pipeline_config, render_yaml

REPO = Path(__file__).resolve().parents[1]


def _yaml_values() -> dict:
    import yaml

    data = yaml.safe_load((REPO / "config" / "vdpm.yaml").read_text())
    return data["/**"]["ros__parameters"]


def test_yaml_equals_the_declared_defaults():
    assert _yaml_values() == NodeParameters.defaults()
    assert (REPO / "config" / "vdpm.yaml").read_text() == render_yaml()


def test_defaults_make_a_valid_pipeline_config():
    cfg = pipeline_config(NodeParameters())
    assert (cfg.window_size, cfg.max_queue, cfg.time_jump_reset_s) == (5, 2, 1.0)
    assert pipeline_config(NodeParameters.from_values({"time_jump_reset": 0.0})).time_jump_reset_s is None


def test_every_parameter_is_described():
    assert all(len(d) > 10 for d in NodeParameters.descriptions().values())


@pytest.mark.parametrize(
    "values, message",
    [
        ({"window_size": 1}, "window_size"),
        ({"preprocess_mode": "stretch"}, "one of"),
        ({"stride": 6}, "stride 6 > window_size 5"),
        ({"confidence_percentile": 120.0}, "<= 99.9"),
        ({"windowsize": 5}, "unknown vdpm_node parameters"),
    ],
)
def test_bad_values_are_refused_with_the_name(values, message):
    with pytest.raises(ValueError, match=message):
        NodeParameters.from_values(values)


def test_launch_file_overrides_only_declared_parameters_and_runs_vdpm_node():
    from vdpm_ros.ros.launch_args import OVERRIDABLE

    tree = ast.parse((REPO / "launch" / "vdpm.launch.py").read_text())
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert "vdpm_node" in strings and "vdpm_ros" in strings
    assert {"image", "image/compressed", "camera_info", "depth"} <= set(strings)
    # Each overriding argument is declared with an empty default, so an unset argument never replaces params_file.
    declared_args = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DeclareLaunchArgument":
            default = next(k.value for k in node.keywords if k.arg == "default_value")
            declared_args[node.args[0].value] = default.value if isinstance(default, ast.Constant) else None
    assert all(declared_args.get(name) == "" for name in OVERRIDABLE), declared_args
    defaults = NodeParameters.defaults()
    # An argument named like a parameter must set that parameter (depth_topic as an input remap would
    # read as the output parameter of the same name).
    assert set(declared_args) & set(defaults) <= set(OVERRIDABLE), set(declared_args) & set(defaults)
    for name, kind in OVERRIDABLE.items():
        assert name == "use_sim_time" and kind is bool or type(defaults[name]) is kind, name


def test_launch_arguments_override_the_params_file_only_when_given():
    from vdpm_ros.ros.launch_args import parameter_overrides

    assert parameter_overrides({"model_path": "", "window_size": "", "use_sim_time": ""}) == {}
    assert parameter_overrides({"model_path": "/m.pt", "window_size": "8", "use_sim_time": "True", "engine": "onnxruntime"}) == {
        "model_path": "/m.pt", "engine": "onnxruntime", "window_size": 8, "use_sim_time": True}
    with pytest.raises(ValueError, match="window_size:='five' must be an integer"):
        parameter_overrides({"window_size": "five"})
    with pytest.raises(ValueError, match="use_sim_time:='yes' must be true or false"):
        parameter_overrides({"use_sim_time": "yes"})


def test_params_file_is_read_without_ros(tmp_path):
    from pathlib import Path

    from vdpm_ros.ros.parameters import NodeParameters, load_params_file

    repo = Path(__file__).resolve().parents[1]
    assert load_params_file(repo / "config" / "vdpm.yaml") == NodeParameters()
    f = tmp_path / "p.yaml"
    f.write_text("/**:\n  ros__parameters:\n    window_size: 4\n")
    assert load_params_file(f).window_size == 4
    f.write_text("vdpm_node:\n  ros__parameters:\n    window_sise: 4\n")
    with pytest.raises(ValueError, match="unknown vdpm_node parameters: \\['window_sise'\\]"):
        load_params_file(f)
    f.write_text("other_node:\n  ros__parameters:\n    x: 1\n")
    with pytest.raises(ValueError, match="no 'vdpm_node: ros__parameters:' section"):
        load_params_file(f)
