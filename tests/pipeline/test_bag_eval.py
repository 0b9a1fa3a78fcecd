"""vdpm eval --bag: the node's pipeline over a bag, measured against the bag's ground truth.

The oracle model answers with exact ground truth, so every error here must come out (close to) zero
while the no-motion baseline stays large: a wrong frame, sign, stamp match or scale shows at once.
"""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_oracle import ORACLE_IMG, SEED, OracleModel

from vdpm_ros.bags.camera_bag import BagError, find_topics, read_tum_trajectory
from vdpm_ros.bags.synthetic_bag import write_synthetic_bag
from vdpm_ros.evaluation.bag_eval import BagEvalOptions, evaluate_bag
from vdpm_ros.pipeline import PipelineConfig
from vdpm_ros.synth import SceneConfig, generate_sequence

SCENE = SceneConfig(height=84, width=ORACLE_IMG, frames=10)
START_NS = 1_700_000_000 * 10**9


@pytest.fixture(scope="module")
def seq():
    return generate_sequence(SEED, SCENE)


@pytest.fixture(scope="module")
def synth_bag(seq, tmp_path_factory):
    return write_synthetic_bag(seq, tmp_path_factory.mktemp("bags") / "synth", SCENE)


def test_oracle_on_a_synthetic_bag_has_no_error_and_beats_the_baseline(seq, synth_bag):
    ev = evaluate_bag(OracleModel(seq, ORACLE_IMG, "crop"), synth_bag, PipelineConfig(window_size=4), BagEvalOptions(), progress=False)
    m = ev.metrics
    assert (ev.frames, ev.windows) == (10, 7)
    assert m["trajectory_poses_matched"] == 10
    assert m["ate_m"] < 1e-4 and m["rpe_trans_m"] < 1e-4 and m["rpe_rot_deg"] < 1e-2
    assert m["depth_abs_rel"] < 1e-4 and m["depth_delta_1_25"] == 1.0
    assert ev.no_motion["flow_epe_dynamic"] > 0.01 and m["flow_epe_dynamic"] < 1e-4
    assert m["motion_iou"] > 0.99
    # The moving objects the node publishes, against the generator's (window of 4: from its first frame).
    assert m["object_recall"] == 1.0 and m["object_precision"] == 1.0 and m["objects_ground_truth"] >= 7
    assert m["object_velocity_rel_error"] < 0.05 and m["object_rotation_error_deg"] < 0.01
    p = ev.protocol
    assert p is not None and p["tracking_epe_dynamic"] < 1e-4 < p["no_motion"]["tracking_epe_dynamic"]
    assert p["motion_mask_iou"] > 0.99 and p["ate"] < 1e-4
    assert len(ev.snapshots) == 3 and ev.snapshots[0].gt_motion_mask.any()


def test_skipped_frames_are_scored_against_the_frames_the_window_really_holds(seq, synth_bag):
    # min_frame_interval 0.15 s at 10 fps keeps every other frame: the window's previous frame is two
    # bag frames back, and the ground truth must be taken there too.
    config = PipelineConfig(window_size=3, min_frame_interval=0.15)
    ev = evaluate_bag(OracleModel(seq, ORACLE_IMG, "crop"), synth_bag, config, BagEvalOptions(protocol_frames=0), progress=False)
    assert ev.windows == 3  # frames 0 2 4 6 8 -> windows ending at 4, 6, 8
    m = ev.metrics
    assert m["flow_epe_dynamic"] < 1e-4 < ev.no_motion["flow_epe_dynamic"] and m["motion_iou"] > 0.99


def _embedded_model():
    from vdpm_ros.model.checkpoint import load_model
    from vdpm_ros.paths import default_model_path

    path = default_model_path()
    if path is None:
        pytest.skip("no embedded default model in models/")
    return load_model(path)[0]


@pytest.mark.parametrize("which", ["micro", "embedded"])
def test_synthetic_protocol_on_a_bag_reproduces_vdpm_eval_synthetic(tmp_path, micro_model, which):
    from vdpm_ros.evaluation.synthetic import SyntheticEvalConfig, evaluate_synthetic

    model = micro_model if which == "micro" else _embedded_model()
    w = model.config.img_size
    h = round(w * 0.75 / 14) * 14  # the size vdpm eval --synthetic uses
    cfg = SyntheticEvalConfig(frames=10, height=h, width=w)
    scene = SceneConfig(height=h, width=w, frames=10)
    bag = write_synthetic_bag(generate_sequence(1000, scene), tmp_path / "b", scene)
    ev = evaluate_bag(model, bag, PipelineConfig(window_size=3), BagEvalOptions(), progress=False)
    direct = evaluate_synthetic(model, [1000], cfg, progress=False)
    for key, value in ev.protocol.items():
        if isinstance(value, float):
            # the bag stores P_i(t_0) and an affine table: points come back within 1e-5 m
            # (an untrained model can put every point behind the camera: depth metrics are NaN on both sides)
            assert value == pytest.approx(direct[key], rel=1e-4, abs=1e-5, nan_ok=True), key
            assert ev.protocol["no_motion"][key] == pytest.approx(direct["no_motion"][key], rel=1e-4, abs=1e-5, nan_ok=True), key
    assert np.isfinite([ev.protocol[k] for k in ("tracking_epe", "tracking_epe_dynamic", "epe_margin2", "ate")]).all()


