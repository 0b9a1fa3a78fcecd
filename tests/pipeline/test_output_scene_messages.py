"""The one output builder for the scene outputs (no ROS: a rosbags typestore): static and dynamic clouds, moving
objects, their markers and the static map, checked field by field against the pipeline's values (oracle model)."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_oracle import ORACLE_IMG, OracleModel, frames_of

from vdpm_ros.geometry.rotation import quat_to_mat
from vdpm_ros.messages.pointcloud import CloudLayout, Field, unpack_cloud
from vdpm_ros.objects.markers import NS_BOX, NS_LABEL, NS_VELOCITY
from vdpm_ros.output import Channel, OutputConfig, RosbagsTypes, window_messages
from vdpm_ros.output.objects import ARROW, CUBE, DELETEALL, TEXT_VIEW_FACING
from vdpm_ros.paths import interface_dir
from vdpm_ros.pipeline import OfflinePipeline, PipelineConfig
from vdpm_ros.pipeline.published import published_arrays

CONFIG = PipelineConfig(preprocess_mode="pad", window_size=5)


@pytest.fixture(scope="module")
def types():
    return RosbagsTypes(interface_dir())


@pytest.fixture(scope="module")
def outputs(seq_long):
    pipe = OfflinePipeline(OracleModel(seq_long, ORACLE_IMG, "pad", window_scales={1: 2.0}), CONFIG)
    return [out for f in frames_of(seq_long) if (out := pipe.push(f)) is not None]


def _messages(output, types):
    return {m.key: m.message for m in window_messages(output, types, OutputConfig(), "cam")}


def _stamp_ns(t) -> int:
    return t.sec * 10**9 + t.nanosec


def _cloud(msg) -> np.ndarray:
    layout = CloudLayout(tuple(Field(f.name, f.offset, f.datatype, f.count) for f in msg.fields), msg.point_step)
    return unpack_cloud(layout, bytes(msg.data), msg.height, msg.width).reshape(-1)


def test_the_channel_table_has_the_scene_topics_and_a_transient_local_map():
    channels = {c.key: c for c in OutputConfig().channels()}
    assert channels["static_points"].topic == "vdpm/static_points" and channels["dynamic_points"].topic == "vdpm/dynamic_points"
    assert channels["moving_objects"].msgtype == "vdpm_ros/msg/MovingObjectArray" and channels["moving_objects"].custom
    assert channels["object_markers"].msgtype == "visualization_msgs/msg/MarkerArray"
    assert channels["object_markers"].topic == "vdpm/moving_objects/markers"
    m = channels["static_map"]
    assert (m.topic, m.depth, m.durability) == ("vdpm/static_map", 1, "transient_local")
    assert {c.durability for k, c in channels.items() if k != "static_map"} == {"volatile"}
    with pytest.raises(ValueError, match="durability"):
        Channel("x", "x", "std_msgs/msg/String", durability="durable")


def test_static_and_dynamic_points_partition_the_published_cloud(outputs, types):
    for out in outputs:
        msgs = _messages(out, types)
        points, static, dynamic = (_cloud(msgs[k]) for k in ("points", "static_points", "dynamic_points"))
        for k in ("static_points", "dynamic_points"):
            assert msgs[k].header.frame_id == "vdpm_odom" and msgs[k].header.stamp == msgs["points"].header.stamp
            assert [f.name for f in msgs[k].fields] == [f.name for f in msgs["points"].fields]
        r = out.result
        pixels = r.cloud("window").pixels
        moving = r.dynamic[pixels[:, 1], pixels[:, 0]]
        assert 0 < moving.sum() < len(points) and len(static) + len(dynamic) == len(points)
        np.testing.assert_array_equal(static, points[~moving])
        np.testing.assert_array_equal(dynamic, points[moving])


def test_moving_objects_carry_the_tracked_values(outputs, types):
    out = outputs[-1]
    msg = _messages(out, types)["moving_objects"]
    scene, r = out.scene, out.result
    assert msg.header.frame_id == "vdpm_odom" and _stamp_ns(msg.header.stamp) == r.latest_stamp_ns and not msg.metric
    assert len(msg.objects) == len(scene.objects) >= 2
    for m, t in zip(msg.objects, scene.objects):
        d = t.detection
        assert (m.id, m.observations, _stamp_ns(m.first_seen)) == (t.track_id, t.observations, t.first_stamp_ns)
        assert _stamp_ns(m.motion_source_stamp) == r.stamps_ns[0]  # the motion over the whole window
        np.testing.assert_allclose([m.centroid.x, m.centroid.y, m.centroid.z], d.centroid)
        np.testing.assert_allclose([m.velocity.x, m.velocity.y, m.velocity.z], t.velocity)
        q = m.motion.rotation
        np.testing.assert_allclose(quat_to_mat(np.array([q.x, q.y, q.z, q.w])), d.motion.rotation, atol=1e-9)
        tr = m.motion.translation
        np.testing.assert_allclose([tr.x, tr.y, tr.z], d.motion.translation)
        assert m.motion_residual == pytest.approx(d.motion.rms_residual, abs=1e-6)
        np.testing.assert_allclose([m.box_center.position.x, m.box_center.position.y, m.box_center.position.z], d.box_center)
        assert m.box_center.orientation.w == 1.0
        np.testing.assert_allclose([m.box_size.x, m.box_size.y, m.box_size.z], d.box_size)
        np.testing.assert_allclose(np.reshape(m.centroid_covariance, (3, 3)), d.centroid_covariance)
        np.testing.assert_allclose(np.reshape(m.velocity_covariance, (3, 3)), d.velocity_covariance)
        assert m.point_count == d.point_count and m.confidence == pytest.approx(d.confidence, rel=1e-6)
    # Every message goes through the typestore's CDR serializer: the types are right.
    types.serialize(msg, "vdpm_ros/msg/MovingObjectArray")


def test_markers_are_a_deleteall_then_box_arrow_and_label_per_object(outputs, types):
    out = outputs[-1]
    msg = _messages(out, types)["object_markers"]
    markers = msg.markers
    assert markers[0].action == DELETEALL
    ids = [t.track_id for t in out.scene.objects]
    by_ns = {ns: [m for m in markers[1:] if m.ns == ns] for ns in (NS_BOX, NS_VELOCITY, NS_LABEL)}
    assert [m.id for m in by_ns[NS_BOX]] == ids == [m.id for m in by_ns[NS_LABEL]] == [m.id for m in by_ns[NS_VELOCITY]]
    assert len(markers) == 1 + 3 * len(ids)
    for box, arrow, label, t in zip(by_ns[NS_BOX], by_ns[NS_VELOCITY], by_ns[NS_LABEL], out.scene.objects):
        assert (box.type, arrow.type, label.type) == (CUBE, ARROW, TEXT_VIEW_FACING)
        assert box.header.frame_id == "vdpm_odom" and _stamp_ns(box.header.stamp) == out.result.latest_stamp_ns
        np.testing.assert_allclose([box.pose.position.x, box.pose.position.y, box.pose.position.z], t.detection.box_center)
        start, end = arrow.points
        np.testing.assert_allclose([end.x - start.x, end.y - start.y, end.z - start.z], t.velocity)  # 1 s of motion
        assert label.text.startswith(f"#{t.track_id} ") and label.text.endswith("u/s")
        assert 0 < box.color.a < 1 and arrow.color.a == 1.0
    types.serialize(msg, "visualization_msgs/msg/MarkerArray")


def test_the_static_map_goes_out_when_due_in_the_odometry_frame(outputs, types):
    first, later = _messages(outputs[0], types), _messages(outputs[1], types)
    assert "static_map" in first and "static_map" not in later  # 1 s period of message time, windows 0.1 s apart
    msg = first["static_map"]
    cloud = _cloud(msg)
    assert msg.header.frame_id == "vdpm_odom" and msg.is_dense and [f.name for f in msg.fields] == ["x", "y", "z", "rgb"]
    expected = outputs[0].scene.static_map
    assert len(cloud) == len(expected.xyz) == outputs[0].scene.static_map_voxels
    np.testing.assert_array_equal(np.stack([cloud["x"], cloud["y"], cloud["z"]], -1), expected.xyz)
    np.testing.assert_array_equal(cloud["rgb"].view(np.uint32), expected.rgb_packed)


def test_without_a_scene_stage_or_stitching_those_topics_stay_silent(outputs, types, seq_long):
    from vdpm_ros.pipeline.stream import PipelineOutput

    bare = PipelineOutput(outputs[0].result, outputs[0].stitch)  # e.g. a bare process_window
    keys = set(_messages(bare, types))
    assert {"static_points", "dynamic_points"} <= keys and not keys & {"moving_objects", "object_markers", "static_map"}
    pipe = OfflinePipeline(OracleModel(seq_long, ORACLE_IMG, "pad"), PipelineConfig(preprocess_mode="pad", window_size=5, stitch=False))
    out = next(o for f in frames_of(seq_long) if (o := pipe.push(f)) is not None)
    msgs = _messages(out, types)
    assert "static_map" not in msgs and msgs["moving_objects"].header.frame_id == "cam"
    assert len(_cloud(msgs["static_points"])) == len(published_arrays(out).static_cloud["x"])
