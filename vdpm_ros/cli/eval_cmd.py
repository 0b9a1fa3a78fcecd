"""``vdpm eval``: metrics on held-out synthetic sequences (``--synthetic``) or on a bag (``--bag``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_model_arguments, add_node_parameter_arguments, given_model, node_parameters, open_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a model on held-out synthetic sequences or on a bag with ground truth",
        description="--synthetic SEEDS: the synthetic protocol on generated sequences. --bag PATH: run the node's "
        "pipeline over a rosbag2 (mcap, sqlite3) or ROS 1 bag and compare with the ground truth it has (camera poses "
        "as PoseStamped or /tf, or a TUM file; depth images; the exact 4D ground truth of vdpm synth bags).",
    )  # fmt: skip
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--synthetic", metavar="SEEDS", help="held-out seeds, e.g. 1000-1019 (training seeds are refused)")
    what.add_argument("--bag", type=Path, help="bag file or rosbag2 directory")
    add_model_arguments(p, device_default="cpu")
    p.add_argument("--json", type=Path, required=True, help="output JSON")
    p.add_argument("--frames", type=int, default=10, help="--synthetic: window size; --bag: frames of the synthetic protocol")
    add_node_parameter_arguments(p)
    syn = p.add_argument_group("--synthetic options")
    syn.add_argument(
        "--camera-size",
        type=int,
        nargs=2,
        default=(240, 320),
        metavar=("H", "W"),
        help="camera resolution of the node protocol's scenes (default 240 320)",
    )
    syn.add_argument(
        "--static-scenes",
        action="store_true",
        help="node protocol on scenes where only the camera moves (node_flagged_fraction = false alarms)",
    )
    bag = p.add_argument_group("--bag options")
    bag.add_argument("--report", type=Path, default=None, help="directory for report.md and the plots")
    bag.add_argument("--output-bag", type=Path, default=None, help="write every topic the node would publish to this MCAP bag")
    bag.add_argument("--window-size", type=int, default=None, help="override the parameter window_size")
    bag.add_argument("--image-topic", default=None, help="colour image topic (default: found by message type)")
    bag.add_argument("--depth-topic", default=None, help="ground-truth depth topic (default: found by encoding)")
    bag.add_argument("--groundtruth", type=Path, default=None, help="TUM-format trajectory file instead of poses in the bag")
    bag.add_argument("--gt-tf", nargs=2, metavar=("PARENT", "CHILD"), default=None, help="/tf transform to use as camera ground truth")
    bag.add_argument("--max-time-diff", type=float, default=0.01, help="largest stamp difference when matching poses (s)")
    bag.add_argument(
        "--live",
        action="store_true",
        help="replay into a vdpm node subprocess with /clock (use_sim_time) and score what it publishes: "
        "adds stamp-to-publish latency and the node's drops (needs rclpy)",
    )
    bag.add_argument("--rate", type=float, default=1.0, help="--live: playback speed factor")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.bag is not None:
        return run_bag(args)
    from ..evaluation.node_protocol import NODE_METRICS, NodeProtocolConfig
    from ..evaluation.pipeline_objects import OBJECT_METRICS
    from ..evaluation.synthetic import METRICS, SyntheticEvalConfig, evaluate_synthetic
    from ..synth.seeds import parse_seeds

    seeds = parse_seeds(args.synthetic)
    params = node_parameters(args)
    loaded = open_model(args)
    model = loaded.model
    width = model.config.img_size
    height = round(width * 0.75 / 14) * 14  # a 4:3 camera at the model's native width: no resampling
    node = NodeProtocolConfig(camera_hw=tuple(args.camera_size), frames=args.frames, static_scenes=args.static_scenes)
    result = evaluate_synthetic(model, seeds, SyntheticEvalConfig(frames=args.frames, height=height, width=width), loaded.device,
                                pipeline=params.pipeline, node=node, objects=params.objects)  # fmt: skip
    result["model_path"] = loaded.source
    result["engine"] = loaded.description
    args.json.parent.mkdir(parents=True, exist_ok=True)
    if args.json.exists():
        print(f"overwriting {args.json}")
    args.json.write_text(json.dumps(result, indent=2))
    print(f"{'metric':22s} {'model':>10s} {'no-motion':>10s}")
    for key in METRICS:
        print(f"{key:22s} {result[key]:10.4f} {result['no_motion'][key]:10.4f}")
    n = result["node_protocol"]
    print(f"the node's pipeline on the same seeds at {n['camera_hw'][1]}x{n['camera_hw'][0]}, window {n['window_size']}, "
          f"motion source {n['motion_source']}:")  # fmt: skip
    for key in NODE_METRICS:
        print(f"  {key:26s} {result[key]:10.4f} {result['no_motion'][key]:10.4f}")
    if "objects" in result:
        o = result["objects"]
        print(
            f"moving objects of the node's pipeline (default settings), {o['windows']} windows, "
            f"{o.get('ground_truth', 0)} ground-truth objects:"
        )
        for key in OBJECT_METRICS:
            print(f"  {key:26s} {result[key]:10.4f}")
    print(f"wrote {args.json}")
    return 0


def run_bag(args: argparse.Namespace) -> int:
    from ..evaluation.bag_eval import BagEvalOptions

    params = node_parameters(args)
    if args.window_size is not None:
        params = params.replace(window_size=args.window_size)
    if given_model(args) is not None:
        params = params.replace(model_path=str(given_model(args)))
    args.model = params.model.model_path or None  # --model, else the params file's model_path, else the embedded one
    options = BagEvalOptions(
        image_topic=args.image_topic, depth_topic=args.depth_topic, groundtruth=args.groundtruth,
        gt_tf=tuple(args.gt_tf) if args.gt_tf else None, max_time_diff_s=args.max_time_diff, protocol_frames=args.frames,
    )  # fmt: skip
    if args.live:
        return run_live(args, params, options)
    loaded = open_model(args)
    ev = evaluate_and_report(loaded.model, loaded.description, args.bag, params, options, args.json, args.report, args.output_bag)
    print_summary(ev)
    return 0


def run_live(args: argparse.Namespace, params, options) -> int:
    if args.output_bag is not None:
        raise ValueError("--output-bag is written by the offline evaluation; with --live record the node's topics yourself")
    try:
        from ..harness.live_eval import evaluate_live
    except ImportError as exc:
        raise ValueError(f"--live needs rclpy ({exc}); source ROS 2 or run: bash scripts/setup_ros_venv.sh") from exc
    from ..harness.live_eval import NodeFailed

    try:
        ev = evaluate_live(args.bag, params, options, rate=args.rate)
    except NodeFailed as exc:
        print(exc, file=sys.stderr)
        return 2
    write_outputs(ev, args.json, args.report)
    print_summary(ev)
    if ev.windows == 0:
        print("no window came back from the node; its log:\n" + ev.node_log)
        return 1
    return 0


def evaluate_and_report(model, model_name: str, bag: Path, params, options, json_path: Path | None, report_dir: Path | None,
                        output_bag: Path | None):  # fmt: skip
    """Evaluate ``bag`` with the node's ``params`` and write the JSON, the report and the output bag that were asked for."""
    from ..bags.output_bag import OutputBagWriter
    from ..evaluation.bag_eval import evaluate_bag
    from ..pipeline import OfflinePipeline

    if output_bag is not None:
        pipe = OfflinePipeline(model, params.pipeline, params.objects)  # its trajectory is the bag's /vdpm/path, as the node's is
        with OutputBagWriter(output_bag, config=params.outputs, trajectory=pipe.trajectory) as writer:
            ev = evaluate_bag(model, bag, params.pipeline, options, model_name, on_output=writer.write, pipeline=pipe)
    else:
        ev = evaluate_bag(model, bag, params.pipeline, options, model_name, objects=params.objects)
    write_outputs(ev, json_path, report_dir)
    if output_bag is not None:
        print(f"wrote {output_bag} (MCAP: open in Foxglove, or vdpm play / ros2 bag play it into RViz)")
    return ev