def test_protocol_runs_on_a_bag_above_the_network_size_with_exact_ground_truth(tmp_path):
    # A 320x240 camera and a 112-wide network: the protocol reads the ground truth under each network pixel,
    # so an oracle that sees the same pixels scores (almost) no error instead of the protocol being skipped.
    scene = SceneConfig(height=240, width=320, frames=10)
    seq = generate_sequence(SEED, scene)
    bag = write_synthetic_bag(seq, tmp_path / "b", scene)
    ev = evaluate_bag(OracleModel(seq, ORACLE_IMG, "crop"), bag, PipelineConfig(window_size=4), BagEvalOptions(), progress=False)
    p = ev.protocol
    assert p is not None and p["size"] == [240, 320] and p["network_size"] == [84, 112]
    assert p["tracking_epe"] < 1e-5 and p["tracking_epe_dynamic"] < 1e-5 and p["epe_margin2"] < 1e-5
    assert p["motion_mask_iou"] > 0.99 and p["no_motion"]["tracking_epe_dynamic"] > 0.01
    assert not any("skipped" in n for n in ev.notes)


def test_the_network_grid_of_a_sequence_at_network_size_is_the_sequence():
    from vdpm_ros.synth.resample import to_network_grid

    scene = SceneConfig(height=84, width=112, frames=3)
    seq = generate_sequence(SEED, scene)
    grid = to_network_grid(seq, "crop", 112)
    for name in ("images", "pointmaps", "valid", "depth", "object_ids", "motion_mask"):
        np.testing.assert_array_equal(getattr(grid, name), getattr(seq, name), err_msg=name)
    np.testing.assert_allclose(grid.intrinsics, seq.intrinsics, atol=1e-5)


