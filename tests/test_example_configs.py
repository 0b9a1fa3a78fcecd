"""config/examples/: the Nav2 and MoveIt snippets parse and set, with the right types, the parameters
those plugins read (names and types as nav2_costmap_2d's ObstacleLayer/VoxelLayer declare them and MoveIt 2's
PointCloudOctomapUpdater::setParams reads them); the vdpm_node snippet only names real parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "config" / "examples"
STATIC, DYNAMIC = "/vdpm/static_points", "/vdpm/dynamic_points"

# nav2_costmap_2d ObstacleLayer::onInitialize: per layer and per observation source (name -> type).
OBSTACLE_LAYER = {
    "enabled": bool,
    "footprint_clearing_enabled": bool,
    "min_obstacle_height": float,
    "max_obstacle_height": float,
    "combination_method": int,
    "observation_sources": str,
    "tf_filter_tolerance": float,
}
VOXEL_LAYER = {
    **OBSTACLE_LAYER,
    "z_voxels": int,
    "origin_z": float,
    "z_resolution": float,
    "unknown_threshold": int,
    "mark_threshold": int,
    "publish_voxel_map": bool,
}
SOURCE = {
    "topic": str,
    "sensor_frame": str,
    "observation_persistence": float,
    "expected_update_rate": float,
    "data_type": str,
    "min_obstacle_height": float,
    "max_obstacle_height": float,
    "inf_is_valid": bool,
    "marking": bool,
    "clearing": bool,
    "obstacle_max_range": float,
    "obstacle_min_range": float,
    "raytrace_max_range": float,
    "raytrace_min_range": float,
}
LAYERS = {"nav2_costmap_2d::ObstacleLayer": OBSTACLE_LAYER, "nav2_costmap_2d::VoxelLayer": VOXEL_LAYER}
# MoveIt 2 PointCloudOctomapUpdater::setParams: all seven are required (get_parameter && ...), "ns" optional.
OCTOMAP_UPDATER = {
    "point_cloud_topic": str,
    "max_range": float,
    "padding_offset": float,
    "padding_scale": float,
    "point_subsample": int,
    "max_update_rate": float,
    "filtered_cloud_topic": str,
}


def _load(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / name).read_text())


def _check_types(block: dict, schema: dict, where: str) -> None:
    for key, value in block.items():
        assert key in schema, f"{where}.{key} is not a parameter the plugin reads"
        # bool is an int in Python; ROS 2 types them apart, so compare exactly.
        assert type(value) is schema[key], f"{where}.{key} = {value!r} must be {schema[key].__name__}"


def test_nav2_costmap_layers_read_the_vdpm_clouds():
    params = _load("nav2_costmap_vdpm.yaml")
    sources = {}
    for costmap in ("local_costmap", "global_costmap"):
        ros = params[costmap][costmap]["ros__parameters"]
        vdpm_layers = [p for p in ros["plugins"] if p.startswith("vdpm_")]
        assert vdpm_layers, costmap
        for name in vdpm_layers:
            layer = dict(ros[name])
            plugin = layer.pop("plugin")
            assert plugin in LAYERS, plugin
            names = layer["observation_sources"].split()
            blocks = {n: layer.pop(n) for n in names}
            _check_types(layer, LAYERS[plugin], f"{costmap}.{name}")
            for n, block in blocks.items():
                _check_types(block, SOURCE, f"{costmap}.{name}.{n}")
                assert block["data_type"] == "PointCloud2"
                sources[(costmap, n)] = block
    statics = [b for b in sources.values() if b["topic"] == STATIC]
    dynamics = [b for b in sources.values() if b["topic"] == DYNAMIC]
    assert len(statics) == 2 and all(b["marking"] and b["clearing"] for b in statics)
    assert dynamics and all(not b["marking"] for b in dynamics)  # moving points are never marked
    assert set(b["topic"] for b in sources.values()) == {STATIC, DYNAMIC}


def test_moveit_octomap_updater_reads_the_static_points():
    params = _load("moveit_sensors_3d.yaml")
    assert type(params["octomap_resolution"]) is float and type(params["octomap_frame"]) is str
    assert params["sensors"] and all(isinstance(s, str) for s in params["sensors"])
    for name in params["sensors"]:
        sensor = dict(params[name])
        assert sensor.pop("sensor_plugin") == "occupancy_map_monitor/PointCloudOctomapUpdater"
        sensor.pop("ns", None)
        assert set(sensor) == set(OCTOMAP_UPDATER), f"{name} must set exactly {sorted(OCTOMAP_UPDATER)}"
        _check_types(sensor, OCTOMAP_UPDATER, name)
        assert sensor["point_cloud_topic"] == STATIC and sensor["point_subsample"] >= 1


def test_vdpm_robot_snippet_names_only_node_parameters():
    defaults = yaml.safe_load((EXAMPLES.parent / "vdpm.yaml").read_text())["/**"]["ros__parameters"]
    snippet = _load("vdpm_on_a_robot.yaml")["/**"]["ros__parameters"]
    for key, value in snippet.items():
        assert key in defaults, f"{key} is not a vdpm_node parameter"
        assert type(value) is type(defaults[key]), f"{key}: {value!r} has not the type of its default {defaults[key]!r}"
    assert snippet["stitch"] is False and snippet["publish_tf"] is False and snippet["scale_mode"] != "none"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_parses(name):
    assert isinstance(_load(name), dict)
