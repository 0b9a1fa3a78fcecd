"""One window's moving objects: segmentation, then per object its rigid motion, velocity, box and quality.

Everything is in the observation's publish frame F and units (see :mod:`.observation`).

The motion mask leaves out the slow parts of a moving object (the pixels near a spinning object's axis
move less than the threshold). Once an object's rigid motion is fitted on its moving pixels, the
pixels inside the object's outline that this motion explains join it (:func:`grow_object`): a still
background point is not explained by it (the motion would move it), a slow point of the object is. So
the box, centroid and velocity describe more of the visible object than its fast part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from ._checks import check_float
from .observation import ObjectObservation
from .rigid_motion import RigidFitConfig, RigidMotion, fit_rigid_motion
from .segmentation import Segmentation, SegmentationConfig, segment_moving_pixels, spatial_components


@dataclass(frozen=True)
class ObjectDetectionConfig:
    """Attributes:
    segmentation: how moving pixels are grouped into objects.
    fit: the rigid-motion fit of each object.
    box_percentile: the axis-aligned box spans this percentile to 100 minus it of the object's
        points on each axis (0 = the full extent; e.g. 1 ignores a few stray border pixels).
    grow_agreement: a pixel outside the motion mask, inside the convex hull of an object's pixels and
        connected to them (in the image and in 3D, by the segmentation's rule) joins the object when
        its rigid motion predicts the pixel's observed
        position within this fraction of the object's median displacement; 0 = no growing. An object
        whose fit residual is not below that tolerance does not grow (its motion explains nothing).
    """

    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    fit: RigidFitConfig = field(default_factory=RigidFitConfig)
    box_percentile: float = 0.0
    grow_agreement: float = 0.5

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if not isinstance(self.segmentation, SegmentationConfig):
            raise ValueError(f"{owner}.segmentation must be a SegmentationConfig, got {type(self.segmentation).__name__}")
        if not isinstance(self.fit, RigidFitConfig):
            raise ValueError(f"{owner}.fit must be a RigidFitConfig, got {type(self.fit).__name__}")
        object.__setattr__(self, "box_percentile", check_float(owner, "box_percentile", self.box_percentile, 0.0))
        if self.box_percentile >= 50.0:
            raise ValueError(f"{owner}.box_percentile must be < 50, got {self.box_percentile}")
        object.__setattr__(self, "grow_agreement", check_float(owner, "grow_agreement", self.grow_agreement, 0.0, maximum=1.0))


@dataclass(frozen=True, eq=False)
class DetectedObject:
    """One moving object of the latest frame. Positions in F and units, velocities in units per second.

    Attributes:
        label: its label in ``ObjectDetections.segmentation.labels``.
        centroid: ``[3]`` float64 mean of the object's visible points at t_end.
        velocity: ``[3]`` float64 the centroid's mean velocity over [t_src, t_end]: the fitted rigid
            motion applied to the t_src centroid, minus that centroid, over the span.
        motion: the rigid motion from t_src to t_end (its ``rms_residual`` is the fit's quality).
        box_min, box_max: ``[3]`` float64 corners of the axis-aligned box of the points at t_end (axes of F).
        point_count: visible pixels of the object (each with a t_end point).
        confidence: mean per-pixel confidence of those pixels.
        centroid_covariance: ``[3, 3]`` the covariance of the object's points about their centroid (their
            spatial spread, units²). It says where the object's surface lies around the centroid; it is
            not the centroid's standard error (that would divide by the point count and claim far too
            much, because the model's per-pixel errors are correlated). None with fewer than 4 points.
        velocity_covariance: ``[3, 3]`` isotropic, ``rms_residual² / (3 span²)`` per axis ((units/s)²):
            how far the points' own displacements scatter about the rigid motion, per second. It grows
            with noise and non-rigid motion; an error the model makes consistently over the whole
            object (a wrong but rigid motion) does not show in it. None when the span is not positive.
    """

    label: int
    centroid: np.ndarray
    velocity: np.ndarray
    motion: RigidMotion
    box_min: np.ndarray
    box_max: np.ndarray
    point_count: int
    confidence: float
    centroid_covariance: np.ndarray | None
    velocity_covariance: np.ndarray | None

    @property
    def box_center(self) -> np.ndarray:
        """``[3]`` centre of the axis-aligned box."""
        return 0.5 * (self.box_min + self.box_max)

    @property
    def box_size(self) -> np.ndarray:
        """``[3]`` edge lengths of the axis-aligned box along the axes of F."""
        return self.box_max - self.box_min

    @property
    def speed(self) -> float:
        """``|velocity|`` in units per second."""
        return float(np.linalg.norm(self.velocity))


@dataclass(frozen=True, eq=False)
class ObjectDetections:
    """The moving objects of one window.

    Attributes:
        stamp_ns: t_end (the latest frame); source_stamp_ns: t_src.
        units: "model" or "m".
        segmentation: the label image the objects come from.
        objects: one per segment with a rigid fit, in label order.
        unfitted: segments without a fit (too few pixels with a point at t_src).
    """

    stamp_ns: int
    source_stamp_ns: int
    units: str
    segmentation: Segmentation
    objects: tuple[DetectedObject, ...]
    unfitted: int

    @property
    def span_s(self) -> float:
        return (self.stamp_ns - self.source_stamp_ns) * 1e-9

    def masks(self) -> np.ndarray:
        """``[K, H, W]`` bool pixels of each object, in ``objects`` order."""
        labels = self.segmentation.labels
        return np.stack([labels == o.label for o in self.objects]) if self.objects else np.zeros((0, *labels.shape), bool)


def describe_object(label: int, mask: np.ndarray, observation: ObjectObservation, config: ObjectDetectionConfig,
                    window: tuple[slice, slice] | None = None, motion: RigidMotion | None = None) -> DetectedObject | None:  # fmt: skip
    """The :class:`DetectedObject` of the pixels ``mask``, or None when its motion cannot be fitted.

    Args:
        mask: ``[H, W]`` bool pixels of the object, or only the part of them inside ``window``.
        window: the image rows and columns ``mask`` covers (the whole image by default).
        motion: the object's rigid motion, if already fitted (on a part of ``mask``); else fitted here.
    """
    window = window or (slice(None), slice(None))
    target = np.asarray(observation.points[window][mask], dtype=np.float64)
    end = target[np.isfinite(target).all(-1)]
    if len(end) == 0:
        return None
    source = np.asarray(observation.source_points[window][mask], dtype=np.float64)
    motion = motion or fit_rigid_motion(source, target, config.fit)
    if motion is None:
        return None
    span = observation.span_s
    pairs = np.isfinite(source).all(-1) & np.isfinite(target).all(-1)
    c_src = source[pairs].mean(0)
    velocity = (motion.apply(c_src) - c_src) / span
    p = config.box_percentile
    lo, hi = (end.min(0), end.max(0)) if p == 0 else (np.percentile(end, p, axis=0), np.percentile(end, 100 - p, axis=0))
    centroid_cov = np.cov(end.T, bias=True) if len(end) >= 4 else None
    velocity_cov = np.eye(3) * (motion.rms_residual**2 / (3.0 * span**2)) if span > 0 else None
    return DetectedObject(
        label=int(label),
        centroid=end.mean(0),
        velocity=velocity,
        motion=motion,
        box_min=lo,
        box_max=hi,
        point_count=int(len(end)),
        confidence=float(np.mean(observation.confidence[window][mask])),
        centroid_covariance=centroid_cov,
        velocity_covariance=velocity_cov,
    )


def _inside_hull(mask: np.ndarray) -> np.ndarray:
    """``[h, w]`` bool: the pixels inside the convex hull of the pixel centres of ``mask`` (its outline included).

    Exact in integer arithmetic: a pixel is inside when it is on the inner side of (or on) every hull edge.
    Only the hull's bounding box is tested, edge by edge, so the cost is box pixels x hull vertices.
    """
    v, u = np.nonzero(mask)
    if len(u) < 3:
        return mask.copy()
    hull = cv2.convexHull(np.stack([u, v], axis=-1).astype(np.int32), clockwise=False)[:, 0].astype(np.int64)
    if len(hull) < 3:
        return mask.copy()  # a line of pixels: no area to fill
    u0, v0 = hull.min(0)
    u1, v1 = hull.max(0)
    gv, gu = np.mgrid[v0 : v1 + 1, u0 : u1 + 1]
    inside = np.ones(gu.shape, dtype=bool)
    # Orientation-free: the hull's own signed area says which side of its edges is inside.
    (ax, ay), (bx, by) = hull[1] - hull[0], hull[2] - hull[0]
    sign = 1 if ax * by - ay * bx >= 0 else -1
    for a, b in zip(hull, np.roll(hull, -1, axis=0)):
        inside &= sign * ((b[0] - a[0]) * (gv - a[1]) - (b[1] - a[1]) * (gu - a[0])) >= 0
    out = mask.copy()
    out[v0 : v1 + 1, u0 : u1 + 1] |= inside
    return out


def grow_object(label: int, labels: np.ndarray, observation: ObjectObservation, motion: RigidMotion,
                config: ObjectDetectionConfig, window: tuple[slice, slice]) -> np.ndarray:  # fmt: skip
    """The object ``label`` with the unlabelled pixels its rigid motion explains (see the module docstring).

    A candidate must lie inside the convex hull of the object's pixels in the image: near a motion's axis
    a still point is explained as well as a slow one, and the hull keeps the floor under a rolling ball,
    or a wall around a spinning plate, from joining.

    Returns:
        ``[h, w]`` bool the grown object's pixels inside ``window``.
    """
    obj = labels[window] == label
    end = np.asarray(observation.points[window], dtype=np.float64)
    src = np.asarray(observation.source_points[window], dtype=np.float64)
    finite = np.isfinite(end).all(-1) & np.isfinite(src).all(-1)
    moved = np.linalg.norm(end[obj & finite] - src[obj & finite], axis=-1)
    tolerance = config.grow_agreement * float(np.median(moved)) if moved.size else 0.0
    if not tolerance > motion.rms_residual:
        return obj
    pool = (labels[window] == 0) & observation.usable[window] & finite & _inside_hull(obj)
    error = np.full(obj.shape, np.inf)
    error[pool] = np.linalg.norm(motion.apply(src[pool]) - end[pool], axis=-1)
    candidates = pool & (error <= tolerance)
    if not candidates.any():
        return obj
    seg = config.segmentation
    component, _ = spatial_components(obj & finite | candidates, end, observation.camera_position, seg.split_distance, seg.connectivity)
    touching = np.unique(component[obj & finite])
    return obj | (candidates & np.isin(component, touching[touching >= 0]))


def detect_moving_objects(observation: ObjectObservation, config: ObjectDetectionConfig = ObjectDetectionConfig()) -> ObjectDetections:
    """Segment the observation's moving pixels into objects, grow each by its rigid motion, and describe it."""
    seg = segment_moving_pixels(
        observation.dynamic, observation.points, observation.usable, observation.camera_position, config.segmentation
    )
    objects = []
    labels = seg.labels.copy()
    for label, window in enumerate(ndimage.find_objects(seg.labels), start=1):
        if window is None:
            continue
        obj = describe_object(label, seg.labels[window] == label, observation, config, window)
        if obj is None:
            continue
        if config.grow_agreement > 0:
            mask = grow_object(label, labels, observation, obj.motion, config, window)
            if mask.sum() > (labels[window] == label).sum():
                grown = describe_object(label, mask, observation, config, window, motion=obj.motion)
                if grown is not None:
                    labels[window][mask] = label
                    obj = grown
        objects.append(obj)
    if config.grow_agreement > 0:
        seg = Segmentation(labels, seg.num_objects, seg.num_regions, seg.dropped_pixels)
    return ObjectDetections(
        stamp_ns=int(observation.stamp_ns),
        source_stamp_ns=int(observation.source_stamp_ns),
        units=observation.units,
        segmentation=seg,
        objects=tuple(objects),
        unfitted=seg.num_objects - len(objects),
    )
