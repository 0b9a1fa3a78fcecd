"""A generated sequence as a rosbag2 (MCAP): camera topics as a robot records them, plus ground truth.

Topics (all stamped with the frame's capture time, ``START_TIME + i / fps``):

| topic | type | content |
| --- | --- | --- |
| ``/camera/image_raw`` | sensor_msgs/Image | rgb8 frames, frame_id ``camera_optical_frame`` |
| ``/camera/camera_info`` | sensor_msgs/CameraInfo | pinhole K, no distortion |
| ``/ground_truth/camera_pose`` | geometry_msgs/PoseStamped | world-from-camera, frame_id ``vdpm_gt_world`` |
| ``/ground_truth/depth`` | sensor_msgs/Image | 32FC1 metres, 0 where invalid |
| ``/ground_truth/pointmap_t0`` | sensor_msgs/PointCloud2 | organised H x W: ``x y z`` = P_i(t_0), plus ``object_id``, ``valid``, ``moving`` |
| ``/ground_truth/info`` | std_msgs/String | JSON (once, at the first stamp): seed, fps, frames, scene config, ``object_motion`` |

``vdpm_gt_world`` is the optical frame of the first camera pose (x right, y down, z forward); all
ground-truth points are expressed in it, exactly as V-DPM predicts them.

Every object (id 0 = the static room) moves by an affine map of space, so the whole dynamic point
map follows from one map per frame: ``P_i(t_j) = A[id, j] @ [P_i(t_0); 1]`` with
``A = object_motion`` of shape ``[objects + 1, S, 3, 4]`` (``A[0, j]`` is the identity). This keeps a
30-frame bag at O(S) instead of O(S^2) point maps and is exact to float32 rounding (checked when
writing). :func:`read_synthetic_bag` rebuilds every P_i(t_j).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..geometry.rotation import quat_to_mat
from ..messages.pointcloud import CloudLayout, Field, unpack_cloud
from ..synth import SceneConfig, SyntheticSequence
from ..output import RosbagsTypes
from ..output import builders as b

IMAGE_TOPIC = "/camera/image_raw"
CAMERA_INFO_TOPIC = "/camera/camera_info"
POSE_TOPIC = "/ground_truth/camera_pose"
DEPTH_TOPIC = "/ground_truth/depth"
POINTMAP_TOPIC = "/ground_truth/pointmap_t0"
INFO_TOPIC = "/ground_truth/info"
CAMERA_FRAME = "camera_optical_frame"
WORLD_FRAME = "vdpm_gt_world"
#: 2025-01-01T00:00:00Z: stamps look like a real recording instead of starting at 0.
START_TIME_NS = 1_735_689_600 * 10**9

#: Largest allowed error (metres) of the affine motion table against the generator's point maps.
MOTION_TABLE_TOLERANCE = 1e-4


def object_motion_table(seq: SyntheticSequence) -> tuple[np.ndarray, np.ndarray]:
    """Compress ``seq.pointmaps`` to P_i(t_0) ``[S, H, W, 3]`` and per-object affine maps ``[K + 1, S, 3, 4]``.

    The maps are least-squares fits over every pixel of the object in every frame (exact for the
    generator's rigid and affine motions); the fit is checked against the full point maps.
    """
    S = seq.num_frames
    base = seq.pointmaps[0].astype(np.float64)  # P_i(t_0) for every frame i
    num = int(seq.object_ids.max()) + 1
    table = np.tile(np.eye(3, 4), (num, S, 1, 1))
    for k in range(1, num):
        mask = (seq.object_ids == k) & seq.valid
        if not mask.any():
            continue
        src = np.concatenate([base[mask], np.ones((int(mask.sum()), 1))], axis=1)
        for j in range(S):
            sol, *_ = np.linalg.lstsq(src, seq.pointmaps[j][mask].astype(np.float64), rcond=None)
            table[k, j] = sol.T
    rebuilt = apply_motion_table(base, seq.object_ids, table)
    err = np.abs(rebuilt - seq.pointmaps)[:, seq.valid].max()
    if err > MOTION_TABLE_TOLERANCE:
        raise ValueError(f"object motion is not affine to {MOTION_TABLE_TOLERANCE} m (error {err:.2e}); cannot write the compact ground truth")
    return base.astype(np.float32), table


def apply_motion_table(base: np.ndarray, object_ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """P_i(t_0) ``[S, H, W, 3]``, ids ``[S, H, W]``, maps ``[K, S, 3, 4]`` -> P_i(t_j) ``[S(j), S(i), H, W, 3]``."""
    A = table[object_ids.astype(np.int64)]  # [S(i), H, W, S(j), 3, 4]
    pts = np.einsum("ihwjab,ihwb->jihwa", A[..., :3], base.astype(np.float64)) + np.moveaxis(A[..., 3], 3, 0)
    return pts.astype(np.float32)


def _pointmap_columns(seq: SyntheticSequence, base: np.ndarray, i: int) -> dict[str, np.ndarray]:
    cols = {name: base[i, ..., axis] for axis, name in enumerate("xyz")}
    cols["object_id"] = seq.object_ids[i].astype(np.uint16)
    cols["valid"] = seq.valid[i].astype(np.uint8)
    cols["moving"] = seq.motion_mask[i].astype(np.uint8)
    return cols


def write_synthetic_bag(seq: SyntheticSequence, path: str | Path, config: SceneConfig) -> Path:
    """Write ``seq`` (generated with ``config``) as an MCAP rosbag2 directory at ``path``, which must not exist."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; rosbag2 writes a new directory (choose another --out)")
    T = RosbagsTypes()
    S, H, W = seq.images.shape[:3]
    base, motion = object_motion_table(seq)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {
            topic: writer.add_connection(topic, msgtype, typestore=T.store)
            for topic, msgtype in (
                (IMAGE_TOPIC, "sensor_msgs/msg/Image"),
                (CAMERA_INFO_TOPIC, "sensor_msgs/msg/CameraInfo"),
                (POSE_TOPIC, "geometry_msgs/msg/PoseStamped"),
                (DEPTH_TOPIC, "sensor_msgs/msg/Image"),
                (POINTMAP_TOPIC, "sensor_msgs/msg/PointCloud2"),
                (INFO_TOPIC, "std_msgs/msg/String"),
            )
        }

        def put(topic: str, stamp: int, msg, msgtype: str) -> None:
            writer.write(conns[topic], stamp, T.serialize(msg, msgtype))

        info = {
            "seed": seq.seed, "fps": config.fps, "frames": S, "scene_config": dataclasses.asdict(config),
            "object_motion": motion.tolist(),
        }  # fmt: skip
        put(INFO_TOPIC, START_TIME_NS, T.make("std_msgs/msg/String", data=json.dumps(info, default=list)), "std_msgs/msg/String")
        world_from_cam = seq.camera_to_world()
        for i in range(S):
            stamp = START_TIME_NS + int(round(seq.timestamps[i] * 1e9))
            cam_hdr = b.header(T, stamp, CAMERA_FRAME)
            put(IMAGE_TOPIC, stamp, b.image(T, np.ascontiguousarray(seq.images[i]), cam_hdr), "sensor_msgs/msg/Image")
            put(CAMERA_INFO_TOPIC, stamp, b.camera_info(T, seq.intrinsics[i], H, W, cam_hdr), "sensor_msgs/msg/CameraInfo")
            pose = T.make("geometry_msgs/msg/PoseStamped", header=b.header(T, stamp, WORLD_FRAME), pose=b.pose(T, world_from_cam[i]))
            put(POSE_TOPIC, stamp, pose, "geometry_msgs/msg/PoseStamped")
            put(DEPTH_TOPIC, stamp, b.image(T, np.ascontiguousarray(seq.depth[i], dtype=np.float32), cam_hdr), "sensor_msgs/msg/Image")
            cloud = b.cloud(T, _pointmap_columns(seq, base, i), b.header(T, stamp, WORLD_FRAME), is_dense=True)
            put(POINTMAP_TOPIC, stamp, cloud, "sensor_msgs/msg/PointCloud2")
    return path


