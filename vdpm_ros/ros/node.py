"""``vdpm_node``: camera frames in; point clouds, scene flow, motion masks, depth and poses out.

The node only converts messages and calls :class:`vdpm_ros.pipeline.StreamingPipeline`; inference
runs on the pipeline's worker thread, so image callbacks never wait for the model. Outputs are
published from that thread (rclpy publishers are thread-safe) with the source frame's stamp.
"""

from __future__ import annotations

import sys
from array import array
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path as PathMsg
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..messages.image import ImageDecodingError, compressed_to_rgb, depth_to_metres, image_to_rgb
from ..pipeline.frames import Frame, nearest_by_stamp
from ..pipeline.published import published_arrays
from ..pipeline.stream import PipelineOutput, StreamingPipeline
from . import conversions as conv
from .parameters import NodeParameters, pipeline_config

THROTTLE_S = 5.0
# Depth images are matched to colour images by stamp; sensors rarely stamp both identically.
DEPTH_MATCH_TOLERANCE_NS = 50_000_000
DEPTH_BUFFER = 10


class ModelLoadError(RuntimeError):
    """The node cannot start: the message says which file and what to do."""


def _load_model(params: NodeParameters, logger):
    from ..export.manifest import ExportMismatchError
    from ..model.checkpoint import CheckpointError
    from ..paths import default_model_caveat, default_model_path
    from ..runtime import EngineUnavailableError, load_engine

    path = Path(params.model_path) if params.model_path else default_model_path()
    if path is None:
        raise ModelLoadError(
            "no model: set the parameter model_path (a .safetensors file or the official model.pt), "
            "or install the embedded default model into models/"
        )
    if not params.model_path:
        logger.warning(default_model_caveat(path))
    try:
        loaded = load_engine(path, params.engine, params.device, allow_untrained_decoder=params.allow_vggt)
    except (CheckpointError, ExportMismatchError, EngineUnavailableError, FileNotFoundError, ValueError) as exc:
        raise ModelLoadError(f"model_path={str(path)!r}, engine={params.engine!r}, device={params.device!r}: {exc}") from exc
    logger.info(f"loaded {loaded.description}")
    if loaded.decoder_untrained:
        logger.warning("VGGT checkpoint: the decoder is untrained, scene flow and motion masks are meaningless")
    return loaded.model


class VdpmNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("vdpm_node", **kwargs)
        self.params = self._declare_parameters()
        model = _load_model(self.params, self.get_logger())
        p = self.params
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

        image_qos = qos_profile_sensor_data if p.image_qos == "sensor_data" else QoSProfile(depth=5)
        if p.image_transport == "raw":
            self.create_subscription(Image, "image", self._on_image, image_qos)
        else:
            self.create_subscription(CompressedImage, "image/compressed", self._on_compressed, image_qos)
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, image_qos)
        if p.scale_mode == "depth":
            self.create_subscription(Image, "depth", self._on_depth, image_qos)

        reliable = QoSProfile(depth=5)
        self.pub_points = self.create_publisher(conv.PointCloud2, p.points_topic, reliable)
        self.pub_flow = self.create_publisher(conv.PointCloud2, p.scene_flow_topic, reliable)
        self.pub_mask = self.create_publisher(Image, p.motion_mask_topic, reliable)
        self.pub_depth = self.create_publisher(Image, p.depth_topic, reliable)
        self.pub_optical_flow = self.create_publisher(Image, p.optical_flow_topic, reliable)
        self.pub_pose = self.create_publisher(PoseStamped, p.camera_pose_topic, reliable)
        self.pub_odom = self.create_publisher(Odometry, p.odometry_topic, reliable)
        self.pub_path = self.create_publisher(PathMsg, p.path_topic, reliable)
        self.pub_info = self.create_publisher(CameraInfo, p.camera_info_topic, reliable)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        self._custom = self._custom_publishers()
        self._tf = self._tf_publisher() if p.publish_tf else None
        # Steady time: with use_sim_time and no /clock yet (a bag not started) diagnostics must still come.
        self.create_timer(p.diagnostics_period, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME))
        # Last: its worker thread must not outlive a constructor that fails above (a bad topic name, say).
        self.pipeline = StreamingPipeline(
            model, pipeline_config(self.params), on_output=self._on_output, on_error=self._on_window_error
        )
        self.get_logger().info(
            f"window {p.window_size} frames, stride {p.stride}; listening on {self.resolve_topic_name('image')} "
            f"({p.image_qos} QoS); publishing {', '.join(self.resolve_topic_name(t) for t in (p.points_topic, p.scene_flow_topic, p.motion_mask_topic))}, ..."
        )

    # ----------------------------------------------------------------- parameters
    def _declare_parameters(self) -> NodeParameters:
        descriptions = NodeParameters.descriptions()
        values = {}
        for name, default in NodeParameters.defaults().items():
            # Read once at start-up: read_only makes `ros2 param set` say so instead of pretending to apply.
            self.declare_parameter(name, default, ParameterDescriptor(description=descriptions[name], read_only=True))
            values[name] = self.get_parameter(name).value
        return NodeParameters.from_values(values)  # ValueError names the bad parameter

    def _custom_publishers(self) -> dict:
        try:
            from ..msg import SceneFlow, Window
        except ImportError:
            self.get_logger().warning(
                "vdpm_ros.msg is not built: SceneFlow/Window messages are off (run scripts/setup_ros_venv.sh or colcon build)"
            )
            return {}
        pubs = {"scene_flow": self.create_publisher(SceneFlow, self.params.scene_flow_msg_topic, QoSProfile(depth=5))}
        if self.params.publish_window:
            pubs["window"] = self.create_publisher(Window, self.params.window_topic, QoSProfile(depth=2))
        return pubs

    def _tf_publisher(self):
        try:
            from tf2_ros import TransformBroadcaster

            broadcaster = TransformBroadcaster(self)
            return lambda transform: broadcaster.sendTransform(transform)
        except ImportError:
            pass
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError:
            self.get_logger().warning("neither tf2_ros nor tf2_msgs is available: TF output is off")
            return None
        pub = self.create_publisher(TFMessage, "/tf", QoSProfile(depth=100))
        return lambda transform: pub.publish(TFMessage(transforms=[transform]))

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

    def _publish(self, output: PipelineOutput) -> None:
        p, r = self.params, output.result
        a = published_arrays(output)
        stamp = r.latest_stamp_ns
        camera_frame = p.camera_frame or self._image_frame
        cam_hdr = conv.header(stamp, camera_frame)
        frame_hdr = conv.header(stamp, p.odom_frame) if a.in_odom else cam_hdr
        self.pub_points.publish(conv.cloud_msg(a.cloud, frame_hdr))
        if a.flow is not None:
            flow_cloud = conv.cloud_msg(a.flow, frame_hdr)
            self.pub_flow.publish(flow_cloud)
            if "scene_flow" in self._custom:
                from ..msg import SceneFlow

                msg = SceneFlow(header=frame_hdr, cloud=flow_cloud, metric=r.units == "m", scale=float(r.scale * a.length_scale))
                msg.source_stamp = conv.ns_to_stamp(r.previous_stamp_ns)
                msg.target_stamp = conv.ns_to_stamp(stamp)
                self._custom["scene_flow"].publish(msg)
            self.pub_mask.publish(conv.image_msg(r.motion_mask, cam_hdr))
            self.pub_optical_flow.publish(conv.image_msg(r.optical_flow.astype(np.float32), cam_hdr))
        # Depth in the same units as the clouds and poses (the odometry frame's, once stitched).
        self.pub_depth.publish(conv.image_msg(a.depth, cam_hdr))
        self.pub_info.publish(conv.camera_info_msg(r.intrinsics[-1], r.raw_hw[0], r.raw_hw[1], cam_hdr))

        pose_stamped = PoseStamped(header=frame_hdr, pose=conv.pose_msg(a.pose))
        self.pub_pose.publish(pose_stamped)
        if a.in_odom:  # without stitching the pose is the identity in the camera's own frame: no odometry
            self.pub_odom.publish(conv.odometry_msg(pose_stamped.pose, a.twist, p.odometry_variance, frame_hdr, camera_frame))
            if self.pub_path.get_subscription_count():  # the whole trajectory: only built for someone
                self.pub_path.publish(self._path_msg(frame_hdr))
            if self._tf is not None:
                self._tf(conv.transform_msg(pose_stamped.pose, frame_hdr, camera_frame))
        if "window" in self._custom:
            self._custom["window"].publish(self._window_msg(r, conv.header(stamp, camera_frame)))
        if self.published_windows == 0:
            self.get_logger().info(f"first window published ({len(r.stamps_ns)} frames, {r.timings.total_s * 1e3:.0f} ms)")
        self.published_windows += 1

    def _path_msg(self, hdr) -> PathMsg:
        """Every frame of the stitched trajectory (bounded, and restarted with the odometry frame)."""
        stamps, poses = self.pipeline.trajectory()
        path = PathMsg(header=hdr)
        path.poses = [PoseStamped(header=conv.header(int(t), hdr.frame_id), pose=p) for t, p in zip(stamps, conv.pose_msgs(poses))]
        return path

    def _window_msg(self, r, hdr):
        from ..msg import Window

        # Poses and points in the window's own frame (its first camera), as Window.msg defines them.
        poses = r.world_from_camera
        msg = Window(header=hdr, metric=r.units == "m", scale=float(r.scale))
        msg.stamps = [conv.ns_to_stamp(s) for s in r.stamps_ns]
        msg.poses = [conv.pose_msg(p) for p in poses]
        msg.intrinsics = r.intrinsics.reshape(-1).astype(np.float64).tolist()
        msg.image_height, msg.image_width = r.raw_hw
        msg.height, msg.width = r.raw_hw
        msg.map_to_image = np.eye(3).reshape(-1).tolist()  # maps are published at the raw image resolution
        S = len(r.stamps_ns)
        maps, confs, targets = [r.points], [r.confidence], [S - 1]
        if r.scene_flow is not None:
            maps.append(r.points - r.scene_flow * r.flow_dt_s)
            confs.append(r.flow_confidence)
            targets.append(S - 2)
        msg.map_frames = [S - 1] * len(maps)
        msg.map_targets = targets
        # array('f') is what rosidl takes without a per-element check (and with ROS_PYTHON_CHECK_FIELDS on,
        # a numpy array is refused).
        msg.points = array("f", np.stack(maps).astype(np.float32).tobytes())
        msg.confidences = array("f", np.stack(confs).astype(np.float32).tobytes())
        return msg

    def _publish_diagnostics(self) -> None:
        stats = self.pipeline.stats()
        b, w = stats.buffer, stats.worker
        level = DiagnosticStatus.OK
        message = "ok"
        # WARN and ERROR say what happened since the last report; the values keep the totals.
        dropped = w.dropped + self.dropped_messages["bad_image"] + self.dropped_messages["depth_size_mismatch"]
        if dropped > self._dropped_at_last_report:
            level, message = DiagnosticStatus.WARN, "dropping work (see values)"
        elif self._seen_first_frame and self._rate_base is not None and b.pushed == self._rate_base[1]:
            level, message = DiagnosticStatus.WARN, "no input frames since the last report"
        self._dropped_at_last_report = dropped
        failed = w.failed + self.publish_failures
        if failed > self._failed_at_last_report:  # new failures since the last report, not forever
            level, message = DiagnosticStatus.ERROR, self._last_error or "windows failed"
        self._failed_at_last_report = failed
        now = time.monotonic()
        frame_rate = window_rate = float("nan")
        if self._rate_base is not None and now > self._rate_base[0]:
            # Wall-clock rates since the last report: what the node actually keeps up with.
            frame_rate = (b.pushed - self._rate_base[1]) / (now - self._rate_base[0])
            window_rate = (self.published_windows - self._rate_base[2]) / (now - self._rate_base[0])
        self._rate_base = (now, b.pushed, self.published_windows)
        values = {
            "windows_published": self.published_windows,
            "windows_submitted": w.submitted,
            "windows_dropped_queue_full": w.dropped,
            "windows_failed": w.failed,
            "publish_failures": self.publish_failures,
            "windows_queued": w.queued,
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
        status = DiagnosticStatus(level=level, name="vdpm_node: pipeline", message=message, hardware_id="vdpm_ros")
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)

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
