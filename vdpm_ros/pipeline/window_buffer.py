"""Sliding windows of camera frames, selected and ordered by message stamp.

The buffer runs in the ROS callback thread; it only keeps references to frames and never copies
images, so ``push`` costs microseconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .config import PipelineConfig
from .frames import Frame


@dataclass(frozen=True)
class BufferCounters:
    """What the buffer did with the frames pushed so far (for diagnostics).

    Attributes:
        pushed: every frame handed to :meth:`WindowBuffer.push`.
        accepted: frames added to the window.
        skipped_rate: frames closer than ``min_frame_interval_s`` to the last accepted one.
        rejected_backwards: frames whose stamp was not after the last accepted one (out of order or duplicated).
        resets: times the buffer was emptied (image size change, or a large backwards time jump).
        windows: windows emitted.
    """

    pushed: int = 0
    accepted: int = 0
    skipped_rate: int = 0
    rejected_backwards: int = 0
    resets: int = 0
    windows: int = 0


class WindowBuffer:
    """Turns a stream of frames into overlapping windows of ``window_size`` frames.

    The first window is emitted as soon as ``window_size`` frames are accepted, then one every
    ``stride`` accepted frames. Frame selection, in order:

    1. a stamp not after the last accepted one is rejected (``rejected_backwards``), unless it jumps back
       by more than ``time_jump_reset_s`` (a restarted bag): then the buffer resets and accepts it;
    2. a frame closer than ``min_frame_interval_s`` to the last accepted one is skipped (``skipped_rate``);
    3. a frame whose image size differs from the buffered ones resets the buffer (``resets``) and is
       accepted: a window must not mix image sizes (the raw-image mappings assume one camera).

    ``last_reason`` says, in words, why the last pushed frame was not simply added (``""`` if it was).
    """

    def __init__(
        self,
        window_size: int = 5,
        stride: int = 1,
        min_frame_interval_s: float = 0.0,
        time_jump_reset_s: float | None = None,
    ) -> None:
        if window_size < 1 or stride < 1 or min_frame_interval_s < 0:
            raise ValueError(
                f"WindowBuffer needs window_size >= 1, stride >= 1, min_frame_interval_s >= 0; got "
                f"{window_size}, {stride}, {min_frame_interval_s}"
            )
        if time_jump_reset_s is not None and time_jump_reset_s <= 0:
            raise ValueError(f"time_jump_reset_s must be > 0 or None, got {time_jump_reset_s}")
        self.window_size = window_size
        self.stride = stride
        self._min_interval_ns = int(round(min_frame_interval_s * 1e9))
        self._jump_ns = None if time_jump_reset_s is None else int(round(time_jump_reset_s * 1e9))
        self._frames: deque[Frame] = deque(maxlen=window_size)
        self._last_stamp_ns: int | None = None
        self._since_emit = 0
        self._emitted_since_reset = False
        self._counts = dict(pushed=0, accepted=0, skipped_rate=0, rejected_backwards=0, resets=0, windows=0)
        self.last_reason = ""

    @classmethod
    def from_config(cls, config: PipelineConfig) -> WindowBuffer:
        # The config says 0 for "never reset"; the buffer takes None for that.
        return cls(config.window_size, config.stride, config.min_frame_interval, config.time_jump_reset or None)

    @property
    def counters(self) -> BufferCounters:
        return BufferCounters(**self._counts)

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def last_stamp_ns(self) -> int | None:
        """Stamp of the last accepted frame (kept across size-change resets so order is still enforced)."""
        return self._last_stamp_ns

    def reset(self, reason: str = "reset requested") -> None:
        """Forget the buffered frames and the stamp history; counted in ``resets``."""
        self._clear()
        self._last_stamp_ns = None
        self._counts["resets"] += 1
        self.last_reason = reason

    def _clear(self) -> None:
        self._frames.clear()
        self._since_emit = 0
        self._emitted_since_reset = False

    def push(self, frame: Frame) -> list[Frame] | None:
        """Offer one frame; returns a window (oldest first) when one is due, else ``None``."""
        self._counts["pushed"] += 1
        self.last_reason = ""
        stamp = frame.stamp_ns
        last = self._last_stamp_ns
        if last is not None and stamp <= last:
            back_ns = last - stamp
            if self._jump_ns is not None and back_ns > self._jump_ns:
                self.reset(f"time jumped back by {back_ns * 1e-9:.3f} s (stamp {stamp} ns after {last} ns): buffer reset")
            else:
                self._counts["rejected_backwards"] += 1
                what = "duplicates" if stamp == last else f"is {back_ns * 1e-9:.6f} s before"
                self.last_reason = f"frame rejected: stamp {stamp} ns {what} the last accepted frame ({last} ns)"
                return None
        elif last is not None and stamp - last < self._min_interval_ns:
            self._counts["skipped_rate"] += 1
            self.last_reason = (
                f"frame skipped: {(stamp - last) * 1e-9:.4f} s after the last accepted one "
                f"(min_frame_interval = {self._min_interval_ns * 1e-9:g} s)"
            )
            return None
        if self._frames and self._frames[-1].hw != frame.hw:
            old = self._frames[-1].hw
            self._clear()
            self._counts["resets"] += 1
            self.last_reason = f"image size changed from {old[1]}x{old[0]} to {frame.hw[1]}x{frame.hw[0]}: buffer reset"
        self._frames.append(frame)
        self._last_stamp_ns = stamp
        self._counts["accepted"] += 1
        self._since_emit += 1
        if len(self._frames) < self.window_size:
            return None
        if self._emitted_since_reset and self._since_emit < self.stride:
            return None
        self._since_emit = 0
        self._emitted_since_reset = True
        self._counts["windows"] += 1
        return list(self._frames)


def expected_windows(stamps_ns: Iterable[int], config: PipelineConfig) -> int:
    """How many windows the pipeline emits for camera frames with these stamps, in this order (one image size).

    The buffer's own rules decide (rate limit, backwards stamps, time jumps, window size and stride), so the
    offline and the live evaluation count what the node would process, not a formula that could disagree.
    """
    buffer = WindowBuffer.from_config(config)
    pixel = np.zeros((1, 1, 3), np.uint8)  # the rules read only stamps and sizes
    for stamp in stamps_ns:
        buffer.push(Frame(stamp_ns=int(stamp), rgb=pixel))
    return buffer.counters.windows
