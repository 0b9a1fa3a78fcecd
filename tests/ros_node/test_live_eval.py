"""vdpm eval --bag --live: a real vdpm node fed from the bag with /clock; latency, drops and accuracy from what it publishes."""

from __future__ import annotations

import json
import subprocess
import sys


def test_live_evaluation_scores_what_the_running_node_publishes(node_env, tmp_path):
    from vdpm_ros.cli.main import main

    env, model_path = node_env
    bag = tmp_path / "seq"
    assert main(["synth", "--seed", "1014", "--frames", "6", "--size", "42", "56", "--out", str(bag)]) == 0
    out = tmp_path / "live.json"
    # A queue deep enough for every window: on a loaded machine inference may fall behind the replay, and
    # the test is about scoring what comes back, not about the drop-oldest policy (tested in the pipeline).
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    queue_size: 16\n")
    run = subprocess.run(
        [sys.executable, "-m", "vdpm_ros.cli.main", "eval", "--bag", str(bag), "--live", "--model", str(model_path),
         "--params-file", str(params), "--window-size", "3", "--rate", "0.5", "--json", str(out), "--report", str(tmp_path / "report")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["mode"] == "live"
    m = result["metrics"]
    # reliable replay into a node that keeps up: every window comes back, and the node's own count agrees
    assert m["windows_expected"] == m["windows_received"] == 4, "\n".join(result["notes"])
    assert any("6 frames received" in n and "4 published, 0 dropped" in n for n in result["notes"]), result["notes"]
    # (a random model may put every point behind the camera, so depth errors can be undefined: count the maps)
    assert m["trajectory_poses_matched"] == 4 and m["ate_m"] >= 0 and m["depth_maps_received"] == 4
    assert result["timing"]["window_latency_mean_s"] > 0  # measured, not a speed test
    assert "live: from the image leaving the player" in (tmp_path / "report" / "report.md").read_text()


def test_live_evaluation_reports_a_node_that_cannot_start(node_env, tmp_path):
    from vdpm_ros.cli.main import main

    env, _ = node_env
    bag = tmp_path / "seq"
    assert main(["synth", "--seed", "1014", "--frames", "3", "--size", "42", "56", "--out", str(bag)]) == 0
    run = subprocess.run(
        [sys.executable, "-m", "vdpm_ros.cli.main", "eval", "--bag", str(bag), "--live", "--model", str(tmp_path / "none.pt"),
         "--json", str(tmp_path / "o.json")],
        env=env, capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert run.returncode == 2
    assert "vdpm node exited before the replay started" in run.stderr and "does not exist" in run.stderr


def _topics(image: str, compressed: bool, info: str | None = None):
    from vdpm_ros.bags.camera_bag import BagTopics

    return BagTopics(image=image, compressed=compressed, camera_info=info, depth=None, pose=None, tf=None, all_topics={})


def test_the_node_gets_every_parameter_the_user_changed():
    from vdpm_ros.harness.live_eval import node_command
    from vdpm_ros.ros.parameters import NodeParameters

    params = NodeParameters.from_values({"engine": "onnxruntime", "window_size": 3, "stitch": False, "model_path": "m.safetensors"})
    cmd = node_command(params, _topics("/cam/image", False))
    args = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"]
    assert {"engine:=onnxruntime", "window_size:=3", "stitch:=false", "model_path:=m.safetensors"} <= set(args)
    # live mode's own settings win: reliable QoS so no frame is lost, and /clock time
    assert args.count("image_qos:=reliable") == 1 and "use_sim_time:=true" in args
    assert not any(a.startswith("device:=") for a in args)  # unchanged defaults are left to the node
    remaps = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-r"]
    assert remaps == ["image:=/cam/image"]


def test_a_bag_with_only_compressed_images_feeds_the_nodes_compressed_input():
    from vdpm_ros.harness.live_eval import node_command
    from vdpm_ros.ros.parameters import NodeParameters

    cmd = node_command(NodeParameters(), _topics("/cam/image/compressed", True, "/cam/camera_info"))
    args = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"]
    remaps = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-r"]
    assert "image_transport:=compressed" in args
    assert remaps == ["image/compressed:=/cam/image/compressed", "camera_info:=/cam/camera_info"]
