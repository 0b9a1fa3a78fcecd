"""``vdpm_node``: camera frames in; point clouds, scene flow, motion masks, depth and poses out.

The node only converts messages and calls the core: :class:`~vdpm_ros.ros.intake.CameraIntake` decodes
and checks the inputs (every refusal counted), :class:`vdpm_ros.pipeline.StreamingPipeline` runs the
windows. Inference runs on the pipeline's worker thread, so image callbacks never wait for the model.
Outputs are published from that thread (rclpy publishers are thread-safe) with the source frame's stamp.

On SIGINT or SIGTERM the node stops taking frames, lets the window in progress finish and be published
(up to ``shutdown_timeout``; a second signal abandons it), logs its summary and only then shuts ROS down,
so nothing is published or logged once the context is gone.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.expand_topic_name import expand_topic_name
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..messages.log_throttle import KindThrottle
from ..messages.untrusted import clip_for_log
from ..output import RclpyTypes, window_messages
from ..output.builders import diagnostics as diagnostics_msg
from ..pipeline.frames import Frame
from ..pipeline.processor import motion_source_line
from ..pipeline.stage_times import RecentStageTimes
from ..pipeline.stream import PipelineOutput, StreamingPipeline
from ..runtime import ModelLoadError
from . import conversions as conv
from .accounting import NodeAccounts
from .intake import CameraIntake, IntakeLimits
from .parameters import NodeParameters

#: Shortest time between two log lines of one kind (e.g. "image/corrupt"), seconds.
THROTTLE_S = 5.0
#: Diagnostic levels (diagnostic_msgs/DiagnosticStatus).
OK, WARN, ERROR = 0, 1, 2
#: Name of the node's status in /diagnostics.
NODE_STATUS = "vdpm_node: pipeline"


class PublishError(RuntimeError):
    """Publishing a window's messages failed (the worker counts it as a publish failure, not a failed window)."""


class VdpmNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("vdpm_node", **kwargs)
        self.params = self._declare_parameters()
        p = self.params
        loaded = p.model.resolve()  # ModelLoadError names the file and what to do
        for note in loaded.notes:
            self.get_logger().warning(note)
        self.get_logger().info(f"loaded {loaded.description}")
        self._quiet = False  # set once the summary is logged: nothing may be logged after the context goes
        self._shut_down = False
        self._throttle = KindThrottle(THROTTLE_S)
        node = p.node
        limits = IntakeLimits(node.max_input_pixels, node.max_depth, int(round(node.depth_stamp_tolerance * 1e9)))
        self.intake = CameraIntake(limits, self._log, self._throttle)
        self._image_frame = "camera_optical_frame"  # replaced by the images' header.frame_id
        self._last_error = ""
        self._failed_at_last_report = 0
        self._dropped_at_last_report = 0
        self._rate_base: tuple[float, int, int] | None = None  # (monotonic s, frames received, windows published)
        self._seen_first_frame = False
        self._stage_times = RecentStageTimes()  # the last 50 windows: medians in /diagnostics

        reliability = qos_profile_sensor_data.reliability if node.image_qos == "sensor_data" else QoSProfile(depth=1).reliability
        image_qos = QoSProfile(depth=node.queue_depth, reliability=reliability, durability=qos_profile_sensor_data.durability)
        if node.image_transport == "raw":
            self._image_topic = self.resolve_topic_name("image")
            self.create_subscription(Image, self._image_topic, self._on_image, image_qos)
        else:
            self._image_topic = self._compressed_topic()
            self.create_subscription(CompressedImage, self._image_topic, self._on_compressed, image_qos)
        info_topic, depth_topic = self._inputs_beside_the_image()
        self.create_subscription(CameraInfo, info_topic, self._on_camera_info, image_qos)
        inputs = [f"{self._image_topic} ({node.image_transport}, {node.image_qos} QoS, queue {node.queue_depth})", f"{info_topic}"]
        if p.pipeline.scale_mode == "depth":
            self.create_subscription(Image, depth_topic, self._on_depth, image_qos)
            inputs.append(depth_topic)

        self._types = RclpyTypes()
        self._outputs = self._output_publishers()
        self.pub_diag = self.create_publisher(
            self._types.message_class("diagnostic_msgs/msg/DiagnosticArray"), "/diagnostics", QoSProfile(depth=5)
        )
        # Steady time: with use_sim_time and no /clock yet (a bag not started) diagnostics must still come.
        self.create_timer(node.diagnostics_period, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME))
        # Last: its worker thread must not outlive a constructor that fails above (a bad topic name, say).
        self.pipeline = StreamingPipeline(loaded.model, p.pipeline, on_output=self._on_output, on_error=self._on_window_error,
                                          objects=p.objects)  # fmt: skip
        o = p.outputs
        self.get_logger().info(f"motion source: {motion_source_line(p.pipeline.motion_source, self.pipeline.processor.motion_source)}")
        self.get_logger().info(
            f"window {p.pipeline.window_size} frames, stride {p.pipeline.stride}; listening on {', '.join(inputs)}; publishing "
            f"{', '.join(self.resolve_topic_name(t) for t in (o.points_topic, o.scene_flow_topic, o.motion_mask_topic))}, ..."
        )

    def _compressed_topic(self) -> str:
        """image/compressed as remapped, or else ``<image>/compressed`` as image_transport names it.

        So ``-r image:=/cam/image_raw`` with ``image_transport: compressed`` subscribes /cam/image_raw/compressed.
        """
        resolved = self.resolve_topic_name("image/compressed")
        if resolved != expand_topic_name("image/compressed", self.get_name(), self.get_namespace()):
            return resolved
        return self.resolve_topic_name("image") + "/compressed"

    def _inputs_beside_the_image(self) -> tuple[str, str]:
        """camera_info and depth topics: as remapped, or else beside the image topic, as image_proc finds camera_info.

        So ``-r image:=/cam1/color/image_raw`` alone subscribes /cam1/color/camera_info (and, for depth,
        /cam1/color/depth/image_raw) instead of a /camera_info at the root.
        """
        image = self._image_topic
        if self.params.node.image_transport == "compressed" and image.endswith("/compressed"):
            image = image[: -len("/compressed")]
        beside = image.rsplit("/", 1)[0]
        out = []
        for name, sibling in (("camera_info", "camera_info"), ("depth", "depth/image_raw")):
            resolved = self.resolve_topic_name(name)
            unmapped = expand_topic_name(name, self.get_name(), self.get_namespace())
            out.append(resolved if resolved != unmapped else f"{beside}/{sibling}")
        return out[0], out[1]

    # ----------------------------------------------------------------- parameters
    def _declare_parameters(self) -> NodeParameters:
        values = {}
        for spec in NodeParameters.specs():
            # Read once at start-up: read_only makes `ros2 param set` say so instead of pretending to apply.
            self.declare_parameter(spec.name, spec.default, ParameterDescriptor(description=spec.description, read_only=True))
            values[spec.name] = self.get_parameter(spec.name).value
        return NodeParameters.from_values(values)  # ValueError names the bad parameter

    def _output_publishers(self) -> dict:
        """One publisher per output channel, from the table the output bag uses too (None where a type is missing)."""
        pubs = {}
        tf_broadcaster = None
        for channel in self.params.outputs.channels():
            if channel.key == "tf":
                tf_broadcaster = self._tf_broadcaster()
                if tf_broadcaster is not None:
                    pubs["tf"] = tf_broadcaster
                    continue
            try:
                cls = self._types.message_class(channel.msgtype)
            except (ImportError, AttributeError):
                hint = "run scripts/setup_ros_venv.sh or colcon build" if channel.custom else "install its message package"
                self.get_logger().warning(f"{channel.msgtype} is not available: {channel.topic} is off ({hint})")
                continue
            qos = QoSProfile(depth=channel.depth, durability=DurabilityPolicy.get_from_short_key(channel.durability))
            pubs[channel.key] = self.create_publisher(cls, channel.topic, qos)
        return pubs

    def _tf_broadcaster(self):
        try:
            from tf2_ros import TransformBroadcaster
        except ImportError:
            return None  # no tf2_ros (a pip venv): TFMessages go out on /tf through a plain publisher
        broadcaster = TransformBroadcaster(self)

        class _Broadcast:
            def publish(self, msg) -> None:
                broadcaster.sendTransform(list(msg.transforms))

            def get_subscription_count(self) -> int:
                return 1

        return _Broadcast()

    # ----------------------------------------------------------------- logging
    def _log(self, level: str, line: str) -> None:
        """Log unless the node is shutting down past its summary or the context is gone (rosout would fail)."""
        if self._quiet or not self.context.ok():
            return
        logger = self.get_logger()
        # One call per severity: rclpy refuses a call site whose severity changes between calls.
        if level == "error":
            logger.error(line)
        elif level == "warning":
            logger.warning(line)
        else:
            logger.info(line)

    # ----------------------------------------------------------------- inputs
    def _push(self, frame: Frame | None, frame_id: str) -> None:
        if frame is None:
            return
        if not self._seen_first_frame:
            self._seen_first_frame = True
            self._log("info", f"first frame: {frame.hw[1]}x{frame.hw[0]}, frame_id {clip_for_log(frame_id)}, stamp {frame.stamp_s:.3f} s")
        if frame_id:
            self._image_frame = frame_id
        outcome = self.pipeline.push(frame)
        if outcome.reason:
            kind = "frame/" + "_".join(outcome.reason.split(":")[0].split()[:2])  # frame_rejected, frame_skipped, image_size, time_jumped
            self.intake.report("warning", kind, f"frame at {frame.stamp_s:.3f} s: {outcome.reason}")
        if outcome.dropped_older:
            self.intake.report(
                "warning", "window/dropped_queue_full", "inference is not keeping up: dropped the oldest queued window (see /diagnostics)"
            )

    def _on_image(self, msg: Image) -> None:
        stamp = conv.stamp_to_ns(msg.header.stamp)
        self._push(self.intake.raw_image(stamp, conv.image_payload(msg)), msg.header.frame_id)

    def _on_compressed(self, msg: CompressedImage) -> None:
        stamp = conv.stamp_to_ns(msg.header.stamp)
        self._push(self.intake.compressed_image(stamp, msg.format, msg.data), msg.header.frame_id)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.intake.camera_info_message(conv.camera_info_payload(msg))

    def _on_depth(self, msg: Image) -> None:
        self.intake.depth_image(conv.stamp_to_ns(msg.header.stamp), conv.image_payload(msg))

    # ----------------------------------------------------------------- outputs (worker thread)
    def _on_window_error(self, window: list[Frame], exc: BaseException) -> None:
        # The worker counts this failure itself (WorkerStats.failed, or delivery_failed for a PublishError).
        self._last_error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, PublishError):
            self.intake.report("error", "window/publish_failed", f"publishing the window ending at {window[-1].stamp_s:.3f}s failed: {exc}")
            return
        hint = " (GPU out of memory: lower window_size or use precision:=bfloat16)" if "OutOfMemory" in type(exc).__name__ else ""
        self.intake.report("error", "window/failed", f"window ending at {window[-1].stamp_s:.3f}s failed: {self._last_error}{hint}")

    def _on_output(self, output: PipelineOutput) -> None:
        try:
            self._publish(output)
        except Exception as exc:  # a publishing bug must not kill the worker thread silently: counted, logged
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    def _wanted(self, key: str) -> bool:
        """Build an output only for someone who listens (clouds and the path are the costly ones to build and
        serialise). A latched output (transient local) is built anyway, for whoever subscribes later, and TF
        always goes out: its subscribers are the TF buffers of other nodes, counted or not."""
        pub = self._outputs.get(key)
        if pub is None:
            return False
        latched = getattr(pub, "qos_profile", None) is not None and pub.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
        return key == "tf" or latched or pub.get_subscription_count() > 0

    def _publish(self, output: PipelineOutput) -> None:
        start = time.perf_counter()
        camera_frame = self.params.outputs.camera_frame or self._image_frame
        messages = window_messages(output, self._types, self.params.outputs, camera_frame, self.pipeline.trajectory, self._wanted)
        for m in messages:
            self._outputs[m.key].publish(m.message)
        self._stage_times.record(output.result.timings, time.perf_counter() - start)
        if self.pipeline.stats().worker.processed == 0:
            r = output.result
            self._log("info", f"first window published ({len(r.stamps_ns)} frames, {r.timings.total_s * 1e3:.0f} ms)")

    # ----------------------------------------------------------------- reports
    def accounts(self) -> NodeAccounts:
        """Every counter of the node now. Call it between callbacks (the executor's thread, or after spinning)."""
        stats = self.pipeline.stats()
        i = self.intake
        return NodeAccounts(
            i.images.snapshot(),
            i.depth.snapshot(),
            i.depth_pairing.snapshot(),
            i.camera_info.snapshot(),
            stats.buffer,
            stats.worker,
            i.gaps,
        )

    def _publish_diagnostics(self) -> None:
        accounts = self.accounts()
        w = accounts.worker
        level = OK
        message = "ok"
        # WARN and ERROR say what happened since the last report; the values keep the totals.
        dropped = (
            accounts.images.rejected_total + accounts.depth.rejected_total + accounts.camera_info.rejected_total
            + accounts.depth_pairing.rejected_for("stale") + accounts.depth_pairing.rejected_for("size_mismatch")
            + w.dropped_queue_full + accounts.gaps.missed
        )  # fmt: skip
        if dropped > self._dropped_at_last_report:
            level, message = WARN, "dropping input or work (see values)"
        elif self._seen_first_frame and self._rate_base is not None and accounts.images.arrived == self._rate_base[1]:
            level, message = WARN, "no input frames since the last report"
        self._dropped_at_last_report = dropped
        failed = w.failed + w.delivery_failed
        if failed > self._failed_at_last_report:  # new failures since the last report, not forever
            level, message = ERROR, self._last_error or "windows failed"
        self._failed_at_last_report = failed
        now = time.monotonic()
        frame_rate = window_rate = float("nan")
        if self._rate_base is not None and now > self._rate_base[0]:
            # Wall-clock rates since the last report: what the node actually keeps up with.
            frame_rate = (accounts.images.arrived - self._rate_base[1]) / (now - self._rate_base[0])
            window_rate = (w.processed - self._rate_base[2]) / (now - self._rate_base[0])
        self._rate_base = (now, accounts.images.arrived, w.processed)
        values = accounts.diagnostic_values()
        values["motion_source"] = self.pipeline.processor.motion_source
        values.update(
            input_rate_hz=f"{frame_rate:.2f}",
            output_rate_hz=f"{window_rate:.2f}",
            inference_latency_last_s=f"{w.last_latency_s:.3f}",
            inference_latency_mean_s=f"{w.mean_latency_s:.3f}",
            queue_delay_last_s=f"{w.last_queue_delay_s:.3f}",
        )
        links = self.pipeline.stats().links
        if links is not None:  # the flow source's links computed ahead on their own thread, or left to the worker
            values.update(flow_prefetch_windows=str(links.processed), flow_prefetch_skipped=str(links.dropped_queue_full))
        # Where a window's time goes, as `vdpm bench --pipeline` reports it for a window timed alone.
        values.update({f"stage_ms_{k}": f"{v:.1f}" for k, v in self._stage_times.medians_ms().items()})
        now_ns = self.get_clock().now().nanoseconds
        self.pub_diag.publish(diagnostics_msg(self._types, now_ns, NODE_STATUS, level, message, values))

    # ----------------------------------------------------------------- shutdown
    def shut_down(self, hurry: threading.Event | None = None) -> NodeAccounts:
        """Stop taking windows; let the one in progress finish and be published, or abandon it; log the summary.

        Call it after spinning has stopped and while the context is still valid. The window in progress
        gets ``shutdown_timeout`` seconds (none when the context is already gone, or once ``hurry`` is set);
        after that nothing more is published. Returns the final accounts (also logged as one line).
        """
        if self._shut_down:
            return self.accounts()
        self._shut_down = True
        timeout = self.params.node.shutdown_timeout if self.context.ok() else 0.0
        if self.pipeline.stats().worker.busy and timeout > 0:
            self._log("info", f"shutting down: finishing the window in progress (up to {timeout:g} s; a second Ctrl-C abandons it)")
        deadline = time.monotonic() + timeout
        finished = self.pipeline.close(timeout=0)  # queued windows are dropped and counted
        while not finished and time.monotonic() < deadline and not (hurry is not None and hurry.is_set()):
            finished = self.pipeline.close(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        abandoned = False
        if not finished:
            self.pipeline.abandon()  # from here on nothing is published
            abandoned = self.pipeline.stats().worker.busy
        accounts = self.accounts()
        self._log("info", f"stopping: {accounts.summary()}")
        if abandoned:
            self._log(
                "warning", f"the window in progress was abandoned unpublished after {timeout:g} s (shutdown_timeout, or a second signal)"
            )
        self._quiet = True
        return accounts

    def destroy_node(self) -> None:
        if getattr(self, "pipeline", None) is not None:  # None: the constructor failed before the worker started
            self.shut_down()
        super().destroy_node()


class _StopSignals:
    """SIGINT and SIGTERM ask the node to stop (``requested``); a second one asks it to hurry (``hurry``).

    rclpy's own handlers shut the context down at once, while a window may still be publishing; these only
    set events, so the node stops in order. Installed from the main thread only (elsewhere: a no-op).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.hurry = threading.Event()
        self._previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested.is_set():
            self.hurry.set()
        self.requested.set()

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = _StopSignals()
    node = None
    try:
        try:
            node = VdpmNode()
        except (ModelLoadError, ValueError, InvalidParameterTypeException) as exc:
            print(f"vdpm_node: cannot start: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # e.g. an invalid topic name from a parameter: say so instead of a traceback
            print(f"vdpm_node: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            # spin_once returns at least every 0.1 s, so a signal is acted on within that.
            while not stop.requested.is_set() and node.context.ok():
                executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.remove_node(node)
        node.shut_down(stop.hurry)  # the context is still valid: the last window and the summary go out
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        stop.restore()
    return 0


if __name__ == "__main__":
    sys.exit(main())
