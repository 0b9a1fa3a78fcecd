#!/usr/bin/env python3
"""Soak test of ``vdpm node``: a synthetic camera stream for N minutes; node memory and throughput over time.

Runs ``vdpm node`` (the embedded default model unless --model) as a subprocess, publishes a synthetic
640x480 rgb8 stream (and its CameraInfo) at 10 Hz with sensor-data QoS as a camera driver does, and
every --sample-period seconds records the node's resident memory (RSS, from /proc), the windows it
published (counted on vdpm/camera_pose, one per window), the frame-to-pose latency and its latest
/diagnostics values. Writes into --out:

- ``soak.csv``: one row per sample;
- ``soak.json``: the run's settings, the samples, and a summary (RSS after warm-up and at the end,
  its growth per hour from a least-squares line, windows/s, the node's exit status and last log lines);
- ``soak.png``: RSS and windows/s over time;
- ``node.log``: everything the node printed.

Exit code 0 when the node stayed up and published, 1 otherwise, 2 on bad arguments.

    .venv/bin/python scripts/soak.py --minutes 30 --out soak_30min        # ROS 2 in the venv: scripts/setup_ros_venv.sh
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IMAGE_TOPIC = "/soak/image_raw"
INFO_TOPIC = "/soak/camera_info"
POSE_TOPIC = "/vdpm/camera_pose"
CAMERA_FRAME = "soak_camera_optical"


@dataclass
class Sample:
    t_s: float  # since the stream started
    rss_mb: float
    frames_sent: int
    windows: int
    windows_per_s: float  # over the interval since the previous sample
    latency_mean_s: float  # frame sent -> its pose received, over the interval (NaN when none)
    load_1min: float
    diagnostics: dict = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="length of the stream (default 30)")
    p.add_argument("--out", type=Path, required=True, help="directory for soak.csv, soak.json, soak.png, node.log")
    p.add_argument("--rate", type=float, default=10.0, help="frames per second (default 10)")
    p.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"), help="image size (default 480 640)")
    p.add_argument("--model", type=Path, default=None, help="model_path of the node (default: the embedded model)")
    p.add_argument("--jpeg", action="store_true", help="send JPEG CompressedImages (node: image_transport compressed) instead of rgb8")
    p.add_argument("--sample-period", type=float, default=5.0, help="seconds between samples (default 5)")
    p.add_argument("--startup-timeout", type=float, default=180.0, help="seconds to wait for the node to subscribe")
    p.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds after the first window before RSS growth is measured (allocator and caches settle)",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="after the stream, seconds to wait for a first window if none came yet (a slow machine)",
    )
    p.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID for the node and the publisher")
    p.add_argument("node_args", nargs="*", help="more node arguments after --, e.g. -- -p window_size:=8")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.sample_period <= 0:
        p.error("--minutes, --rate and --sample-period must be > 0")
    return args


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc; psutil elsewhere)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:
        return float("nan")


def synthetic_frames(height: int, width: int) -> tuple[list[np.ndarray], np.ndarray]:
    """A ping-pong loop of a synthetic scene (generated small, upscaled) and its K at (height, width)."""
    from PIL import Image

    from vdpm_ros.synth import SceneConfig, generate_sequence

    small_h, small_w = max(42, height // 4), max(56, width // 4)
    seq = generate_sequence(1500, SceneConfig(height=small_h, width=small_w, frames=16))
    frames = [np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.BICUBIC)) for img in seq.images]
    sx, sy = width / small_w, height / small_h
    k = seq.intrinsics[0].astype(np.float64)
    k_big = np.array([[k[0, 0] * sx, 0.0, (k[0, 2] + 0.5) * sx - 0.5], [0.0, k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5], [0, 0, 1]])
    loop = frames + frames[-2:0:-1]  # forward and back: no jump where it repeats
    return loop, k_big


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def linear_growth_mb_per_hour(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time, in MiB per hour (NaN with fewer than 3 samples)."""
    pts = [(s.t_s, s.rss_mb) for s in samples if np.isfinite(s.rss_mb)]
    if len(pts) < 3:
        return float("nan")
    t, r = np.asarray(pts).T
    return float(np.polyfit(t / 3600.0, r, 1)[0])


