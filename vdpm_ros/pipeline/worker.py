"""Runs inference off the caller's thread with a bounded, drop-oldest queue.

Why drop the oldest: a robot wants the most recent scene. When inference is slower than the camera,
an old window waiting in the queue is worth less than the one just submitted, and blocking the ROS
executor to wait for room would stall every other callback of the node.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class WorkerStats:
    """A consistent snapshot of the worker's counters: every submitted item is in exactly one of them.

    ``submitted == processed + delivery_failed + failed + dropped_queue_full + dropped_at_close + queued + busy``
    holds in every snapshot (an item's fate and the end of ``busy`` are recorded under one lock).

    Attributes:
        submitted: items handed to :meth:`InferenceWorker.submit` (including those dropped later).
        processed: items whose callable returned and whose result callback returned.
        delivery_failed: items whose callable returned but whose result callback raised (e.g. a publish error).
        failed: items whose callable raised.
        dropped_queue_full: items pushed out of a full queue by a newer one.
        dropped_at_close: items still queued at :meth:`InferenceWorker.close`, submitted after it, or
            finished after :meth:`InferenceWorker.abandon` (their result is not delivered).
        queued: items waiting now.
        busy: an item is being processed now.
        last_latency_s: processing time of the last finished item (callable only), seconds; NaN before any.
        mean_latency_s: mean processing time over all finished items, seconds; NaN before any.
        last_queue_delay_s: time the last started item waited in the queue, seconds; NaN before any.
    """

    submitted: int
    processed: int
    delivery_failed: int
    failed: int
    dropped_queue_full: int
    dropped_at_close: int
    queued: int
    busy: bool
    last_latency_s: float
    mean_latency_s: float
    last_queue_delay_s: float

    @property
    def dropped(self) -> int:
        """Items discarded unprocessed, for whatever reason."""
        return self.dropped_queue_full + self.dropped_at_close


class InferenceWorker(Generic[T, R]):
    """One background thread that applies ``fn`` to submitted items, newest work first in spirit.

    ``submit`` never blocks: when ``max_queue`` items already wait, the oldest waiting one is dropped.
    Results go to ``on_result(item, result)`` and exceptions (including ``torch.cuda.OutOfMemoryError``)
    to ``on_error(item, exc)``, both called on the worker thread; an exception never ends the thread.
    An exception raised by ``on_result`` itself is counted apart (``delivery_failed``) and also goes to
    ``on_error``.
    The thread is not a daemon: call :meth:`close` (or use the worker as a context manager).
    """

    def __init__(
        self,
        fn: Callable[[T], R],
        on_result: Callable[[T, R], None] | None = None,
        on_error: Callable[[T, BaseException], None] | None = None,
        max_queue: int = 2,
        name: str = "vdpm-inference",
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self._fn = fn
        self._on_result = on_result
        self._on_error = on_error
        self.max_queue = max_queue
        self._queue: deque[tuple[T, float]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._abandoned = False
        self._busy = False
        self._delivering = False
        self._submitted = self._processed = self._delivery_failed = self._failed = 0
        self._dropped_full = self._dropped_closed = 0
        self._latency_sum = 0.0
        self._latency_n = 0
        self._last_latency = float("nan")
        self._last_delay = float("nan")
        self._thread = threading.Thread(target=self._loop, name=name, daemon=False)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Queue ``item``; returns False if that pushed an older item out (or the worker is closed)."""
        with self._cond:
            self._submitted += 1
            if self._closed:
                self._dropped_closed += 1
                return False
            dropped = False
            while len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self._dropped_full += 1
                dropped = True
            self._queue.append((item, time.monotonic()))
            self._cond.notify_all()
            return not dropped

    def stats(self) -> WorkerStats:
        with self._cond:
            mean = self._latency_sum / self._latency_n if self._latency_n else float("nan")
            return WorkerStats(
                submitted=self._submitted,
                processed=self._processed,
                delivery_failed=self._delivery_failed,
                failed=self._failed,
                dropped_queue_full=self._dropped_full,
                dropped_at_close=self._dropped_closed,
                queued=len(self._queue),
                busy=self._busy,
                last_latency_s=self._last_latency,
                mean_latency_s=mean,
                last_queue_delay_s=self._last_delay,
            )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (True), or ``timeout`` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop accepting work, drop what is queued, let the running item finish, join the thread.

        Returns True if the thread has ended; False if the running item outlasted ``timeout``
        (the thread then ends as soon as that item returns).
        """
        with self._cond:
            self._closed = True
            self._dropped_closed += len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        if threading.current_thread() is self._thread:
            return False  # called from a callback on the worker thread: it ends when the callback returns
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """Deliver nothing more: close, and let the running item's result (if any) go undelivered.

        Returns once no ``on_result`` call is running, so after it nothing is delivered (e.g. nothing is
        published once a ROS context is about to go). Must not be called from the worker thread.
        """
        with self._cond:
            self._closed = True
            self._abandoned = True
            self._dropped_closed += len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._delivering)

    def __enter__(self) -> InferenceWorker[T, R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    self._cond.notify_all()
                    return
                item, queued_at = self._queue.popleft()
                self._busy = True
                self._last_delay = time.monotonic() - queued_at
            start = time.perf_counter()
            fate = "failed"
            try:
                result = self._fn(item)
                self._record_latency(time.perf_counter() - start)
                with self._cond:
                    abandoned = self._abandoned
                    self._delivering = not abandoned
                if abandoned:
                    fate = "abandoned"
                else:
                    fate = "delivery_failed"
                    if self._on_result is not None:
                        self._on_result(item, result)
                    fate = "processed"
            except Exception as exc:  # noqa: BLE001 - any failure of one window must not end the stream
                self._report(item, exc)  # before busy ends: wait_idle() returns after the error is reported
            finally:
                # The item's fate and the end of busy in one step: a snapshot never counts it twice.
                with self._cond:
                    if fate == "processed":
                        self._processed += 1
                    elif fate == "delivery_failed":
                        self._delivery_failed += 1
                    elif fate == "abandoned":
                        self._dropped_closed += 1
                    else:
                        self._failed += 1
                    self._busy = self._delivering = False
                    self._cond.notify_all()

    def _record_latency(self, elapsed: float) -> None:
        with self._cond:
            self._last_latency = elapsed
            self._latency_sum += elapsed
            self._latency_n += 1

    def _report(self, item: T, exc: BaseException) -> None:
        if self._on_error is None:
            log.error("inference failed: %s: %s", type(exc).__name__, exc)
            return
        try:
            self._on_error(item, exc)
        except Exception:  # noqa: BLE001 - a broken error handler must not end the thread either
            log.exception("the inference error callback raised")
