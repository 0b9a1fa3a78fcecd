"""Aligning successive windows into one continuous odometry frame.

Every V-DPM window predicts in its own frame (its first camera) and its own normalised scale. Windows
overlap, and a frame shared by two windows has an own-time point map P_i(t_i) in both. Because the
same image gives the same network grid, the two maps correspond pixel for pixel, so the Sim(3) from the
new window's frame to the odometry frame is a closed-form Umeyama fit on those pixel pairs. Only
confident pixels that neither window flags as moving take part: a moving object's pixels agree at the
shared time too, but they are where the model errs most, and a robust fit should rest on the static
scene.

The odometry frame is the first window's frame (its first camera at the origin, OpenCV optical axes),
in the first window's units; with ``scale_mode="depth"`` every window is metric already and the fit is
SE(3) by default.

Fallbacks, in order, when the point fit is impossible (``StitchResult.method`` says which was used):

- "points": the Umeyama fit on shared anchor pixels (the normal case);
- "pose": no usable anchor (too few points, or the shared frame's anchor is gone) but a frame of this
  window already has a pose in the trajectory: the window is placed so that this camera keeps its
  pose, with the previous window's scale;
- "chained": no shared frame at all (``stride >= window_size``, dropped windows, a buffer reset): the
  window's first camera is placed at the last known camera pose, with the previous scale. This assumes
  no motion across the gap, so the trajectory is continuous but may be wrong by the motion in the gap;
- "first": the first window, or the first after time went backwards (the trajectory restarts).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..geometry.alignment import Sim3, umeyama
from .config import PipelineConfig
from .results import AnchorMap, WindowResult
from .trajectory import Trajectory

IDENTITY = Sim3(scale=1.0, rotation=np.eye(3), translation=np.zeros(3))


def compose(a: Sim3, b: Sim3) -> Sim3:
    """``a ∘ b``: apply ``b`` first, then ``a``."""
    return Sim3(
        scale=a.scale * b.scale,
        rotation=a.rotation @ b.rotation,
        translation=a.scale * a.rotation @ b.translation + a.translation,
    )


def transform_poses(sim: Sim3, poses: np.ndarray) -> np.ndarray:
    """World-from-camera poses ``[..., 4, 4]`` in frame A -> the same cameras in frame B, for ``sim``: A -> B.

    The rotation block stays orthonormal: the scale moves camera positions only.
    """
    poses = np.asarray(poses, dtype=np.float64)
    out = poses.copy()
    out[..., :3, :3] = sim.rotation @ poses[..., :3, :3]
    out[..., :3, 3] = sim.scale * poses[..., :3, 3] @ sim.rotation.T + sim.translation
    return out


def sim3_from_shared_pose(odom_from_camera: np.ndarray, window_from_camera: np.ndarray, scale: float) -> Sim3:
    """The Sim(3) window -> odometry that maps a camera's window pose onto its known odometry pose, at ``scale``."""
    rotation = odom_from_camera[:3, :3] @ window_from_camera[:3, :3].T
    translation = odom_from_camera[:3, 3] - scale * rotation @ window_from_camera[:3, 3]
    return Sim3(scale=float(scale), rotation=rotation, translation=translation)


@dataclass(frozen=True)
class AnchorFit:
    """Outcome of :func:`fit_anchor_pair`.

    Attributes:
        sim3: window -> odometry, or None when fewer than ``min_points`` pixels qualified.
        num_points: pixel pairs used in the final fit.
        rmse: root-mean-square residual of those pairs, odometry units (NaN without a fit).
    """

    sim3: Sim3 | None
    num_points: int
    rmse: float


