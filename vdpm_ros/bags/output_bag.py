"""Write what the node publishes into an MCAP rosbag2, without ROS: open it in Foxglove or replay it into RViz.

The messages come from :func:`~vdpm_ros.output.window_messages`, the function the node publishes from, so
the bag holds every topic the node publishes (with this package's own types, registered from msg/), with
the same payloads; the input image is added for context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..output import OutputConfig, RosbagsTypes, window_messages
from ..output.builders import header, image
from ..paths import interface_dir
from ..pipeline.stream import PipelineOutput

INPUT_IMAGE_TOPIC = "/camera/image_raw"


class OutputBagWriter:
    """``with OutputBagWriter(path) as bag: bag.write(output)`` for each window, in stamp order.

    Args:
        path: the bag directory to create.
        camera_frame: frame_id of the camera (the node takes it from the images' headers).
        config: topics, frames and flags (the node's defaults unless given).
        trajectory: returns the stitched trajectory for /vdpm/path, as the node's pipeline does; without it
            the bag has no path.
    """

    def __init__(
        self,
        path: str | Path,
        camera_frame: str = "camera_optical_frame",
        config: OutputConfig | None = None,
        trajectory: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    ):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} already exists; choose a new directory for the output bag")
        self.config = config or OutputConfig()
        self.camera_frame = self.config.camera_frame or camera_frame
        self.trajectory = trajectory
        self.types = RosbagsTypes(interface_dir())
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._conns: dict[str, tuple[object, str]] = {}
        self.messages = 0

    def __enter__(self) -> "OutputBagWriter":
        self._writer.open()
        channels = [(INPUT_IMAGE_TOPIC, "input_image", "sensor_msgs/msg/Image")]
        channels += [(c.topic, c.key, c.msgtype) for c in self.config.channels()]
        for topic, key, msgtype in channels:
            if msgtype.startswith("vdpm_ros/") and msgtype not in self.types.custom_types:
                continue  # no msg/ directory found: the node without built interfaces has no such topic either
            # The node's topic names are relative (so that a namespace applies); a bag needs absolute ones,
            # which are what the node resolves them to without a namespace.
            absolute = topic if topic.startswith("/") else "/" + topic
            self._conns[key] = (self._writer.add_connection(absolute, msgtype, typestore=self.types.store), msgtype)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._writer.close()

    def _put(self, key: str, stamp_ns: int, msg) -> None:
        conn, msgtype = self._conns[key]
        self._writer.write(conn, stamp_ns, self.types.serialize(msg, msgtype))
        self.messages += 1

    def write(self, output: PipelineOutput) -> None:
        """Every message the node publishes for this window, and the input image."""
        T, r = self.types, output.result
        stamp = r.latest_stamp_ns
        self._put("input_image", stamp, image(T, r.rgb, header(T, stamp, self.camera_frame)))
        for m in window_messages(output, T, self.config, self.camera_frame, self.trajectory, wanted=self._conns.__contains__):
            self._put(m.key, stamp, m.message)
