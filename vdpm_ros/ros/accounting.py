"""What the node did with every message and window it got, in counters that add up (pure, no rclpy).

Every input message is counted when it arrives and once more for its fate: accepted, or rejected for
one reason of a closed set. Every window is in exactly one fate of :class:`~vdpm_ros.pipeline.WorkerStats`.
:meth:`NodeAccounts.mismatches` checks the sums, /diagnostics and the shutdown summary print them:

- colour images: ``arrived = accepted + rejected (by reason)``; the accepted ones are the frames handed
  to the pipeline: ``frames_received = accepted + skipped by the rate limit + rejected for their stamp``;
- depth images and CameraInfo: ``arrived = accepted + rejected (by reason)``;
- depth pairing, per colour frame: ``frames = with depth + stale + size mismatch + no depth image``;
- windows: ``submitted = published + publish failed + failed + dropped (queue full) + dropped at shutdown
  + queued + in progress``, and the buffer emitted exactly the windows submitted.

Frames lost before they reached the node cannot be counted; ``frames_missed`` estimates them from the
gaps between the stamps that did arrive (:class:`~vdpm_ros.messages.frame_gaps.MissedFrameEstimator`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ..messages.frame_gaps import GapStats
from ..messages.image import DecodeFailure
from ..messages.validation import CameraInfoRejection, DepthRejection
from ..pipeline.window_buffer import BufferCounters
from ..pipeline.worker import WorkerStats

#: Why a colour image was refused: the decoder's reasons.
IMAGE_REASONS: tuple[str, ...] = tuple(r.value for r in DecodeFailure)
#: Why a depth image was refused: the decoder's reasons, then the checks of its pixels.
DEPTH_REASONS: tuple[str, ...] = IMAGE_REASONS + tuple(
    r.value for r in (DepthRejection.NON_FINITE, DepthRejection.NON_POSITIVE, DepthRejection.BEYOND_MAX_DEPTH, DepthRejection.TOO_SPARSE)
)
#: Why a colour frame went without depth (the depth images themselves were fine).
PAIRING_REASONS: tuple[str, ...] = (DepthRejection.STALE.value, DepthRejection.SIZE_MISMATCH.value, "no_depth")
#: Why a CameraInfo was ignored.
CAMERA_INFO_REASONS: tuple[str, ...] = tuple(r.value for r in CameraInfoRejection)


@dataclass(frozen=True)
class TallyCounts:
    """A snapshot of a :class:`Tally`: ``rejected`` lists every reason of its closed set, zeros included."""

    arrived: int
    accepted: int
    rejected: tuple[tuple[str, int], ...]

    @property
    def rejected_total(self) -> int:
        return sum(n for _, n in self.rejected)

    def rejected_for(self, reason: str) -> int:
        return dict(self.rejected)[reason]

    @property
    def balanced(self) -> bool:
        return self.arrived == self.accepted + self.rejected_total

    def rejections_text(self) -> str:
        """``"corrupt 3, too_large 1"``: the reasons that occurred, most frequent first."""
        seen = sorted(((n, r) for r, n in self.rejected if n), key=lambda nr: (-nr[0], nr[1]))
        return ", ".join(f"{r} {n}" for n, r in seen)


class Tally:
    """Arrivals of one kind of input and the fate of each: accepted, or rejected for a reason of a closed set.

    Thread-safe. Call :meth:`arrive` when a message comes in and then exactly one of :meth:`accept` or
    :meth:`reject`; a snapshot taken between the two shows the difference (:attr:`TallyCounts.balanced`
    is False), which is why the node snapshots only between callbacks.
    """

    def __init__(self, reasons: Iterable[str]) -> None:
        self.reasons = tuple(reasons)
        if not self.reasons or len(set(self.reasons)) != len(self.reasons):
            raise ValueError(f"reasons must be distinct and not empty, got {self.reasons}")
        self._lock = threading.Lock()
        self._arrived = self._accepted = 0
        self._rejected = dict.fromkeys(self.reasons, 0)

    def arrive(self) -> None:
        with self._lock:
            self._arrived += 1

    def accept(self) -> None:
        with self._lock:
            self._accepted += 1

    def reject(self, reason: str) -> None:
        """Count a rejection; a reason outside the closed set is a bug of the caller (KeyError)."""
        with self._lock:
            if reason not in self._rejected:
                raise KeyError(f"unknown rejection reason {reason!r}; known: {', '.join(self.reasons)}")
            self._rejected[reason] += 1

    def snapshot(self) -> TallyCounts:
        with self._lock:
            return TallyCounts(self._arrived, self._accepted, tuple(self._rejected.items()))


@dataclass(frozen=True)
class NodeAccounts:
    """Everything the node counted, at one moment; see the module docstring for the sums.

    Attributes:
        images: colour messages (raw or compressed); accepted = decoded into a frame for the pipeline.
        depth: depth messages; accepted = kept for pairing.
        depth_pairing: one entry per accepted colour frame; accepted = it was given a depth image.
        camera_info: CameraInfo messages; accepted = its K is the one in use.
        buffer: the window buffer's counters (frames received, accepted, skipped, rejected; windows).
        worker: the inference worker's counters (the fate of every window).
        gaps: the ``frames_missed`` estimate from the stamps of the colour messages that arrived.
    """

    images: TallyCounts
    depth: TallyCounts
    depth_pairing: TallyCounts
    camera_info: TallyCounts
    buffer: BufferCounters
    worker: WorkerStats
    gaps: GapStats

    def mismatches(self) -> list[str]:
        """The sums that do not hold, in words; empty when every message and window is accounted for."""
        out = []
        for name, tally in (("images", self.images), ("depth images", self.depth), ("depth pairing", self.depth_pairing),
                            ("CameraInfo", self.camera_info)):  # fmt: skip
            if not tally.balanced:
                out.append(f"{name}: {tally.arrived} arrived != {tally.accepted} accepted + {tally.rejected_total} rejected")
        b, w = self.buffer, self.worker
        if self.images.accepted != b.pushed:
            out.append(f"{self.images.accepted} images decoded != {b.pushed} frames received by the pipeline")
        if self.depth_pairing.arrived != self.images.accepted:
            out.append(f"{self.depth_pairing.arrived} frames paired with depth != {self.images.accepted} images decoded")
        if b.pushed != b.accepted + b.skipped_rate + b.rejected_backwards:
            out.append(f"{b.pushed} frames received != {b.accepted} accepted + {b.skipped_rate} skipped + {b.rejected_backwards} rejected")
        if b.windows != w.submitted:
            out.append(f"{b.windows} windows emitted by the buffer != {w.submitted} submitted")
        fates = w.processed + w.delivery_failed + w.failed + w.dropped_queue_full + w.dropped_at_close + w.queued + int(w.busy)
        if w.submitted != fates:
            out.append(f"{w.submitted} windows submitted != {fates} with a fate")
        if self.gaps.received != self.images.arrived:
            out.append(f"{self.gaps.received} stamps seen by the gap estimate != {self.images.arrived} images arrived")
        return out

    def diagnostic_values(self) -> dict[str, str]:
        """/diagnostics key -> value, every category always present (zeros included) so the keys never change."""
        b, w, g = self.buffer, self.worker, self.gaps
        problems = self.mismatches()
        values: dict[str, int | str | bool] = {"accounts": "balanced" if not problems else "UNBALANCED: " + "; ".join(problems)}
        values.update(
            images_arrived=self.images.arrived,
            frames_received=b.pushed,
            frames_accepted=b.accepted,
            frames_skipped_rate_limit=b.skipped_rate,
            frames_rejected_stamp=b.rejected_backwards,
            buffer_resets=b.resets,
            images_rejected=self.images.rejected_total,
        )
        values.update({f"images_rejected_{r}": n for r, n in self.images.rejected})
        values.update(
            frames_missed=g.missed,
            stamps_out_of_order=g.out_of_order,
            stream_pauses=g.pauses,
            stream_restarts=g.restarts,
            stream_period_s="nan" if g.period_s is None else f"{g.period_s:.4f}",
            depth_arrived=self.depth.arrived,
            depth_accepted=self.depth.accepted,
            depth_rejected=self.depth.rejected_total,
        )
        values.update({f"depth_rejected_{r}": n for r, n in self.depth.rejected})
        pairing = dict(self.depth_pairing.rejected)
        values.update(
            frames_with_depth=self.depth_pairing.accepted,
            frames_depth_stale=pairing["stale"],
            frames_depth_size_mismatch=pairing["size_mismatch"],
            frames_without_depth=pairing["no_depth"],
            camera_info_arrived=self.camera_info.arrived,
            camera_info_accepted=self.camera_info.accepted,
            camera_info_rejected=self.camera_info.rejected_total,
        )
        values.update({f"camera_info_rejected_{r}": n for r, n in self.camera_info.rejected})
        values.update(
            windows_submitted=w.submitted,
            windows_published=w.processed,
            windows_publish_failed=w.delivery_failed,
            windows_failed=w.failed,
            windows_dropped_queue_full=w.dropped_queue_full,
            windows_dropped_at_shutdown=w.dropped_at_close,
            windows_queued=w.queued,
            window_in_progress=w.busy,
        )
        return {k: str(v) for k, v in values.items()}

    def summary(self) -> str:
        """One line for the log at shutdown: every category, and whether the sums hold."""
        b, w, g = self.buffer, self.worker, self.gaps
        parts = [
            f"{self.images.arrived} images arrived: {b.pushed} frames received ({b.accepted} accepted, {b.skipped_rate} skipped by "
            f"rate limit, {b.rejected_backwards} rejected for stamps), {self.images.rejected_total} rejected" + _reasons(self.images),
            f"about {g.missed} frames missed before the node (stamp gaps; {g.out_of_order} out of order, {g.pauses} pauses)",
        ]
        if self.depth.arrived or self.depth_pairing.accepted:
            p = dict(self.depth_pairing.rejected)
            parts.append(
                f"depth: {self.depth.arrived} arrived, {self.depth.accepted} kept, {self.depth.rejected_total} rejected"
                + _reasons(self.depth)
                + f"; frames with depth {self.depth_pairing.accepted}, stale {p['stale']}, size mismatch {p['size_mismatch']}, "
                f"none {p['no_depth']}"
            )
        parts.append(
            f"CameraInfo: {self.camera_info.arrived} arrived, {self.camera_info.accepted} used, {self.camera_info.rejected_total} ignored"
            + _reasons(self.camera_info)
        )
        in_flight = w.queued + int(w.busy)
        parts.append(
            f"{w.submitted} windows submitted: {w.processed} published, {w.dropped_queue_full} dropped (queue full), "
            f"{w.dropped_at_close} dropped at shutdown, {w.failed} failed, {w.delivery_failed} publish failures, "
            f"{in_flight} abandoned in flight"
        )
        problems = self.mismatches()
        parts.append("every message and window accounted for" if not problems else "ACCOUNTS DO NOT ADD UP: " + "; ".join(problems))
        return "; ".join(parts)


def _reasons(tally: TallyCounts) -> str:
    text = tally.rejections_text()
    return f" ({text})" if text else ""
