"""The whole ROS-free streaming core behind one object: buffer -> worker -> processor -> stitcher.

The node's image callback converts the message to a :class:`Frame` and calls :meth:`StreamingPipeline.push`;
it returns at once. Results arrive on the worker thread through ``on_output``, where the node
converts and publishes them (rclpy publishers may be used from any thread).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import PipelineConfig
from .frames import Frame
from .objects_config import ObjectsConfig
from .processor import WindowProcessor
from .results import WindowResult
from .scene import SceneOutputs, SceneStage
from .stitching import StitchResult, WindowStitcher
from .window_buffer import BufferCounters, WindowBuffer
from .worker import InferenceWorker, WorkerStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOutput:
    """One processed window, where it sits in the odometry frame (None when stitching is off), and its
    moving objects and static map (None when no scene stage ran, e.g. a bare :func:`process_window`)."""

    result: WindowResult
    stitch: StitchResult | None
    scene: SceneOutputs | None = None


@dataclass(frozen=True)
class PushOutcome:
    """What :meth:`StreamingPipeline.push` did with a frame.

    Attributes:
        submitted: the frame completed a window, which was queued for inference.
        dropped_older: queuing it pushed an older waiting window out (inference is not keeping up).
        reason: why the frame was not simply buffered (skipped, rejected, buffer reset), else "".
    """

    submitted: bool
    dropped_older: bool
    reason: str


@dataclass(frozen=True)
class PipelineStats:
    """The buffer's and the worker's counters; ``links``: the optical-flow prefetch thread's (None without one).

    In ``links`` a window "dropped" is one whose links the worker computed itself: no work is lost.
    """

    buffer: BufferCounters
    worker: WorkerStats
    links: WorkerStats | None = None


def process_window(
    processor: WindowProcessor,
    stitcher: WindowStitcher | None,
    window: list[Frame],
    lock: threading.Lock | None = None,
    scene: SceneStage | None = None,
) -> PipelineOutput:
    """One window through the model, (optionally) the stitcher, then (optionally) the scene stage.

    ``lock`` guards only the stitcher update (its trajectory is read from other threads).
    """
    stamps = [f.stamp_ns for f in window]
    anchor = stitcher.anchor_request(stamps) if stitcher is not None else None
    result = processor.process(window, () if anchor is None else (anchor,))
    stitch = None
    start = time.perf_counter()
    if stitcher is not None:
        with lock or contextlib.nullcontext():
            stitch = stitcher.add(result)
    stitched = time.perf_counter()
    output = PipelineOutput(result, stitch)
    if scene is not None:
        output = PipelineOutput(result, stitch, scene.update(output))
    result.timings = dataclasses.replace(result.timings, stitch_s=stitched - start, scene_s=time.perf_counter() - stitched)
    return output


class OfflinePipeline:
    """The node's pipeline without the worker thread: every window is processed, in order, before ``push`` returns.

    For evaluation and batch processing: deterministic, nothing is dropped for being late.

    Args:
        model: the V-DPM model (see :class:`WindowProcessor`).
        config: pipeline configuration.
        objects: moving objects and static map settings (the node's defaults unless given).
    """

    def __init__(self, model: Any, config: PipelineConfig | None = None, objects: ObjectsConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self.buffer = WindowBuffer.from_config(self.config)
        self.processor = WindowProcessor(model, self.config)
        self.stitcher = WindowStitcher.from_config(self.config) if self.config.stitch else None
        self.scene = SceneStage(objects)

    def push(self, frame: Frame) -> PipelineOutput | None:
        """Offer a frame; returns the output of the window it completed, if any."""
        window = self.buffer.push(frame)
        return None if window is None else process_window(self.processor, self.stitcher, window, scene=self.scene)

    def trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """The stitched trajectory: stamps ``[N]`` int64 and world-from-camera poses ``[N, 4, 4]`` in the odometry frame."""
        if self.stitcher is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 4, 4))
        return self.stitcher.trajectory.stamps_ns, self.stitcher.trajectory.poses


def _prefetch_failed(window: list[Frame], exc: BaseException) -> None:
    # Harmless for the window: the worker computes the links itself (and reports the error if it recurs there).
    log.warning("prefetching the optical flow of the window ending at %.3f s failed: %s: %s", window[-1].stamp_s, type(exc).__name__, exc)


class StreamingPipeline:
    """Frames in, :class:`PipelineOutput` out, inference on a background thread.

    Args:
        model: the V-DPM model (see :class:`WindowProcessor`).
        config: pipeline configuration.
        on_output: called on the worker thread with each window's output.
        on_error: called on the worker thread with the window and the exception when a window fails
            (e.g. ``torch.cuda.OutOfMemoryError``, :class:`~vdpm_ros.pipeline.processor.MetricScaleError`);
            the stream continues with the next window.
        objects: moving objects and static map settings (defaults unless given).
    """

    def __init__(
        self,
        model: Any,
        config: PipelineConfig | None = None,
        on_output: Callable[[PipelineOutput], None] | None = None,
        on_error: Callable[[list[Frame], BaseException], None] | None = None,
        objects: ObjectsConfig | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        self.buffer = WindowBuffer.from_config(self.config)
        self.processor = WindowProcessor(model, self.config)
        self.stitcher = WindowStitcher.from_config(self.config) if self.config.stitch else None
        self.scene = SceneStage(objects)  # used by the worker thread only
        self._on_output = on_output
        self._lock = threading.Lock()  # guards the stitcher's trajectory against readers on other threads
        self._push_lock = threading.Lock()  # a multi-threaded executor may run two image callbacks at once
        self.worker: InferenceWorker[list[Frame], PipelineOutput] = InferenceWorker(
            self._run,
            on_result=self._deliver,
            on_error=on_error,
            max_queue=self.config.queue_size,
        )
        # With the flow source, a queued window's optical flow needs only its images: a second thread computes it
        # while the worker runs the model on an earlier window (OpenCV releases the GIL), so the worker finds it
        # ready. Only the newest window waits for it: when this thread is behind, the worker computes what is
        # missing itself. Either way the window's results are the same.
        self.link_worker: InferenceWorker[list[Frame], int] | None = None
        if self.processor.runs_flow_source:
            self.link_worker = InferenceWorker(
                self.processor.prefetch_flow_links, on_error=_prefetch_failed, max_queue=1, name="vdpm-flow-links"
            )

    def _run(self, window: list[Frame]) -> PipelineOutput:
        return process_window(self.processor, self.stitcher, window, self._lock, self.scene)

    def _deliver(self, window: list[Frame], output: PipelineOutput) -> None:
        if self._on_output is not None:
            self._on_output(output)

    def push(self, frame: Frame) -> PushOutcome:
        """Offer a frame (never blocks on inference; safe to call from several threads)."""
        with self._push_lock:
            window = self.buffer.push(frame)
            reason = self.buffer.last_reason
            if window is None:
                return PushOutcome(False, False, reason)
            if self.link_worker is not None:
                self.link_worker.submit(window)
            kept = self.worker.submit(window)
        return PushOutcome(True, not kept, reason)

    def reset(self) -> None:
        """Forget the buffered frames (e.g. after a camera restart).

        The odometry frame is kept: the next window shares no frame with the last one, so the stitcher
        chains it on the last pose (or restarts the trajectory if its stamps are older).
        """
        with self._push_lock:
            self.buffer.reset("reset requested")

    def stats(self) -> PipelineStats:
        links = self.link_worker.stats() if self.link_worker is not None else None
        return PipelineStats(self.buffer.counters, self.worker.stats(), links)

    def trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """A consistent copy of the stitched trajectory: stamps ``[N]`` int64 and poses ``[N, 4, 4]``."""
        if self.stitcher is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 4, 4))
        with self._lock:
            return self.stitcher.trajectory.stamps_ns, self.stitcher.trajectory.poses

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued window is processed (True) or ``timeout`` passes (False)."""
        return self.worker.wait_idle(timeout)

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop the worker (queued windows are dropped); True once its thread has ended."""
        finished = self.worker.close(timeout)
        self._close_link_worker()
        return finished

    def _close_link_worker(self) -> None:
        if self.link_worker is not None:
            # Not waited for: shutdown must not wait on it (shutdown_timeout is for the window in progress), and a
            # prefetch still running only fills a cache; its thread ends when that link is done (milliseconds).
            self.link_worker.close(timeout=0)

    def abandon(self) -> None:
        """Close, and deliver nothing more: the window in progress, if any, is counted dropped and not output.

        Returns once no ``on_output`` call is running (see :meth:`InferenceWorker.abandon`).
        """
        self.worker.abandon()
        self._close_link_worker()

    def __enter__(self) -> StreamingPipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
