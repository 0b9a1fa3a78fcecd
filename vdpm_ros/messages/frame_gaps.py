"""How many frames of a stream never arrived, estimated from the gaps between header stamps (pure).

Frames lost in transport (a best-effort QoS, a full subscription queue, a congested network) leave
no trace in the node; their absence shows in the stamps of the frames that do arrive.

The rule, per received stamp t (previous accepted stamp t0, gap g = t - t0):

1. Period. P is estimated from the last ``history`` gaps g_i: start from their 15th percentile, then
   three times set k_i = max(1, round(g_i / P)) and P = median(g_i / k_i). The low quantile lands on
   single-period gaps even when most gaps hold drops (checked with 70 % of frames lost); dividing
   each gap by its multiple and taking the median makes P insensitive to jitter (checked with stamps
   jittered by +-10 % of a period: no false drop). Until ``warmup`` gaps are known no gap is judged.
2. Missed frames. A gap g holds ``round(g / P) - 1`` missed frames (so jitter below half a period
   counts nothing). Each such gap enters the history.
3. Pause. A gap longer than ``pause_periods`` x P and ``pause_min_s`` is a pause (a camera stopped and
   restarted, a bag paused before the node saw its next frame), not lost frames: it counts one pause,
   no missed frames, and stays out of the history.
4. Out of order. A stamp at or before t0 (duplicate or late) counts as out of order; t0 stays. A stamp
   more than ``pause_min_s`` before t0 restarts the stream (a looping bag, a reset clock): t0 = t.

Limits: frames missing at the very start or end of a stream cannot be seen; when a stream's rate
drops (say 30 Hz to 10 Hz), about ``history`` x 0.85 gaps are counted as drops until the period adapts;
with more than about 80 % of frames lost the period itself is overestimated and drops are undercounted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GapStats:
    """Totals of a :class:`MissedFrameEstimator`.

    Attributes:
        received: stamps observed.
        missed: frames estimated lost between received ones.
        pauses: gaps judged to be pauses (not counted as missed).
        out_of_order: stamps at or before the previous one (duplicates, late frames).
        restarts: stamps far before the previous one (the stream started over).
        period_s: the current period estimate in seconds, or None before ``warmup`` gaps.
    """

    received: int
    missed: int
    pauses: int
    out_of_order: int
    restarts: int
    period_s: float | None


class MissedFrameEstimator:
    """Incremental ``frames_missed`` estimate of one stream; see the module docstring for the rule.

    Not thread-safe: feed it from one callback (or hold a lock).
    """

    def __init__(self, history: int = 63, warmup: int = 5, pause_periods: float = 20.0, pause_min_s: float = 2.0) -> None:
        if history < 3:
            raise ValueError(f"history must be >= 3 gaps, got {history}")
        if not 1 <= warmup <= history:
            raise ValueError(f"warmup must be in [1, history={history}], got {warmup}")
        if not pause_periods > 1:
            raise ValueError(f"pause_periods must be > 1, got {pause_periods}")
        if not pause_min_s > 0:
            raise ValueError(f"pause_min_s must be > 0, got {pause_min_s}")
        self._gaps: deque[int] = deque(maxlen=history)
        self._warmup = warmup
        self._pause_periods = float(pause_periods)
        self._pause_min_ns = int(pause_min_s * 1e9)
        self._last: int | None = None
        self._period_ns: float | None = None
        self._received = self._missed = self._pauses = self._out_of_order = self._restarts = 0

    def _update_period(self) -> None:
        if len(self._gaps) < self._warmup:
            self._period_ns = None
            return
        gaps = np.asarray(self._gaps, dtype=np.float64)
        period = float(np.percentile(gaps, 15))
        for _ in range(3):
            multiples = np.maximum(1.0, np.round(gaps / period))
            period = float(np.median(gaps / multiples))
        self._period_ns = period

    def observe(self, stamp_ns: int) -> int:
        """Take the next received stamp (ns); return the frames estimated missed just before it."""
        stamp_ns = int(stamp_ns)
        self._received += 1
        if self._last is None:
            self._last = stamp_ns
            return 0
        gap = stamp_ns - self._last
        if gap <= 0:
            if -gap > self._pause_min_ns:
                self._restarts += 1
                self._last = stamp_ns
            else:
                self._out_of_order += 1
            return 0
        period = self._period_ns
        if period is not None and gap > max(self._pause_periods * period, self._pause_min_ns):
            self._pauses += 1
            self._last = stamp_ns
            return 0
        missed = max(0, int(np.floor(gap / period + 0.5)) - 1) if period is not None else 0
        self._missed += missed
        self._gaps.append(gap)
        self._update_period()
        self._last = stamp_ns
        return missed

    @property
    def stats(self) -> GapStats:
        period_s = None if self._period_ns is None else self._period_ns * 1e-9
        return GapStats(self._received, self._missed, self._pauses, self._out_of_order, self._restarts, period_s)
