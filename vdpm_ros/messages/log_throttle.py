"""Log throttling per kind of message, not per call site (pure; the clock is injected).

rclpy's ``throttle_duration_sec`` throttles a call site: after "depth image: non_finite" a
"depth image: size_mismatch" from the same line is swallowed for 5 s. Here every kind (e.g.
"depth/non_finite") has its own period, and the line that gets through says how many of its kind
were held back since the last one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottleDecision:
    """Whether to log now, and how many lines of this kind were held back since the last one logged."""

    log: bool
    suppressed: int = 0

    def __bool__(self) -> bool:
        return self.log

    def suffix(self) -> str:
        """Text to append to the logged line: "" or " (12 more like this since the last report)"."""
        return f" ({self.suppressed} more like this since the last report)" if self.log and self.suppressed else ""


class KindThrottle:
    """At most one log line per kind per ``period_s``; thread-safe.

    Args:
        period_s: shortest time between two lines of the same kind (seconds, > 0).
        clock: monotonic seconds; ``time.monotonic`` unless a test gives its own.
        max_kinds: kinds remembered; the least recently logged is forgotten beyond it (kinds should be a
            closed set of reasons, but an untrusted string used as a kind must not grow memory).
    """

    def __init__(self, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic, max_kinds: int = 256) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        if max_kinds < 1:
            raise ValueError(f"max_kinds must be >= 1, got {max_kinds}")
        self.period_s = float(period_s)
        self._clock = clock
        self._max_kinds = max_kinds
        self._lock = threading.Lock()
        self._kinds: OrderedDict[str, tuple[float, int]] = OrderedDict()  # kind -> (last logged at, held back since)

    def allow(self, kind: str) -> ThrottleDecision:
        """Ask before logging a line of ``kind``; the answer is truthy when it should be logged."""
        now = self._clock()
        with self._lock:
            entry = self._kinds.get(kind)
            if entry is not None and now - entry[0] < self.period_s:
                self._kinds[kind] = (entry[0], entry[1] + 1)
                return ThrottleDecision(False, entry[1] + 1)
            self._kinds[kind] = (now, 0)
            self._kinds.move_to_end(kind)
            while len(self._kinds) > self._max_kinds:
                self._kinds.popitem(last=False)
            return ThrottleDecision(True, entry[1] if entry is not None else 0)
