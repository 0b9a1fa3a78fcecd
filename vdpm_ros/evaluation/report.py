"""The evaluation report: ``report.json``, a Markdown summary and PNG plots a person can open."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .bag_eval import BagEvaluation

LABELS = {
    "ate_m": ("ATE RMSE (gt units, Sim(3) aligned)", "lower"),
    "rpe_trans_m": ("RPE translation RMSE per frame", "lower"),
    "rpe_rot_deg": ("RPE rotation RMSE per frame (deg)", "lower"),
    "depth_abs_rel": ("depth Abs Rel (median scaled)", "lower"),
    "depth_delta_1_25": ("depth delta < 1.25", "higher"),
    "flow_epe_dynamic": ("scene-flow EPE, moving pixels (m per frame)", "lower"),
    "motion_iou": ("motion-mask IoU", "higher"),
    "object_recall": ("moving objects: recall (mask IoU >= 0.5)", "higher"),
    "object_precision": ("moving objects: precision", "higher"),
    "object_velocity_rel_error": ("moving objects: velocity |v - v_gt| / |v_gt|", "lower"),
    "object_rotation_error_deg": ("moving objects: rotation error, rigid (deg)", "lower"),
}


def _fmt(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.4f}"


def write_report(ev: BagEvaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and the figures into ``out_dir``; returns their paths by name."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    summary = ev.summary()
    paths["json"].write_text(json.dumps(summary, indent=2, default=float))
    figures = {}
    if ev.trajectory is not None:
        figures["trajectory"] = _trajectory_figure(ev, out / "trajectory.png")
    if ev.records:
        figures["errors"] = _errors_figure(ev, out / "errors_over_time.png")
    if ev.snapshots:
        figures["frames"] = _frames_figure(ev, out / "frames.png")
    paths.update(figures)
    paths["markdown"].write_text(_markdown(ev, summary, figures))
    return paths


def _markdown(ev: BagEvaluation, summary: dict, figures: dict[str, Path]) -> str:
    t = summary["timing"]
    lines = [
        f"# vdpm evaluation: {Path(ev.bag).name}",
        "",
        f"- model: `{ev.model}`",
        f"- images: `{ev.topics.image}` ({ev.frames} frames, {ev.bag_duration_s:.2f} s of bag); "
        + (f"{ev.windows} windows processed offline, in order, none dropped" if ev.mode == "offline"
           else f"{ev.windows} windows received from a running vdpm node (live replay with /clock)"),
        f"- ground truth: {summary['topics']['ground_truth'] or 'none'}; depth: `{ev.topics.depth or 'none'}`",
        "",
        "| metric | model | no-motion baseline |",
        "|---|---|---|",
    ]
    for key, (label, better) in LABELS.items():
        if key in ev.metrics:
            lines.append(f"| {label} ({better} is better) | {_fmt(ev.metrics[key])} | {_fmt(ev.no_motion.get(key))} |")
    if ev.protocol:
        lines += ["", f"Synthetic protocol (`vdpm eval --synthetic`) on the first {ev.protocol['frames']} frames:", "",
                  "| metric | model | no-motion baseline |", "|---|---|---|"]  # fmt: skip
        for key, value in ev.protocol.items():
            if isinstance(value, float):
                lines.append(f"| {key} | {_fmt(value)} | {_fmt(ev.protocol['no_motion'].get(key))} |")
    lines += [
        "",
        f"Timing on this machine: {t['windows_per_s']:.2f} windows/s, {t['real_time_factor']:.2f}x real time; "
        f"window latency mean {t['window_latency_mean_s'] * 1e3:.0f} ms, p95 {t['window_latency_p95_s'] * 1e3:.0f} ms "
        + ("(offline: processing time per window, not stamp-to-publish)." if ev.mode == "offline"
           else "(live: from the image leaving the player to the node's pose for that stamp arriving)."),
    ]
    if ev.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in ev.notes]]
    captions = {
        "trajectory": "Camera trajectory after Sim(3) alignment, seen along the axis the ground truth moves least on.",
        "errors": "Errors over time: camera position error after alignment, and per-window depth / flow errors.",
        "frames": "Selected windows: input, predicted depth, predicted motion mask (ground truth outlined), scene-flow speed.",
    }
    for name, path in figures.items():
        lines += ["", captions[name], "", f"![{name}]({path.name})"]
    return "\n".join(lines) + "\n"


def _trajectory_figure(ev: BagEvaluation, path: Path) -> Path:
    import matplotlib.pyplot as plt

    tr = ev.trajectory
    gt, est = tr.groundtruth[:, :3, 3], tr.estimate_aligned[:, :3, 3]
    # Plot the two axes along which the ground truth moves most (a top view for a ground robot).
    axes = np.argsort(gt.std(axis=0))[::-1][:2]
    names = "xyz"
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot(gt[:, axes[0]], gt[:, axes[1]], "k-", lw=2, label="ground truth")
    ax.plot(est[:, axes[0]], est[:, axes[1]], "C1.-", lw=1, label="vdpm (aligned)")
    ax.plot(*gt[0, axes], "ko", ms=6)
    ax.set_xlabel(names[axes[0]])
    ax.set_ylabel(names[axes[1]])
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"ATE {ev.metrics.get('ate_m', float('nan')):.4f} ({tr.source})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _errors_figure(ev: BagEvaluation, path: Path) -> Path:
    import matplotlib.pyplot as plt

    t0 = ev.records[0].stamp_ns
    rec_t = np.array([(r.stamp_ns - t0) * 1e-9 for r in ev.records])

    def series(key: str) -> np.ndarray:
        return np.array([getattr(r, key) for r in ev.records])

    panels = []  # (label, times, values, no-motion baseline or None)
    if ev.trajectory is not None:
        panels.append(("position error after alignment", (ev.trajectory.stamps_ns - t0) * 1e-9, ev.trajectory.position_errors, None))
    if np.isfinite(series("depth_abs_rel")).any():
        panels.append(("depth Abs Rel", rec_t, series("depth_abs_rel"), None))
    if np.isfinite(series("flow_epe_dynamic")).any():
        panels.append(("scene-flow EPE (moving, m/frame)", rec_t, series("flow_epe_dynamic"), series("flow_epe_dynamic_no_motion")))
    panels.append(("window latency (s)", rec_t, series("latency_s"), None))
    fig, axs = plt.subplots(len(panels), 1, figsize=(7, 2.0 * len(panels)), sharex=True, squeeze=False)
    for ax, (label, x, y, baseline) in zip(axs[:, 0], panels):
        ax.plot(x, y, ".-")
        if baseline is not None:
            ax.plot(x, baseline, "k--", lw=1, label="no-motion baseline")
            ax.legend(fontsize=7)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axs[-1, 0].set_xlabel("time since first window (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _frames_figure(ev: BagEvaluation, path: Path) -> Path:
    import matplotlib.pyplot as plt

    snaps = ev.snapshots
    fig, axs = plt.subplots(len(snaps), 4, figsize=(12, 2.6 * len(snaps)), squeeze=False)
    t0 = ev.records[0].stamp_ns if ev.records else snaps[0].stamp_ns
    for row, s in zip(axs, snaps):
        row[0].imshow(s.rgb)
        row[0].set_title(f"input, t = {(s.stamp_ns - t0) * 1e-9:.2f} s", fontsize=8)
        depth = np.where(np.isfinite(s.depth), s.depth, np.nan)
        row[1].imshow(depth, cmap="turbo")
        row[1].set_title("predicted depth", fontsize=8)
        if s.motion_mask is not None:
            row[2].imshow(s.rgb, alpha=0.5)
            row[2].imshow(np.ma.masked_where(s.motion_mask == 0, s.motion_mask), cmap="autumn", alpha=0.7)
            if s.gt_motion_mask is not None and s.gt_motion_mask.any():
                row[2].contour(s.gt_motion_mask.astype(float), levels=[0.5], colors="cyan", linewidths=1)
            row[2].set_title("motion mask (cyan: ground truth)", fontsize=8)
        if s.flow_speed is not None:
            im = row[3].imshow(s.flow_speed, cmap="magma")
            fig.colorbar(im, ax=row[3], fraction=0.046)
            row[3].set_title("scene-flow speed (units/s)", fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