def write_outputs(ev, json_path: Path | None, report_dir: Path | None) -> None:
    """The evaluation's JSON summary and its report (Markdown and plots), where asked for."""
    from ..evaluation.report import write_report

    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        if json_path.exists():
            print(f"overwriting {json_path}")
        json_path.write_text(json.dumps(ev.summary(), indent=2, default=float))
        print(f"wrote {json_path}")
    if report_dir is not None:
        if (Path(report_dir) / "report.md").exists():
            print(f"overwriting the report in {report_dir}")
        paths = write_report(ev, report_dir)
        print(f"wrote {paths['markdown']} and {len(paths) - 2} plots in {report_dir}")


def print_summary(ev) -> None:
    from ..evaluation.report import LABELS

    s = ev.summary()
    print(f"{ev.frames} frames, {ev.windows} windows from {ev.bag}; motion source {ev.motion_source or 'not recorded'}")
    for key, (label, _better) in LABELS.items():
        if key in ev.metrics:
            base = ev.no_motion.get(key)
            tail = f"   (no-motion baseline {base:.4f})" if base is not None else ""
            print(f"  {label:62s} {ev.metrics[key]:10.4f}{tail}")
    t = s["timing"]
    print(f"  {'throughput':62s} {t['windows_per_s']:10.2f} windows/s ({t['real_time_factor']:.2f}x real time)")
    print(
        f"  {'window latency (' + ev.mode + ') mean / p95':62s} {t['window_latency_mean_s'] * 1e3:7.0f} ms / "
        f"{t['window_latency_p95_s'] * 1e3:.0f} ms"
    )
    if "windows_expected" in ev.metrics:
        print(f"  {'windows received / expected':62s} {ev.metrics['windows_received']:7.0f} / {ev.metrics['windows_expected']:.0f}")
    for note in ev.notes:
        print(f"  note: {note}")
