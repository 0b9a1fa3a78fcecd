"""Per-kind log throttling (with an injected clock) and the frames_missed estimate from stamp gaps."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vdpm_ros.messages.frame_gaps import MissedFrameEstimator
from vdpm_ros.messages.log_throttle import KindThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_kind_has_its_own_period():
    clock = FakeClock()
    throttle = KindThrottle(5.0, clock)
    assert throttle.allow("depth/non_finite")
    clock.now += 1.0
    assert not throttle.allow("depth/non_finite")
    assert throttle.allow("depth/size_mismatch"), "a different error within 5 s is still logged"
    clock.now += 1.0
    assert not throttle.allow("depth/non_finite")
    clock.now += 3.0  # 5 s after the first line
    decision = throttle.allow("depth/non_finite")
    assert decision.log and decision.suppressed == 2
    assert decision.suffix() == " (2 more like this since the last report)"
    clock.now += 0.1
    held = throttle.allow("depth/non_finite")
    assert not held and held.suppressed == 1 and held.suffix() == ""
    clock.now += 5.0
    assert throttle.allow("depth/non_finite").suppressed == 1


def test_kinds_are_bounded():
    clock = FakeClock()
    throttle = KindThrottle(5.0, clock, max_kinds=3)
    for kind in "abcd":
        assert throttle.allow(kind)
    assert throttle.allow("a"), "the least recently logged kind was forgotten"
    assert not throttle.allow("d")


def test_throttle_is_thread_safe():
    clock = FakeClock()
    throttle = KindThrottle(5.0, clock)
    logged = []

    def hammer():
        for _ in range(2000):
            if throttle.allow("x"):
                logged.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(logged) == 1
    clock.now += 5.0
    assert throttle.allow("x").suppressed == 7999


def test_throttle_arguments():
    with pytest.raises(ValueError, match="period_s"):
        KindThrottle(0)
    with pytest.raises(ValueError, match="max_kinds"):
        KindThrottle(1.0, max_kinds=0)


# ----------------------------------------------------------------- frames_missed
PERIOD = 100_000_000  # 10 Hz


def _feed(stamps) -> MissedFrameEstimator:
    est = MissedFrameEstimator()
    for s in stamps:
        est.observe(int(s))
    return est


def test_a_steady_stream_misses_nothing():
    est = _feed(np.arange(200) * PERIOD)
    s = est.stats
    assert (s.received, s.missed, s.pauses, s.out_of_order) == (200, 0, 0, 0)
    assert s.period_s == pytest.approx(0.1)


def test_dropped_frames_are_counted_exactly():
    rng = np.random.default_rng(3)
    sent = np.arange(1000)
    keep = np.ones(1000, bool)
    keep[10:] = rng.random(990) > 0.3  # 30 % lost after a clean start
    est = _feed(sent[keep] * PERIOD)
    assert est.stats.missed == (~keep).sum()


def test_jitter_alone_is_not_a_drop_and_drops_under_jitter_still_count():
    rng = np.random.default_rng(4)
    t = np.arange(2000) * PERIOD + rng.uniform(-0.1, 0.1, 2000) * PERIOD  # stamps +-10 %: gaps +-20 %
    assert _feed(t).stats.missed == 0
    keep = np.ones(2000, bool)
    keep[50:] = rng.random(1950) > 0.2
    est = _feed(t[keep])
    assert est.stats.missed == (~keep).sum()
    assert est.stats.period_s == pytest.approx(0.1, rel=0.05)
    # Even +-20 % stamp jitter (gaps from 0.6 to 1.4 periods) gives fewer than 1 % false drops.
    t = np.arange(2000) * PERIOD + rng.uniform(-0.2, 0.2, 2000) * PERIOD
    assert _feed(t).stats.missed < 20


@pytest.mark.parametrize("loss", [0.6, 0.7])
def test_heavy_loss_still_finds_the_period(loss):
    # The 300-frame burst of the issue lost 160-181 frames (53-60 %): the median gap is then a
    # multiple of the period; the low quantile is not.
    rng = np.random.default_rng(5)
    keep = np.ones(3000, bool)
    keep[20:] = rng.random(2980) > loss
    est = _feed(np.flatnonzero(keep) * PERIOD)
    assert est.stats.period_s == pytest.approx(0.1, rel=1e-6)
    assert abs(est.stats.missed - (~keep).sum()) <= 0.01 * (~keep).sum()


def test_a_pause_is_not_counted_as_missed_frames():
    t = np.concatenate([np.arange(50) * PERIOD, 60 * 10**9 + np.arange(50) * PERIOD])
    s = _feed(t).stats
    assert (s.missed, s.pauses) == (0, 1)
    # A short outage below the pause threshold is counted: 1.5 s at 10 Hz = 14 frames.
    t = np.concatenate([np.arange(50) * PERIOD, np.arange(50) * PERIOD + 50 * PERIOD + 14 * PERIOD])
    s = _feed(t).stats
    assert (s.missed, s.pauses) == (14, 0)


def test_out_of_order_and_restarts():
    est = _feed(np.arange(30) * PERIOD)
    assert est.observe(29 * PERIOD) == 0  # duplicate
    assert est.observe(20 * PERIOD) == 0  # late
    assert est.observe(30 * PERIOD) == 0  # the stream goes on where it was
    s = est.stats
    assert (s.out_of_order, s.missed, s.restarts) == (2, 0, 0)
    est.observe(0)  # a looping bag: 3 s back in time
    est.observe(PERIOD)
    s = est.stats
    assert (s.restarts, s.missed, s.out_of_order) == (1, 0, 2)


def test_nothing_is_judged_during_warmup():
    est = MissedFrameEstimator(warmup=5)
    assert est.stats.period_s is None
    for s in (0, 1, 2, 5, 6):  # a 3-period gap before the period is known
        est.observe(s * PERIOD)
    assert est.stats.missed == 0 and est.stats.period_s is None
    est.observe(7 * PERIOD)
    assert est.stats.period_s == pytest.approx(0.1)
    assert est.observe(10 * PERIOD) == 2


def test_estimator_arguments():
    with pytest.raises(ValueError, match="history"):
        MissedFrameEstimator(history=2)
    with pytest.raises(ValueError, match="warmup"):
        MissedFrameEstimator(history=5, warmup=6)
    with pytest.raises(ValueError, match="pause_periods"):
        MissedFrameEstimator(pause_periods=1)
    with pytest.raises(ValueError, match="pause_min_s"):
        MissedFrameEstimator(pause_min_s=0)
