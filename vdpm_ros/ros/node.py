"""``vdpm_node``: camera frames in; point clouds, scene flow, motion masks, depth and poses out.

The node only converts messages and calls :class:`vdpm_ros.pipeline.StreamingPipeline`; inference
runs on the pipeline's worker thread, so image callbacks never wait for the model. Outputs are
published from that thread (rclpy publishers are thread-safe) with the source frame's stamp.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException
from rclpy.expand_topic_name import expand_topic_name
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..messages.image import ImageDecodingError, compressed_to_rgb, depth_to_metres, image_to_rgb
from ..output import RclpyTypes, window_messages
from ..output.builders import diagnostics as diagnostics_msg
from ..pipeline.frames import Frame, nearest_by_stamp
from ..pipeline.processor import motion_source_line
from ..pipeline.stream import PipelineOutput, StreamingPipeline
from ..runtime import ModelLoadError
from . import conversions as conv
from .parameters import NodeParameters

THROTTLE_S = 5.0
# Depth images are matched to colour images by stamp; sensors rarely stamp both identically.
DEPTH_MATCH_TOLERANCE_NS = 50_000_000
DEPTH_BUFFER = 10
#: Diagnostic levels (diagnostic_msgs/DiagnosticStatus).
OK, WARN, ERROR = 0, 1, 2
#: Name of the node's status in /diagnostics.
NODE_STATUS = "vdpm_node: pipeline"


class VdpmNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("vdpm_node", **kwargs)
        self.params = self._declare_parameters()
        p = self.params
        loaded = p.model.resolve()  # ModelLoadError names the file and what to do
        for note in loaded.notes:
            self.get_logger().warning(note)
        self.get_logger().info(f"loaded {loaded.description}")
        self._lock = threading.Lock()
        self._intrinsics: np.ndarray | None = None
        # Recent depth images by stamp: a depth camera's frames need not arrive right before their colour image.
        self._depths: deque[tuple[int, np.ndarray]] = deque(maxlen=DEPTH_BUFFER)
        self._image_frame = "camera_optical_frame"  # replaced by the images' header.frame_id
        self.dropped_messages = {"bad_image": 0, "bad_camera_info": 0, "depth_size_mismatch": 0}
        self.published_windows = 0
        self.publish_failures = 0
        self._last_error = ""
        self._failed_at_last_report = 0
        self._dropped_at_last_report = 0
        self._rate_base: tuple[float, int, int] | None = None  # (monotonic s, frames received, windows published)
        self._seen_first_frame = False

        node = p.node
        image_qos = qos_profile_sensor_data if node.image_qos == "sensor_data" else QoSProfile(depth=5)
        if node.image_transport == "raw":
            self._image_topic = "image"
            self.create_subscription(Image, "image", self._on_image, image_qos)
        else:
            self._image_topic = "image/compressed"
            self.create_subscription(CompressedImage, "image/compressed", self._on_compressed, image_qos)
        info_topic, depth_topic = self._inputs_beside_the_image()
        self.create_subscription(CameraInfo, info_topic, self._on_camera_info, image_qos)
        if p.pipeline.scale_mode == "depth":
            self.create_subscription(Image, depth_topic, self._on_depth, image_qos)

        self._types = RclpyTypes()
        self._outputs = self._output_publishers()
        self.pub_diag = self.create_publisher(self._types.message_class("diagnostic_msgs/msg/DiagnosticArray"), "/diagnostics", QoSProfile(depth=5))
        # Steady time: with use_sim_time and no /clock yet (a bag not started) diagnostics must still come.
        self.create_timer(node.diagnostics_period, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME))
        # Last: its worker thread must not outlive a constructor that fails above (a bad topic name, say).
        self.pipeline = StreamingPipeline(loaded.model, p.pipeline, on_output=self._on_output, on_error=self._on_window_error,
                                          objects=p.objects)  # fmt: skip
        o = p.outputs
        self.get_logger().info(f"motion source: {motion_source_line(p.pipeline.motion_source, self.pipeline.processor.motion_source)}")
        self.get_logger().info(
            f"window {p.pipeline.window_size} frames, stride {p.pipeline.stride}; listening on "
            f"{self.resolve_topic_name(self._image_topic)} ({node.image_qos} QoS); publishing "
            f"{', '.join(self.resolve_topic_name(t) for t in (o.points_topic, o.scene_flow_topic, o.motion_mask_topic))}, ..."
        )

    def _inputs_beside_the_image(self) -> tuple[str, str]:
        """camera_info and depth topics: as remapped, or else beside the image topic, as image_proc finds camera_info.

        So ``-r image:=/cam1/color/image_raw`` alone subscribes /cam1/color/camera_info (and, for depth,
        /cam1/color/depth/image_raw) instead of a /camera_info at the root.
        """
        image = self.resolve_topic_name(self._image_topic)
        if self._image_topic.endswith("/compressed") and image.endswith("/compressed"):
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
                hint = ("run scripts/setup_ros_venv.sh or colcon build" if channel.custom else "install its message package")
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

    # ----------------------------------------------------------------- inputs
    def _push(self, stamp_ns: int, rgb: np.ndarray, frame_id: str) -> None:
        if not self._seen_first_frame:
            self._seen_first_frame = True
            self.get_logger().info(f"first frame: {rgb.shape[1]}x{rgb.shape[0]}, frame_id {frame_id!r}, stamp {stamp_ns * 1e-9:.3f} s")
        with self._lock:
            if frame_id:
                self._image_frame = frame_id
            depth = None
            match = nearest_by_stamp(self._depths, stamp_ns, DEPTH_MATCH_TOLERANCE_NS)
            if match is not None and match.shape == rgb.shape[:2]:
                depth = match
            elif match is not None:
                self.dropped_messages["depth_size_mismatch"] += 1
                self.get_logger().error(
                    f"depth image {match.shape[1]}x{match.shape[0]} does not match the colour image {rgb.shape[1]}x{rgb.shape[0]}: "
                    "subscribe depth to a topic aligned to the colour camera (e.g. aligned_depth_to_color)",
                    throttle_duration_sec=THROTTLE_S,
                )
            try:
                frame = Frame(stamp_ns=stamp_ns, rgb=rgb, intrinsics=self._intrinsics, depth=depth)
            except ValueError as exc:
                self.dropped_messages["bad_image"] += 1
                self.get_logger().error(f"dropped frame: {exc}", throttle_duration_sec=THROTTLE_S)
                return
        outcome = self.pipeline.push(frame)
        if outcome.reason:
            self.get_logger().warning(f"frame at {stamp_ns * 1e-9:.3f}s: {outcome.reason}", throttle_duration_sec=THROTTLE_S)
        if outcome.dropped_older:
            self.get_logger().warning(
                "inference is not keeping up: dropped the oldest queued window (see /diagnostics)", throttle_duration_sec=THROTTLE_S
            )

    def _decoded(self, what: str, decode) -> np.ndarray | None:
        """``decode()``, or None after counting and logging (throttled) an undecodable message."""
        try:
            return decode()
        except ImageDecodingError as exc:
            self.dropped_messages["bad_image"] += 1
            self.get_logger().error(f"dropped {what}: {exc}", throttle_duration_sec=THROTTLE_S)
            return None

    def _on_image(self, msg: Image) -> None:
        rgb = self._decoded("image", lambda: image_to_rgb(conv.image_payload(msg)))
        if rgb is not None:
            self._push(conv.stamp_to_ns(msg.header.stamp), rgb, msg.header.frame_id)

    def _on_compressed(self, msg: CompressedImage) -> None:
        rgb = self._decoded("compressed image", lambda: compressed_to_rgb(msg.format, msg.data))
        if rgb is not None:
            self._push(conv.stamp_to_ns(msg.header.stamp), rgb, msg.header.frame_id)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        k = conv.camera_info_k(msg)
        if k is None and any(msg.k):
            self.dropped_messages["bad_camera_info"] += 1
            self.get_logger().error("dropped CameraInfo with a non-finite or non-positive K", throttle_duration_sec=THROTTLE_S)
        with self._lock:
            self._intrinsics = k

    def _on_depth(self, msg: Image) -> None:
        depth = self._decoded("depth image", lambda: depth_to_metres(conv.image_payload(msg)))
        if depth is not None:
            with self._lock:
                self._depths.append((conv.stamp_to_ns(msg.header.stamp), depth))

    # ----------------------------------------------------------------- outputs (worker thread)
    def _on_window_error(self, window: list[Frame], exc: BaseException) -> None:
        # The worker counts this failure itself (WorkerStats.failed).
        self._last_error = f"{type(exc).__name__}: {exc}"
        hint = " (GPU out of memory: lower window_size or use precision:=bfloat16)" if "OutOfMemory" in type(exc).__name__ else ""
        self.get_logger().error(f"window ending at {window[-1].stamp_ns * 1e-9:.3f}s failed: {self._last_error}{hint}", throttle_duration_sec=THROTTLE_S)

    def _on_output(self, output: PipelineOutput) -> None:
        try:
            self._publish(output)
        except Exception as exc:  # a publishing bug must not kill the worker thread silently
            self.publish_failures += 1
            self._last_error = f"publish: {type(exc).__name__}: {exc}"
            self.get_logger().error(self._last_error, throttle_duration_sec=THROTTLE_S)

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
        camera_frame = self.params.outputs.camera_frame or self._image_frame
        messages = window_messages(output, self._types, self.params.outputs, camera_frame, self.pipeline.trajectory, self._wanted)
        for m in messages:
            self._outputs[m.key].publish(m.message)
        if self.published_windows == 0:
            r = output.result
            self.get_logger().info(f"first window published ({len(r.stamps_ns)} frames, {r.timings.total_s * 1e3:.0f} ms)")
        self.published_windows += 1

    def _publish_diagnostics(self) -> None:
        stats = self.pipeline.stats()
        b, w = stats.buffer, stats.worker
        level = OK
        message = "ok"
        # WARN and ERROR say what happened since the last report; the values keep the totals.
        dropped = w.dropped + self.dropped_messages["bad_image"] + self.dropped_messages["depth_size_mismatch"]
        if dropped > self._dropped_at_last_report:
            level, message = WARN, "dropping work (see values)"
        elif self._seen_first_frame and self._rate_base is not None and b.pushed == self._rate_base[1]:
            level, message = WARN, "no input frames since the last report"
        self._dropped_at_last_report = dropped
        failed = w.failed + self.publish_failures
        if failed > self._failed_at_last_report:  # new failures since the last report, not forever
            level, message = ERROR, self._last_error or "windows failed"
        self._failed_at_last_report = failed
        now = time.monotonic()
        frame_rate = window_rate = float("nan")
        if self._rate_base is not None and now > self._rate_base[0]:
            # Wall-clock rates since the last report: what the node actually keeps up with.
            frame_rate = (b.pushed - self._rate_base[1]) / (now - self._rate_base[0])
            window_rate = (self.published_windows - self._rate_base[2]) / (now - self._rate_base[0])
        self._rate_base = (now, b.pushed, self.published_windows)
        values = {
            "motion_source": self.pipeline.processor.motion_source,
            "windows_published": self.published_windows,
            "windows_submitted": w.submitted,
            "windows_dropped_queue_full": w.dropped,
            "windows_failed": w.failed,
            "publish_failures": self.publish_failures,
            "windows_queued": w.queued,
            "window_in_progress": w.busy,
            "frames_accepted": b.accepted,
            "frames_skipped_rate_limit": b.skipped_rate,
            "frames_rejected_stamp": b.rejected_backwards,
            "buffer_resets": b.resets,
            "images_dropped_bad_encoding": self.dropped_messages["bad_image"],
            "camera_info_dropped": self.dropped_messages["bad_camera_info"],
            "depth_dropped_size_mismatch": self.dropped_messages["depth_size_mismatch"],
            "frames_received": b.pushed,
            "input_rate_hz": f"{frame_rate:.2f}",
            "output_rate_hz": f"{window_rate:.2f}",
            "inference_latency_last_s": f"{w.last_latency_s:.3f}",
            "inference_latency_mean_s": f"{w.mean_latency_s:.3f}",
            "queue_delay_last_s": f"{w.last_queue_delay_s:.3f}",
        }
        now_ns = self.get_clock().now().nanoseconds
        self.pub_diag.publish(diagnostics_msg(self._types, now_ns, NODE_STATUS, level, message, values))

    def summary(self) -> str:
        """One line of what this node received, published and dropped, for the log at shutdown."""
        stats = self.pipeline.stats()
        b, w = stats.buffer, stats.worker
        return (
            f"{b.pushed} frames received ({b.accepted} accepted, {b.skipped_rate} skipped by rate limit, "
            f"{b.rejected_backwards} rejected for stamps, {self.dropped_messages['bad_image']} undecodable); "
            f"{w.submitted} windows submitted, {self.published_windows} published, {w.dropped} dropped (queue full "
            f"or shutdown), {w.failed} failed, {self.publish_failures} publish failures"
        )

    def destroy_node(self) -> None:
        if getattr(self, "pipeline", None) is None:  # the constructor failed before the worker started
            super().destroy_node()
            return
        finished = self.pipeline.close()
        # Logged after close() so windows dropped from the queue at shutdown are counted too.
        self.get_logger().info(f"stopping: {self.summary()}")
        if not finished:
            self.get_logger().warning("the window in progress did not finish within 5 s; its output is lost")
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
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
        try:
            rclpy.spin(node)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