def _write_tum_style_ros1_bag(seq, path):
    """A ROS 1 bag laid out like the TUM RGB-D ones: colour and depth topics, motion capture on /tf."""
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    from scipy.spatial.transform import Rotation

    ts = get_typestore(Stores.ROS1_NOETIC)
    ts.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf/msg/tfMessage"))  # as TUM bags carry it
    T = ts.types
    H, W = seq.images.shape[1:3]
    poses = seq.camera_to_world()

    def header(stamp, frame):
        return T["std_msgs/msg/Header"](
            seq=0, stamp=T["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id=frame
        )

    with Writer(path) as w:
        rgb = w.add_connection("/camera/rgb/image_color", "sensor_msgs/msg/Image", typestore=ts)
        depth = w.add_connection("/camera/depth/image", "sensor_msgs/msg/Image", typestore=ts)
        tf = w.add_connection("/tf", "tf/msg/tfMessage", typestore=ts)
        for i in range(seq.num_frames):
            stamp = START_NS + int(round(seq.timestamps[i] * 1e9))
            img = T["sensor_msgs/msg/Image"](header=header(stamp, "rgb"), height=H, width=W, encoding="rgb8", is_bigendian=0,
                                             step=3 * W, data=np.ascontiguousarray(seq.images[i]).reshape(-1))  # fmt: skip
            w.write(rgb, stamp, ts.serialize_ros1(img, "sensor_msgs/msg/Image"))
            d = T["sensor_msgs/msg/Image"](header=header(stamp + 3_000_000, "depth"), height=H, width=W, encoding="32FC1",
                                           is_bigendian=0, step=4 * W,
                                           data=np.ascontiguousarray(seq.depth[i], "<f4").view(np.uint8).reshape(-1))  # fmt: skip
            w.write(depth, stamp + 3_000_000, ts.serialize_ros1(d, "sensor_msgs/msg/Image"))
            q = Rotation.from_matrix(poses[i, :3, :3]).as_quat()
            t = poses[i, :3, 3]
            tr = T["geometry_msgs/msg/TransformStamped"](
                header=header(stamp + 1_000_000, "/world"), child_frame_id="/kinect",
                transform=T["geometry_msgs/msg/Transform"](translation=T["geometry_msgs/msg/Vector3"](x=t[0], y=t[1], z=t[2]),
                                                           rotation=T["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3])),
            )  # fmt: skip
            w.write(tf, stamp + 1_000_000, ts.serialize_ros1(T["tf/msg/tfMessage"](transforms=[tr]), "tf/msg/tfMessage"))
    lines = ["# timestamp tx ty tz qx qy qz qw"]
    for i in range(seq.num_frames):
        q = Rotation.from_matrix(poses[i, :3, :3]).as_quat()
        lines.append(
            f"{(START_NS + int(round(seq.timestamps[i] * 1e9))) * 1e-9:.6f} " + " ".join(f"{v:.9f}" for v in (*poses[i, :3, 3], *q))
        )
    return "\n".join(lines) + "\n"


def test_tum_style_ros1_bag_with_tf_ground_truth_and_depth(seq, tmp_path):
    bag = tmp_path / "tum.bag"
    tum_text = _write_tum_style_ros1_bag(seq, bag)
    topics = find_topics(bag)
    assert (topics.image, topics.depth, topics.tf) == ("/camera/rgb/image_color", "/camera/depth/image", "/tf")
    ev = evaluate_bag(OracleModel(seq, ORACLE_IMG, "crop"), bag, PipelineConfig(window_size=4), BagEvalOptions(), progress=False)
    assert ev.trajectory.source == "/tf world -> kinect"  # motion-capture stamps 1 ms off the images: matched
    assert ev.metrics["trajectory_poses_matched"] == 10 and ev.metrics["ate_m"] < 1e-4
    assert ev.metrics["depth_abs_rel"] < 1e-4  # depth stamps 3 ms off: matched within 20 ms
    assert "flow_epe_dynamic" not in ev.metrics and ev.protocol is None  # no 4D ground truth in a real bag
    # the same poses from a TUM groundtruth.txt
    gt_file = tmp_path / "groundtruth.txt"
    gt_file.write_text(tum_text)
    assert len(read_tum_trajectory(gt_file).stamps_ns) == 10
    ev_file = evaluate_bag(OracleModel(seq, ORACLE_IMG, "crop"), bag, PipelineConfig(window_size=4),
                           BagEvalOptions(groundtruth=gt_file), progress=False)  # fmt: skip
    assert ev_file.metrics["ate_m"] < 1e-4 and ev_file.trajectory.source == "file groundtruth.txt"
    # a far-off stamp tolerance-check: nothing matches 1 ms-off poses at 0.1 ms
    strict = evaluate_bag(OracleModel(seq, ORACLE_IMG, "crop"), bag, PipelineConfig(window_size=4),
                          BagEvalOptions(max_time_diff_s=1e-4), progress=False)  # fmt: skip
    assert "ate_m" not in strict.metrics and any("matched ground truth" in n for n in strict.notes)


def test_bad_bag_inputs_are_explained(seq, synth_bag, tmp_path):
    with pytest.raises(BagError, match="no topic '/nope'"):
        find_topics(synth_bag, image_topic="/nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_topics(tmp_path / "missing")
    bad = tmp_path / "gt.txt"
    bad.write_text("1.0 2.0 3.0\n")
    with pytest.raises(BagError, match="expected 'timestamp tx ty tz qx qy qz qw'"):
        read_tum_trajectory(bad)


def test_output_bag_holds_what_the_node_publishes(seq, synth_bag, tmp_path):
    from rosbags.highlevel import AnyReader

    from vdpm_ros.bags.output_bag import OutputBagWriter
    from vdpm_ros.messages.pointcloud import CloudLayout, Field, unpack_cloud
    from vdpm_ros.output import OutputConfig
    from vdpm_ros.pipeline import OfflinePipeline
    from vdpm_ros.pipeline.published import published_arrays

    outputs = []
    config = PipelineConfig(window_size=4)
    model = OracleModel(seq, ORACLE_IMG, "crop")
    pipe = OfflinePipeline(model, config)
    with OutputBagWriter(tmp_path / "out", trajectory=pipe.trajectory) as writer:

        def keep(o):
            outputs.append(o)
            writer.write(o)

        evaluate_bag(model, synth_bag, config, BagEvalOptions(protocol_frames=0), progress=False, on_output=keep, pipeline=pipe)
    counts, clouds, paths, flows, objects = {}, [], [], [], []
    with AnyReader([tmp_path / "out"]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        for conn, _, raw in reader.messages():
            counts[conn.topic] = counts.get(conn.topic, 0) + 1
            if conn.topic == "/vdpm/points":
                clouds.append(reader.deserialize(raw, conn.msgtype))
            if conn.topic == "/vdpm/path":
                paths.append(reader.deserialize(raw, conn.msgtype))
            if conn.topic == "/vdpm/scene_flow_stamped":
                flows.append(reader.deserialize(raw, conn.msgtype))
            if conn.topic == "/vdpm/moving_objects":
                objects.append(reader.deserialize(raw, conn.msgtype))
    # Every topic the node publishes by default (its channel table), with its type, plus the input image.
    channels = OutputConfig().channels()
    node_topics = {"/" + c.topic.lstrip("/") for c in channels}
    assert node_topics == {"/vdpm/points", "/vdpm/static_points", "/vdpm/dynamic_points", "/vdpm/scene_flow", "/vdpm/scene_flow_stamped",
                           "/vdpm/motion_mask", "/vdpm/optical_flow", "/vdpm/depth", "/vdpm/camera_info", "/vdpm/camera_pose",
                           "/vdpm/odometry", "/vdpm/path", "/vdpm/moving_objects", "/vdpm/moving_objects/markers",
                           "/vdpm/static_map", "/tf"}  # fmt: skip
    assert {t: m for t, m in types.items() if t != "/camera/image_raw"} == {"/" + c.topic: c.msgtype for c in channels if c.key != "tf"} | {
        "/tf": "tf2_msgs/msg/TFMessage"
    }
    # Once per window; the static map at its low rate (1 s of message time: the windows span 0.6 s).
    maps = sum(o.scene.static_map is not None for o in outputs)
    assert maps == 1 and counts.pop("/vdpm/static_map") == maps
    assert counts == {t: 7 for t in (node_topics - {"/vdpm/static_map"}) | {"/camera/image_raw"}}
    assert [[o.id for o in m.objects] for m in objects] == [[t.track_id for t in o.scene.objects] for o in outputs]
    m = clouds[-1]
    cloud = unpack_cloud(
        CloudLayout(tuple(Field(f.name, f.offset, f.datatype, f.count) for f in m.fields), m.point_step), m.data, m.height, m.width
    )
    expected = published_arrays(outputs[-1]).cloud
    np.testing.assert_array_equal(cloud["x"].reshape(-1), expected["x"])
    assert m.header.frame_id == "vdpm_odom" and m.header.stamp.sec * 10**9 + m.header.stamp.nanosec == outputs[-1].result.latest_stamp_ns
    # The path grows by one pose per window; the stamped scene flow names its two times.
    assert [len(p.poses) for p in paths] == [4 + k for k in range(7)]
    r = outputs[-1].result
    assert flows[-1].target_stamp.sec * 10**9 + flows[-1].target_stamp.nanosec == r.latest_stamp_ns
    assert flows[-1].source_stamp.sec * 10**9 + flows[-1].source_stamp.nanosec == r.previous_stamp_ns


class StillOracle(OracleModel):
    """Exact geometry, but every point stays where it is at its own time: a model that ignores the target time."""

    def _points(self, state, time_idx, frame_idx):
        return super()._points(state, frame_idx, frame_idx)


def test_a_model_that_sees_no_motion_scores_the_baseline_not_a_perfect_iou(seq, synth_bag):
    ev = evaluate_bag(StillOracle(seq, ORACLE_IMG, "crop"), synth_bag, PipelineConfig(window_size=4),
                      BagEvalOptions(protocol_frames=0), progress=False)  # fmt: skip
    # windows where nothing moves must not count as perfect: the pooled IoU of an all-static prediction is 0
    assert ev.metrics["motion_iou"] == 0.0
    assert ev.metrics["flow_epe_dynamic"] == pytest.approx(ev.no_motion["flow_epe_dynamic"], rel=1e-6)
    assert ev.metrics["ate_m"] < 1e-4  # the geometry is still exact


def test_pixels_a_crop_removes_are_not_scored_as_depth_failures(tmp_path):
    # A portrait camera in crop mode: 14 rows above and below never reach the network.
    scene = SceneConfig(height=140, width=ORACLE_IMG, frames=5)
    seq = generate_sequence(SEED, scene)
    bag = write_synthetic_bag(seq, tmp_path / "tall", scene)
    ev = evaluate_bag(
        OracleModel(seq, ORACLE_IMG, "crop"), bag, PipelineConfig(window_size=4), BagEvalOptions(protocol_frames=0), progress=False
    )
    assert ev.metrics["depth_abs_rel"] < 1e-4 and ev.metrics["depth_delta_1_25"] == 1.0
