"""Read camera frames and ground truth out of any bag ``rosbags`` opens: rosbag2 (sqlite3, mcap) and ROS 1.

Topics are found by message type when not given: the colour ``sensor_msgs/Image`` (or ``CompressedImage``)
topic, its ``CameraInfo``, a depth image topic (``32FC1`` / ``16UC1``), and camera ground truth from a
``PoseStamped`` topic or from ``/tf`` (one parent -> child transform). A TUM-format trajectory file
(``stamp tx ty tz qx qy qz qw`` per line, as the TUM RGB-D benchmark ships ``groundtruth.txt``) can stand
in for ground truth that is not in the bag.

Bags are opened with :func:`vdpm_ros.bags.bag_reader.open_bag`: a broken bag is a
:class:`~vdpm_ros.bags.bag_reader.BagReadError` naming the file, and an unfinished recording is read
as far as it is intact. An image or depth message that does not decode is skipped and counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..geometry.rotation import quat_to_mat
from ..messages.image import SUPPORTED_DEPTH_ENCODINGS, ImageDecodingError, ImagePayload, compressed_to_rgb, depth_to_metres, image_to_rgb
from ..messages.log_throttle import KindThrottle
from ..messages.validation import check_camera_info
from .bag_reader import BagMessageError, open_bag

log = logging.getLogger(__name__)

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
POSE = "geometry_msgs/msg/PoseStamped"
TF = "tf2_msgs/msg/TFMessage"
TF_ROS1 = "tf/msg/tfMessage"


class BagError(ValueError):
    """The bag cannot be evaluated as asked; the message says what is missing and which option fixes it."""


@dataclass(frozen=True)
class BagTopics:
    """The topics of a bag that the evaluation uses (None = absent)."""

    image: str
    compressed: bool
    camera_info: str | None
    depth: str | None
    pose: str | None
    tf: str | None
    all_topics: dict[str, str]


@dataclass(frozen=True)
class PoseTrack:
    """Timestamped poses: ``stamps_ns [N]`` int64 and world-from-camera ``poses [N, 4, 4]`` float64."""

    stamps_ns: np.ndarray
    poses: np.ndarray
    source: str

    def __post_init__(self) -> None:
        order = np.argsort(self.stamps_ns, kind="stable")
        object.__setattr__(self, "stamps_ns", np.asarray(self.stamps_ns, dtype=np.int64)[order])
        object.__setattr__(self, "poses", np.asarray(self.poses, dtype=np.float64)[order])

    def match(self, stamps_ns: np.ndarray, max_diff_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """For each query stamp the nearest pose within ``max_diff_s`` (evo's association rule).

        Returns (indices into ``stamps_ns`` that found a pose, the matched poses ``[M, 4, 4]``).
        """
        stamps_ns = np.asarray(stamps_ns, dtype=np.int64)
        if len(self.stamps_ns) == 0 or len(stamps_ns) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 4, 4))
        right = np.clip(np.searchsorted(self.stamps_ns, stamps_ns), 1, len(self.stamps_ns) - 1) if len(self.stamps_ns) > 1 else np.zeros(len(stamps_ns), dtype=np.int64)
        left = np.maximum(right - 1, 0)
        nearest = np.where(np.abs(self.stamps_ns[left] - stamps_ns) <= np.abs(self.stamps_ns[right] - stamps_ns), left, right)
        ok = np.abs(self.stamps_ns[nearest] - stamps_ns) <= max_diff_s * 1e9
        return np.nonzero(ok)[0], self.poses[nearest[ok]]


def pose_matrix(translation, quaternion_xyzw) -> np.ndarray:
    """``[4, 4]`` from a translation and a quaternion (x, y, z, w), with the package's one rotation conversion."""
    T = np.eye(4)
    T[:3, :3] = quat_to_mat(np.asarray(quaternion_xyzw, dtype=np.float64))
    T[:3, 3] = translation
    return T


def read_tum_trajectory(path: str | Path) -> PoseTrack:
    """A TUM-format file: ``timestamp tx ty tz qx qy qz qw`` per line, ``#`` comments."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        values = line.replace(",", " ").split()
        if len(values) != 8:
            raise BagError(f"{path}:{n}: expected 'timestamp tx ty tz qx qy qz qw', got {len(values)} values")
        rows.append([float(v) for v in values])
    if not rows:
        raise BagError(f"{path} has no poses")
    a = np.asarray(rows)
    poses = np.stack([pose_matrix(r[1:4], r[4:8]) for r in a])
    return PoseTrack(np.round(a[:, 0] * 1e9).astype(np.int64), poses, f"file {Path(path).name}")


def _stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _payload(msg) -> ImagePayload:
    return ImagePayload(msg.encoding, int(msg.height), int(msg.width), int(msg.step), msg.data, bool(msg.is_bigendian))


def _open(path: Path):
    """The bag opened for reading (a context manager giving a :class:`BagReader`)."""
    return open_bag(path)


def find_topics(path: str | Path, image_topic: str | None = None, depth_topic: str | None = None) -> BagTopics:
    """Pick the topics to evaluate; image topics are told apart by the encoding of their first message."""
    path = Path(path)
    with _open(path) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        encodings: dict[str, str] = {}
        for conn in reader.connections:
            if conn.msgtype == IMAGE and conn.topic not in encodings:
                for c, _, raw in reader.messages(connections=[conn]):
                    encodings[conn.topic] = reader.deserialize(raw, c.msgtype).encoding
                    break
    depth_like = {t for t, e in encodings.items() if e in SUPPORTED_DEPTH_ENCODINGS}
    colour = sorted(t for t in encodings if t not in depth_like)
    compressed = sorted(t for t, ty in types.items() if ty == COMPRESSED and "depth" not in t)
    if image_topic is None:
        candidates = colour or compressed
        if not candidates:
            raise BagError(f"{path}: no colour image topic (topics: {sorted(types)}); pass --image-topic")
        if len(candidates) > 1:
            preferred = [t for t in candidates if any(k in t for k in ("rgb", "color", "colour", "image_raw"))]
            candidates = preferred or candidates
        image_topic = candidates[0]
    elif image_topic not in types:
        raise BagError(f"{path}: no topic {image_topic!r} (topics: {sorted(types)})")
    if types[image_topic] not in (IMAGE, COMPRESSED):
        raise BagError(f"{path}: {image_topic} is a {types[image_topic]}, not an image topic")
    if depth_topic is None and depth_like:
        depth_topic = sorted(depth_like)[0]
    elif depth_topic is not None and depth_topic not in types:
        raise BagError(f"{path}: no depth topic {depth_topic!r} (topics: {sorted(types)})")
    ns = image_topic.rsplit("/", 1)[0]
    infos = sorted(t for t, ty in types.items() if ty == CAMERA_INFO)
    info = next((t for t in infos if t == f"{ns}/camera_info"), infos[0] if infos else None)
    poses = sorted(t for t, ty in types.items() if ty == POSE)
    tf = next((t for t, ty in types.items() if ty in (TF, TF_ROS1) and t == "/tf"), None)
    return BagTopics(image_topic, types[image_topic] == COMPRESSED, info, depth_topic, poses[0] if poses else None, tf, types)


def read_pose_track(path: str | Path, topics: BagTopics, tf_pair: tuple[str, str] | None = None) -> PoseTrack | None:
    """Camera ground truth from the bag: the PoseStamped topic, else one /tf transform; None if neither.

    Without ``tf_pair`` the most frequent (parent, child) pair on /tf is used (a motion-capture body).
    """
    path = Path(path)
    if topics.pose is None and topics.tf is None:
        return None
    with _open(path) as reader:
        if topics.pose is not None and tf_pair is None:
            conns = [c for c in reader.connections if c.topic == topics.pose]
            stamps, poses = [], []
            for c, _, raw in reader.messages(connections=conns):
                m = reader.deserialize(raw, c.msgtype)
                p, o = m.pose.position, m.pose.orientation
                stamps.append(_stamp_ns(m.header))
                poses.append(pose_matrix([p.x, p.y, p.z], [o.x, o.y, o.z, o.w]))
            return PoseTrack(np.asarray(stamps), np.stack(poses), f"topic {topics.pose}") if poses else None
        if topics.tf is None:
            raise BagError(f"{path}: --gt-tf needs a /tf topic in the bag")
        conns = [c for c in reader.connections if c.topic == topics.tf]
        by_pair: dict[tuple[str, str], list] = {}
        for c, _, raw in reader.messages(connections=conns):
            for t in reader.deserialize(raw, c.msgtype).transforms:
                pair = (t.header.frame_id.lstrip("/"), t.child_frame_id.lstrip("/"))
                by_pair.setdefault(pair, []).append(t)
    if not by_pair:
        return None
    if tf_pair is None:
        tf_pair = Counter({k: len(v) for k, v in by_pair.items()}).most_common(1)[0][0]
    tf_pair = (tf_pair[0].lstrip("/"), tf_pair[1].lstrip("/"))
    if tf_pair not in by_pair:
        raise BagError(f"{path}: no /tf transform {tf_pair[0]} -> {tf_pair[1]}; present: {sorted(by_pair)}")
    ts = by_pair[tf_pair]
    poses = [
        pose_matrix([t.transform.translation.x, t.transform.translation.y, t.transform.translation.z],
                    [t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w])
        for t in ts
    ]  # fmt: skip
    return PoseTrack(np.asarray([_stamp_ns(t.header) for t in ts]), np.stack(poses), f"/tf {tf_pair[0]} -> {tf_pair[1]}")


@dataclass(frozen=True)
class CameraMessage:
    """One decoded message in bag order: kind "image" (rgb ``[H, W, 3]`` uint8, K or None) or "depth" (metres ``[H, W]``)."""

    kind: str
    stamp_ns: int
    array: np.ndarray
    intrinsics: np.ndarray | None = None


def count_images(path: str | Path, topics: BagTopics) -> int:
    with _open(Path(path)) as reader:
        return sum(c.msgcount for c in reader.connections if c.topic == topics.image)


def _camera_info_check(m):
    """:func:`check_camera_info` of a ROS 2 (``k``, ``roi``) or ROS 1 (``K``) CameraInfo message."""
    roi = getattr(m, "roi", None)
    roi_t = (int(roi.x_offset), int(roi.y_offset), int(roi.height), int(roi.width)) if roi is not None else (0, 0, 0, 0)
    return check_camera_info(
        m.k if hasattr(m, "k") else m.K, (int(m.height), int(m.width)), None,
        (int(getattr(m, "binning_x", 0)), int(getattr(m, "binning_y", 0))), roi_t,
    )  # fmt: skip


def iter_camera(
    path: str | Path, topics: BagTopics, images: bool = True, rejected: Counter | None = None
) -> Iterator[CameraMessage]:
    """Images (with the latest CameraInfo's K) and depth images, decoded, in bag order; stamps from the headers.

    ``images=False`` reads the depth topic alone (no colour image is decoded). A message that does not
    deserialise or decode is skipped: counted in ``rejected`` (keys like ``"image/corrupt"``,
    ``"depth/unsupported_encoding"``) when given, and logged (one line per kind every 5 s).
    """
    wanted = {t for t in ((topics.image, topics.camera_info) if images else ()) + (topics.depth,) if t}
    k = None
    throttle = KindThrottle(5.0)

    def skip(kind: str, reason: str, topic: str, why: object) -> None:
        key = f"{kind}/{reason}"
        if rejected is not None:
            rejected[key] += 1
        decision = throttle.allow(key)
        if decision:
            log.warning(f"{path}: skipped a {kind} message on {topic}: {why}{decision.suffix()}")

    with _open(Path(path)) as reader:
        conns = [c for c in reader.connections if c.topic in wanted]
        for c, _, raw in reader.messages(connections=conns):
            kind = "camera_info" if c.topic == topics.camera_info else "image" if c.topic == topics.image else "depth"
            try:
                m = reader.deserialize(raw, c.msgtype)
                if kind == "camera_info":
                    info = _camera_info_check(m)
                    if info.ok:
                        k = info.k
                    else:
                        skip(kind, info.reason.value, c.topic, info.message)
                elif kind == "image":
                    rgb = compressed_to_rgb(m.format, m.data) if topics.compressed else image_to_rgb(_payload(m))
                    yield CameraMessage("image", _stamp_ns(m.header), rgb, k)
                else:
                    yield CameraMessage("depth", _stamp_ns(m.header), depth_to_metres(_payload(m)))
            except ImageDecodingError as exc:
                skip(kind, exc.reason.value, c.topic, exc)
            except BagMessageError as exc:
                skip(kind, "undeserialisable", c.topic, exc)