def fit_anchor_pair(
    source: AnchorMap,
    target_points: np.ndarray,
    target_usable: np.ndarray,
    with_scale: bool = True,
    min_points: int = 100,
    max_points: int = 20000,
    trim: float = 3.0,
) -> AnchorFit:
    """Fit the Sim(3) that maps ``source`` (new window frame) onto ``target_points`` (odometry frame).

    Args:
        source: the new window's own-time map of the shared frame.
        target_points: ``[h, w, 3]`` the previous window's map of the same frame, already in the odometry frame.
        target_usable: ``[h, w]`` bool, confident and static in the previous window.
        with_scale: Sim(3) (True) or SE(3) (False).
        min_points: fewest pixel pairs for a fit.
        max_points: pairs used (evenly subsampled above this).
        trim: after a first fit, pairs with a residual above ``trim`` times the median are dropped and the
            fit is repeated once (robust to the model's worst pixels without a random RANSAC).
    """
    if source.points.shape != target_points.shape:
        return AnchorFit(None, 0, float("nan"))  # different network grids: the pixels do not correspond
    mask = source.confident & source.static & target_usable & np.isfinite(source.points).all(-1) & np.isfinite(target_points).all(-1)
    idx = np.flatnonzero(mask)
    if idx.size < min_points:
        return AnchorFit(None, int(idx.size), float("nan"))
    if idx.size > max_points:
        idx = idx[np.linspace(0, idx.size - 1, max_points).astype(np.int64)]
    src = source.points.reshape(-1, 3)[idx].astype(np.float64)
    tgt = target_points.reshape(-1, 3)[idx].astype(np.float64)
    sim = umeyama(src, tgt, with_scale=with_scale)
    residual = np.linalg.norm(sim.apply(src) - tgt, axis=-1)
    keep = residual <= trim * np.median(residual) + 1e-12
    if keep.sum() >= min_points and not keep.all():
        src, tgt = src[keep], tgt[keep]
        sim = umeyama(src, tgt, with_scale=with_scale)
        residual = np.linalg.norm(sim.apply(src) - tgt, axis=-1)
    if not (np.isfinite(sim.scale) and sim.scale > 0 and np.isfinite(sim.translation).all()):
        return AnchorFit(None, int(len(src)), float("nan"))
    return AnchorFit(sim, int(len(src)), float(np.sqrt(np.mean(residual**2))))


@dataclass(frozen=True)
class StitchResult:
    """Where one window sits in the odometry frame.

    Attributes:
        odom_from_window: Sim(3) from the window frame to the odometry frame.
        method: "first", "points", "pose" or "chained" (see the module docstring).
        shared_stamp_ns: the stamp the alignment rests on (None for "first" and "chained").
        num_points: pixel pairs of the point fit (0 otherwise).
        rmse: residual of the point fit in odometry units (NaN otherwise).
        odom_from_camera: ``[S, 4, 4]`` float64 world-from-camera pose of every frame of the window in the
            odometry frame (orthonormal rotation, position in odometry units).
    """

    odom_from_window: Sim3
    method: str
    shared_stamp_ns: int | None
    num_points: int
    rmse: float
    odom_from_camera: np.ndarray

    @property
    def latest_pose(self) -> np.ndarray:
        """``[4, 4]`` pose of the window's latest camera in the odometry frame."""
        return self.odom_from_camera[-1]

    def points_to_odom(self, points: np.ndarray) -> np.ndarray:
        """Window-frame points ``[..., 3]`` -> odometry frame."""
        return self.odom_from_window.apply(points)

    def vectors_to_odom(self, vectors: np.ndarray) -> np.ndarray:
        """Window-frame free vectors ``[..., 3]`` (e.g. scene flow) -> odometry frame: rotated and scaled, not moved."""
        return self.odom_from_window.scale * vectors @ self.odom_from_window.rotation.T


