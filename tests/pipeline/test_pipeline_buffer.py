"""WindowBuffer: window emission, stride, rate limiting, out-of-order stamps, size changes, counters."""

from __future__ import annotations

import numpy as np
import pytest

from vdpm_ros.pipeline import Frame, PipelineConfig, WindowBuffer

MS = 1_000_000


def _frame(stamp_ms: float, hw=(4, 6)) -> Frame:
    return Frame(int(round(stamp_ms * MS)), np.zeros((*hw, 3), np.uint8))


def _stamps(window) -> list[int]:
    return [f.stamp_ns // MS for f in window]


def test_first_window_when_full_then_every_stride():
    buf = WindowBuffer(window_size=3, stride=2)
    out = [buf.push(_frame(100 * i)) for i in range(8)]
    emitted = {i: _stamps(w) for i, w in enumerate(out) if w is not None}
    assert emitted == {2: [0, 100, 200], 4: [200, 300, 400], 6: [400, 500, 600]}
    c = buf.counters
    assert (c.pushed, c.accepted, c.windows, c.skipped_rate, c.rejected_backwards, c.resets) == (8, 8, 3, 0, 0, 0)


def test_stride_one_slides_by_one_frame():
    buf = WindowBuffer(window_size=2, stride=1)
    windows = [w for w in (buf.push(_frame(i)) for i in range(4)) if w]
    assert [_stamps(w) for w in windows] == [[0, 1], [1, 2], [2, 3]]


def test_stride_larger_than_window_gives_disjoint_windows():
    buf = WindowBuffer(window_size=2, stride=3)
    windows = [_stamps(w) for w in (buf.push(_frame(i)) for i in range(9)) if w]
    assert windows == [[0, 1], [3, 4], [6, 7]]


def test_rate_limit_skips_frames_by_stamp():
    buf = WindowBuffer(window_size=2, min_frame_interval_s=0.1)
    results = [buf.push(_frame(30 * i)) for i in range(10)]  # 0, 30, ..., 270 ms
    assert buf.counters.accepted == 3  # 0, 120, 240
    assert buf.counters.skipped_rate == 7
    assert [_stamps(w) for w in results if w] == [[0, 120], [120, 240]]
    buf.push(_frame(300))
    assert "skipped" in buf.last_reason and "min_frame_interval =" in buf.last_reason


def test_backwards_and_duplicate_stamps_are_rejected_with_a_reason():
    buf = WindowBuffer(window_size=3)
    buf.push(_frame(100))
    buf.push(_frame(200))
    assert buf.push(_frame(200)) is None and "duplicates" in buf.last_reason
    assert buf.push(_frame(150)) is None and "before" in buf.last_reason
    assert buf.counters.rejected_backwards == 2 and len(buf) == 2
    window = buf.push(_frame(300))
    assert _stamps(window) == [100, 200, 300] and buf.last_reason == ""


def test_large_time_jump_back_resets_when_enabled():
    buf = WindowBuffer(window_size=2, time_jump_reset_s=1.0)
    buf.push(_frame(5000))
    buf.push(_frame(5100))
    assert buf.push(_frame(4900)) is None and buf.counters.rejected_backwards == 1  # small: out of order
    assert buf.push(_frame(0)) is None and "jumped back" in buf.last_reason  # a restarted bag
    assert buf.counters.resets == 1 and len(buf) == 1
    assert _stamps(buf.push(_frame(100))) == [0, 100]


def test_size_change_resets_and_accepts_the_new_size():
    buf = WindowBuffer(window_size=2)
    assert buf.push(_frame(0, (4, 6))) is None
    assert buf.push(_frame(1, (4, 6))) is not None
    assert buf.push(_frame(2, (8, 6))) is None
    assert buf.counters.resets == 1 and len(buf) == 1 and "size changed from 6x4 to 6x8" in buf.last_reason
    window = buf.push(_frame(3, (8, 6)))
    assert _stamps(window) == [2, 3] and all(f.hw == (8, 6) for f in window)
    # Order is still enforced across the reset.
    assert buf.push(_frame(1, (8, 6))) is None and buf.counters.rejected_backwards == 1


def test_from_config_and_manual_reset():
    buf = WindowBuffer.from_config(PipelineConfig(window_size=4, stride=2, min_frame_interval=0.5))
    assert (buf.window_size, buf.stride) == (4, 2)
    buf.push(_frame(0))
    buf.reset()
    assert len(buf) == 0 and buf.last_stamp_ns is None and buf.counters.resets == 1
    with pytest.raises(ValueError):
        WindowBuffer(window_size=0)


def test_frame_validation():
    with pytest.raises(ValueError, match="uint8"):
        Frame(0, np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        Frame(0, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="stamp_ns"):
        Frame(0.5, np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="aligned"):
        Frame(0, np.zeros((4, 4, 3), np.uint8), depth=np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="millimetres"):
        Frame(0, np.zeros((4, 4, 3), np.uint8), depth=np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError, match="intrinsics"):
        Frame(0, np.zeros((4, 4, 3), np.uint8), intrinsics=np.eye(4))
    f = Frame(np.int64(1_500_000_000), np.zeros((4, 4, 3), np.uint8), depth=np.ones((4, 4), np.float64))
    assert f.stamp_ns == 1_500_000_000 and type(f.stamp_ns) is int and f.depth.dtype == np.float32 and f.stamp_s == 1.5
