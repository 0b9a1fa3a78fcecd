"""vdpm_node runs an ONNX export (model_path = an export directory) through ONNX Runtime."""

from __future__ import annotations

from ros_node_helpers import driver_node, spin_until, start_node, stop, wait_for_publisher, wait_for_subscriber


def test_node_runs_an_onnx_export(node_env, micro_export):
    from rclpy.qos import QoSProfile
    from ros_node_helpers import ros_header as _header
    from sensor_msgs.msg import Image, PointCloud2

    from vdpm_ros.messages.image import encode_image
    from vdpm_ros.synth import SceneConfig, generate_sequence

    env, _ = node_env
    export_dir = micro_export.dir  # 28x42 network input: a 42x56 camera is cropped to it
    assert micro_export.hw == (28, 42)
    node = start_node(env, "-p", f"model_path:={export_dir}", "-p", "window_size:=3", "-p", "queue_size:=10",
                      "-p", "image_qos:=reliable", "-r", "image:=/onnx_test/image")  # fmt: skip
    seq = generate_sequence(1013, SceneConfig(height=42, width=56, frames=4))
    received = []
    try:
        with driver_node("vdpm_onnx_test") as (driver, executor):
            sub = driver.create_subscription(PointCloud2, "/vdpm/scene_flow", received.append, QoSProfile(depth=10))
            pub = driver.create_publisher(Image, "/onnx_test/image", QoSProfile(depth=10))  # reliable: counts are exact
            assert wait_for_subscriber(executor, pub) and wait_for_publisher(executor, sub), stop(node)
            for i in range(4):
                p = encode_image(seq.images[i])
                msg = Image(header=_header(10**12 + i * 10**8, "cam"), height=p.height, width=p.width, encoding=p.encoding, step=p.step)
                msg.data = p.data
                pub.publish(msg)
                executor.spin_once(timeout_sec=0.2)
            arrived = spin_until(executor, lambda: len(received) >= 2, 180)
    finally:
        log = stop(node)
    assert "ONNX Runtime" in log, log
    assert arrived and len(received) == 2, log
    assert (received[-1].height, received[-1].width) == (32, 42)  # the default output grid: the camera at the network scale
