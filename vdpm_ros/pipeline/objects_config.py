"""User-facing settings of the scene stage: moving objects, their tracks, and the static map.

Each field is a :func:`~vdpm_ros.settings.setting` (a node parameter of the same name). Only what a user
would tune is here; the other knobs of :mod:`vdpm_ros.objects` keep their defaults, and a library user can
still build those configs directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..objects import ObjectDetectionConfig, SegmentationConfig, StaticMapConfig, TrackerConfig
from ..settings import check_settings, setting


@dataclass(frozen=True)
class ObjectsConfig:
    """Moving objects (``vdpm/moving_objects`` and its markers) and the static map (``vdpm/static_map``).

    Lengths are in the clouds' units: metres with metric scale, else model units (the first window's
    scene lies about one model unit from its camera), as everything the node publishes in one frame.
    """

    moving_objects: bool = setting(
        True, "group the moving pixels into objects, track them across windows and publish vdpm/moving_objects and its markers"
    )
    object_min_pixels: int = setting(
        20,
        "fewest pixels of a moving object; smaller groups of moving pixels are noise (at least 0.05 % of the image is needed too)",
        min=1,
    )
    object_split_distance: float = setting(
        0.05,
        "neighbouring moving pixels belong to one object only if their points are closer than this fraction of their distance from the camera",
        min=1e-6,
    )
    track_max_missed: int = setting(
        3, "windows in a row a track survives without a detection; then its id is dropped (ids are never reused)", min=0
    )
    static_map: bool = setting(True, "accumulate the static points of stitched windows into vdpm/static_map (needs stitch)")
    static_map_voxel_size: float = setting(
        0.05, "voxel edge of the static map, in the clouds' units (m with metric scale, else model units)", min=1e-6
    )
    static_map_max_voxels: int = setting(
        200000, "the static map never holds more voxels than this (the least recently seen go first)", min=1
    )
    static_map_period: float = setting(
        1.0, "seconds of message time between two vdpm/static_map messages (transient local: a late subscriber gets the last one)", min=0.0
    )

    def __post_init__(self) -> None:
        check_settings(self)

    def detection_config(self) -> ObjectDetectionConfig:
        """The object stage's segmentation and fit settings."""
        segmentation = SegmentationConfig(min_pixels=self.object_min_pixels, split_distance=self.object_split_distance)
        return ObjectDetectionConfig(segmentation=segmentation)

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(max_missed=self.track_max_missed)

    def map_config(self) -> StaticMapConfig:
        return StaticMapConfig(voxel_size=self.static_map_voxel_size, max_voxels=self.static_map_max_voxels,
                               publish_period_s=self.static_map_period)  # fmt: skip