def summarise(samples: list[Sample], windows: int, frames: int, duration_s: float, node_rc: int | None, warmup_s: float) -> dict:
    """The run in numbers. RSS growth is measured from ``warmup_s`` after the first window (NaN when the
    run is shorter): before that the model's buffers, the allocator's pools and DDS's caches fill up."""
    with_window = [s for s in samples if s.windows > 0]
    settled = [s for s in with_window if s.t_s >= with_window[0].t_s + warmup_s] if with_window else []
    half = with_window[len(with_window) // 2 :]
    nan = float("nan")
    return {
        "frames_sent": frames,
        "windows_received": windows,
        "stream_seconds": duration_s,
        "rss_mb_at_first_window": with_window[0].rss_mb if with_window else nan,
        "rss_mb_after_warmup": settled[0].rss_mb if settled else nan,
        "rss_mb_end": samples[-1].rss_mb if samples else nan,
        "rss_mb_max": max((s.rss_mb for s in samples), default=nan),
        "rss_growth_mb_after_warmup": (settled[-1].rss_mb - settled[0].rss_mb) if settled else nan,
        "rss_growth_mb_per_hour_fit": linear_growth_mb_per_hour(settled),
        "windows_per_s_mean": windows / duration_s if duration_s > 0 else nan,
        "windows_per_s_second_half": (
            (half[-1].windows - half[0].windows) / (half[-1].t_s - half[0].t_s) if len(half) > 1 and half[-1].t_s > half[0].t_s else nan
        ),
        # New frames per published window: the stride the node really ran at (a window dropped because the queue was
        # full leaves its frames to the next one). `vdpm bench --pipeline` at this stride does the same work per window.
        "frames_per_window_second_half": (
            (half[-1].frames_sent - half[0].frames_sent) / (half[-1].windows - half[0].windows)
            if len(half) > 1 and half[-1].windows > half[0].windows
            else nan
        ),
        "node_alive_at_end": node_rc is None,
    }


def write_outputs(out: Path, args: argparse.Namespace, samples: list[Sample], summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    columns = [f for f in Sample.__dataclass_fields__ if f != "diagnostics"]
    with (out / "soak.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for s in samples:
            writer.writerow([getattr(s, c) for c in columns])
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    host = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(), "system": platform.platform()}
    (out / "soak.json").write_text(json.dumps({"settings": settings, "host": host, "summary": summary,
                                               "samples": [asdict(s) for s in samples]}, indent=2, default=float))  # fmt: skip
    plot(out / "soak.png", samples, summary, args)


def plot(path: Path, samples: list[Sample], summary: dict, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([s.t_s for s in samples]) / 60.0
    fig, (ax_mem, ax_rate) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    ax_mem.plot(t, [s.rss_mb for s in samples], color="tab:blue")
    ax_mem.set_ylabel("node RSS (MiB)")
    growth = summary.get("rss_growth_mb_per_hour_fit", float("nan"))
    ax_mem.set_title(f"vdpm node soak: {args.size[1]}x{args.size[0]} at {args.rate:g} Hz; RSS growth {growth:+.1f} MiB/h (fit)")
    ax_rate.plot(t, [s.windows_per_s for s in samples], color="tab:green")
    ax_rate.set_ylabel("windows/s")
    ax_rate.set_xlabel("minutes since the stream started")
    first = next((s.t_s for s in samples if s.windows > 0), None)
    for ax in (ax_mem, ax_rate):
        ax.grid(alpha=0.3)
        if first is not None:  # RSS growth is measured right of this line
            ax.axvline((first + args.warmup) / 60.0, color="grey", linestyle="--", linewidth=1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _diagnostic_values(msg) -> dict:
    return {kv.key: kv.value for st in msg.status for kv in st.values}


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_large_messages.xml"))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if args.domain_id is not None:
        os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image

    from vdpm_ros.harness.live_eval import stop_process
    from vdpm_ros.output import RclpyTypes
    from vdpm_ros.output import builders as b
    from vdpm_ros.ros import conversions as conv

    args.out.mkdir(parents=True, exist_ok=True)
    height, width = args.size
    frames, k = synthetic_frames(height, width)
    if args.jpeg:  # encoded once: the stream's cost is the node's decoding, not this process's encoding
        frames = [jpeg_bytes(f) for f in frames]
    T = RclpyTypes()

    cmd = [sys.executable, "-m", "vdpm_ros.cli.main", "node", "--ros-args", "-r", f"image:={IMAGE_TOPIC}", "-r",
           f"camera_info:={INFO_TOPIC}", "-p", "device:=cpu", "-p", "diagnostics_period:=1.0"]  # fmt: skip
    if args.model is not None:
        cmd += ["-p", f"model_path:={args.model}"]
    if args.jpeg:
        cmd += ["-p", "image_transport:=compressed"]  # subscribes IMAGE_TOPIC/compressed, as image_transport names it
    cmd += args.node_args
    log_file = (args.out / "node.log").open("w")
    node_proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))

    context = rclpy.Context()
    rclpy.init(context=context)
    samples: list[Sample] = []
    sent_at: OrderedDict[int, float] = OrderedDict()  # stamp -> monotonic send time (bounded)
    state = {"windows": 0, "latencies": [], "diag": {}, "interrupted": False}
    frames_sent = 0
    stream_s = 0.0
    try:
        node = rclpy.create_node("vdpm_soak_driver", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)

        def on_pose(msg) -> None:
            state["windows"] += 1
            sent = sent_at.get(conv.stamp_to_ns(msg.header.stamp))
            if sent is not None:
                state["latencies"].append(time.monotonic() - sent)

        node.create_subscription(PoseStamped, POSE_TOPIC, on_pose, QoSProfile(depth=50))
        node.create_subscription(
            DiagnosticArray, "/diagnostics", lambda m: state["diag"].update(_diagnostic_values(m)), QoSProfile(depth=10)
        )
        if args.jpeg:
            pub = node.create_publisher(CompressedImage, IMAGE_TOPIC + "/compressed", qos_profile_sensor_data)
        else:
            pub = node.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
        info_pub = node.create_publisher(CameraInfo, INFO_TOPIC, qos_profile_sensor_data)

        deadline = time.monotonic() + args.startup_timeout
        while pub.get_subscription_count() == 0 and time.monotonic() < deadline and node_proc.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        if pub.get_subscription_count() == 0:
            print(f"soak: the node did not subscribe to {IMAGE_TOPIC} within {args.startup_timeout:g} s (see {args.out / 'node.log'})",
                  file=sys.stderr)  # fmt: skip
            return 1
        pause = time.monotonic() + 1.5  # the subscriber's side of discovery completes a little later
        while time.monotonic() < pause:
            executor.spin_once(timeout_sec=0.05)

        period = 1.0 / args.rate
        start = time.monotonic()
        end = start + args.minutes * 60.0
        next_frame, next_sample = start, start
        last = (start, 0)
        stamp0 = time.time_ns()

        def sample(now: float) -> None:
            nonlocal last
            dt = now - last[0]
            lat = state["latencies"]
            samples.append(Sample(
                t_s=now - start, rss_mb=rss_mb(node_proc.pid), frames_sent=frames_sent, windows=state["windows"],
                windows_per_s=(state["windows"] - last[1]) / dt if dt > 0 else float("nan"),
                latency_mean_s=float(np.mean(lat)) if lat else float("nan"), load_1min=os.getloadavg()[0],
                diagnostics=dict(state["diag"]),
            ))  # fmt: skip
            state["latencies"] = []
            last = (now, state["windows"])

        try:
            while node_proc.poll() is None:
                now = time.monotonic()
                if now >= end:
                    break
                if now >= next_frame:
                    stamp = stamp0 + int(frames_sent * period * 1e9)
                    hdr = b.header(T, stamp, CAMERA_FRAME)
                    info_pub.publish(b.camera_info(T, k, height, width, hdr))
                    if args.jpeg:
                        msg = CompressedImage(header=hdr, format="jpeg")
                        msg.data = frames[frames_sent % len(frames)]
                        pub.publish(msg)
                    else:
                        pub.publish(b.image(T, frames[frames_sent % len(frames)], hdr))
                    sent_at[stamp] = time.monotonic()
                    while len(sent_at) > 1000:
                        sent_at.popitem(last=False)
                    frames_sent += 1
                    next_frame += period
                    if next_frame < now - 1.0:  # this process was starved for a second: do not burst to catch up
                        next_frame = now + period
                if now >= next_sample:
                    sample(now)
                    next_sample += args.sample_period
                executor.spin_once(timeout_sec=max(0.0, min(next_frame, next_sample) - time.monotonic()))
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop streaming, keep what was sampled
            state["interrupted"] = True
        stream_s = time.monotonic() - start
        drain_end = time.monotonic() + (0.0 if state["interrupted"] else args.drain_timeout)
        while state["windows"] == 0 and node_proc.poll() is None and time.monotonic() < drain_end:
            executor.spin_once(timeout_sec=0.1)
        sample(time.monotonic())
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        node_rc = node_proc.poll()
        if node_rc is None:
            stop_process(node_proc, 30.0)
        log_file.close()

    summary = summarise(samples, state["windows"], frames_sent, stream_s, node_rc, args.warmup)
    summary["node_exit_code_after_stop"] = node_proc.returncode
    summary["interrupted"] = state["interrupted"]
    log_tail = (args.out / "node.log").read_text(errors="replace").splitlines()[-5:]
    summary["node_log_tail"] = log_tail
    write_outputs(args.out, args, samples, summary)
    print(f"soak: {frames_sent} frames in {stream_s:.0f} s, {state['windows']} windows; RSS {summary['rss_mb_at_first_window']:.0f} MiB "
          f"at the first window, {summary['rss_mb_end']:.0f} MiB at the end, {summary['rss_growth_mb_per_hour_fit']:+.1f} MiB/h after "
          f"{args.warmup:g} s of warm-up (least-squares fit); second half {summary['windows_per_s_second_half']:.2f} windows/s, "
          f"{summary['frames_per_window_second_half']:.2f} new frames per window; wrote {args.out}")  # fmt: skip
    ok = node_rc is None and state["windows"] > 0 and not state["interrupted"]
    if not ok:
        print(f"soak: FAILED: node {'exited with ' + str(node_rc) if node_rc is not None else 'alive'}, {state['windows']} windows; "
              f"see {args.out / 'node.log'}", file=sys.stderr)  # fmt: skip
    return 0 if ok else 1


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (a CI timeout, say) ends the run as Ctrl-C does: the stream stops, the node is stopped and
    # what was sampled is written.
    signal.signal(signal.SIGTERM, _interrupt)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
