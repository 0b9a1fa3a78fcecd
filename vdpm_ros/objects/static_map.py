"""A bounded voxel map of the static scene, accumulated in the odometry frame across stitched windows.

Each window's static (not moving), confident points go into voxels of ``voxel_size``; a voxel keeps one
point (the running mean of what fell into it, or the latest point) and a colour. Voxels that contain a
moving point of the current window are removed first (an object that stood still and then moves
leaves no copy of itself where it is now). Beyond ``max_voxels`` the voxels seen longest ago go first
("oldest"), or those farthest from the latest camera ("farthest").

Not done: clearing free space along viewing rays, so a static map keeps a copy of an object where it
stood before it moved away; a consumer that needs that (an occupancy map) should take
``vdpm/static_points`` and ray-trace itself (MoveIt's octomap updater, Nav2's voxel layer do).

The map lives in one odometry frame: call :meth:`StaticMap.reset` when that frame restarts (the
stitcher's "first" method after the first window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_choice, check_float, check_int

EVICTIONS = ("oldest", "farthest")
POSITIONS = ("mean", "latest")
_BITS = 21
_OFFSET = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1


@dataclass(frozen=True)
class StaticMapConfig:
    """Attributes:
    voxel_size: voxel edge length, in the points' units (m, or model units without metric scale).
    max_voxels: the map never holds more voxels than this.
    eviction: "oldest" (least recently seen first; ties: farthest from the camera) or "farthest".
    position: a voxel's point: "mean" of every point that fell into it, or the "latest" one.
    clear_dynamic: remove the voxels that hold a moving point of the current window.
    publish_period_s: :meth:`StaticMap.publish_due` is True at most once per this many seconds of
        message time (the map is large and changes slowly: publish it at a low rate).
    """

    voxel_size: float = 0.05
    max_voxels: int = 200_000
    eviction: str = "oldest"
    position: str = "mean"
    clear_dynamic: bool = True
    publish_period_s: float = 1.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "voxel_size", check_float(owner, "voxel_size", self.voxel_size, 0.0, strict=True))
        check_int(owner, "max_voxels", self.max_voxels, 1)
        check_choice(owner, "eviction", self.eviction, EVICTIONS)
        check_choice(owner, "position", self.position, POSITIONS)
        if not isinstance(self.clear_dynamic, bool):
            raise ValueError(f"{owner}.clear_dynamic must be a bool, got {self.clear_dynamic!r}")
        object.__setattr__(self, "publish_period_s", check_float(owner, "publish_period_s", self.publish_period_s, 0.0))


@dataclass(frozen=True, eq=False)
class StaticMapCloud:
    """The map as arrays for a PointCloud2 (one point per voxel), odometry frame, in the points' units.

    Attributes:
        xyz: ``[M, 3]`` float32 voxel points.
        rgb: ``[M, 3]`` uint8 mean colour of each voxel.
        observations: ``[M]`` uint32 points merged into each voxel.
        last_seen_ns: ``[M]`` int64 stamp of the window that last added a point to it.
    """

    xyz: np.ndarray
    rgb: np.ndarray
    observations: np.ndarray
    last_seen_ns: np.ndarray

    @property
    def rgb_packed(self) -> np.ndarray:
        """``[M]`` uint32 0x00RRGGBB (the PCL/RViz "rgb" field, viewed as float32 in the message)."""
        c = self.rgb.astype(np.uint32)
        return (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]


class StaticMap:
    """Voxel map of static points; use from one thread (the node's worker)."""

    def __init__(self, config: StaticMapConfig = StaticMapConfig()) -> None:
        if not isinstance(config, StaticMapConfig):
            raise ValueError(f"config must be a StaticMapConfig, got {type(config).__name__}")
        self.config = config
        self._last_publish_ns: int | None = None
        self.reset()

    def reset(self) -> None:
        """Empty the map (the odometry frame restarted)."""
        self._keys = np.zeros(0, dtype=np.int64)  # sorted packed voxel indices
        self._sum = np.zeros((0, 3))
        self._latest = np.zeros((0, 3))
        self._rgb_sum = np.zeros((0, 3))
        self._count = np.zeros(0, dtype=np.int64)
        self._seen = np.zeros(0, dtype=np.int64)
        self._last_publish_ns = None

    def __len__(self) -> int:
        return int(self._keys.size)

    def voxel_keys(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Packed voxel index of each point ``[N, 3]`` and a mask of the points that have one (finite, in range)."""
        idx = np.floor(np.asarray(points, dtype=np.float64) / self.config.voxel_size)
        ok = np.isfinite(idx).all(-1) & (np.abs(idx) < _OFFSET - 1).all(-1)
        i = idx[ok].astype(np.int64) + _OFFSET
        return (i[:, 0] << (2 * _BITS)) | (i[:, 1] << _BITS) | i[:, 2], ok

    def _remove(self, drop: np.ndarray) -> None:
        keep = ~drop
        self._keys, self._sum, self._latest = self._keys[keep], self._sum[keep], self._latest[keep]
        self._rgb_sum, self._count, self._seen = self._rgb_sum[keep], self._count[keep], self._seen[keep]

    def clear_at(self, points: np.ndarray) -> int:
        """Remove the voxels that contain any of ``points [N, 3]``; returns how many were removed."""
        keys, _ = self.voxel_keys(np.asarray(points).reshape(-1, 3))
        drop = np.isin(self._keys, keys)
        self._remove(drop)
        return int(drop.sum())

    def insert(
        self,
        points: np.ndarray,
        stamp_ns: int,
        rgb: np.ndarray | None = None,
        dynamic_points: np.ndarray | None = None,
        viewpoint: np.ndarray | None = None,
    ) -> int:
        """Add one window's static points; returns the number of voxels they touched.

        Args:
            points: ``[N, 3]`` static, confident points in the odometry frame (NaN rows are skipped).
            stamp_ns: the window's stamp (the latest frame's).
            rgb: ``[N, 3]`` uint8 colours (grey without).
            dynamic_points: ``[K, 3]`` the window's moving points; their voxels are cleared first when
                ``clear_dynamic`` is set.
            viewpoint: ``[3]`` the latest camera's position in the odometry frame, for eviction by distance
                (without it, the mean of ``points``).
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        colours = np.full(points.shape, 128.0) if rgb is None else np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
        if colours.shape != points.shape:
            raise ValueError(f"rgb must be [N, 3] like points {points.shape}, got {colours.shape}")
        if self.config.clear_dynamic and dynamic_points is not None and len(self._keys):
            self.clear_at(dynamic_points)
        keys, ok = self.voxel_keys(points)
        points, colours = points[ok], colours[ok]
        if keys.size == 0:
            return 0
        # Group the points by voxel with one stable sort: each group's sums by reduceat, its latest point last.
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], sorted_keys.size]
        uk = sorted_keys[starts]
        n = uk.size
        sums = np.add.reduceat(points[order], starts, axis=0)
        rgb_sums = np.add.reduceat(colours[order], starts, axis=0)
        counts = ends - starts
        latest = points[order[ends - 1]]

        pos = np.searchsorted(self._keys, uk)
        found = pos < self._keys.size
        found[found] = self._keys[pos[found]] == uk[found]
        rows = pos[found]
        self._sum[rows] += sums[found]
        self._rgb_sum[rows] += rgb_sums[found]
        self._count[rows] += counts[found]
        self._latest[rows] = latest[found]
        self._seen[rows] = stamp_ns
        new = ~found
        if new.any():
            self._merge(uk[new], sums[new], rgb_sums[new], counts[new], latest[new], stamp_ns)
        self._evict(points.mean(0) if viewpoint is None else np.asarray(viewpoint, dtype=np.float64))
        return int(n)

    def _merge(
        self, keys: np.ndarray, sums: np.ndarray, rgb_sums: np.ndarray, counts: np.ndarray, latest: np.ndarray, stamp_ns: int
    ) -> None:
        """Insert new voxels (``keys`` sorted, none in the map) keeping the map sorted, in O(M + N) (no re-sort)."""
        m, n = self._keys.size, keys.size
        at = np.searchsorted(self._keys, keys) + np.arange(n)  # positions of the new rows in the merged arrays
        old = np.ones(m + n, dtype=bool)
        old[at] = False

        def merged(current: np.ndarray, added: np.ndarray) -> np.ndarray:
            out = np.empty((m + n, *current.shape[1:]), dtype=current.dtype)
            out[old], out[at] = current, added
            return out

        self._keys = merged(self._keys, keys)
        self._sum = merged(self._sum, sums)
        self._rgb_sum = merged(self._rgb_sum, rgb_sums)
        self._count = merged(self._count, counts)
        self._latest = merged(self._latest, latest)
        self._seen = merged(self._seen, np.full(n, stamp_ns, dtype=np.int64))

    def _evict(self, viewpoint: np.ndarray) -> None:
        excess = self._keys.size - self.config.max_voxels
        if excess <= 0:
            return
        dist = np.linalg.norm(self._positions() - viewpoint, axis=-1)
        if self.config.eviction == "oldest":
            order = np.lexsort((-dist, self._seen))  # oldest first, then farthest
        else:
            order = np.argsort(-dist, kind="stable")
        drop = np.zeros(self._keys.size, dtype=bool)
        drop[order[:excess]] = True
        self._remove(drop)

    def _positions(self) -> np.ndarray:
        if self.config.position == "latest":
            return self._latest
        return self._sum / self._count[:, None]

    def cloud(self) -> StaticMapCloud:
        """The map's current points (one per voxel, ordered by voxel index)."""
        count = np.maximum(self._count, 1)[:, None]
        return StaticMapCloud(
            xyz=self._positions().astype(np.float32),
            rgb=np.clip(np.round(self._rgb_sum / count), 0, 255).astype(np.uint8),
            observations=self._count.astype(np.uint32),
            last_seen_ns=self._seen.copy(),
        )

    def publish_due(self, stamp_ns: int) -> bool:
        """True (and remembered) when ``publish_period_s`` of message time has passed since the last True.

        A stamp earlier than the last publication (a restarted bag) is due at once.
        """
        last = self._last_publish_ns
        if last is None or stamp_ns < last or (stamp_ns - last) * 1e-9 >= self.config.publish_period_s:
            self._last_publish_ns = int(stamp_ns)
            return True
        return False

    def voxel_indices(self) -> np.ndarray:
        """``[M, 3]`` int64 integer voxel coordinates of the map's voxels (point // voxel_size)."""
        k = self._keys
        return np.stack([(k >> (2 * _BITS)) & _MASK, (k >> _BITS) & _MASK, k & _MASK], axis=1) - _OFFSET
