"""``vdpm eval --bag --live``: replay a bag into a real ``vdpm node`` with /clock and measure what it publishes.

What the offline evaluation cannot see is measured here: stamp-to-publish latency (wall time from the
image going out to the node's pose for that stamp coming back), throughput, and windows the running node
dropped. Poses and depth are scored from the published messages with the same functions as offline.
Camera topics are replayed reliably and the node subscribes reliably, so transport does not lose frames:
every missing window is the node's own drop, and is reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image
from tqdm import tqdm

from ..bags.camera_bag import (
    BagTopics,
    PoseTrack,
    count_images,
    find_topics,
    iter_camera,
    pose_matrix,
    read_pose_track,
    read_tum_trajectory,
)
from ..evaluation.bag_eval import BagEvalOptions, BagEvaluation, DepthMatcher, WindowRecord, summarise
from ..messages.image import depth_to_metres
from ..pipeline import expected_windows
from ..ros.bag_player import play_bag
from ..ros.conversions import image_payload, stamp_to_ns
from ..ros.node import NODE_STATUS
from ..ros.parameters import NodeParameters


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> str:
    """SIGTERM (a ROS node then logs its shutdown summary), SIGKILL after ``timeout`` s; returns its output."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


class NodeFailed(RuntimeError):
    """vdpm node exited before the replay; the message is its log."""

    def __init__(self, log: str) -> None:
        super().__init__(f"vdpm node exited before the replay started; its log:\n{log.strip()}")


@dataclass
class LiveCapture:
    """What came back from the node: per output stamp, the pose, the depth and when it arrived."""

    sent_at: dict[int, float] = field(default_factory=dict)
    pose_at: dict[int, float] = field(default_factory=dict)
    poses: dict[int, np.ndarray] = field(default_factory=dict)
    depths: dict[int, np.ndarray] = field(default_factory=dict)
    #: The node's last /diagnostics values (key -> text).
    node_status: dict[str, str] = field(default_factory=dict)

    def settled(self, frames_sent: int) -> bool:
        """The node has received ``frames_sent`` images, has no window left to run, and its poses are all here.

        Read from the node's /diagnostics (vdpm_ros.ros.accounting): every window submitted has a fate.
        """
        s = self.node_status
        try:
            received, submitted = int(s["images_arrived"]), int(s["windows_submitted"])
            published = int(s["windows_published"])
            done = published + sum(
                int(s[k]) for k in ("windows_publish_failed", "windows_failed", "windows_dropped_queue_full", "windows_dropped_at_shutdown")
            )
            idle = int(s["windows_queued"]) == 0 and s["window_in_progress"] == "False"
        except (KeyError, ValueError):
            return False
        return received >= frames_sent and idle and done >= submitted and len(self.poses) >= published


def node_command(params: NodeParameters, topics: BagTopics) -> list[str]:
    """``vdpm node`` with sim time, reliable images, the bag's camera topics remapped, and every changed parameter."""
    cmd = [sys.executable, "-m", "vdpm_ros.cli.main", "node", "--ros-args", "-p", "use_sim_time:=true"]
    # A bag with only compressed images needs the node's compressed subscription, remapped to that topic.
    image_input = "image/compressed" if topics.compressed else "image"
    values = {**params.changed(), "image_qos": "reliable", "image_transport": "compressed" if topics.compressed else "raw"}
    for name, value in values.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        cmd += ["-p", f"{name}:={text}"]
    cmd += ["-r", f"{image_input}:={topics.image}"]
    if topics.camera_info:
        cmd += ["-r", f"camera_info:={topics.camera_info}"]
    return cmd


