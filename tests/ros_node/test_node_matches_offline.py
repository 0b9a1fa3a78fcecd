"""The running node publishes what the offline evaluation measures: same windows, same depth, same motion masks.

This is what ties the node's outputs to the accuracy numbers of `vdpm eval --bag` and the model card.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ros_node_helpers import driver_node, spin_until, start_node, stop, wait_for_publisher


@pytest.mark.parametrize(("which", "source"), [("micro", "flow"), ("micro", "model"), ("embedded", "auto")])
def test_node_outputs_equal_the_offline_pipeline(node_env, tmp_path, which, source):
    """Both motion sources; with ``auto`` the embedded model (its decoder did not learn motion) runs the flow source."""
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import Image

    from vdpm_ros.bags.camera_bag import find_topics, iter_camera
    from vdpm_ros.cli.main import main
    from vdpm_ros.messages.image import depth_to_metres, image_to_rgb
    from vdpm_ros.model.checkpoint import load_model
    from vdpm_ros.paths import default_model_path
    from vdpm_ros.pipeline import Frame, OfflinePipeline, PipelineConfig
    from vdpm_ros.pipeline.published import published_arrays
    from vdpm_ros.ros.conversions import image_payload, stamp_to_ns

    env, micro_path = node_env
    model_path = micro_path if which == "micro" else default_model_path()
    if model_path is None:
        pytest.skip("no embedded default model in models/")
    model, _ = load_model(model_path)
    w = model.config.img_size
    h = round(w * 0.75 / 14) * 14
    bag = tmp_path / "seq"
    assert main(["synth", "--seed", "1015", "--frames", "6", "--size", str(h), str(w), "--out", str(bag)]) == 0

    topics = find_topics(bag)
    offline = OfflinePipeline(model, PipelineConfig(window_size=3, motion_source=source))
    running = offline.processor.motion_source
    assert running == ("flow" if source == "auto" else source)
    expected = {}
    for msg in iter_camera(bag, topics):
        if msg.kind == "image" and (out := offline.push(Frame(stamp_ns=msg.stamp_ns, rgb=msg.array))) is not None:
            expected[out.result.latest_stamp_ns] = (out.result, published_arrays(out).depth)

    node = start_node(env, "-p", f"model_path:={model_path}", "-p", "window_size:=3", "-p", "queue_size:=10", "-p", f"motion_source:={source}",
                      "-p", "use_sim_time:=true", "-p", "image_qos:=reliable", "-r", "image:=/camera/image_raw")  # fmt: skip
    masks, depths = {}, {}
    try:
        with driver_node("vdpm_offline_check") as (listener, executor):
            subs = [
                listener.create_subscription(Image, "/vdpm/motion_mask", lambda m: masks.update({stamp_to_ns(m.header.stamp): image_to_rgb(image_payload(m))[..., 0]}), QoSProfile(depth=20)),
                listener.create_subscription(Image, "/vdpm/depth", lambda m: depths.update({stamp_to_ns(m.header.stamp): depth_to_metres(image_payload(m))}), QoSProfile(depth=20)),
            ]  # fmt: skip
            assert all(wait_for_publisher(executor, s) for s in subs), stop(node)
            vdpm = [sys.executable, "-m", "vdpm_ros.cli.main"]
            player = subprocess.run([*vdpm, "play", str(bag), "--rate", "2", "--reliable", "--wait-subscribers", "60"],
                                    env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
            assert player.returncode == 0, player.stdout + player.stderr
            spin_until(executor, lambda: len(masks) >= len(expected) and len(depths) >= len(expected), 60)
    finally:
        log = stop(node)
    assert sorted(masks) == sorted(expected) == sorted(depths), log
    assert f"motion source: {running} (" in log, log
    for stamp, (r, depth) in expected.items():
        # The same code on the same frames: equal up to float rounding between thread counts.
        assert np.mean((masks[stamp] > 0) != r.dynamic) < 0.005
        finite = np.isfinite(depth) & (depth > 0)
        np.testing.assert_allclose(depths[stamp][finite], depth[finite], rtol=1e-4, atol=1e-5)
