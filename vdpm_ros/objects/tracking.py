"""Track ids kept across windows: each window's detections are associated with the live tracks.

Association (per window, in the publish frame F, which should be the odometry frame: in a moving
camera's own frame a static prediction is wrong by the camera's motion):

1. every live track is predicted to the new stamp with its last velocity (constant velocity);
2. a detection may match a track only inside a gate: its centroid within ``gate_size_factor`` times
   the larger box diagonal of the two from the predicted centroid (size-relative, so it works in model
   units and in metres), or ``min_gate`` when that is larger;
3. among the allowed pairs the cost is the centroid distance over the gate plus ``overlap_weight``
   times (1 - IoU of the predicted and the detected box); ``scipy.optimize.linear_sum_assignment``
   picks the cheapest one-to-one assignment;
4. an unmatched detection starts a new track with a fresh id (ids count up from 1 and are never reused,
   not even after :meth:`ObjectTracker.reset`); a track unmatched for more than ``max_missed`` windows
   in a row is deleted.

Stamps come from the detections (message time). A stamp that does not increase (a restarted bag)
resets the tracks, as the window stitcher restarts the odometry frame.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._checks import check_float, check_int
from .detection import DetectedObject, ObjectDetections

_INFEASIBLE = 1e9


@dataclass(frozen=True)
class TrackerConfig:
    """Attributes:
    gate_size_factor: the gate radius as a multiple of the larger box diagonal of track and detection.
    min_gate: the smallest gate radius, in the points' units (0 = purely size-relative).
    overlap_weight: weight of (1 - box IoU) in the assignment cost (0 = centroid distance only).
    max_missed: windows in a row a track survives without a detection (0 = deleted at the first miss).
    velocity_smoothing: weight of the track's previous velocity in an exponential average with the
        new detection's (0 = the latest detection's velocity, in [0, 1)).
    """

    gate_size_factor: float = 1.0
    min_gate: float = 0.0
    overlap_weight: float = 1.0
    max_missed: int = 3
    velocity_smoothing: float = 0.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "gate_size_factor", check_float(owner, "gate_size_factor", self.gate_size_factor, 0.0, strict=True))
        object.__setattr__(self, "min_gate", check_float(owner, "min_gate", self.min_gate, 0.0))
        object.__setattr__(self, "overlap_weight", check_float(owner, "overlap_weight", self.overlap_weight, 0.0))
        check_int(owner, "max_missed", self.max_missed, 0)
        object.__setattr__(self, "velocity_smoothing", check_float(owner, "velocity_smoothing", self.velocity_smoothing, 0.0))
        if self.velocity_smoothing >= 1.0:
            raise ValueError(f"{owner}.velocity_smoothing must be < 1, got {self.velocity_smoothing}")


@dataclass(frozen=True, eq=False)
class TrackedObject:
    """A detection of this window with its track.

    Attributes:
        track_id: > 0, stable across windows, never reused.
        detection: this window's measurement of the object.
        velocity: ``[3]`` the track's velocity (units/s): the detection's, smoothed when configured.
        observations: windows in which this track was detected, this one included (1 = new track).
        first_stamp_ns: stamp of the window that started the track.
    """

    track_id: int
    detection: DetectedObject
    velocity: np.ndarray
    observations: int
    first_stamp_ns: int


@dataclass
class _Track:
    track_id: int
    centroid: np.ndarray
    velocity: np.ndarray
    box_min: np.ndarray
    box_max: np.ndarray
    stamp_ns: int
    observations: int
    missed: int
    first_stamp_ns: int


def box_iou(a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray) -> float:
    """IoU of two axis-aligned boxes ``[3]`` (0 when they do not overlap or both are empty)."""
    inter = np.prod(np.clip(np.minimum(a_max, b_max) - np.maximum(a_min, b_min), 0.0, None))
    union = np.prod(np.clip(a_max - a_min, 0.0, None)) + np.prod(np.clip(b_max - b_min, 0.0, None)) - inter
    return float(inter / union) if union > 0 else 0.0


class ObjectTracker:
    """Keeps track ids of moving objects across windows; use from one thread, windows in stamp order."""

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        if not isinstance(config, TrackerConfig):
            raise ValueError(f"config must be a TrackerConfig, got {type(config).__name__}")
        self.config = config
        self._ids = itertools.count(1)
        self._tracks: list[_Track] = []
        self._last_stamp_ns: int | None = None

    @property
    def num_tracks(self) -> int:
        """Live tracks (detected within the last ``max_missed`` windows)."""
        return len(self._tracks)

    def reset(self) -> None:
        """Forget every track (e.g. when the odometry frame restarts); ids keep counting up."""
        self._tracks.clear()
        self._last_stamp_ns = None

    def _cost(self, track: _Track, det: DetectedObject, dt: float) -> float:
        cfg = self.config
        shift = track.velocity * dt
        predicted = track.centroid + shift
        diag = max(float(np.linalg.norm(track.box_max - track.box_min)), float(np.linalg.norm(det.box_size)))
        gate = max(cfg.min_gate, cfg.gate_size_factor * diag)
        dist = float(np.linalg.norm(det.centroid - predicted))
        if gate <= 0 or dist > gate:
            return _INFEASIBLE
        overlap = box_iou(track.box_min + shift, track.box_max + shift, det.box_min, det.box_max)
        return dist / gate + cfg.overlap_weight * (1.0 - overlap)

    def update(self, detections: ObjectDetections) -> tuple[TrackedObject, ...]:
        """Associate one window's detections; returns one :class:`TrackedObject` per detection, in order."""
        stamp = int(detections.stamp_ns)
        if self._last_stamp_ns is not None and stamp <= self._last_stamp_ns:
            self.reset()
        dets = detections.objects
        assigned: dict[int, int] = {}  # detection index -> track index
        if self._tracks and dets:
            cost = np.array([[self._cost(t, d, (stamp - t.stamp_ns) * 1e-9) for d in dets] for t in self._tracks])
            rows, cols = linear_sum_assignment(cost)
            assigned = {int(c): int(r) for r, c in zip(rows, cols) if cost[r, c] < _INFEASIBLE}
        a = self.config.velocity_smoothing
        out = []
        matched_tracks = set(assigned.values())
        for k, det in enumerate(dets):
            if k in assigned:
                track = self._tracks[assigned[k]]
                track.velocity = a * track.velocity + (1.0 - a) * det.velocity
                track.centroid, track.box_min, track.box_max = det.centroid, det.box_min, det.box_max
                track.stamp_ns, track.missed = stamp, 0
                track.observations += 1
            else:
                track = _Track(
                    next(self._ids), det.centroid, np.asarray(det.velocity, dtype=np.float64), det.box_min, det.box_max, stamp, 1, 0, stamp
                )
                self._tracks.append(track)
                matched_tracks.add(len(self._tracks) - 1)
            out.append(TrackedObject(track.track_id, det, track.velocity.copy(), track.observations, track.first_stamp_ns))
        survivors = []
        for i, track in enumerate(self._tracks):
            if i not in matched_tracks:
                track.missed += 1
                if track.missed > self.config.max_missed:
                    continue
            survivors.append(track)
        self._tracks = survivors
        self._last_stamp_ns = stamp
        return tuple(out)