def evaluate_live(
    path: str | Path,
    params: NodeParameters,
    options: BagEvalOptions | None = None,
    rate: float = 1.0,
    settle_timeout_s: float = 600.0,
    progress: bool = True,
) -> BagEvaluation:
    """Start ``vdpm node``, replay the bag's camera topics into it with /clock, score its published poses and depth."""
    path = Path(path)
    options = options or BagEvalOptions()
    topics = find_topics(path, options.image_topic, options.depth_topic)
    gt_track = read_tum_trajectory(options.groundtruth) if options.groundtruth else read_pose_track(path, topics, options.gt_tf)
    notes = [] if gt_track is not None else ["no camera ground truth: ATE/RPE not measured"]
    # Until the replay says which stamps went out, assume no image is rate-limited (widely spaced stamps).
    expected = expected_windows((i * 10**12 for i in range(count_images(path, topics))), params.pipeline)
    node = subprocess.Popen(node_command(params, topics), env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    cap = LiveCapture()
    spinning = threading.Event()
    spin_thread = None
    rclpy.init()
    try:
        recorder = rclpy.create_node("vdpm_live_eval")
        qos = QoSProfile(depth=200)

        def on_pose(msg) -> None:
            stamp = stamp_to_ns(msg.header.stamp)
            cap.pose_at[stamp] = time.monotonic()
            p, o = msg.pose.position, msg.pose.orientation
            cap.poses[stamp] = pose_matrix([p.x, p.y, p.z], [o.x, o.y, o.z, o.w])

        def on_depth(msg) -> None:
            cap.depths[stamp_to_ns(msg.header.stamp)] = depth_to_metres(image_payload(msg)).copy()

        def on_diagnostics(msg) -> None:
            for status in msg.status:
                if status.name == NODE_STATUS:
                    cap.node_status = {kv.key: kv.value for kv in status.values}

        recorder.create_subscription(PoseStamped, params.outputs.camera_pose_topic, on_pose, qos)
        recorder.create_subscription(Image, params.outputs.depth_topic, on_depth, qos)
        recorder.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, QoSProfile(depth=10))
        executor = SingleThreadedExecutor()
        executor.add_node(recorder)
        spinning.set()

        def spin() -> None:
            while spinning.is_set():
                executor.spin_once(timeout_sec=0.05)

        spin_thread = threading.Thread(target=spin, daemon=True)
        spin_thread.start()
        player = rclpy.create_node("vdpm_live_eval_player")

        bar = tqdm(total=count_images(path, topics), desc="live: frames sent", unit="frame", disable=not progress)

        def on_publish(topic: str, msg) -> None:
            if topic == topics.image:
                cap.sent_at[stamp_to_ns(msg.header.stamp)] = time.monotonic()
                bar.update(1)
                bar.set_postfix(windows_back=len(cap.poses))

        # Wait for the node to subscribe (or to die: a bad model path ends it within seconds).
        if progress:
            print("live: starting vdpm node (loading the model) ...", file=sys.stderr)
        wait_until = time.monotonic() + 120.0
        while recorder.count_subscribers(topics.image) == 0 and node.poll() is None and time.monotonic() < wait_until:
            time.sleep(0.1)
        if node.poll() is not None:
            raise NodeFailed(node.communicate()[0])
        start = time.monotonic()
        stats = play_bag(player, path, rate, topics={t for t in (topics.image, topics.camera_info) if t},
                         sensor_qos=False, wait_for=(topics.image,), wait_timeout=120.0, on_publish=on_publish)  # fmt: skip
        bar.close()
        # The node's own buffer rules (rate limit, stride) on the stamps that really went out.
        expected = expected_windows(sorted(cap.sent_at), params.pipeline)
        if progress:
            print(f"live: replay done; waiting for the node to finish its windows ({len(cap.poses)} of {expected} back)", file=sys.stderr)
        if not stats.matched:
            notes.append("the node's image subscription never matched: did it start? (see its log below)")
        # Paced by what the node reports, not by the clock: wait until it has received every frame sent and
        # settled every window (published, dropped or failed, none queued or running), and until the poses
        # of the windows it published have arrived. The deadline only guards against a hung node.
        deadline = time.monotonic() + settle_timeout_s
        while not cap.settled(len(cap.sent_at)) and time.monotonic() < deadline and node.poll() is None:
            time.sleep(0.05)
        if not cap.settled(len(cap.sent_at)):
            notes.append(f"the node had not settled every window after {settle_timeout_s:.0f} s; its last report: {cap.node_status}")
        wall = max(cap.pose_at.values(), default=time.monotonic()) - min(cap.sent_at.values(), default=start)
    finally:
        spinning.clear()
        if spin_thread is not None:
            spin_thread.join(5)
        rclpy.try_shutdown()
        log = stop_process(node, 20.0)
    summary_line = next((line for line in log.splitlines() if "stopping:" in line), "")
    if summary_line:
        notes.append("node: " + summary_line.split("stopping:", 1)[1].strip())
    if len(cap.poses) < expected:
        notes.append(f"{expected - len(cap.poses)} of {expected} windows did not come back (dropped by the node or late)")

    records = []
    depth_matcher = DepthMatcher()
    for stamp in sorted(cap.poses):
        latency = cap.pose_at[stamp] - cap.sent_at[stamp] if stamp in cap.sent_at else float("nan")
        records.append(WindowRecord(stamp_ns=stamp, latency_s=latency))
    for rec in records:
        if rec.stamp_ns in cap.depths:
            # The published depth is NaN both outside the network's view and where a prediction failed;
            # from the topic alone the two look the same, so only finite pixels are scored here.
            depth = cap.depths[rec.stamp_ns]
            depth_matcher.add_prediction(rec, depth, np.isfinite(depth))
    if topics.depth is not None:  # only the depth topic: the colour images need not be decoded again
        for msg in iter_camera(path, topics, images=False):
            depth_matcher.add_depth(msg.stamp_ns, msg.array)
    depth_matcher.finish()
    stamps = np.array(sorted(cap.poses), dtype=np.int64)
    estimate = PoseTrack(stamps, np.stack([cap.poses[s] for s in stamps]) if len(stamps) else np.zeros((0, 4, 4)), "node")
    metrics, no_motion, comparison = summarise(records, estimate, gt_track, options, notes)
    metrics["windows_expected"] = float(expected)
    metrics["windows_received"] = float(len(records))
    metrics["depth_maps_received"] = float(len(cap.depths))
    sent = sorted(cap.sent_at)
    duration = (sent[-1] - sent[0]) * 1e-9 if len(sent) > 1 else 0.0
    ev = BagEvaluation(
        bag=str(path), topics=topics, model=params.model.model_path or "embedded default", frames=len(sent), windows=len(records),
        bag_duration_s=duration, wall_s=wall, metrics=metrics, no_motion=no_motion, protocol=None, records=records,
        trajectory=comparison, snapshots=[], notes=notes, mode="live", node_log=log, estimate=estimate,
        motion_source=cap.node_status.get("motion_source", ""),
        first_stamp_ns=sent[0] if sent else None,
    )  # fmt: skip
    return ev
