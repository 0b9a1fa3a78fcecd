"""A synthetic bag (vdpm synth) replayed with vdpm play into vdpm node: outputs carry the bag's stamps."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ros_node_helpers import driver_node, spin_until, start_node, stop, wait_for_publisher


def test_replayed_synthetic_bag_reaches_the_node(node_env, tmp_path):
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import PointCloud2

    from vdpm_ros.bags.synthetic_bag import read_synthetic_bag
    from vdpm_ros.cli.main import main
    from vdpm_ros.ros.conversions import stamp_to_ns

    env, model_path = node_env
    bag = tmp_path / "seq"
    assert main(["synth", "--seed", "1012", "--frames", "5", "--size", "42", "56", "--out", str(bag)]) == 0
    stamps = [s for s in __import__("numpy").asarray(read_synthetic_bag(bag).timestamps)]
    vdpm = [sys.executable, "-m", "vdpm_ros.cli.main"]
    node = start_node(env, "-p", f"model_path:={model_path}", "-p", "window_size:=3", "-p", "queue_size:=10",
                      "-p", "use_sim_time:=true", "-p", "image_qos:=reliable", "-r", "image:=/camera/image_raw")  # fmt: skip
    received = []
    try:
        with driver_node("vdpm_test_listener") as (sub_node, executor):
            sub = sub_node.create_subscription(PointCloud2, "/vdpm/scene_flow", received.append, QoSProfile(depth=20))
            assert wait_for_publisher(executor, sub), stop(node)  # or the first windows go out before we listen
            player = subprocess.run([*vdpm, "play", str(bag), "--rate", "2", "--wait-subscribers", "60", "--reliable"],
                                    env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
            assert player.returncode == 0, player.stdout + player.stderr
            assert "published" in player.stdout
            spin_until(executor, lambda: len(received) >= 3, 60)
    finally:
        log = stop(node)
    # Reliable QoS on both sides: a loaded CI machine may lose best-effort frames, and this test is about stamps.
    assert len(received) == 3, log + player.stdout + player.stderr  # 5 frames, windows of 3, stride 1
    assert "stopping: 5 images arrived: 5 frames received" in log, log
    assert "3 windows submitted: 3 published, 0 dropped (queue full), 0 dropped at shutdown" in log, log
    assert "every message and window accounted for" in log, log
    from vdpm_ros.bags.synthetic_bag import START_TIME_NS

    expected = {START_TIME_NS + int(round(t * 1e9)) for t in stamps[2:]}
    assert {stamp_to_ns(m.header.stamp) for m in received} == expected


def test_play_refuses_a_missing_bag(tmp_path, capsys):
    from vdpm_ros.cli.main import main

    pytest.importorskip("rclpy")
    assert main(["play", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
