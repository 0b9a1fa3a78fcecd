"""Camera poses over time in the odometry frame (what ``/vdpm/path`` and TF publish)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


class Trajectory:
    """World-from-camera poses keyed by stamp, strictly increasing, bounded to ``max_length`` (oldest dropped).

    A pose is a ``[4, 4]`` float64 rigid transform: an orthonormal rotation and the camera position in
    the odometry frame's units (scale lives in positions only, never in the rotation block).
    """

    def __init__(self, max_length: int = 10000) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.max_length = max_length
        self._poses: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._poses)

    def __contains__(self, stamp_ns: object) -> bool:
        return stamp_ns in self._poses

    def add(self, stamp_ns: int, pose: np.ndarray) -> None:
        """Append the pose of a newer stamp.

        Raises:
            ValueError: the stamp is not after the latest one, or the pose is not a finite ``[4, 4]``.
        """
        pose = np.array(pose, dtype=np.float64)
        if pose.shape != (4, 4) or not np.isfinite(pose).all():
            raise ValueError(f"a pose must be a finite [4, 4] matrix, got shape {pose.shape}")
        latest = self.latest_stamp_ns
        if latest is not None and stamp_ns <= latest:
            raise ValueError(f"trajectory stamps must increase: {stamp_ns} is not after {latest}")
        self._poses[int(stamp_ns)] = pose
        while len(self._poses) > self.max_length:
            self._poses.popitem(last=False)

    def clear(self) -> None:
        self._poses.clear()

    def pose_at(self, stamp_ns: int) -> np.ndarray | None:
        """The pose recorded for ``stamp_ns`` (a copy), or None."""
        pose = self._poses.get(stamp_ns)
        return None if pose is None else pose.copy()

    @property
    def latest_stamp_ns(self) -> int | None:
        return next(reversed(self._poses)) if self._poses else None

    @property
    def latest_pose(self) -> np.ndarray | None:
        return None if not self._poses else self._poses[next(reversed(self._poses))].copy()

    @property
    def stamps_ns(self) -> np.ndarray:
        """``[N]`` int64 stamps, oldest first."""
        return np.fromiter(self._poses.keys(), dtype=np.int64, count=len(self._poses))

    @property
    def poses(self) -> np.ndarray:
        """``[N, 4, 4]`` float64 world-from-camera poses, oldest first."""
        if not self._poses:
            return np.zeros((0, 4, 4))
        return np.stack(list(self._poses.values()))

    @property
    def positions(self) -> np.ndarray:
        """``[N, 3]`` float64 camera positions."""
        return self.poses[:, :3, 3]