class WindowStitcher:
    """Keeps the odometry frame: aligns each processed window and extends the :class:`Trajectory`.

    Use from one thread (the inference worker), in window order::

        stamp = stitcher.anchor_request(window_stamps)           # before processing
        result = processor.process(window, [stamp] if stamp else [])
        stitch = stitcher.add(result)

    The trajectory gets every frame of the first window, then each later window's frames newer than
    the last recorded one (so frames of dropped windows are recorded from the next window).
    """

    def __init__(
        self,
        with_scale: bool = True,
        min_points: int = 100,
        max_points: int = 20000,
        max_anchors: int = 8,
        trajectory_max_length: int = 10000,
    ) -> None:
        if min_points < 3 or max_points < min_points or max_anchors < 1:
            raise ValueError(
                f"WindowStitcher needs 3 <= min_points <= max_points and max_anchors >= 1, got {min_points}, {max_points}, {max_anchors}"
            )
        self.with_scale = with_scale
        self.min_points = min_points
        self.max_points = max_points
        self.max_anchors = max_anchors
        self.trajectory = Trajectory(trajectory_max_length)
        # stamp -> (points in the odometry frame, usable = confident & static)
        self._anchors: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._last: Sim3 | None = None

    @classmethod
    def from_config(cls, config: PipelineConfig) -> WindowStitcher:
        return cls(
            with_scale=config.stitch_fits_scale,
            min_points=config.stitch_min_points,
            max_points=config.stitch_max_points,
            max_anchors=max(8, config.window_size),
            trajectory_max_length=config.trajectory_max_length,
        )

    def reset(self) -> None:
        self.trajectory.clear()
        self._anchors.clear()
        self._last = None

    @property
    def last_alignment(self) -> Sim3 | None:
        """The last window's window -> odometry Sim(3)."""
        return self._last

    def anchor_request(self, stamps_ns: tuple[int, ...] | list[int]) -> int | None:
        """The newest stamp of this window (not its latest frame) that has a stored anchor, or None."""
        shared = [s for s in stamps_ns[:-1] if s in self._anchors]
        return max(shared) if shared else None

    def add(self, result: WindowResult) -> StitchResult:
        """Place ``result``'s window in the odometry frame, store its latest anchor, extend the trajectory."""
        latest_traj = self.trajectory.latest_stamp_ns
        if latest_traj is not None and result.latest_stamp_ns <= latest_traj:
            self.reset()  # time went backwards (e.g. a restarted bag): start a new odometry frame
        window_poses = result.world_from_camera
        stamps = result.stamps_ns
        sim, method, shared, n, rmse = IDENTITY, "first", None, 0, float("nan")
        if self._last is not None:
            sim, method, shared, n, rmse = self._place(result, window_poses)
        self._last = sim
        odom_poses = transform_poses(sim, window_poses)

        latest = result.anchors[0] if result.anchors and result.anchors[0].stamp_ns == result.latest_stamp_ns else None
        if latest is not None:
            self._anchors[latest.stamp_ns] = (
                sim.apply(latest.points.astype(np.float64)).astype(np.float32),
                latest.confident & latest.static,
            )
            while len(self._anchors) > self.max_anchors:
                self._anchors.popitem(last=False)

        for i, stamp in enumerate(stamps):
            last_stamp = self.trajectory.latest_stamp_ns
            if last_stamp is None or stamp > last_stamp:
                self.trajectory.add(stamp, odom_poses[i])
        return StitchResult(sim, method, shared, n, rmse, odom_poses)

    def _place(self, result: WindowResult, window_poses: np.ndarray) -> tuple[Sim3, str, int | None, int, float]:
        assert self._last is not None
        for anchor in sorted(result.anchors, key=lambda a: -a.stamp_ns):
            stored = self._anchors.get(anchor.stamp_ns)
            if stored is None:
                continue
            fit = fit_anchor_pair(anchor, stored[0], stored[1], self.with_scale, self.min_points, self.max_points)
            if fit.sim3 is not None:
                return fit.sim3, "points", anchor.stamp_ns, fit.num_points, fit.rmse
        scale = self._last.scale if self.with_scale else 1.0
        for i in reversed(range(len(result.stamps_ns))):
            known = self.trajectory.pose_at(result.stamps_ns[i])
            if known is not None:
                return sim3_from_shared_pose(known, window_poses[i], scale), "pose", result.stamps_ns[i], 0, float("nan")
        last_pose = self.trajectory.latest_pose
        if last_pose is None:
            return IDENTITY, "first", None, 0, float("nan")
        # The window's first camera is placed where the last known camera was (no motion across the gap).
        return sim3_from_shared_pose(last_pose, window_poses[0], scale), "chained", None, 0, float("nan")
