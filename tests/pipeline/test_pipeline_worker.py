"""InferenceWorker: never blocks, drops the oldest, survives exceptions, joins on close. Synchronised with events."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from vdpm_ros.pipeline import InferenceWorker

WAIT = 120.0  # generous upper bound for events on a loaded machine; tests never sleep for correctness


class Gate:
    """A callable that announces each call and blocks until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.seen: list[int] = []

    def __call__(self, item: int) -> int:
        self.seen.append(item)
        self.started.set()
        assert self.release.wait(WAIT)
        return item * 10


def _collector():
    results: list[tuple[int, int]] = []
    return results, lambda item, res: results.append((item, res))


def test_processes_in_order_and_delivers_results():
    results, on_result = _collector()
    with InferenceWorker(lambda x: x + 1, on_result, max_queue=10) as w:
        for i in range(5):
            assert w.submit(i)
        assert w.wait_idle(WAIT)
        s = w.stats()
    assert results == [(i, i + 1) for i in range(5)]
    assert (s.submitted, s.processed, s.dropped, s.failed, s.queued, s.busy) == (5, 5, 0, 0, 0, False)
    assert s.last_latency_s >= 0 and s.mean_latency_s >= 0


def test_full_queue_drops_the_oldest_waiting_item():
    gate = Gate()
    results, on_result = _collector()
    w = InferenceWorker(gate, on_result, max_queue=2)
    try:
        w.submit(1)
        assert gate.started.wait(WAIT)  # item 1 is running, the queue is empty
        assert w.submit(2) and w.submit(3)
        assert w.submit(4) is False  # queue full: 2 is dropped
        assert w.stats().dropped == 1 and w.stats().queued == 2
        gate.release.set()
        assert w.wait_idle(WAIT)
    finally:
        assert w.close(WAIT)
    assert [r[0] for r in results] == [1, 3, 4]
    s = w.stats()
    assert (s.submitted, s.processed, s.dropped) == (4, 3, 1)


def test_submit_never_blocks_while_inference_is_stuck():
    gate = Gate()
    w = InferenceWorker(gate, max_queue=2)
    try:
        w.submit(0)
        assert gate.started.wait(WAIT)
        # No clock: the gate is never released while the submits run, so a blocking submit would hang the thread.
        submitter = threading.Thread(target=lambda: [w.submit(i) for i in range(1, 2001)], daemon=True)
        submitter.start()
        submitter.join(WAIT)
        assert not submitter.is_alive(), "submit blocked while the worker was busy"
        assert w.stats().dropped == 1998 and w.stats().queued == 2
    finally:
        gate.release.set()
        assert w.close(WAIT)


def test_exceptions_are_counted_and_reported_and_the_thread_survives():
    errors: list[tuple[int, BaseException]] = []
    results, on_result = _collector()

    def fn(x: int) -> int:
        if x == 1:
            raise ValueError("bad window")
        if x == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return x

    with InferenceWorker(fn, on_result, lambda item, exc: errors.append((item, exc)), max_queue=10) as w:
        for i in range(4):
            w.submit(i)
        assert w.wait_idle(WAIT)
        assert w.alive
        s = w.stats()
    assert [i for i, _ in errors] == [1, 2]
    assert isinstance(errors[0][1], ValueError) and isinstance(errors[1][1], torch.cuda.OutOfMemoryError)
    assert results == [(0, 0), (3, 3)]
    assert (s.processed, s.failed) == (2, 2)


def test_failing_callbacks_do_not_kill_the_worker():
    def bad_result(item, res):
        raise RuntimeError("publisher gone")

    def bad_error(item, exc):
        raise RuntimeError("logger gone")

    with InferenceWorker(lambda x: x, bad_result, bad_error, max_queue=10) as w:
        w.submit(1)
        w.submit(2)
        assert w.wait_idle(WAIT)
        assert w.alive and (w.stats().failed, w.stats().delivery_failed) == (0, 2)  # the callable succeeded


