"""The pipeline's stateful scene stage: each stitched window's moving objects (with track ids) and the static map.

It runs on every window after stitching (:func:`~vdpm_ros.pipeline.stream.process_window`), for the node
and offline alike, so ``vdpm/moving_objects``, the markers and ``vdpm/static_map`` of the node, of the
output bag and of ``vdpm eval`` come from the same tracks and the same map. The message builders only
convert what it returns.

Everything is in the publish frame F of ``vdpm/points`` (the odometry frame when stitched, else the latest
camera's optical frame) and the clouds' units. The tracker and the map live in one odometry frame: when
the stitcher starts a new one (its "first" method after the first window, e.g. time went backwards),
both are reset. Without stitching the tracker runs in the camera frame and there is no static map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..objects import ObjectDetections, ObjectTracker, Segmentation, StaticMap, StaticMapCloud, TrackedObject, detect_moving_objects
from .object_inputs import motion_source_stamp, observation_from_output, split_by_motion
from .objects_config import ObjectsConfig

if TYPE_CHECKING:  # stream.py imports this module: the type alone is needed here
    from .stream import PipelineOutput


@dataclass(frozen=True, eq=False)
class SceneOutputs:
    """What the scene stage derived from one window (frame F, the clouds' units).

    Attributes:
        detections: this window's moving objects, or None (no motion decoded, or ``moving_objects`` off).
        objects: one :class:`~vdpm_ros.objects.TrackedObject` per detection, in the same order (largest
            first); empty without detections.
        static_map: the map's points, on the windows where it is due for publishing (``static_map_period``
            of message time since the last one); None on the others, or without a map.
        static_map_voxels: voxels in the map after this window (0 without a map).
        restarted: the tracks and the map were reset before this window (a new odometry frame).
    """

    detections: ObjectDetections | None
    objects: tuple[TrackedObject, ...]
    static_map: StaticMapCloud | None
    static_map_voxels: int
    restarted: bool


class SceneStage:
    """Moving objects and the static map, window after window; use from one thread, in window order."""

    def __init__(self, config: ObjectsConfig | None = None) -> None:
        self.config = config or ObjectsConfig()
        self._detection = self.config.detection_config()
        self.tracker = ObjectTracker(self.config.tracker_config())
        self.static_map = StaticMap(self.config.map_config())
        self._started = False

    def reset(self) -> None:
        """Forget the tracks and the map (track ids keep counting up)."""
        self.tracker.reset()
        self.static_map.reset()

    def update(self, output: PipelineOutput) -> SceneOutputs:
        """The scene outputs of one processed (and, when on, stitched) window."""
        cfg, stitch, stamp = self.config, output.stitch, output.result.latest_stamp_ns
        restarted = self._started and stitch is not None and stitch.method == "first"
        if restarted:
            self.reset()
        self._started = True
        detections, objects = None, ()
        r = output.result
        if cfg.moving_objects and r.dynamic is not None and not r.dynamic.any():
            # Nothing moves (a common case, and every window of a motion-blind model): no object, and the
            # maps need not be brought into the publish frame. The tracks still age by a window.
            empty = Segmentation(np.zeros(r.dynamic.shape, np.int32), 0, 0, 0)
            detections = ObjectDetections(int(stamp), motion_source_stamp(r), r.units, empty, (), 0)
            objects = self.tracker.update(detections)
        elif cfg.moving_objects:
            observation = observation_from_output(output)
            if observation is not None:
                detections = detect_moving_objects(observation, self._detection)
                objects = self.tracker.update(detections)
        cloud, voxels = None, 0
        if cfg.static_map and stitch is not None:
            split = split_by_motion(output)
            self.static_map.insert(split.static.xyz, stamp, split.static.rgb, dynamic_points=split.dynamic.xyz,
                                   viewpoint=split.camera_position)  # fmt: skip
            voxels = len(self.static_map)
            if self.static_map.publish_due(stamp):
                cloud = self.static_map.cloud()
        return SceneOutputs(detections, objects, cloud, voxels, restarted)
