"""What a ``visualization_msgs/MarkerArray`` of the tracked objects needs, as plain values (no ROS).

One array per window, in the objects' frame and stamp. It starts with a DELETEALL marker, so that the
markers of tracks that ended disappear in RViz and Foxglove without per-track bookkeeping; then three
markers per object, each with ``id = track_id`` in its own namespace:

- ``NS_BOX``: a CUBE at the box centre (identity orientation: the box is axis-aligned in the frame),
  scale = box size;
- ``NS_VELOCITY``: an ARROW with two points, from the centroid to ``centroid + velocity * arrow_time_s``
  (only for objects that move at all);
- ``NS_LABEL``: TEXT_VIEW_FACING "#id speed unit" above the box.

The colour of a track is fixed by its id (golden-ratio hues), so a track keeps its colour.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from ._checks import check_float
from .tracking import TrackedObject

NS_BOX = "vdpm_objects/box"
NS_VELOCITY = "vdpm_objects/velocity"
NS_LABEL = "vdpm_objects/label"
_GOLDEN = 0.618033988749895


@dataclass(frozen=True)
class MarkerConfig:
    """Attributes:
    arrow_time_s: an arrow is as long as the distance the object covers in this time at its velocity.
    arrow_shaft_diameter: ARROW ``scale.x`` and head diameter ``scale.y`` = 2x it, in the points' units.
    text_height: TEXT ``scale.z``, in the points' units.
    box_alpha: opacity of the boxes (arrows and text are opaque).
    """

    arrow_time_s: float = 1.0
    arrow_shaft_diameter: float = 0.02
    text_height: float = 0.1
    box_alpha: float = 0.35

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("arrow_time_s", "arrow_shaft_diameter", "text_height"):
            object.__setattr__(self, name, check_float(owner, name, getattr(self, name), 0.0, strict=True))
        object.__setattr__(self, "box_alpha", check_float(owner, "box_alpha", self.box_alpha, 0.0, maximum=1.0))


@dataclass(frozen=True, eq=False)
class ObjectMarker:
    """The three markers of one tracked object.

    Attributes:
        track_id: the marker id in every namespace.
        color: (r, g, b) in [0, 1] of the track.
        box_center: ``[3]``; box_size: ``[3]`` (CUBE scale; orientation identity).
        arrow_start, arrow_end: ``[3]`` ARROW points; None for an object that does not move.
        text: the label; text_position: ``[3]`` where it is drawn, a text height above the box along ``up``.
    """

    track_id: int
    color: tuple[float, float, float]
    box_center: np.ndarray
    box_size: np.ndarray
    arrow_start: np.ndarray | None
    arrow_end: np.ndarray | None
    text: str
    text_position: np.ndarray


@dataclass(frozen=True, eq=False)
class ObjectMarkerSet:
    """All markers of one window.

    Attributes:
        delete_all_first: the MarkerArray must start with a marker of action DELETEALL (3).
        markers: one entry per object, in the order of the tracked objects given.
        config: sizes and opacity to use.
    """

    delete_all_first: bool
    markers: tuple[ObjectMarker, ...]
    config: MarkerConfig


def track_color(track_id: int) -> tuple[float, float, float]:
    """A saturated colour fixed by the id; consecutive ids get well separated hues."""
    hue = (int(track_id) * _GOLDEN) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.85, 0.95)


def speed_unit(units: str) -> str:
    """ "m/s" for metric outputs, "u/s" (model units per second) otherwise."""
    return "m/s" if units == "m" else "u/s"


def object_markers(
    objects: tuple[TrackedObject, ...] | list[TrackedObject],
    units: str,
    up: np.ndarray | None = None,
    config: MarkerConfig = MarkerConfig(),
) -> ObjectMarkerSet:
    """Markers for one window's tracked objects.

    Args:
        objects: the window's tracked objects (:meth:`ObjectTracker.update`).
        units: "m" or "model", for the speed text.
        up: ``[3]`` unit vector of "up" in the frame, to place the text above the box. Default -y, which is
            up in an optical frame (y down) such as the node's odometry frame.
        config: sizes.
    """
    up = np.array([0.0, -1.0, 0.0]) if up is None else np.asarray(up, dtype=np.float64)
    unit = speed_unit(units)
    out = []
    for obj in objects:
        det = obj.detection
        centre, size = det.box_center, det.box_size
        velocity = np.asarray(obj.velocity, dtype=np.float64)
        speed = float(np.linalg.norm(velocity))
        start = end = None
        if speed > 0:
            start, end = det.centroid.copy(), det.centroid + velocity * config.arrow_time_s
        half_extent = 0.5 * float(np.abs(size) @ np.abs(up))
        out.append(
            ObjectMarker(
                track_id=int(obj.track_id),
                color=track_color(obj.track_id),
                box_center=centre,
                box_size=size,
                arrow_start=start,
                arrow_end=end,
                text=f"#{obj.track_id} {speed:.2f} {unit}",
                text_position=centre + up * (half_extent + config.text_height),
            )
        )
    return ObjectMarkerSet(delete_all_first=True, markers=tuple(out), config=config)