def read_synthetic_bag(path: str | Path) -> SyntheticSequence:
    """Read back a bag written by :func:`write_synthetic_bag` (object metadata is not stored)."""
    from rosbags.rosbag2 import Reader

    ts = RosbagsTypes().store
    msgs: dict[str, list] = {}
    with Reader(Path(path)) as reader:
        for conn, _, raw in reader.messages():
            msgs.setdefault(conn.topic, []).append(ts.deserialize_cdr(raw, conn.msgtype))
    missing = [t for t in (IMAGE_TOPIC, CAMERA_INFO_TOPIC, POSE_TOPIC, DEPTH_TOPIC, POINTMAP_TOPIC, INFO_TOPIC) if t not in msgs]
    if missing:
        raise ValueError(f"{path} is not a vdpm synthetic bag: missing topics {missing}")
    info = json.loads(msgs[INFO_TOPIC][0].data)
    images = np.stack([np.asarray(m.data, dtype=np.uint8).reshape(m.height, m.width, 3) for m in msgs[IMAGE_TOPIC]])
    S, H, W = images.shape[:3]
    depth = np.stack([np.asarray(m.data, dtype=np.uint8).view("<f4").reshape(H, W) for m in msgs[DEPTH_TOPIC]])
    intrinsics = np.stack([np.asarray(m.k, dtype=np.float64).reshape(3, 3) for m in msgs[CAMERA_INFO_TOPIC]]).astype(np.float32)
    extrinsics = []
    for m in msgs[POSE_TOPIC]:
        o, p = m.pose.orientation, m.pose.position
        rot = quat_to_mat(np.array([o.x, o.y, o.z, o.w]))
        t = np.array([p.x, p.y, p.z])
        extrinsics.append(np.concatenate([rot.T, (-rot.T @ t)[:, None]], axis=1))  # camera-from-world
    base = np.zeros((S, H, W, 3), np.float32)
    object_ids = np.zeros((S, H, W), np.int16)
    valid = np.zeros((S, H, W), bool)
    moving = np.zeros((S, H, W), bool)
    for i, m in enumerate(msgs[POINTMAP_TOPIC]):
        layout = CloudLayout(tuple(Field(f.name, f.offset, f.datatype, f.count) for f in m.fields), m.point_step)
        cloud = unpack_cloud(layout, m.data, m.height, m.width)
        base[i] = np.stack([cloud[a] for a in "xyz"], axis=-1)
        object_ids[i], valid[i], moving[i] = cloud["object_id"], cloud["valid"] > 0, cloud["moving"] > 0
    pointmaps = apply_motion_table(base, object_ids, np.asarray(info["object_motion"], dtype=np.float64))
    return SyntheticSequence(
        images=images, pointmaps=pointmaps, valid=valid, depth=depth, intrinsics=intrinsics,
        extrinsics=np.stack(extrinsics).astype(np.float32), object_ids=object_ids, motion_mask=moving,
        timestamps=np.arange(S) / float(info["fps"]), seed=int(info["seed"]),
    )  # fmt: skip
