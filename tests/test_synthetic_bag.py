"""``vdpm synth`` writes a rosbag2 (MCAP) that reads back to the generator's exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.bags.synthetic_bag import (
    CAMERA_INFO_TOPIC,
    IMAGE_TOPIC,
    POINTMAP_TOPIC,
    apply_motion_table,
    object_motion_table,
    read_synthetic_bag,
)
from vdpm_ros.cli.main import main
from vdpm_ros.synth import SceneConfig, generate_sequence

CONFIG = SceneConfig(height=42, width=56, frames=5, fps=15.0)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("bags") / "seq"
    assert main(["synth", "--seed", "1004", "--frames", "5", "--size", "42", "56", "--fps", "15", "--out", str(path)]) == 0
    return path, generate_sequence(1004, CONFIG)


def test_bag_reads_back_the_exact_ground_truth(written):
    path, seq = written
    back = read_synthetic_bag(path)
    for name in ("images", "valid", "depth", "intrinsics", "object_ids", "motion_mask", "timestamps"):
        np.testing.assert_array_equal(getattr(back, name), getattr(seq, name), err_msg=name)
    np.testing.assert_allclose(back.pointmaps, seq.pointmaps, atol=1e-5, rtol=0)  # every P_i(t_j)
    np.testing.assert_allclose(back.extrinsics, seq.extrinsics, atol=1e-6, rtol=0)
    assert back.seed == 1004


def test_bag_looks_like_a_robot_recording(written):
    from rosbags.rosbag2 import Reader

    path, seq = written
    with Reader(path) as reader:
        topics = {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
        stamps = [t for c, t, _ in reader.messages() if c.topic == IMAGE_TOPIC]
    assert topics[IMAGE_TOPIC] == ("sensor_msgs/msg/Image", 5)
    assert topics[CAMERA_INFO_TOPIC] == ("sensor_msgs/msg/CameraInfo", 5)
    assert topics[POINTMAP_TOPIC] == ("sensor_msgs/msg/PointCloud2", 5)
    assert np.allclose(np.diff(stamps), 1e9 / 15.0, atol=1)  # stamps follow the frame rate
    assert stamps[0] > 1_600_000_000 * 10**9  # plausible wall-clock stamps, not 0


def test_motion_table_is_exact_and_catches_non_affine_motion():
    seq = generate_sequence(1007, CONFIG)
    base, table = object_motion_table(seq)
    np.testing.assert_allclose(apply_motion_table(base, seq.object_ids, table), seq.pointmaps, atol=1e-5)
    np.testing.assert_array_equal(table[0], np.tile(np.eye(3, 4), (5, 1, 1)))  # the room is static
    seq.pointmaps[3, 1, 10:20, 10:20] += np.random.default_rng(0).normal(scale=0.05, size=(10, 10, 3))
    seq.object_ids[1, 10:20, 10:20] = 1
    with pytest.raises(ValueError, match="not affine"):
        object_motion_table(seq)


def test_existing_output_is_not_overwritten(written, capsys):
    path, _ = written
    assert main(["synth", "--seed", "1", "--frames", "2", "--size", "28", "28", "--out", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_reading_a_foreign_bag_is_a_clear_error(tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    path = tmp_path / "other"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conn = w.add_connection("/chatter", "std_msgs/msg/String", typestore=ts)
        w.write(conn, 1, ts.serialize_cdr(ts.types["std_msgs/msg/String"](data="hi"), "std_msgs/msg/String"))
    with pytest.raises(ValueError, match="not a vdpm synthetic bag"):
        read_synthetic_bag(path)