def test_close_joins_the_thread_and_drops_queued_work():
    gate = Gate()
    w = InferenceWorker(gate, max_queue=3, name="vdpm-test-close")
    w.submit(1)
    assert gate.started.wait(WAIT)
    w.submit(2)
    w.submit(3)
    assert w.close(timeout=0.05) is False  # item 1 is still running
    assert (w.stats().dropped_at_close, w.stats().dropped_queue_full) == (2, 0)
    assert w.submit(4) is False and w.stats().dropped_at_close == 3  # closed: refused, counted
    gate.release.set()
    w._thread.join(WAIT)
    assert not w.alive and w.close(WAIT)
    assert gate.seen == [1]
    assert "vdpm-test-close" not in [t.name for t in threading.enumerate()]
    assert not w._thread.daemon


def test_latency_measures_the_callable():
    gate = Gate()
    w = InferenceWorker(gate)
    try:
        w.submit(1)
        assert gate.started.wait(WAIT)
        time.sleep(0.05)  # a lower bound only, never needed for correctness
        gate.release.set()
        assert w.wait_idle(WAIT)
        s = w.stats()
        assert s.last_latency_s >= 0.05 and s.mean_latency_s == pytest.approx(s.last_latency_s)
        assert s.last_queue_delay_s >= 0
    finally:
        assert w.close(WAIT)


def test_bad_queue_size():
    with pytest.raises(ValueError, match="max_queue"):
        InferenceWorker(lambda x: x, max_queue=0)


def _balance(s) -> int:
    return s.processed + s.delivery_failed + s.failed + s.dropped_queue_full + s.dropped_at_close + s.queued + int(s.busy)


def test_every_snapshot_accounts_for_every_submitted_item():
    """Snapshots taken while items run, fail, are dropped and delivered: the fates always add up to submitted."""

    def fn(x: int) -> int:
        if x % 7 == 3:
            raise ValueError("bad window")
        return x

    def on_result(item: int, result: int) -> None:
        if item % 11 == 5:
            raise RuntimeError("publisher gone")

    w = InferenceWorker(fn, on_result, lambda item, exc: None, max_queue=2)
    snapshots = []
    try:
        for i in range(300):  # a burst: most are pushed out of the queue
            w.submit(i)
            snapshots.append(w.stats())
        assert w.wait_idle(WAIT)
        for i in range(300, 377):  # one at a time: every fate of a run item occurs
            w.submit(i)
            snapshots.append(w.stats())
            assert w.wait_idle(WAIT)
        w.submit(377)
        w.submit(378)
    finally:
        w.close(WAIT)
    final = w.stats()
    for s in [*snapshots, final]:
        assert s.submitted == _balance(s), s
    assert final.submitted == 379 and final.dropped_queue_full > 0
    assert final.failed >= 11 and final.delivery_failed >= 6 and final.processed >= 60  # of the 77 run one at a time


def test_abandon_waits_for_a_delivery_in_progress_and_delivers_nothing_after():
    delivering, release_delivery = threading.Event(), threading.Event()
    delivered: list[int] = []

    def on_result(item: int, result: int) -> None:
        delivering.set()
        assert release_delivery.wait(WAIT)
        delivered.append(item)

    gate = Gate()
    w = InferenceWorker(gate, on_result, max_queue=3)
    w.submit(1)
    assert gate.started.wait(WAIT)
    gate.release.set()
    assert delivering.wait(WAIT)  # item 1's result is being delivered
    gate.release.clear()
    w.submit(2)  # queued behind it
    done = threading.Event()
    abandoning = threading.Thread(target=lambda: (w.abandon(), done.set()))
    abandoning.start()
    assert not done.wait(0.2)  # abandon() waits for the delivery running now
    release_delivery.set()
    assert done.wait(WAIT)
    abandoning.join(WAIT)
    assert delivered == [1]
    s = w.stats()
    assert (s.processed, s.dropped_at_close) == (1, 1) and s.submitted == _balance(s)
    assert w.close(WAIT)


def test_an_item_running_when_abandoned_is_counted_dropped_and_not_delivered():
    gate = Gate()
    delivered: list[int] = []
    w = InferenceWorker(gate, lambda item, res: delivered.append(item), max_queue=3)
    w.submit(1)
    assert gate.started.wait(WAIT)
    w.abandon()  # nothing is being delivered: returns at once
    s = w.stats()
    assert s.busy and s.submitted == _balance(s)
    gate.release.set()
    assert w.close(WAIT)
    s = w.stats()
    assert delivered == [] and (s.processed, s.dropped_at_close, s.busy) == (0, 1, False)
