"""Moving objects and the static scene from dynamic point maps (ROS-free; numpy and scipy only).

Pure maths and small state, below the pipeline: the pipeline's scene stage
(:class:`vdpm_ros.pipeline.SceneStage`) runs it on every stitched window. Per window, in the frame the
node publishes in (odometry when stitched):

    observation = observation_from_output(output)              # vdpm_ros.pipeline.object_inputs (or build one)
    detections = detect_moving_objects(observation, config)    # segmentation + rigid fit per object
    tracked = tracker.update(detections)                       # ObjectTracker: ids across windows
    markers = object_markers(tracked, observation.units)       # what a MarkerArray needs
    split = split_by_motion(output)                            # static / dynamic clouds (object_inputs)
    static_map.insert(split.static.xyz, stamp, split.static.rgb, split.dynamic.xyz, split.camera_position)

Modules: ``observation`` (the input), ``segmentation``, ``rigid_motion``, ``detection``, ``tracking``,
``static_map``, ``markers``.
"""

from .detection import DetectedObject, ObjectDetectionConfig, ObjectDetections, describe_object, detect_moving_objects
from .markers import MarkerConfig, ObjectMarker, ObjectMarkerSet, object_markers, track_color
from .observation import ObjectObservation
from .rigid_motion import RigidFitConfig, RigidMotion, fit_rigid_motion
from .segmentation import Segmentation, SegmentationConfig, segment_moving_pixels
from .static_map import StaticMap, StaticMapCloud, StaticMapConfig
from .tracking import ObjectTracker, TrackedObject, TrackerConfig, box_iou

__all__ = [
    "DetectedObject",
    "MarkerConfig",
    "ObjectDetectionConfig",
    "ObjectDetections",
    "ObjectMarker",
    "ObjectMarkerSet",
    "ObjectObservation",
    "ObjectTracker",
    "RigidFitConfig",
    "RigidMotion",
    "Segmentation",
    "SegmentationConfig",
    "StaticMap",
    "StaticMapCloud",
    "StaticMapConfig",
    "TrackedObject",
    "TrackerConfig",
    "box_iou",
    "describe_object",
    "detect_moving_objects",
    "fit_rigid_motion",
    "object_markers",
    "segment_moving_pixels",
    "track_color",
]
