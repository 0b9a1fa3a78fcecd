"""vdpm_node in its own process with an oracle model, real rclpy: static and dynamic clouds, moving objects, their
markers and the transient-local static map, checked for types, frames, stamps and values.

The oracle (tests/ros_node/oracle_node.py) answers with exact maps, so the node's odometry frame is the
sequence's world frame in metres and what it publishes can be compared with the generator's objects and
with the offline pipeline, which must agree with the node message for message.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from ros_node_helpers import driver_node, spin_until, stop, wait_for_publisher, wait_for_subscriber

from vdpm_ros.synth import SceneConfig, generate_sequence

HERE = Path(__file__).resolve().parent
SEED, RAW_H, RAW_W, FRAMES, WINDOW = 1011, 42, 56, 8, 5
CAMERA_FRAME = "test_camera_optical"
STAMP0 = 1_000_000_000_000


def _stamp_ns(t) -> int:
    return t.sec * 10**9 + t.nanosec


def _msg_stamp(m) -> int:
    """A message's stamp; a MarkerArray has no header, its markers have (all the same)."""
    return _stamp_ns((m.markers[0] if hasattr(m, "markers") else m).header.stamp)


def _cloud(msg) -> np.ndarray:
    from vdpm_ros.messages.pointcloud import CloudLayout, Field, unpack_cloud

    layout = CloudLayout(tuple(Field(f.name, f.offset, f.datatype, f.count) for f in msg.fields), msg.point_step)
    return unpack_cloud(layout, bytes(msg.data), msg.height, msg.width).reshape(-1)


def _offline(seq, stamps):
    sys.path.insert(0, str(HERE.parent / "pipeline"))
    from pipeline_oracle import OracleModel

    from vdpm_ros.pipeline import Frame, OfflinePipeline, PipelineConfig

    pipe = OfflinePipeline(OracleModel(seq, RAW_W, "crop"), PipelineConfig(window_size=WINDOW))
    outs = [pipe.push(Frame(stamp_ns=s, rgb=seq.images[i])) for i, s in enumerate(stamps)]
    return {o.result.latest_stamp_ns: o for o in outs if o is not None}


