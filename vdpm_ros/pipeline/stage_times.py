"""Median time per stage over the last windows: where a running node spends its time, for /diagnostics.

The benchmark (``vdpm bench --pipeline``) reports the same stages for a window it times alone; the node's
medians show what the stages cost while the node also takes in frames and publishes, on the same machine.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from .results import StageTimings


class RecentStageTimes:
    """The last ``capacity`` windows' stage times (the pipeline's stages plus ``publish``); thread-safe.

    The worker thread records, the executor's thread reads: a read sees whole windows only.
    """

    def __init__(self, capacity: int = 50) -> None:
        if capacity < 1:
            raise ValueError(f"RecentStageTimes capacity must be at least 1, got {capacity}")
        self._rows: deque[dict[str, float]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def record(self, timings: StageTimings, publish_s: float) -> None:
        """One window: its pipeline stages and the seconds spent building and publishing its messages."""
        row = {**timings.stages_s(), "publish": publish_s}
        row["window"] = timings.window_s + publish_s
        with self._lock:
            self._rows.append(row)

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def medians_ms(self) -> dict[str, float]:
        """Median milliseconds per stage over the windows kept; ``window`` is the median whole window. Empty before any."""
        with self._lock:
            rows = list(self._rows)
        if not rows:
            return {}
        return {k: float(np.median([r[k] for r in rows]) * 1e3) for k in rows[0]}
