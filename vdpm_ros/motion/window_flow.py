"""Flows from a window's latest frame to each of its other frames (chained, checked, refined).

Frame k of the window is matched to frame k-1 by DIS in both directions (the "links"); the flow from
the latest frame L to an older frame j is the composition of the links L -> L-1 -> ... -> j, each step
refined by one direct DIS pass (see :func:`~vdpm_ros.motion.optical_flow.refine`) before the next link
is chained on. A pixel's chained match is trusted only where every link on its way passed the
forward-backward check.

With a window that slides by one frame, every link but the newest one was already computed for the
previous window: :class:`LinkCache` keeps them, keyed by the caller's frame keys (e.g. stamps).
:func:`prefetch_links` fills it ahead, on another thread, for a window that waits for the model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from .optical_flow import DisSettings, FlowField, compose, consistent, dis_flow, refine, working_image


class LinkCache:
    """Consecutive-frame flows of recent windows, keyed by ``(source key, target key, grid)`` (least recent dropped).

    Thread-safe: the node computes a window's links on one thread while its worker reads them on another
    (see :func:`prefetch_links`); a flow being computed is computed once and waited for by the other.
    """

    def __init__(self, capacity: int = 32) -> None:
        if capacity < 2:
            raise ValueError(f"LinkCache capacity must be at least 2, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[tuple[Hashable, Hashable, tuple], np.ndarray] = OrderedDict()
        self._pending: dict[tuple[Hashable, Hashable, tuple], threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Hashable, Hashable, tuple]) -> np.ndarray | None:
        with self._lock:
            flow = self._items.get(key)
            if flow is not None:
                self._items.move_to_end(key)
            return flow

    def put(self, key: tuple[Hashable, Hashable, tuple], flow: np.ndarray) -> None:
        with self._lock:
            self._items[key] = flow
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get_or_compute(self, key: tuple[Hashable, Hashable, tuple], compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
        """The cached flow for ``key``, or ``compute()``'s, stored; True when this call computed it.

        If another thread is computing the same key, this waits for its result instead of repeating it.
        """
        with self._lock:
            flow = self._items.get(key)
            if flow is not None:
                self._items.move_to_end(key)
                return flow, False
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = threading.Event()
        if not owner:
            pending.wait()
            # Cached now, unless the other thread failed (or the flow was already evicted): then compute it here.
            return self.get_or_compute(key, compute)
        try:
            flow = compute()
            self.put(key, flow)
            return flow, True
        finally:
            with self._lock:
                del self._pending[key]
            pending.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _link_key(key_a: Hashable, key_b: Hashable, work_hw: tuple[int, int], dis: DisSettings) -> tuple[Hashable, Hashable, tuple]:
    # The grid and settings are part of the key: a cache shared across settings must not mix them.
    return (key_a, key_b, (tuple(work_hw), dis))


def _flow(
    images: Sequence[np.ndarray], a: int, b: int, dis: DisSettings, keys: Sequence[Hashable] | None, cache: LinkCache | None
) -> np.ndarray:
    if cache is None or keys is None:
        return dis_flow(images[a], images[b], dis)
    key = _link_key(keys[a], keys[b], images[a].shape[:2], dis)
    return cache.get_or_compute(key, lambda: dis_flow(images[a], images[b], dis))[0]


def prefetch_links(
    images_raw: Sequence[np.ndarray], keys: Sequence[Hashable], work_hw: tuple[int, int], dis: DisSettings, cache: LinkCache
) -> int:
    """Compute into ``cache`` every link of a window it does not hold yet (both directions), newest first.

    The same flows, under the same keys, as :func:`latest_to_targets` computes on ``working_image(image,
    work_hw)``: a window whose links were prefetched finds them all cached. Camera images are converted
    to the working grid only for the links that are missing.

    Args:
        images_raw: the window's S camera images ``[H, W, 3]`` (or grey ``[H, W]``) uint8, oldest first.
        keys: one hashable per frame, as given to :func:`latest_to_targets`.
        work_hw: the working grid (``working_size`` of the camera image).
        dis: DIS settings.
        cache: where the links go.

    Returns:
        How many flows this call computed (0 when all were cached or being computed elsewhere).
    """
    if len(keys) != len(images_raw):
        raise ValueError(f"need one key per image: {len(keys)} keys for {len(images_raw)} images")
    grey: dict[int, np.ndarray] = {}

    def image(i: int) -> np.ndarray:
        if i not in grey:
            grey[i] = working_image(np.asarray(images_raw[i]), work_hw)
        return grey[i]

    computed = 0
    for k in range(len(images_raw) - 1, 0, -1):
        for a, b in ((k, k - 1), (k - 1, k)):
            key = _link_key(keys[a], keys[b], work_hw, dis)
            computed += cache.get_or_compute(key, lambda a=a, b=b: dis_flow(image(a), image(b), dis))[1]
    return computed


def latest_to_targets(
    images: Sequence[np.ndarray],
    targets: Sequence[int],
    dis: DisSettings = DisSettings(),
    fb_absolute_px: float = 1.0,
    fb_relative: float = 0.05,
    refine_chained: bool = True,
    keys: Sequence[Hashable] | None = None,
    cache: LinkCache | None = None,
) -> dict[int, FlowField]:
    """Flow from the latest image to each target image, on the working grid.

    Args:
        images: S grey working images ``[h, w]`` uint8, oldest first; the latest is ``images[-1]``.
        targets: window indices j < S-1 to match the latest frame to.
        dis: DIS settings.
        fb_absolute_px, fb_relative: forward-backward tolerance of each link (see
            :func:`~vdpm_ros.motion.optical_flow.consistent`), working pixels.
        refine_chained: refine chained flows (gap >= 2) with one direct DIS pass.
        keys: one hashable per frame (e.g. stamps) so that ``cache`` can reuse links across windows.
        cache: where links are kept; None computes every link.

    Returns:
        {j: FlowField from frame S-1 to frame j}.
    """
    S = len(images)
    last = S - 1
    bad = [j for j in targets if not 0 <= j < last]
    if bad:
        raise ValueError(f"flow targets must lie in [0, {last}), got {bad}")
    if keys is not None and len(keys) != S:
        raise ValueError(f"need one key per image: {len(keys)} keys for {S} images")
    if not targets:
        return {}
    oldest = min(targets)
    links: dict[int, FlowField] = {}
    for k in range(last, oldest, -1):  # link k -> k-1
        forward = _flow(images, k, k - 1, dis, keys, cache)
        backward = _flow(images, k - 1, k, dis, keys, cache)
        valid, error = consistent(forward, backward, fb_absolute_px, fb_relative)
        links[k] = FlowField(forward, valid, np.where(valid | np.isfinite(error), error, np.inf).astype(np.float32))
    out: dict[int, FlowField] = {}
    field = links[last]
    for j in range(last - 1, oldest - 1, -1):
        if j < last - 1:
            field = compose(field, links[j + 1])
            if refine_chained:
                # Chaining on from the refined flow keeps the drift from growing with the gap.
                field = refine(images[last], images[j], field, dis)
        if j in targets:
            out[j] = field
    return out