def test_node_publishes_objects_clouds_and_a_static_map_a_late_subscriber_gets(node_env):
    from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
    from ros_node_helpers import ros_header
    from sensor_msgs.msg import Image, PointCloud2
    from visualization_msgs.msg import MarkerArray

    from vdpm_ros.evaluation.objects import ground_truth_objects, true_motion_mask
    from vdpm_ros.messages.image import encode_image
    from vdpm_ros.msg import MovingObjectArray

    env, _ = node_env
    cmd = [sys.executable, str(HERE / "oracle_node.py"), str(SEED), str(RAW_H), str(RAW_W), str(FRAMES), "--ros-args",
           "-p", f"window_size:={WINDOW}", "-p", "queue_size:=10", "-r", "image:=/test/image_raw"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seq = generate_sequence(SEED, SceneConfig(height=RAW_H, width=RAW_W, frames=FRAMES))
    stamps = [STAMP0 + int(round(t * 1e9)) for t in seq.timestamps]
    topics = {"/vdpm/points": PointCloud2, "/vdpm/static_points": PointCloud2, "/vdpm/dynamic_points": PointCloud2,
              "/vdpm/moving_objects": MovingObjectArray, "/vdpm/moving_objects/markers": MarkerArray, "/vdpm/static_map": PointCloud2}  # fmt: skip
    got: dict[str, dict[int, object]] = {t: {} for t in topics}
    late: list = []
    windows = FRAMES - WINDOW + 1
    try:
        with driver_node("vdpm_scene_check") as (node, executor):
            subs = [node.create_subscription(kind, topic, lambda m, t=topic: got[t].update({_msg_stamp(m): m}), QoSProfile(depth=50))
                    for topic, kind in topics.items()]  # fmt: skip
            pub = node.create_publisher(Image, "/test/image_raw", qos_profile_sensor_data)
            assert wait_for_subscriber(executor, pub), stop(proc)
            assert all(wait_for_publisher(executor, s, 30) for s in subs), stop(proc)
            for i, stamp in enumerate(stamps):
                p = encode_image(seq.images[i])
                msg = Image(header=ros_header(stamp, CAMERA_FRAME), height=p.height, width=p.width, encoding=p.encoding,
                            is_bigendian=0, step=p.step)  # fmt: skip
                msg.data = p.data
                pub.publish(msg)
                spin_until(executor, lambda: False, 0.15)
            done = spin_until(executor, lambda: all(len(got[t]) >= windows for t in topics if t != "/vdpm/static_map"), 90)
            assert done, f"{ {t: len(v) for t, v in got.items()} }\n{stop(proc)}"
            # A subscriber that comes late still gets the last map: the publisher is transient local.
            node.create_subscription(PointCloud2, "/vdpm/static_map", late.append,
                                     QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))  # fmt: skip
            assert spin_until(executor, lambda: bool(late), 30), stop(proc)
    finally:
        log = stop(proc)
    assert "Traceback" not in log and "oracle of synthetic seed" in log, log

    expected = _offline(seq, stamps)
    assert sorted(got["/vdpm/moving_objects"]) == sorted(expected) == stamps[WINDOW - 1 :]
    for topic, by_stamp in got.items():
        for msg in by_stamp.values():
            headers = [m.header for m in msg.markers] if topic.endswith("markers") else [msg.header]
            assert {h.frame_id for h in headers} == {"vdpm_odom"} and len({_stamp_ns(h.stamp) for h in headers}) == 1, topic

    for stamp, out in expected.items():
        # The two clouds split /vdpm/points by the motion mask.
        points, static, dynamic = (_cloud(got[t][stamp]) for t in ("/vdpm/points", "/vdpm/static_points", "/vdpm/dynamic_points"))
        assert len(static) + len(dynamic) == len(points) and len(dynamic) > 0 and len(static) > 0
        assert np.isin(dynamic["x"], points["x"]).all() and not np.isin(static["x"], dynamic["x"]).any()

        # Moving objects: what the offline pipeline publishes, and the generator's motion.
        objects = got["/vdpm/moving_objects"][stamp]
        offline = out.scene.objects
        assert [o.id for o in objects.objects] == [t.track_id for t in offline] and len(offline) >= 1
        for o, t in zip(objects.objects, offline):
            np.testing.assert_allclose([o.velocity.x, o.velocity.y, o.velocity.z], t.velocity, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose([o.centroid.x, o.centroid.y, o.centroid.z], t.detection.centroid, rtol=1e-4, atol=1e-5)
            assert _stamp_ns(o.motion_source_stamp) == out.result.stamps_ns[0] and o.point_count == t.detection.point_count
        i = stamps.index(stamp)
        for gt in ground_truth_objects(seq, i - WINDOW + 1, i):
            # The oracle's odometry frame is the world frame in metres: the nearest published object moves as the true one.
            near = min(objects.objects, key=lambda o: np.linalg.norm(np.array([o.centroid.x, o.centroid.y, o.centroid.z]) - gt.centroid))
            v = np.array([near.velocity.x, near.velocity.y, near.velocity.z])
            assert np.linalg.norm(v - gt.velocity) < 0.1 * np.linalg.norm(gt.velocity), (stamp, gt.object_id)

        # Markers: DELETEALL, then a box, an arrow and a label per object, with the objects' ids.
        markers = got["/vdpm/moving_objects/markers"][stamp].markers
        assert markers[0].action == 3 and len(markers) == 1 + 3 * len(objects.objects)
        assert sorted({m.id for m in markers[1:]}) == sorted(o.id for o in objects.objects)

    # The static map: at its low rate (the windows span 0.3 s of a 1 s period), on the exact static scene.
    maps = got["/vdpm/static_map"]
    assert sorted(maps) == [stamps[WINDOW - 1]] and _stamp_ns(late[0].header.stamp) == stamps[WINDOW - 1]
    xyz = np.stack([_cloud(late[0])[a] for a in "xyz"], -1)
    i = WINDOW - 1
    still = seq.valid[i] & ~true_motion_mask(seq, 0, i)
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(seq.pointmaps[i, i][still]).query(xyz)
    assert len(xyz) == expected[stamps[i]].scene.static_map_voxels > 50 and dist.max() < 0.05 * np.sqrt(3)
