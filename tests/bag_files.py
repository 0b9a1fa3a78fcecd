"""Small valid bags written with rosbags' writers, for tests that break them (MCAP, sqlite3, ROS 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FRAMES = 20
HW = (240, 320)  # 230 kB per rgb8 image: rosbags closes a 1 MiB MCAP chunk every 5 images
TOPIC = "/camera/image_raw"


def _images(T):
    from vdpm_ros.output.builders import header, image

    for i in range(FRAMES):
        stamp = 10**9 + i * 10**8
        yield stamp, image(T, np.full((*HW, 3), i, np.uint8), header(T, stamp, "cam"))


def write_rosbag2(path: Path, storage: str) -> Path:
    from rosbags.rosbag2 import StoragePlugin, Writer

    from vdpm_ros.output import RosbagsTypes

    T = RosbagsTypes()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conn = writer.add_connection(TOPIC, "sensor_msgs/msg/Image", typestore=T.store)
        for stamp, msg in _images(T):
            writer.write(conn, stamp, T.serialize(msg, "sensor_msgs/msg/Image"))
    return path


def write_ros1(path: Path) -> Path:
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    T = store.types
    with Writer(path) as writer:
        conn = writer.add_connection(TOPIC, "sensor_msgs/msg/Image", typestore=store)
        for i in range(FRAMES):
            hdr = T["std_msgs/msg/Header"](seq=i, stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=i * 10**8), frame_id="cam")
            img = T["sensor_msgs/msg/Image"](header=hdr, height=HW[0], width=HW[1], encoding="rgb8", is_bigendian=0, step=HW[1] * 3,
                                             data=np.full(HW[0] * HW[1] * 3, i, np.uint8))  # fmt: skip
            writer.write(conn, 10**9 + i * 10**8, store.serialize_ros1(img, "sensor_msgs/msg/Image"))
    return path


def truncate(src: Path, dst: Path, keep: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst
